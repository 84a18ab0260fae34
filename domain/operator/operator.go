// Package operator holds platform operator accounts: people who run the platform (channels,
// catalogs, settings, banners, refunds, dead letters), separate from app users. They log in with
// a password and a TOTP code (RFC 6238); a TOTP code is accepted once; 5 failures lock the
// account for LockFor. Their sessions are short and have their own token type.
package operator

import (
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// ID identifies an operator.
type ID string

// Role is what an operator is for.
type Role string

// Roles.
const (
	RoleAdmin   Role = "admin"   // runs everything
	RoleFinance Role = "finance" // money: refunds, payment anomalies, orders
	RoleSupport Role = "support" // helps users: reads enterprises, orders, anomalies, dead letters
)

// ParseRole validates a role.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleAdmin, RoleFinance, RoleSupport:
		return r, nil
	}
	return "", kernel.Invalid("operator-role-invalid", "role is admin, finance or support")
}

// Permission names one kind of console action.
type Permission string

// Permissions. The table below (Permissions) says which role holds which.
const (
	PermChannels        Permission = "channels"          // create and edit channels and their catalogs
	PermSettings        Permission = "settings"          // platform settings (charging on/off…)
	PermBanners         Permission = "banners"           // home-page banners
	PermEnterprisesRead Permission = "enterprises.read"  // enterprises and their verifications
	PermEnterprisesEdit Permission = "enterprises.write" // deactivate an enterprise
	PermOrdersRead      Permission = "orders.read"       // orders and payment anomalies
	PermAnomalies       Permission = "anomalies.resolve" // resolve a payment anomaly with a note
	PermRefund          Permission = "refund"            // refund an order
	PermDeadLettersRead Permission = "dead-letters.read" // list and inspect dead letters
	PermDeadLetters     Permission = "dead-letters.replay"
	PermAudit           Permission = "audit.read" // the operator audit log
	PermWebhooks        Permission = "webhooks"   // integrators' webhook endpoints and deliveries
	PermRead            Permission = "read"       // anything every operator may read (channels, settings, banners)
	PermOperators       Permission = "operators"  // operator accounts: list, role, disable/enable, unlock, TOTP, password
)

// Permissions is the permission table per role (documented in README "Running the platform").
var Permissions = map[Role][]Permission{
	RoleAdmin: {PermChannels, PermSettings, PermBanners, PermEnterprisesRead, PermEnterprisesEdit, PermOrdersRead,
		PermAnomalies, PermRefund, PermDeadLettersRead, PermDeadLetters, PermAudit, PermWebhooks, PermRead, PermOperators},
	RoleFinance: {PermEnterprisesRead, PermOrdersRead, PermAnomalies, PermRefund, PermRead},
	RoleSupport: {PermEnterprisesRead, PermOrdersRead, PermDeadLettersRead, PermWebhooks, PermRead},
}

// Can reports whether a role holds a permission.
func (r Role) Can(p Permission) bool { return slices.Contains(Permissions[r], p) }

// Login figures.
const (
	MaxFailures = 5
	LockFor     = 15 * time.Minute
)

// Login errors. A wrong password, a wrong or missing TOTP code and an unknown username answer
// alike (invalid credentials), so the answer does not say which factor failed; a reused code is
// told apart because the person holding the right code needs to wait for the next one.
var (
	ErrInvalidCredentials = kernel.Unauthenticated("operator-credentials-invalid", "wrong username, password or TOTP code")
	ErrTOTPReused         = kernel.Unauthenticated("operator-totp-reused", "this TOTP code was already used: wait for the next one")
	ErrLocked             = kernel.RateLimited("operator-locked", "too many failed logins: the account is locked for a while", LockFor)
)

var usernameRe = regexp.MustCompile(`^[a-z][a-z0-9._-]{2,31}$`)

// Operator is a platform operator account.
type Operator struct {
	id           ID
	username     string
	passwordHash string
	totpSecret   []byte
	role         Role
	active       bool
	failedCount  int
	lockedUntil  time.Time
	lastStep     int64
	createdAt    time.Time
	lastLoginAt  time.Time
}

