package sqlstore

import (
	"context"
	"database/sql"
	"errors"
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

	RealNameEnc        []byte    `bun:"real_name_enc"`
	IDNumberEnc        []byte    `bun:"id_number_enc"`
	IDNumberIdx        *string   `bun:"id_number_idx"` // set only once verified: the unique index
	RealNameMethod     string    `bun:"real_name_method"`
	RealNameVerifiedAt time.Time `bun:"real_name_verified_at,nullzero"`
	LivenessSessionID  string    `bun:"liveness_session_id"`
	LivenessURL        string    `bun:"liveness_url"`
	RealNameFailure    string    `bun:"real_name_failure"`
	FailuresDay        string    `bun:"real_name_failures_day"`
	Failures           int       `bun:"real_name_failures"`
	ChannelCode        string    `bun:"channel_code"`
	SigningFailures    int       `bun:"signing_failures"`
	SigningLockedUntil time.Time `bun:"signing_locked_until,nullzero"`

	// Cert is the personal certificate, read with the user in one LEFT JOIN by unlocked reads
	// (nil, or an empty UserID, when there is none). Writes never touch it.
	Cert *certRow `bun:"rel:has-one,join:id=user_id"`
}

type certRow struct {
	bun.BaseModel `bun:"table:personal_certificates"`

	UserID     string    `bun:"user_id,pk"`
	Serial     string    `bun:"serial"`
	Subject    string    `bun:"subject"`
	NotBefore  time.Time `bun:"not_before"`
	NotAfter   time.Time `bun:"not_after"`
	Status     string    `bun:"status"`
	DER        []byte    `bun:"der"`
	PublicKey  []byte    `bun:"public_key"`
	WrappedKey []byte    `bun:"wrapped_key"`
	IssuedAt   time.Time `bun:"issued_at"`
}

const (
	aadRealName = "users.real_name"
	aadIDNumber = "users.id_number"
)

// userColumns are the columns Update writes (never id, phone or created_at).
var userColumns = []string{"password_hash", "failed_logins", "locked_until", "real_name_status", "updated_at", "version",
	"real_name_enc", "id_number_enc", "id_number_idx", "real_name_method", "real_name_verified_at", "liveness_session_id",
	"liveness_url", "real_name_failure", "real_name_failures_day", "real_name_failures", "channel_code",
	"signing_failures", "signing_locked_until"}

const aadUserPhone = "users.phone"

type users struct{ t *txn }

func (r users) phoneIdx(p kernel.Phone) string { return r.t.store.secrets.Digest("phone", string(p)) }

func (r users) toRow(u *user.User) (*userRow, error) {
	s := u.Snapshot()
	enc, err := r.t.store.cipher.Seal([]byte(s.Phone), aadUserPhone)
	if err != nil {
		return nil, err
	}
	row := &userRow{
		ID: string(s.ID), PhoneIdx: r.phoneIdx(s.Phone), PhoneEnc: enc, PasswordHash: s.PasswordHash,
		FailedLogins: s.FailedLogins, LockedUntil: utc(s.LockedUntil), RealNameStatus: string(s.RealName),
		CreatedAt: utc(s.CreatedAt), UpdatedAt: utc(s.UpdatedAt), Version: s.Version,
		RealNameMethod: s.Identity.Method, RealNameVerifiedAt: utc(s.Identity.VerifiedAt),
		LivenessSessionID: s.Attempt.LivenessSessionID, LivenessURL: s.Attempt.LivenessURL,
		RealNameFailure: s.Attempt.FailureReason, FailuresDay: s.Attempt.FailuresDay, Failures: s.Attempt.Failures,
		ChannelCode: s.ChannelCode, SigningFailures: s.Signing.Failures, SigningLockedUntil: utc(s.Signing.LockedUntil),
	}
	if !s.Identity.IDNumber.IsZero() {
		if row.RealNameEnc, err = r.t.store.cipher.Seal([]byte(s.Identity.Name), aadRealName); err != nil {
			return nil, err
		}
		if row.IDNumberEnc, err = r.t.store.cipher.Seal([]byte(s.Identity.IDNumber), aadIDNumber); err != nil {
			return nil, err
		}
		if s.RealName == user.RealNameVerified {
			idx := r.idNumberIdx(s.Identity.IDNumber)
			row.IDNumberIdx = &idx
		}
	}
	return row, nil
}

func (r users) idNumberIdx(id kernel.IDNumber) string {
	return r.t.store.secrets.Digest("id-number", string(id))
}

