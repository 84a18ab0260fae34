package operator

import (
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// Session figures: much shorter than an app session (30 days sliding).
const (
	SessionIdle = 30 * time.Minute
	SessionMax  = 8 * time.Hour
	// TouchEvery bounds how often a used session's idle deadline is written.
	TouchEvery = time.Minute
	// TokenPrefix marks operator bearer tokens; app tokens never carry it, and each kind is
	// looked up only in its own table, so neither opens the other's routes.
	TokenPrefix = "op_"
)

// ErrSessionInvalid answers an unknown, expired, idle or revoked operator token.
var ErrSessionInvalid = kernel.Unauthenticated("operator-session-invalid", "the operator session token is missing, unknown, expired or revoked")

// Session is one operator login.
type Session struct {
	ID         string
	OperatorID ID
	TokenHash  string
	CreatedAt  time.Time
	LastSeenAt time.Time
	RevokedAt  time.Time
}

// OpenSession starts a session.
func OpenSession(id string, op ID, tokenHash string, now time.Time) (*Session, error) {
	if id == "" || op == "" || tokenHash == "" {
		return nil, kernel.Invalid("operator-session-incomplete", "a session needs an id, an operator and a token hash")
	}
	now = kernel.OccurredAt(now)
	return &Session{ID: id, OperatorID: op, TokenHash: tokenHash, CreatedAt: now, LastSeenAt: now}, nil
}

// ExpiresAt is when the session ends if not used: the idle deadline, capped by SessionMax.
func (s *Session) ExpiresAt() time.Time {
	idle := s.LastSeenAt.Add(SessionIdle)
	if hard := s.CreatedAt.Add(SessionMax); hard.Before(idle) {
		return hard
	}
	return idle
}

// Check refuses a revoked, idle or too old session.
func (s *Session) Check(now time.Time) error {
	if !s.RevokedAt.IsZero() || !now.Before(s.ExpiresAt()) {
		return ErrSessionInvalid
	}
	return nil
}

// Touch records use; it reports whether the stored session must be written.
func (s *Session) Touch(now time.Time) bool {
	if s.Check(now) != nil || now.Sub(s.LastSeenAt) < TouchEvery {
		return false
	}
	s.LastSeenAt = kernel.OccurredAt(now)
	return true
}

// Revoke ends the session.
func (s *Session) Revoke(now time.Time) {
	if s.RevokedAt.IsZero() {
		s.RevokedAt = kernel.OccurredAt(now)
	}
}
