package user

import (
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// Registered: a phone account was created by its first SMS login.
type Registered struct {
	UserID kernel.UserID `json:"user_id"`
	At     time.Time     `json:"at"`
}

// EventName implements kernel.Event.
func (Registered) EventName() string { return "user.registered" }

// LoggedIn: a session was opened.
type LoggedIn struct {
	UserID kernel.UserID `json:"user_id"`
	Method string        `json:"method"`
	At     time.Time     `json:"at"`
}

// EventName implements kernel.Event.
func (LoggedIn) EventName() string { return "user.logged_in" }

// PasswordSet: the login password was set (Changed=false) or replaced (Changed=true).
type PasswordSet struct {
	UserID  kernel.UserID `json:"user_id"`
	Changed bool          `json:"changed"`
	At      time.Time     `json:"at"`
}

// EventName implements kernel.Event.
func (PasswordSet) EventName() string { return "user.password_set" }

// PasswordLocked: too many wrong passwords locked password login.
type PasswordLocked struct {
	UserID kernel.UserID `json:"user_id"`
	Until  time.Time     `json:"until"`
	At     time.Time     `json:"at"`
}

// EventName implements kernel.Event.
func (PasswordLocked) EventName() string { return "user.password_locked" }

// LoggedOut: a session was closed by its owner.
type LoggedOut struct {
	UserID kernel.UserID `json:"user_id"`
	At     time.Time     `json:"at"`
}

// EventName implements kernel.Event.
func (LoggedOut) EventName() string { return "user.logged_out" }

// RealNameWasVerified: the account's real name was verified. It carries no personal data.
type RealNameWasVerified struct {
	UserID kernel.UserID `json:"user_id"`
	Method string        `json:"method"`
	At     time.Time     `json:"at"`
}

// EventName implements kernel.Event.
func (RealNameWasVerified) EventName() string { return "user.real_name_verified" }

// RealNameWasRejected: a real-name attempt failed.
type RealNameWasRejected struct {
	UserID kernel.UserID `json:"user_id"`
	Reason string        `json:"reason"`
	At     time.Time     `json:"at"`
}

// EventName implements kernel.Event.
func (RealNameWasRejected) EventName() string { return "user.real_name_failed" }

// ChannelSwitched: the user's current channel changed.
type ChannelSwitched struct {
	UserID      kernel.UserID `json:"user_id"`
	ChannelCode string        `json:"channel_code"`
	At          time.Time     `json:"at"`
}

// EventName implements kernel.Event.
func (ChannelSwitched) EventName() string { return "user.channel_switched" }

// CertificateIssued: a personal certificate was issued.
type CertificateIssued struct {
	UserID   kernel.UserID `json:"user_id"`
	Serial   string        `json:"serial"`
	NotAfter time.Time     `json:"not_after"`
	At       time.Time     `json:"at"`
}

// EventName implements kernel.Event.
func (CertificateIssued) EventName() string { return "user.certificate_issued" }

// SigningLocked: too many wrong signing passwords locked signing.
type SigningLocked struct {
	UserID kernel.UserID `json:"user_id"`
	Until  time.Time     `json:"until"`
	At     time.Time     `json:"at"`
}

// EventName implements kernel.Event.
func (SigningLocked) EventName() string { return "user.signing_locked" }

// SigningPasswordChanged: the signing password was changed (with the old one, or by SMS code).
type SigningPasswordChanged struct {
	UserID    kernel.UserID `json:"user_id"`
	BySMSCode bool          `json:"by_sms_code"`
	At        time.Time     `json:"at"`
}

// EventName implements kernel.Event.
func (SigningPasswordChanged) EventName() string { return "user.signing_password_changed" }

// PersonalCertificateRevoked: a personal certificate was revoked (reset of a forgotten signing
// password, re-issue).
type PersonalCertificateRevoked struct {
	UserID kernel.UserID `json:"user_id"`
	Serial string        `json:"serial"`
	Reason string        `json:"reason"`
	At     time.Time     `json:"at"`
}

// EventName implements kernel.Event.
func (PersonalCertificateRevoked) EventName() string { return "user.certificate_revoked" }
