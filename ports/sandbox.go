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

// SandboxTransfer is a remittance the sandbox bank recorded, successful or not. It never holds
// the full account number.
type SandboxTransfer struct {
	Reference     string
	AccountMasked string // "****1234"
	BankName      string
	Province      string
	Branch        string
	Amount        kernel.Money
	Remitted      bool
	Reason        string
	BankRef       string
	At            time.Time
}

// SandboxBankLedger keeps what the sandbox bank remitted, durably (sandbox mode only), so every
// instance and a separate consume process share it, a restart keeps it, and the sandbox bank
// stays idempotent by reference across both.
type SandboxBankLedger interface {
	// Record stores t unless a transfer with its reference is stored, and returns the stored one
	// (the first wins).
	Record(ctx context.Context, t SandboxTransfer) (SandboxTransfer, error)
	// List returns up to limit transfers whose reference starts with prefix (all when empty),
	// newest first.
	List(ctx context.Context, prefix string, limit int) ([]SandboxTransfer, error)
}

// SandboxRecords keeps the state of a sandbox provider that lives between calls (the liveness
// sessions, the simulated WeChat Pay transactions and keys) durably, so that every instance and a
// separate consume process see the same provider, as they would a real one (sandbox mode only).
// Values are opaque (JSON) and sealed at rest; kind names the provider's collection.
type SandboxRecords interface {
	// Insert stores value under (kind, key) unless a record is there; false when one was.
	// Records past expiresAt (zero: never) may be dropped.
	Insert(ctx context.Context, kind, key string, value []byte, expiresAt time.Time) (bool, error)
	// Get returns the record of (kind, key); false when there is none.
	Get(ctx context.Context, kind, key string) ([]byte, bool, error)
	// Update replaces the record of (kind, key) by fn's result, atomically (a row lock across
	// instances); false when there is none. An error of fn leaves the record as it was.
	Update(ctx context.Context, kind, key string, fn func(value []byte) ([]byte, error)) (bool, error)
}
