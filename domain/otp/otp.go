// Package otp holds the one-time SMS codes: their life (5 minutes, single use, bound to a phone and
// a purpose, 5 wrong tries kill them) and the sending limits.
package otp

import (
	"crypto/subtle"
	"math"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// Figures of DESIGN.md §7.
const (
	Digits      = 6
	TTL         = 5 * time.Minute
	MaxAttempts = 5
)

// Purpose binds a code to what it may be used for.
type Purpose string

// Purposes.
const (
	PurposeLogin         Purpose = "login"
	PurposeResetPassword Purpose = "reset_password"
	PurposeSign          Purpose = "sign"
	PurposeVerifyPhone   Purpose = "verify_phone"
	// PurposeResetSigningPassword proves the phone to reset a forgotten signing password.
	PurposeResetSigningPassword Purpose = "reset_signing_password"
)

// Purposes lists every purpose, in a stable order.
var Purposes = []Purpose{PurposeLogin, PurposeResetPassword, PurposeSign, PurposeVerifyPhone, PurposeResetSigningPassword}

// ParsePurpose validates a purpose.
func ParsePurpose(s string) (Purpose, error) {
	for _, p := range Purposes {
		if string(p) == s {
			return p, nil
		}
	}
	return "", kernel.Invalid("sms-purpose-invalid", "purpose must be one of login, reset_password, sign, verify_phone, reset_signing_password")
}

// Code is one SMS code. Only its keyed hash is ever stored.
type Code struct {
	id        string
	phone     kernel.Phone
	purpose   Purpose
	hash      string
	createdAt time.Time
	expiresAt time.Time
	attempts  int
	usedAt    time.Time
}

// Issue creates a code valid for TTL.
func Issue(id string, phone kernel.Phone, purpose Purpose, hash string, now time.Time) (*Code, error) {
	if id == "" || phone.IsZero() || purpose == "" || hash == "" {
		return nil, kernel.Invalid("sms-code-incomplete", "code needs an id, a phone, a purpose and a hash")
	}
	now = kernel.OccurredAt(now)
	return &Code{id: id, phone: phone, purpose: purpose, hash: hash, createdAt: now, expiresAt: now.Add(TTL)}, nil
}

// Snapshot is the persisted form of a Code.
type Snapshot struct {
	ID        string
	Phone     kernel.Phone
	Purpose   Purpose
	Hash      string
	CreatedAt time.Time
	ExpiresAt time.Time
	Attempts  int
	UsedAt    time.Time
}

// FromSnapshot rehydrates a Code (adapters only).
func FromSnapshot(s Snapshot) *Code {
	return &Code{id: s.ID, phone: s.Phone, purpose: s.Purpose, hash: s.Hash, createdAt: s.CreatedAt,
		expiresAt: s.ExpiresAt, attempts: s.Attempts, usedAt: s.UsedAt}
}

// Snapshot returns the persisted form.
func (c *Code) Snapshot() Snapshot {
	return Snapshot{ID: c.id, Phone: c.phone, Purpose: c.purpose, Hash: c.hash, CreatedAt: c.createdAt,
		ExpiresAt: c.expiresAt, Attempts: c.attempts, UsedAt: c.usedAt}
}

// ID returns the code's id.
func (c *Code) ID() string { return c.id }

// ExpiresAt returns when the code dies.
func (c *Code) ExpiresAt() time.Time { return c.expiresAt }

// Errors of verification. Each is a distinct, stable code.
var (
	ErrNotRequested = kernel.Invalid("sms-code-not-requested", "no code was sent to this phone for this purpose; request one first")
	ErrExpired      = kernel.Invalid("sms-code-expired", "the code has expired; request a new one")
	ErrUsed         = kernel.Invalid("sms-code-used", "the code was already used; request a new one")
	ErrExhausted    = kernel.Invalid("sms-code-exhausted", "too many wrong codes; request a new one")
)

// Verify consumes the code if candidateHash matches. A wrong candidate counts an attempt; the
// fifth wrong attempt kills the code. Verify must run under a row lock on the code.
func (c *Code) Verify(candidateHash string, now time.Time) error {
	switch {
	case !c.usedAt.IsZero():
		return ErrUsed
	case c.attempts >= MaxAttempts:
		return ErrExhausted
	case !now.Before(c.expiresAt):
		return ErrExpired
	}
	if subtle.ConstantTimeCompare([]byte(candidateHash), []byte(c.hash)) != 1 {
		c.attempts++
		left := MaxAttempts - c.attempts
		if left <= 0 {
			return ErrExhausted
		}
		return kernel.Invalid("sms-code-wrong", "the code is wrong").WithDetail("attempts_left", left)
	}
	c.usedAt = kernel.OccurredAt(now)
	return nil
}

// Sending limits (DESIGN.md §7).
const (
	ResendInterval = 60 * time.Second // per phone and purpose
	PerPhoneHour   = 5
	PerPhoneDay    = 10
	PerIPDay       = 30
)

// Sent is one past sending, as counted for the limits.
type Sent struct {
	Purpose Purpose
	At      time.Time
}

// History is what the limits look at: the sendings of the last 24 hours to the phone and from the IP.
type History struct {
	Phone []Sent      // to this phone, any purpose, last 24 h
	IP    []time.Time // from this client IP, last 24 h
}

// CheckSend decides whether a new code may be sent now. When it may not, the error is
// KindRateLimited with the exact time until the oldest sending leaves the window.
func CheckSend(h History, purpose Purpose, now time.Time) error {
	day, hour := now.Add(-24*time.Hour), now.Add(-time.Hour)
	var wait time.Duration
	limit := func(d time.Duration) {
		if d > wait {
			wait = d
		}
	}
	var inHour, inDay []time.Time
	for _, s := range h.Phone {
		if s.Purpose == purpose && now.Sub(s.At) < ResendInterval {
			limit(s.At.Add(ResendInterval).Sub(now))
		}
		if s.At.After(hour) {
			inHour = append(inHour, s.At)
		}
		if s.At.After(day) {
			inDay = append(inDay, s.At)
		}
	}
	// Every broken rule is evaluated and the one that lifts last is reported, so that a
	// client honouring Retry-After is not refused again by another rule.
	var refusal *kernel.Error
	refuse := func(code, msg string, d time.Duration) {
		if refusal == nil || d > refusal.RetryAfter {
			refusal = kernel.RateLimited(code, msg, d)
		}
	}
	if wait > 0 {
		refuse("sms-resend-too-soon", "a code was sent less than 60 seconds ago", ceilSecond(wait))
	}
	if len(inHour) >= PerPhoneHour {
		refuse("sms-phone-hourly-limit", "too many codes to this phone in the last hour",
			ceilSecond(oldest(inHour, len(inHour)-PerPhoneHour).Add(time.Hour).Sub(now)))
	}
	if len(inDay) >= PerPhoneDay {
		refuse("sms-phone-daily-limit", "too many codes to this phone today",
			ceilSecond(oldest(inDay, len(inDay)-PerPhoneDay).Add(24*time.Hour).Sub(now)))
	}
	var ipDay []time.Time
	for _, t := range h.IP {
		if t.After(day) {
			ipDay = append(ipDay, t)
		}
	}
	if len(ipDay) >= PerIPDay {
		refuse("sms-ip-daily-limit", "too many codes requested from this network today",
			ceilSecond(oldest(ipDay, len(ipDay)-PerIPDay).Add(24*time.Hour).Sub(now)))
	}
	if refusal != nil {
		return refusal
	}
	return nil
}

// oldest returns the (k+1)-th oldest time: the one whose leaving the window frees a slot.
func oldest(ts []time.Time, k int) time.Time {
	s := append([]time.Time(nil), ts...)
	for i := 1; i < len(s); i++ { // insertion sort: at most a few dozen entries
		for j := i; j > 0 && s[j].Before(s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s[k]
}

// maxRetryAfter is the largest whole number of seconds a time.Duration holds.
const maxRetryAfter = time.Duration(math.MaxInt64) / time.Second * time.Second

// ceilSecond rounds d up to whole seconds, at least one, without overflowing when d is near
// the largest duration (time.Time.Sub saturates for a sending dated centuries ahead).
func ceilSecond(d time.Duration) time.Duration {
	switch {
	case d <= 0:
		return time.Second
	case d > maxRetryAfter:
		return maxRetryAfter
	}
	if r := d % time.Second; r != 0 {
		d += time.Second - r
	}
	return d
}
