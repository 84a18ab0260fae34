package ports

import (
	"context"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// SentSMS is a message the sandbox SMS provider "sent".
type SentSMS struct {
	ID       int64
	Phone    kernel.Phone
	Template string
	Text     string
	SentAt   time.Time
}

// SandboxSMSBox keeps what the sandbox SMS provider sent, durably, so that every instance and a
// separate consume process share one box and a restart keeps it (sandbox mode only).
type SandboxSMSBox interface {
	// Append stores m; false when a message with the same non-empty idempotency key was stored.
	Append(ctx context.Context, idempotencyKey string, m SentSMS) (bool, error)
	// List returns up to limit messages to phone (every phone when empty), newest first.
	List(ctx context.Context, phone kernel.Phone, limit int) ([]SentSMS, error)
}
