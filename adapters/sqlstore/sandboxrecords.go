package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"github.com/shuxinqian/server/ports"
)

type sandboxRecordRow struct {
	bun.BaseModel `bun:"table:sandbox_records"`

	Kind      string     `bun:"kind,pk"`
	Key       string     `bun:"key,pk"`
	Value     []byte     `bun:"value"`
	ExpiresAt *time.Time `bun:"expires_at"`
}

// SandboxRecordsKeep is how long a sandbox record stays after it expired (a late look at an
// expired liveness session still answers "expired", not "not found").
const SandboxRecordsKeep = 24 * time.Hour

// SandboxRecordStore keeps the sandbox providers' state in the database (ports.SandboxRecords).
type SandboxRecordStore struct{ s *Store }

// SandboxRecords is the durable store of the sandbox providers' state.
func (s *Store) SandboxRecords() *SandboxRecordStore { return &SandboxRecordStore{s} }

var _ ports.SandboxRecords = (*SandboxRecordStore)(nil)

func sandboxAAD(kind string) string { return "sandbox_records." + kind }

// Insert stores value unless (kind, key) is there; it drops the records of kind expired for
// longer than SandboxRecordsKeep first.
func (r *SandboxRecordStore) Insert(ctx context.Context, kind, key string, value []byte, expiresAt time.Time) (bool, error) {
	if _, err := r.s.db.NewDelete().Model((*sandboxRecordRow)(nil)).Where("kind = ?", kind).
		Where("expires_at < ?", time.Now().UTC().Add(-SandboxRecordsKeep)).Exec(ctx); err != nil {
		return false, err
	}
	sealed, err := r.s.cipher.Seal(value, sandboxAAD(kind))
	if err != nil {
		return false, err
	}
	row := &sandboxRecordRow{Kind: kind, Key: key, Value: sealed}
	if !expiresAt.IsZero() {
		e := expiresAt.UTC()
		row.ExpiresAt = &e
	}
	res, err := r.s.db.NewInsert().Model(row).On("CONFLICT DO NOTHING").Exec(ctx)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Get returns the record of (kind, key).
func (r *SandboxRecordStore) Get(ctx context.Context, kind, key string) ([]byte, bool, error) {
	var row sandboxRecordRow
	err := r.s.db.NewSelect().Model(&row).Where("kind = ? AND key = ?", kind, key).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	v, err := r.s.cipher.Open(row.Value, sandboxAAD(kind))
	return v, err == nil, err
}

// Update replaces the record by fn's result under a row lock (SQLite: its one writer).
func (r *SandboxRecordStore) Update(ctx context.Context, kind, key string, fn func([]byte) ([]byte, error)) (bool, error) {
	found := false
	err := r.s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var row sandboxRecordRow
		q := tx.NewSelect().Model(&row).Where("kind = ? AND key = ?", kind, key)
		if r.s.db.IsPostgres() {
			q = q.For("UPDATE")
		}
		if err := q.Scan(ctx); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			return err
		}
		found = true
		v, err := r.s.cipher.Open(row.Value, sandboxAAD(kind))
		if err != nil {
			return err
		}
		nv, err := fn(v)
		if err != nil {
			return err
		}
		sealed, err := r.s.cipher.Seal(nv, sandboxAAD(kind))
		if err != nil {
			return err
		}
		_, err = tx.NewUpdate().Model((*sandboxRecordRow)(nil)).Set("value = ?", sealed).
			Where("kind = ? AND key = ?", kind, key).Exec(ctx)
		return err
	})
	return found && err == nil, err
}
