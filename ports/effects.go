package ports

import (
	"context"
	"time"
)

// EffectClaim is the answer of EffectLog.Claim.
type EffectClaim int

const (
	// EffectNew: first claim, perform the effect.
	EffectNew EffectClaim = iota + 1
	// EffectRetry: an earlier claim went stale without being recorded done (its run failed or
	// died, the outcome is unknown): perform it again, with the same idempotency key.
	EffectRetry
	// EffectBusy: another run holds a fresh claim; it is responsible for the effect.
	EffectBusy
	// EffectDone: the effect was performed; do nothing.
	EffectDone
)

// EffectLog records external effects (an SMS, a bank remittance, a certificate issuance) so
// that each happens once across restarts and instances: claimed in one transaction, performed
// outside any transaction, recorded done in another.
type EffectLog interface {
	// Claim takes key for this run; a claim older than staleAfter that is not done is taken over.
	Claim(ctx context.Context, key string, now time.Time, staleAfter time.Duration) (EffectClaim, error)
	// Done records that the effect of key happened.
	Done(ctx context.Context, key string, now time.Time) error
	// Release gives up a claim after a failed attempt, so that the retry may claim it at once.
	Release(ctx context.Context, key string) error
	// Note records data for key's effect unless a note is already recorded, and returns the
	// recorded note (the first one wins). An effect retried after a crash reads back what it
	// chose before calling the provider (a key, a request time), so the provider answers the
	// retry as the first call. Notes are sealed at rest; they outlive Release.
	Note(ctx context.Context, key string, data []byte, now time.Time) ([]byte, error)
}