// Snapshot is the persisted form (the TOTP secret in clear: the store encrypts it).
type Snapshot struct {
	ID           ID
	Username     string
	PasswordHash string
	TOTPSecret   []byte
	Role         Role
	Active       bool
	FailedCount  int
	LockedUntil  time.Time
	LastStep     int64
	CreatedAt    time.Time
	LastLoginAt  time.Time // zero: never logged in
}

// New validates and creates an active operator.
func New(id ID, username, passwordHash string, totpSecret []byte, role Role, now time.Time) (*Operator, error) {
	username = strings.ToLower(strings.TrimSpace(username))
	switch {
	case id == "":
		return nil, kernel.Invalid("operator-id-missing", "operator id is required")
	case !usernameRe.MatchString(username):
		return nil, kernel.Invalid("operator-username-invalid", "username is 3-32 lower-case letters, digits, dots, hyphens or underscores, starting with a letter")
	case passwordHash == "":
		return nil, kernel.Invalid("operator-password-missing", "a password is required")
	case len(totpSecret) < 16:
		return nil, kernel.Invalid("operator-totp-secret-short", "the TOTP secret is at least 128 bits")
	}
	if _, err := ParseRole(string(role)); err != nil {
		return nil, err
	}
	return &Operator{id: id, username: username, passwordHash: passwordHash, totpSecret: append([]byte(nil), totpSecret...),
		role: role, active: true, createdAt: kernel.OccurredAt(now)}, nil
}

// CheckPassword validates a new operator password: 12-128 characters.
func CheckPassword(p string) error {
	if n := len([]rune(p)); n < 12 || n > 128 {
		return kernel.Invalid("operator-password-weak", "an operator password is 12 to 128 characters")
	}
	return nil
}

// FromSnapshot rehydrates an operator (adapters only).
func FromSnapshot(s Snapshot) *Operator {
	return &Operator{id: s.ID, username: s.Username, passwordHash: s.PasswordHash, totpSecret: append([]byte(nil), s.TOTPSecret...),
		role: s.Role, active: s.Active, failedCount: s.FailedCount, lockedUntil: s.LockedUntil, lastStep: s.LastStep, createdAt: s.CreatedAt,
		lastLoginAt: s.LastLoginAt}
}

// Snapshot returns the persisted form.
func (o *Operator) Snapshot() Snapshot {
	return Snapshot{ID: o.id, Username: o.username, PasswordHash: o.passwordHash, TOTPSecret: append([]byte(nil), o.totpSecret...),
		Role: o.role, Active: o.active, FailedCount: o.failedCount, LockedUntil: o.lockedUntil, LastStep: o.lastStep, CreatedAt: o.createdAt,
		LastLoginAt: o.lastLoginAt}
}

// ID returns the id.
func (o *Operator) ID() ID { return o.id }

// Username returns the login name.
func (o *Operator) Username() string { return o.username }

// Role returns the role.
func (o *Operator) Role() Role { return o.role }

// Active reports whether the account may log in.
func (o *Operator) Active() bool { return o.active }

// PasswordHash returns the stored hash (for the password check).
func (o *Operator) PasswordHash() string { return o.passwordHash }

// LockedUntil is the end of the current lock (zero when never locked).
func (o *Operator) LockedUntil() time.Time { return o.lockedUntil }

// FailedCount is the number of failures since the last success or lock.
func (o *Operator) FailedCount() int { return o.failedCount }

// CheckLocked refuses a locked account, telling how long is left.
func (o *Operator) CheckLocked(now time.Time) error {
	if now.Before(o.lockedUntil) {
		return ErrLocked.WithRetryAfter(o.lockedUntil.Sub(now))
	}
	return nil
}

// Login decides one login attempt given whether the password matched and the TOTP code typed.
// A success resets the failures and remembers the code's step, so the same code (or an older
// one) is refused afterwards; a failure counts, and the MaxFailures-th locks the account for
// LockFor. The caller saves the operator whatever the answer (failures are durable).
func (o *Operator) Login(passwordOK bool, code string, now time.Time) error {
	if err := o.CheckLocked(now); err != nil {
		return err
	}
	step, codeOK := MatchStep(o.totpSecret, strings.TrimSpace(code), now)
	var fail error
	switch {
	case !o.active || !passwordOK || !codeOK:
		fail = ErrInvalidCredentials
	case step <= o.lastStep:
		fail = ErrTOTPReused
	}
	if fail != nil {
		o.failedCount++
		if o.failedCount >= MaxFailures {
			o.failedCount = 0
			o.lockedUntil = kernel.OccurredAt(now).Add(LockFor)
			return ErrLocked
		}
		return fail
	}
	o.failedCount = 0
	o.lastStep = step
	o.lastLoginAt = kernel.OccurredAt(now)
	return nil
}

