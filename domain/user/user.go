// Package user is the User aggregate: a phone account that may later prove its real identity,
// hold a personal certificate, signature appearances and a current channel.
package user

import (
	"time"
	"unicode"

	"github.com/shuxinqian/server/domain/kernel"
)

// Login-password lockout: after MaxPasswordFailures wrong passwords in a row, password login is
// locked for PasswordLockout.
const (
	MaxPasswordFailures = 5
	PasswordLockout     = 15 * time.Minute
)

// RealNameStatus is the state of real-name verification.
type RealNameStatus string

// Real-name states.
const (
	RealNameUnverified RealNameStatus = "unverified"
	RealNameVerifying  RealNameStatus = "verifying"
	RealNameVerified   RealNameStatus = "verified"
)

// User is the account aggregate.
type User struct {
	kernel.Events

	id           kernel.UserID
	phone        kernel.Phone
	passwordHash string // empty when no login password is set
	failedLogins int
	lockedUntil  time.Time
	realName     RealNameStatus
	createdAt    time.Time
	updatedAt    time.Time
	version      int64

	identity    Identity
	attempt     Attempt
	channelCode string
	signing     SigningState
	cert        *Certificate
}

// Register creates a new account for a phone that proved possession by an SMS code.
func Register(id kernel.UserID, phone kernel.Phone, now time.Time) (*User, error) {
	if id == "" {
		return nil, kernel.Invalid("user-id-missing", "user id is required")
	}
	if phone.IsZero() {
		return nil, kernel.Invalid("phone-invalid", "phone is required")
	}
	now = kernel.OccurredAt(now)
	u := &User{id: id, phone: phone, realName: RealNameUnverified, createdAt: now, updatedAt: now}
	u.Record(Registered{UserID: id, At: now})
	return u, nil
}

// Snapshot is the persisted form of a User, for repositories only.
type Snapshot struct {
	ID           kernel.UserID
	Phone        kernel.Phone
	PasswordHash string
	FailedLogins int
	LockedUntil  time.Time
	RealName     RealNameStatus
	CreatedAt    time.Time
	UpdatedAt    time.Time
	Version      int64

	Identity    Identity
	Attempt     Attempt
	ChannelCode string
	Signing     SigningState
	Certificate *Certificate
}

// FromSnapshot rehydrates a User from storage. It is for adapters only and records no events.
func FromSnapshot(s Snapshot) *User {
	rn := s.RealName
	if rn == "" {
		rn = RealNameUnverified
	}
	return &User{
		id: s.ID, phone: s.Phone, passwordHash: s.PasswordHash, failedLogins: s.FailedLogins,
		lockedUntil: s.LockedUntil, realName: rn, createdAt: s.CreatedAt, updatedAt: s.UpdatedAt,
		version: s.Version, identity: s.Identity, attempt: s.Attempt, channelCode: s.ChannelCode,
		signing: s.Signing, cert: s.Certificate.clone(),
	}
}

// Snapshot returns the persisted form.
func (u *User) Snapshot() Snapshot {
	return Snapshot{
		ID: u.id, Phone: u.phone, PasswordHash: u.passwordHash, FailedLogins: u.failedLogins,
		LockedUntil: u.lockedUntil, RealName: u.realName, CreatedAt: u.createdAt, UpdatedAt: u.updatedAt,
		Version: u.version, Identity: u.identity, Attempt: u.attempt, ChannelCode: u.channelCode,
		Signing: u.signing, Certificate: u.cert.clone(),
	}
}

// ID returns the user's id.
func (u *User) ID() kernel.UserID { return u.id }

// Phone returns the account phone.
func (u *User) Phone() kernel.Phone { return u.phone }

// HasPassword reports whether a login password is set.
func (u *User) HasPassword() bool { return u.passwordHash != "" }

// PasswordHash returns the stored hash (for the hasher port to compare).
func (u *User) PasswordHash() string { return u.passwordHash }

// RealNameStatus returns the real-name state.
func (u *User) RealNameStatus() RealNameStatus { return u.realName }

// CreatedAt returns the registration time.
func (u *User) CreatedAt() time.Time { return u.createdAt }

// Version is the optimistic-lock version kept by the repository.
func (u *User) Version() int64 { return u.version }

// SetPassword sets or replaces the login password. The caller has proved the phone (SMS code)
// and validated the plain password with ValidatePassword before hashing it.
func (u *User) SetPassword(hash string, now time.Time) error {
	if hash == "" {
		return kernel.Invalid("password-missing", "password is required")
	}
	now = kernel.OccurredAt(now)
	changed := u.passwordHash != ""
	u.passwordHash = hash
	u.failedLogins = 0
	u.lockedUntil = time.Time{}
	u.updatedAt = now
	u.Record(PasswordSet{UserID: u.id, Changed: changed, At: now})
	return nil
}

// CanTryPassword checks the lockout before a password is compared.
func (u *User) CanTryPassword(now time.Time) error {
	if !u.HasPassword() {
		return kernel.Precondition("password-not-set", "no login password is set for this account; log in with an SMS code")
	}
	if now.Before(u.lockedUntil) {
		return kernel.RateLimited("password-locked", "too many wrong passwords; try again later or log in with an SMS code",
			u.lockedUntil.Sub(now))
	}
	return nil
}

// PasswordFailed records a wrong password; the fifth in a row locks password login.
func (u *User) PasswordFailed(now time.Time) {
	now = kernel.OccurredAt(now)
	u.failedLogins++
	u.updatedAt = now
	if u.failedLogins >= MaxPasswordFailures {
		u.lockedUntil = now.Add(PasswordLockout)
		u.failedLogins = 0
		u.Record(PasswordLocked{UserID: u.id, Until: u.lockedUntil, At: now})
	}
}

// LoggedIn records a successful login by the given method ("sms" or "password").
func (u *User) LoggedIn(method string, now time.Time) {
	now = kernel.OccurredAt(now)
	u.failedLogins = 0
	u.lockedUntil = time.Time{}
	u.updatedAt = now
	u.Record(LoggedIn{UserID: u.id, Method: method, At: now})
}

// Password rules (manual §3.1: digits, upper- and lower-case letters), shared by the login
// password and the signing password.
const (
	PasswordMinLen = 8
	PasswordMaxLen = 32
)

// ValidatePassword checks a plain password against the platform's rules.
func ValidatePassword(p string) error {
	n := 0
	var digit, upper, lower bool
	for _, r := range p {
		n++
		switch {
		case r > unicode.MaxASCII || !unicode.IsPrint(r) || r == ' ':
			return kernel.Invalid("password-invalid-characters", "password may contain printable ASCII characters only, without spaces")
		case unicode.IsDigit(r):
			digit = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsLower(r):
			lower = true
		}
	}
	if n < PasswordMinLen || n > PasswordMaxLen {
		return kernel.Invalid("password-length", "password must be 8 to 32 characters").
			WithDetail("min", PasswordMinLen).WithDetail("max", PasswordMaxLen)
	}
	if !digit || !upper || !lower {
		return kernel.Invalid("password-too-weak", "password must contain a digit, an upper-case and a lower-case letter")
	}
	return nil
}
