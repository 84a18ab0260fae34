package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Retention says how long expired or old rows are kept before Prune deletes them.
type Retention struct {
	// Codes: SMS codes are deleted this long after they expired (the rate limits look back at
	// most a day, so less than 24h would loosen them).
	Codes time.Duration
	// Inbox: processed-message records older than this go (a redelivery of an older message
	// would run its handler again).
	Inbox time.Duration
	// Idempotency: keys are deleted this long after they expired (IdempotencyTTL after creation).
	Idempotency time.Duration
	// Audit: account activity older than this goes.
	Audit time.Duration
	// Effects: effect claims (SMS sends, remittances, certificate issuance, invoices: the
	// effects table) and their notes (effect_notes) go this long after they were claimed. A
	// redelivery of an older message would perform its effect again, so this is at least the
	// inbox window.
	Effects time.Duration
	// SweepClaims: the sweeper's nudge claims (effects rows "sweep/…", which only space the
	// nudges of one stuck item) go this long after the last nudge.
	SweepClaims time.Duration
	// Sandbox: the sandbox SMS box and the sandbox bank's transfers (APP_MODE=sandbox) are
	// kept this long.
	Sandbox time.Duration
	// Batch is the most rows one DELETE statement removes, so no statement holds locks long.
	Batch int
	// MaxBatches bounds the statements of one Prune per table; the rest waits for the next run.
	MaxBatches int
}

// DefaultRetention is the documented default.
var DefaultRetention = Retention{Codes: 24 * time.Hour, Inbox: 30 * 24 * time.Hour, Idempotency: 0,
	Audit: 365 * 24 * time.Hour, Effects: 30 * 24 * time.Hour, SweepClaims: 7 * 24 * time.Hour, Sandbox: 7 * 24 * time.Hour,
	Batch: 500, MaxBatches: 200}

// PruneReport counts the deleted rows per table.
type PruneReport struct {
	Codes, Inbox, Idempotency, Audit                           int64
	Effects, EffectNotes, SweepClaims, SandboxSMS, SandboxBank int64
}

// Total is the number of rows deleted.
func (r PruneReport) Total() int64 {
	return r.Codes + r.Inbox + r.Idempotency + r.Audit + r.Effects + r.EffectNotes + r.SweepClaims + r.SandboxSMS + r.SandboxBank
}

// Prune deletes what the retention windows let go, as of now, in batches of at most r.Batch
// rows per statement (each statement its own short transaction).
func (d *DB) Prune(ctx context.Context, now time.Time, r Retention) (PruneReport, error) {
	if r.Batch <= 0 {
		r.Batch = DefaultRetention.Batch
	}
	if r.MaxBatches <= 0 {
		r.MaxBatches = DefaultRetention.MaxBatches
	}
	now = now.UTC()
	var rep PruneReport
	if r.Effects <= 0 {
		r.Effects = DefaultRetention.Effects
	}
	if r.SweepClaims <= 0 {
		r.SweepClaims = DefaultRetention.SweepClaims
	}
	if r.Sandbox <= 0 {
		r.Sandbox = DefaultRetention.Sandbox
	}
	steps := []struct {
		table, column string
		before        time.Time
		n             *int64
		where         string // further condition, if any
	}{
		{"sms_codes", "expires_at", now.Add(-r.Codes), &rep.Codes, ""},
		{"inbox", "processed_at", now.Add(-r.Inbox), &rep.Inbox, ""},
		{"idempotency_keys", "created_at", now.Add(-IdempotencyTTL - r.Idempotency), &rep.Idempotency, ""},
		{"audit_log", "at", now.Add(-r.Audit), &rep.Audit, ""},
		// claimed_at is the last claim (a retried effect's takeover); a done effect was claimed
		// before it was done.
		{"effects", "claimed_at", now.Add(-r.Effects), &rep.Effects, "effect_key NOT LIKE 'sweep/%'"},
		{"effects", "claimed_at", now.Add(-r.SweepClaims), &rep.SweepClaims, "effect_key LIKE 'sweep/%'"},
		// A note lives as long as its effect could still be retried.
		{"effect_notes", "created_at", now.Add(-r.Effects), &rep.EffectNotes, ""},
		{"sandbox_sms", "sent_at", now.Add(-r.Sandbox), &rep.SandboxSMS, ""},
		{"sandbox_bank_transfers", "at", now.Add(-r.Sandbox), &rep.SandboxBank, ""},
	}
	for _, s := range steps {
		n, err := d.pruneTable(ctx, s.table, s.column, s.before, s.where, r.Batch, r.MaxBatches)
		*s.n = n
		if err != nil {
			return rep, fmt.Errorf("sqlstore: prune %s: %w", s.table, err)
		}
	}
	return rep, nil
}

// pruneTable deletes rows with column < before, batch rows per statement, until fewer than a
// batch remain or maxBatches statements ran.
func (d *DB) pruneTable(ctx context.Context, table, column string, before time.Time, where string, batch, maxBatches int) (int64, error) {
	cond := "? < ?"
	if where != "" {
		cond += " AND " + where // a constant of Prune's, never input
	}
	var q string
	if d.IsPostgres() {
		// ctid = ANY(ARRAY(…)) is a TID scan over exactly the selected rows.
		q = `DELETE FROM ? WHERE ctid = ANY(ARRAY(SELECT ctid FROM ? WHERE ` + cond + ` LIMIT ?))`
	} else {
		q = `DELETE FROM ? WHERE rowid IN (SELECT rowid FROM ? WHERE ` + cond + ` LIMIT ?)`
	}
	var total int64
	for range maxBatches {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		res, err := d.NewRaw(q, bun.Ident(table), bun.Ident(table), bun.Ident(column), before, batch).Exec(ctx)
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += n
		if n < int64(batch) {
			break
		}
	}
	return total, nil
}