func (r users) fromRow(row *userRow, cr *certRow) (*user.User, error) {
	phone, err := r.t.store.cipher.Open(row.PhoneEnc, aadUserPhone)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: user %s phone: %w", row.ID, err)
	}
	snap := user.Snapshot{
		ID: kernel.UserID(row.ID), Phone: kernel.Phone(phone), PasswordHash: row.PasswordHash,
		FailedLogins: row.FailedLogins, LockedUntil: utc(row.LockedUntil), RealName: user.RealNameStatus(row.RealNameStatus),
		CreatedAt: utc(row.CreatedAt), UpdatedAt: utc(row.UpdatedAt), Version: row.Version,
		Identity: user.Identity{Method: row.RealNameMethod, VerifiedAt: utc(row.RealNameVerifiedAt)},
		Attempt: user.Attempt{LivenessSessionID: row.LivenessSessionID, LivenessURL: row.LivenessURL,
			FailureReason: row.RealNameFailure, FailuresDay: row.FailuresDay, Failures: row.Failures},
		ChannelCode: row.ChannelCode,
		Signing:     user.SigningState{Failures: row.SigningFailures, LockedUntil: utc(row.SigningLockedUntil)},
	}
	if len(row.IDNumberEnc) > 0 {
		name, err := r.t.store.cipher.Open(row.RealNameEnc, aadRealName)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: user %s name: %w", row.ID, err)
		}
		idn, err := r.t.store.cipher.Open(row.IDNumberEnc, aadIDNumber)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: user %s id number: %w", row.ID, err)
		}
		snap.Identity.Name, snap.Identity.IDNumber = string(name), kernel.IDNumber(idn)
	}
	if cr != nil {
		snap.Certificate = &user.Certificate{Serial: cr.Serial, Subject: cr.Subject, NotBefore: utc(cr.NotBefore),
			NotAfter: utc(cr.NotAfter), Status: user.CertificateStatus(cr.Status), DER: cr.DER, PublicKeyDER: cr.PublicKey,
			WrappedKey: cr.WrappedKey, IssuedAt: utc(cr.IssuedAt)}
	}
	return user.FromSnapshot(snap), nil
}

func (r users) loadCert(ctx context.Context, uid string) (*certRow, error) {
	cr := new(certRow)
	err := r.t.selectInto(ctx, "cert-by-user", cr, func(q *bun.SelectQuery, arg placeholder) *bun.SelectQuery {
		return q.Model(cr).Where("user_id = ?", arg(uid))
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return cr, err
}

// saveCert writes the certificate row (insert or update).
func (r users) saveCert(ctx context.Context, u *user.User) error {
	c := u.Certificate()
	if c == nil {
		return nil
	}
	_, err := r.t.idb.NewInsert().Model(&certRow{UserID: string(u.ID()), Serial: c.Serial, Subject: c.Subject,
		NotBefore: utc(c.NotBefore), NotAfter: utc(c.NotAfter), Status: string(c.Status), DER: c.DER, PublicKey: c.PublicKeyDER,
		WrappedKey: c.WrappedKey, IssuedAt: utc(c.IssuedAt)}).
		On("CONFLICT (user_id) DO UPDATE").
		Set("serial = EXCLUDED.serial, subject = EXCLUDED.subject, not_before = EXCLUDED.not_before, not_after = EXCLUDED.not_after").
		Set("status = EXCLUDED.status, der = EXCLUDED.der, public_key = EXCLUDED.public_key, wrapped_key = EXCLUDED.wrapped_key").
		Set("issued_at = EXCLUDED.issued_at").
		Exec(ctx)
	return err
}

func (r users) IDNumberTaken(ctx context.Context, id kernel.IDNumber, except kernel.UserID) (bool, error) {
	return r.t.idb.NewSelect().Table("users").Where("id_number_idx = ? AND id <> ?", r.idNumberIdx(id), string(except)).Exists(ctx)
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
	if err := r.saveCert(ctx, u); err != nil {
		return err
	}
	r.t.record(u)
	return nil
}

func (r users) get(ctx context.Context, where string, arg any, lock bool) (*user.User, error) {
	row := new(userRow)
	if r.t.store.db.IsPostgres() && (!lock || !r.t.writable) {
		// One statement: the certificate by LEFT JOIN (FOR UPDATE cannot lock an outer join's
		// nullable side, so locked reads keep two). SQLite runs two prepared statements instead
		// (selectInto): parsing the join's text afresh cost more than a second lookup.
		if err := r.t.idb.NewSelect().Model(row).Relation("Cert").Where("user_row."+where, arg).Scan(ctx); err != nil {
			return nil, notFound(err, "user-not-found", "user not found")
		}
		cr := row.Cert
		if cr != nil && cr.UserID == "" {
			cr = nil
		}
		return r.fromRow(row, cr)
	}
	if err := r.t.selectInto(ctx, "user-by-"+where, row, func(q *bun.SelectQuery, ph placeholder) *bun.SelectQuery {
		return r.t.forUpdate(q.Model(row).Where(where, ph(arg)))
	}); err != nil {
		return nil, notFound(err, "user-not-found", "user not found")
	}
	cr, err := r.loadCert(ctx, row.ID)
	if err != nil {
		return nil, err
	}
	return r.fromRow(row, cr)
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
	res, err := r.t.idb.NewUpdate().Model(row).Column(userColumns...).
		Where("id = ? AND version = ?", row.ID, u.Version()).Exec(ctx)
	if err != nil {
		if isUnique(err) {
			return kernel.Conflict("id-number-taken", "this ID number is already verified by another account")
		}
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return kernel.Conflict("concurrent-update", "the account was changed concurrently; try again")
	}
	if err := r.saveCert(ctx, u); err != nil {
		return err
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