// CreatedAt is when the account was made.
func (o *Operator) CreatedAt() time.Time { return o.createdAt }

// LastLoginAt is the last successful login (zero when never).
func (o *Operator) LastLoginAt() time.Time { return o.lastLoginAt }

// IsActiveAdmin reports whether the account counts towards the platform's active admins.
func (o *Operator) IsActiveAdmin() bool { return o.active && o.role == RoleAdmin }

// ValidUsername reports whether s is a well-formed (lower-case) username.
func ValidUsername(s string) bool { return usernameRe.MatchString(s) }

// Account management errors.
var (
	// ErrSelfChange: an admin cannot disable or demote their own account (another admin must).
	ErrSelfChange = kernel.Precondition("operator-self-change", "you cannot disable or demote your own operator account; ask another admin")
	// ErrLastAdmin: the change would leave the platform without an active admin.
	ErrLastAdmin = kernel.Conflict("operator-last-admin", "this is the last active admin: make another operator admin first")
)

// Admins is the number of active admins, counted under the lock that serialises changes to that
// set (every disable and demotion takes it), this account included when it is one.
type Admins int

// checkLeavesAdmin refuses a change by `by` that takes o out of the active admins: o may not be
// the caller (self) nor the last active admin.
func (o *Operator) checkLeavesAdmin(by ID, admins Admins) error {
	if by == o.id {
		return ErrSelfChange
	}
	if o.IsActiveAdmin() && admins <= 1 {
		return ErrLastAdmin
	}
	return nil
}

// Disable ends the account's access (its sessions are revoked by the caller in the same unit of
// work). by is the operator doing it; admins the active admins counted under the admins lock.
// It reports whether anything changed (disabling a disabled account is a no-op).
func (o *Operator) Disable(by ID, admins Admins) (bool, error) {
	if !o.active {
		return false, nil
	}
	if err := o.checkLeavesAdmin(by, admins); err != nil {
		return false, err
	}
	o.active = false
	return true, nil
}

// Enable lets a disabled account log in again; it reports whether anything changed.
func (o *Operator) Enable() bool {
	if o.active {
		return false
	}
	o.active = true
	return true
}

// ChangeRole gives the account another role. Taking an active admin's role away follows the
// rules of Disable (not oneself, not the last active admin). It reports whether anything changed.
func (o *Operator) ChangeRole(by ID, role Role, admins Admins) (bool, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return false, err
	}
	if role == o.role {
		return false, nil
	}
	if o.role == RoleAdmin {
		if err := o.checkLeavesAdmin(by, admins); err != nil {
			return false, err
		}
	}
	o.role = role
	return true, nil
}

// Unlock clears the brute-force lock and the failures counted towards it; it reports whether
// there was anything to clear at now.
func (o *Operator) Unlock(now time.Time) bool {
	changed := now.Before(o.lockedUntil) || o.failedCount > 0
	o.lockedUntil, o.failedCount = time.Time{}, 0
	return changed
}

// RotateTOTP replaces the TOTP secret (the caller revokes the account's sessions). The last
// accepted step is kept: a code of a step already used stays refused.
func (o *Operator) RotateTOTP(secret []byte) error {
	if len(secret) < 16 {
		return kernel.Invalid("operator-totp-secret-short", "the TOTP secret is at least 128 bits")
	}
	o.totpSecret = append([]byte(nil), secret...)
	return nil
}

// ResetPassword replaces the password hash (the caller checked the password with CheckPassword
// and revokes the account's sessions).
func (o *Operator) ResetPassword(hash string) error {
	if hash == "" {
		return kernel.Invalid("operator-password-missing", "a password is required")
	}
	o.passwordHash = hash
	return nil
}
