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
