package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"github.com/shuxinqian/server/ports"
)

type revocationRow struct {
	bun.BaseModel `bun:"table:certificate_revocations"`

	Serial    string    `bun:"serial,pk"`
	Reason    int       `bun:"reason"`
	RevokedAt time.Time `bun:"revoked_at"`
	Kind      string    `bun:"kind"`
	Owner     string    `bun:"owner"`
}

type revocations struct{ t *txn }

// Revocations returns the revocation records of the transaction.
func (t *txn) Revocations() ports.RevocationRepository { return revocations{t} }

func (r revocations) Add(ctx context.Context, rv ports.Revocation) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	_, err := r.t.idb.NewInsert().Model(&revocationRow{Serial: rv.SerialHex, Reason: rv.Reason, RevokedAt: utc(rv.RevokedAt),
		Kind: rv.Kind, Owner: rv.Owner}).On("CONFLICT (serial) DO NOTHING").Exec(ctx)
	return err
}

func (r revocations) Get(ctx context.Context, serial string) (ports.Revocation, bool, error) {
	row := new(revocationRow)
	err := r.t.idb.NewSelect().Model(row).Where("serial = ?", serial).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return ports.Revocation{}, false, nil
	}
	if err != nil {
		return ports.Revocation{}, false, err
	}
	return fromRevocationRow(row), true, nil
}

func (r revocations) List(ctx context.Context) ([]ports.Revocation, error) {
	var rows []revocationRow
	if err := r.t.idb.NewSelect().Model(&rows).Order("revoked_at", "serial").Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]ports.Revocation, len(rows))
	for i := range rows {
		out[i] = fromRevocationRow(&rows[i])
	}
	return out, nil
}

func fromRevocationRow(row *revocationRow) ports.Revocation {
	return ports.Revocation{SerialHex: row.Serial, Reason: row.Reason, RevokedAt: utc(row.RevokedAt), Kind: row.Kind, Owner: row.Owner}
}
