package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/user"
)

type userRow struct {
	bun.BaseModel `bun:"table:users"`

	ID             string    `bun:"id,pk"`
	PhoneIdx       string    `bun:"phone_idx"`
	PhoneEnc       []byte    `bun:"phone_enc"`
	PasswordHash   string    `bun:"password_hash"`
	FailedLogins   int       `bun:"failed_logins"`
	LockedUntil    time.Time `bun:"locked_until,nullzero"`
	RealNameStatus string    `bun:"real_name_status"`
	CreatedAt      time.Time `bun:"created_at"`
	UpdatedAt      time.Time `bun:"updated_at"`
	Version        int64     `bun:"version"`
}

const aadUserPhone = "users.phone"

type users struct{ t *txn }

func (r users) phoneIdx(p kernel.Phone) string { return r.t.store.secrets.Digest("phone", string(p)) }

func (r users) toRow(u *user.User) (*userRow, error) {
	s := u.Snapshot()
	enc, err := r.t.store.cipher.Seal([]byte(s.Phone), aadUserPhone)
	if err != nil {
		return nil, err
	}
	return &userRow{
		ID: string(s.ID), PhoneIdx: r.phoneIdx(s.Phone), PhoneEnc: enc, PasswordHash: s.PasswordHash,
		FailedLogins: s.FailedLogins, LockedUntil: utc(s.LockedUntil), RealNameStatus: string(s.RealName),
		CreatedAt: utc(s.CreatedAt), UpdatedAt: utc(s.UpdatedAt), Version: s.Version,
	}, nil
}

func (r users) fromRow(row *userRow) (*user.User, error) {
	phone, err := r.t.store.cipher.Open(row.PhoneEnc, aadUserPhone)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: user %s phone: %w", row.ID, err)
	}
	return user.FromSnapshot(user.Snapshot{
		ID: kernel.UserID(row.ID), Phone: kernel.Phone(phone), PasswordHash: row.PasswordHash,
		FailedLogins: row.FailedLogins, LockedUntil: utc(row.LockedUntil), RealName: user.RealNameStatus(row.RealNameStatus),
		CreatedAt: utc(row.CreatedAt), UpdatedAt: utc(row.UpdatedAt), Version: row.Version,
	}), nil
}

func (r users) Add(ctx context.Context, u *user.User) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	row, err := r.toRow(u)
	if err != nil {
		return err
	}
	row.Version = 1
	if _, err := r.t.idb.NewInsert().Model(row).Exec(ctx); err != nil {
		if isUnique(err) {
			return kernel.Conflict("phone-taken", "an account with this phone already exists")
		}
		return err
	}
	r.t.record(u)
	return nil
}

func (r users) get(ctx context.Context, where string, arg any, lock bool) (*user.User, error) {
	row := new(userRow)
	q := r.t.idb.NewSelect().Model(row).Where(where, arg)
	if lock {
		q = r.t.forUpdate(q)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, notFound(err, "user-not-found", "user not found")
	}
	return r.fromRow(row)
}

func (r users) Get(ctx context.Context, id kernel.UserID) (*user.User, error) {
	return r.get(ctx, "id = ?", string(id), false)
}

func (r users) GetByPhone(ctx context.Context, phone kernel.Phone) (*user.User, error) {
	return r.get(ctx, "phone_idx = ?", r.phoneIdx(phone), false)
}

// Update loads the user under a row lock, applies fn and writes it back with an optimistic
// version check (belt and braces: the lock already serialises writers).
func (r users) Update(ctx context.Context, id kernel.UserID, fn func(u *user.User) error) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	u, err := r.get(ctx, "id = ?", string(id), true)
	if err != nil {
		return err
	}
	if err := fn(u); err != nil {
		return err
	}
	row, err := r.toRow(u)
	if err != nil {
		return err
	}
	row.Version = u.Version() + 1
	res, err := r.t.idb.NewUpdate().Model(row).
		Column("password_hash", "failed_logins", "locked_until", "real_name_status", "updated_at", "version").
		Where("id = ? AND version = ?", row.ID, u.Version()).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return kernel.Conflict("concurrent-update", "the account was changed concurrently; try again")
	}
	r.t.record(u)
	return nil
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}
