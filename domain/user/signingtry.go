package user

import (
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// SigningTry is a signing-password guess reserved before the key is opened.
type SigningTry struct {
	// Left is how many tries remain if this one turns out wrong (0: this one set the lock).
	Left int
}

// ReserveSigningTry counts a signing-password try before the password is checked: the caller
// reserves it under the user's row lock, then opens the key outside the transaction. A try that
// turns out right gives the count back with SigningTryAccepted. So at most MaxSigningFailures
// guesses are ever checked per lockout period, however many run in parallel.
func (u *User) ReserveSigningTry(now time.Time) (SigningTry, error) {
	if err := u.CanUseSigningKey(now); err != nil {
		return SigningTry{}, err
	}
	return SigningTry{Left: u.SigningPasswordFailed(now)}, nil
}

// SigningTryAccepted gives back a reserved try that was right: the failures before it are forgiven
// (tries reserved after it stay counted),
// and a lock that this very try set (it was the last one allowed) is lifted. A lock set by other
// tries meanwhile stays.
func (u *User) SigningTryAccepted(try SigningTry, now time.Time) {
	now = kernel.OccurredAt(now)
	if try.Left == 0 {
		if u.signing.Failures == 0 && !u.signing.LockedUntil.IsZero() {
			u.signing = SigningState{}
			u.updatedAt = now
		}
		return
	}
	// The failures counted before this try are forgiven; tries reserved after it (still being
	// checked, or found wrong meanwhile) stay counted, so parallel wrong guesses are not erased.
	later := max(0, u.signing.Failures-(MaxSigningFailures-try.Left))
	if u.signing.Failures != later && u.signing.LockedUntil.IsZero() {
		u.signing.Failures = later
		u.updatedAt = now
	}
}
