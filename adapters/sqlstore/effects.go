package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"github.com/shuxinqian/server/ports"
)

type effectRow struct {
	bun.BaseModel `bun:"table:effects"`

	Key       string     `bun:"effect_key,pk"`
	ClaimedAt time.Time  `bun:"claimed_at"`
	DoneAt    *time.Time `bun:"done_at"`
}

type effects struct{ t *txn }

// Claim inserts the claim, or takes over a stale one under the row lock (Postgres; SQLite's
// write transaction serialises it).
func (r effects) Claim(ctx context.Context, key string, now time.Time, staleAfter time.Duration) (ports.EffectClaim, error) {
	if err := r.t.mustWrite(); err != nil {
		return 0, err
	}
	now = now.UTC()
	res, err := r.t.idb.NewInsert().Model(&effectRow{Key: key, ClaimedAt: now}).On("CONFLICT DO NOTHING").Exec(ctx)
	if err != nil {
		return 0, err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return ports.EffectNew, nil
	}
	var row effectRow
	if err := r.t.forUpdate(r.t.idb.NewSelect().Model(&row).Where("effect_key = ?", key)).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) { // released meanwhile
			return ports.EffectBusy, nil
		}
		return 0, err
	}
	if row.DoneAt != nil {
		return ports.EffectDone, nil
	}
	if now.Sub(row.ClaimedAt.UTC()) < staleAfter {
		return ports.EffectBusy, nil
	}
	if _, err := r.t.idb.NewUpdate().Model((*effectRow)(nil)).Set("claimed_at = ?", now).Where("effect_key = ?", key).Exec(ctx); err != nil {
		return 0, err
	}
	return ports.EffectRetry, nil
}

func (r effects) Done(ctx context.Context, key string, now time.Time) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	t := now.UTC()
	_, err := r.t.idb.NewInsert().Model(&effectRow{Key: key, ClaimedAt: t, DoneAt: &t}).
		On("CONFLICT (effect_key) DO UPDATE").Set("done_at = EXCLUDED.done_at").Exec(ctx)
	return err
}

func (r effects) Release(ctx context.Context, key string) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	_, err := r.t.idb.NewDelete().Model((*effectRow)(nil)).Where("effect_key = ?", key).Where("done_at IS NULL").Exec(ctx)
	return err
}

type effectNoteRow struct {
	bun.BaseModel `bun:"table:effect_notes"`

	Key       string    `bun:"effect_key,pk"`
	DataEnc   []byte    `bun:"data_enc"`
	CreatedAt time.Time `bun:"created_at"`
}

const aadEffectNote = "effect_notes.data:"

func (r effects) Note(ctx context.Context, key string, data []byte, now time.Time) ([]byte, error) {
	if err := r.t.mustWrite(); err != nil {
		return nil, err
	}
	enc, err := r.t.store.cipher.Seal(data, aadEffectNote+key)
	if err != nil {
		return nil, err
	}
	if _, err := r.t.idb.NewInsert().Model(&effectNoteRow{Key: key, DataEnc: enc, CreatedAt: now.UTC()}).
		On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
		return nil, err
	}
	var row effectNoteRow
	if err := r.t.idb.NewSelect().Model(&row).Where("effect_key = ?", key).Scan(ctx); err != nil {
		return nil, err
	}
	return r.t.store.cipher.Open(row.DataEnc, aadEffectNote+key)
}
