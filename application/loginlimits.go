package application

import (
	"context"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// Password-login limits (issue 11 item 8). Every password attempt costs an argon2id check
// (19 MiB, tens of milliseconds of CPU), also for unknown phones, so attempts are counted
// before the hash runs, in durable counters shared by every instance:
//   - per client IP: LoginAttemptsPerIP per LoginAttemptWindow;
//   - per phone (known or not): LoginAttemptsPerPhone per LoginAttemptWindow.
//
// Beyond either, 429 "login-rate-limited" with Retry-After until the window ends. At most
// MaxConcurrentHashes password hashes run at once per process; a login that waits longer than
// HashWait for a slot answers 429 "login-busy" (Retry-After 1).
const (
	LoginAttemptWindow    = 15 * time.Minute
	LoginAttemptsPerIP    = 30
	LoginAttemptsPerPhone = 10
	MaxConcurrentHashes   = 4
	HashWait              = 2 * time.Second
)

// hashSlots bounds concurrent password hashing in this process.
var hashSlots = make(chan struct{}, MaxConcurrentHashes)

// withHashSlot runs fn while holding one of the hashing slots.
func withHashSlot(ctx context.Context, fn func()) error {
	t := time.NewTimer(HashWait)
	defer t.Stop()
	select {
	case hashSlots <- struct{}{}:
	case <-t.C:
		return kernel.RateLimited("login-busy", "too many logins at once; try again in a moment", time.Second)
	case <-ctx.Done():
		return kernel.Unavailable("login-cancelled", "the request was cancelled", ctx.Err())
	}
	defer func() { <-hashSlots }()
	fn()
	return nil
}

// countLoginAttempt counts one password attempt for the IP and the phone, in its own short
// transaction (the count stays even though the login fails), and refuses beyond the limits.
func (a *App) countLoginAttempt(ctx context.Context, phone kernel.Phone, clientIP string, now time.Time) error {
	var refused error
	err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		keys := []struct {
			key   string
			limit int
		}{{"login-phone:" + a.secrets.Digest("phone", string(phone)), LoginAttemptsPerPhone}}
		if clientIP != "" {
			keys = append([]struct {
				key   string
				limit int
			}{{"login-ip:" + clientIP, LoginAttemptsPerIP}}, keys...)
		}
		for _, k := range keys {
			n, reset, err := tx.Attempts().Hit(ctx, k.key, LoginAttemptWindow, now)
			if err != nil {
				return err
			}
			if n > k.limit && refused == nil {
				refused = kernel.RateLimited("login-rate-limited", "too many password attempts; try again later or log in with an SMS code", reset.Sub(now))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return refused
}
