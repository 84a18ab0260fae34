package sqlstore

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/otp"
)

type codeRow struct {
	bun.BaseModel `bun:"table:sms_codes"`

	ID        string    `bun:"id,pk"`
	PhoneIdx  string    `bun:"phone_idx"`
	Purpose   string    `bun:"purpose"`
	CodeHash  string    `bun:"code_hash"`
	IPIdx     string    `bun:"ip_idx"`
	CreatedAt time.Time `bun:"created_at"`
	ExpiresAt time.Time `bun:"expires_at"`
	Attempts  int       `bun:"attempts"`
	UsedAt    time.Time `bun:"used_at,nullzero"`
}

type codes struct{ t *txn }

func (r codes) phoneIdx(p kernel.Phone) string { return r.t.store.secrets.Digest("phone", string(p)) }
func (r codes) ipIdx(ip string) string         { return r.t.store.secrets.Digest("ip", ip) }

// LockPhone takes a transaction-scoped advisory lock on Postgres; SQLite's IMMEDIATE write
// transactions are already exclusive.
func (r codes) LockPhone(ctx context.Context, phone kernel.Phone) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	if !r.t.store.db.IsPostgres() {
		return nil
	}
	_, err := r.t.idb.NewRaw("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", "phone:"+r.phoneIdx(phone)).Exec(ctx)
	return err
}

// historyCap bounds what a history read can return: more rows than any limit counts.
const historyCap = 64

func (r codes) History(ctx context.Context, phone kernel.Phone, clientIP string, since time.Time) (otp.History, error) {
	var h otp.History
	var rows []codeRow
	if err := r.t.idb.NewSelect().Model(&rows).Column("purpose", "created_at").
		Where("phone_idx = ? AND created_at > ?", r.phoneIdx(phone), since.UTC()).
		Order("created_at DESC").Limit(historyCap).Scan(ctx); err != nil {
		return h, err
	}
	for _, row := range rows {
		h.Phone = append(h.Phone, otp.Sent{Purpose: otp.Purpose(row.Purpose), At: row.CreatedAt.UTC()})
	}
	rows = nil
	// In a write transaction on Postgres the client IP's count is serialised like the phone's
	// (LockPhone first, then this lock: always in that order), so that concurrent requests for
	// different phones from one IP cannot all read the same count and overshoot the limit. SQLite
	// write transactions are serialised already.
	if r.t.writable && r.t.store.db.IsPostgres() {
		if _, err := r.t.idb.NewRaw("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", "ip:"+r.ipIdx(clientIP)).Exec(ctx); err != nil {
			return h, err
		}
	}
	if err := r.t.idb.NewSelect().Model(&rows).Column("created_at").
		Where("ip_idx = ? AND created_at > ?", r.ipIdx(clientIP), since.UTC()).
		Order("created_at DESC").Limit(historyCap).Scan(ctx); err != nil {
		return h, err
	}
	for _, row := range rows {
		h.IP = append(h.IP, row.CreatedAt.UTC())
	}
	return h, nil
}

func (r codes) Add(ctx context.Context, c *otp.Code, clientIP string) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	s := c.Snapshot()
	_, err := r.t.idb.NewInsert().Model(&codeRow{
		ID: s.ID, PhoneIdx: r.phoneIdx(s.Phone), Purpose: string(s.Purpose), CodeHash: s.Hash, IPIdx: r.ipIdx(clientIP),
		CreatedAt: s.CreatedAt.UTC(), ExpiresAt: s.ExpiresAt.UTC(), Attempts: s.Attempts, UsedAt: utc(s.UsedAt),
	}).Exec(ctx)
	return err
}

func (r codes) Latest(ctx context.Context, phone kernel.Phone, purpose otp.Purpose) (*otp.Code, error) {
	row := new(codeRow)
	q := r.t.idb.NewSelect().Model(row).Where("phone_idx = ? AND purpose = ?", r.phoneIdx(phone), string(purpose)).
		Order("created_at DESC", "id DESC").Limit(1)
	if err := r.t.forUpdate(q).Scan(ctx); err != nil {
		if e := notFound(err, "", ""); kernel.KindOf(e) == kernel.KindNotFound {
			return nil, otp.ErrNotRequested
		}
		return nil, err
	}
	return otp.FromSnapshot(otp.Snapshot{ID: row.ID, Phone: phone, Purpose: otp.Purpose(row.Purpose), Hash: row.CodeHash,
		CreatedAt: row.CreatedAt.UTC(), ExpiresAt: row.ExpiresAt.UTC(), Attempts: row.Attempts, UsedAt: utc(row.UsedAt)}), nil
}

func (r codes) Save(ctx context.Context, c *otp.Code) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	s := c.Snapshot()
	_, err := r.t.idb.NewUpdate().Model(&codeRow{ID: s.ID, Attempts: s.Attempts, UsedAt: utc(s.UsedAt)}).
		Column("attempts", "used_at").WherePK().Exec(ctx)
	return err
}
