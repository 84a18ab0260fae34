// Package session holds login sessions: 256-bit bearer tokens stored hashed, 30 days sliding.
package session

import (
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// Figures of DESIGN.md §7.
const (
	TTL = 30 * 24 * time.Hour
	// SlideEvery bounds how often a used session is extended (and so written): at most once per hour.
	SlideEvery = time.Hour
)

// Session is one login.
type Session struct {
	kernel.Events

	id         kernel.SessionID
	userID     kernel.UserID
	tokenHash  string
	createdAt  time.Time
	lastSeenAt time.Time
	expiresAt  time.Time
	revokedAt  time.Time
}

// Open starts a session for a user with the hash of a fresh token.
func Open(id kernel.SessionID, userID kernel.UserID, tokenHash string, now time.Time) (*Session, error) {
	if id == "" || userID == "" || tokenHash == "" {
		return nil, kernel.Invalid("session-incomplete", "session needs an id, a user and a token hash")
	}
	now = kernel.OccurredAt(now)
	return &Session{id: id, userID: userID, tokenHash: tokenHash, createdAt: now, lastSeenAt: now, expiresAt: now.Add(TTL)}, nil
}

// Snapshot is the persisted form.
type Snapshot struct {
	ID         kernel.SessionID
	UserID     kernel.UserID
	TokenHash  string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	RevokedAt  time.Time
}

// FromSnapshot rehydrates a session (adapters only).
func FromSnapshot(s Snapshot) *Session {
	return &Session{id: s.ID, userID: s.UserID, tokenHash: s.TokenHash, createdAt: s.CreatedAt,
		lastSeenAt: s.LastSeenAt, expiresAt: s.ExpiresAt, revokedAt: s.RevokedAt}
}

// Snapshot returns the persisted form.
func (s *Session) Snapshot() Snapshot {
	return Snapshot{ID: s.id, UserID: s.userID, TokenHash: s.tokenHash, CreatedAt: s.createdAt,
		LastSeenAt: s.lastSeenAt, ExpiresAt: s.expiresAt, RevokedAt: s.revokedAt}
}

// ID returns the session id.
func (s *Session) ID() kernel.SessionID { return s.id }

// UserID returns the owner.
func (s *Session) UserID() kernel.UserID { return s.userID }

// ExpiresAt returns the current expiry.
func (s *Session) ExpiresAt() time.Time { return s.expiresAt }

// Errors.
var (
	ErrInvalid = kernel.Unauthenticated("session-invalid", "the session token is missing, unknown, expired or revoked")
)

// Check refuses a revoked or expired session. The same error for both: a token's state is not
// disclosed to whoever holds it.
func (s *Session) Check(now time.Time) error {
	if !s.revokedAt.IsZero() || !now.Before(s.expiresAt) {
		return ErrInvalid
	}
	return nil
}

// Touch slides the expiry when the session is used; it reports whether anything changed (so
// the store is written at most once per SlideEvery). A revoked or expired session is never
// extended: Touch cannot bring it back to life.
func (s *Session) Touch(now time.Time) bool {
	if s.Check(now) != nil || now.Sub(s.lastSeenAt) < SlideEvery {
		return false
	}
	now = kernel.OccurredAt(now)
	s.lastSeenAt = now
	s.expiresAt = now.Add(TTL)
	return true
}

// Revoke ends the session (logout, or removal from an enterprise).
func (s *Session) Revoke(reason string, now time.Time) {
	if !s.revokedAt.IsZero() {
		return
	}
	now = kernel.OccurredAt(now)
	s.revokedAt = now
	s.Record(Revoked{SessionID: s.id, UserID: s.userID, Reason: reason, At: now})
}

// Revoked: a session was ended.
type Revoked struct {
	SessionID kernel.SessionID `json:"session_id"`
	UserID    kernel.UserID    `json:"user_id"`
	Reason    string           `json:"reason"`
	At        time.Time        `json:"at"`
}

// EventName implements kernel.Event.
func (Revoked) EventName() string { return "session.revoked" }
