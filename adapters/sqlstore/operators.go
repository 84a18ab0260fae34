package sqlstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/uptrace/bun"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/operator"
)

const aadOperatorTOTP = "operators.totp_secret:"

type operatorRow struct {
	bun.BaseModel `bun:"table:operators"`

	ID           string    `bun:"id,pk"`
	Username     string    `bun:"username"`
	PasswordHash string    `bun:"password_hash"`
	TOTPSecret   []byte    `bun:"totp_secret"` // AES-256-GCM, bound to the operator id
	Role         string    `bun:"role"`
	Active       bool      `bun:"active"`
	FailedCount  int       `bun:"failed_count"`
	LockedUntil  time.Time `bun:"locked_until,nullzero"`
	LastTOTPStep int64     `bun:"last_totp_step"`
	CreatedAt    time.Time `bun:"created_at"`
	LastLoginAt  time.Time `bun:"last_login_at,nullzero"`
}

type operatorSessionRow struct {
	bun.BaseModel `bun:"table:operator_sessions"`

	ID         string    `bun:"id,pk"`
	OperatorID string    `bun:"operator_id"`
	TokenHash  string    `bun:"token_hash"`
	CreatedAt  time.Time `bun:"created_at"`
	LastSeenAt time.Time `bun:"last_seen_at"`
	RevokedAt  time.Time `bun:"revoked_at,nullzero"`
}

type operators struct{ t *txn }

func (r operators) toRow(o *operator.Operator) (*operatorRow, error) {
	s := o.Snapshot()
	enc, err := r.t.store.cipher.Seal(s.TOTPSecret, aadOperatorTOTP+string(s.ID))
	if err != nil {
		return nil, err
	}
	return &operatorRow{ID: string(s.ID), Username: s.Username, PasswordHash: s.PasswordHash, TOTPSecret: enc, Role: string(s.Role),
		Active: s.Active, FailedCount: s.FailedCount, LockedUntil: utc(s.LockedUntil), LastTOTPStep: s.LastStep, CreatedAt: s.CreatedAt.UTC(),
		LastLoginAt: utc(s.LastLoginAt)}, nil
}

func (r operators) fromRow(row *operatorRow) (*operator.Operator, error) {
	secret, err := r.t.store.cipher.Open(row.TOTPSecret, aadOperatorTOTP+row.ID)
	if err != nil {
		return nil, err
	}
	return operator.FromSnapshot(operator.Snapshot{ID: operator.ID(row.ID), Username: row.Username, PasswordHash: row.PasswordHash,
		TOTPSecret: secret, Role: operator.Role(row.Role), Active: row.Active, FailedCount: row.FailedCount,
		LockedUntil: utc(row.LockedUntil), LastStep: row.LastTOTPStep, CreatedAt: row.CreatedAt.UTC(),
		LastLoginAt: utc(row.LastLoginAt)}), nil
}

func (r operators) Add(ctx context.Context, o *operator.Operator) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	row, err := r.toRow(o)
	if err != nil {
		return err
	}
	_, err = r.t.idb.NewInsert().Model(row).Exec(ctx)
	if isUnique(err) {
		return kernel.Conflict("operator-username-taken", "an operator with this username exists")
	}
	return err
}

func (r operators) get(ctx context.Context, where string, arg any, lock bool) (*operator.Operator, error) {
	row := new(operatorRow)
	q := r.t.idb.NewSelect().Model(row).Where(where, arg)
	if lock {
		q = r.t.forUpdate(q)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, notFound(err, "operator-not-found", "no such operator")
	}
	return r.fromRow(row)
}

func (r operators) Get(ctx context.Context, id operator.ID) (*operator.Operator, error) {
	return r.get(ctx, "id = ?", string(id), false)
}

func (r operators) GetByUsername(ctx context.Context, username string) (*operator.Operator, error) {
	return r.get(ctx, "username = ?", username, false)
}

func (r operators) Update(ctx context.Context, id operator.ID, fn func(o *operator.Operator) error) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	o, err := r.get(ctx, "id = ?", string(id), true)
	if err != nil {
		return err
	}
	if err := fn(o); err != nil {
		return err
	}
	row, err := r.toRow(o)
	if err != nil {
		return err
	}
	_, err = r.t.idb.NewUpdate().Model(row).Column("password_hash", "totp_secret", "role", "active", "failed_count", "locked_until", "last_totp_step", "last_login_at").
		WherePK().Exec(ctx)
	return err
}

func (r operators) List(ctx context.Context, after string, limit int) ([]*operator.Operator, error) {
	var rows []operatorRow
	q := r.t.idb.NewSelect().Model(&rows)
	if after != "" {
		q = q.Where("username > ?", after)
	}
	if err := q.Order("username").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]*operator.Operator, len(rows))
	for i := range rows {
		o, err := r.fromRow(&rows[i])
		if err != nil {
			return nil, err
		}
		out[i] = o
	}
	return out, nil
}

// LockActiveAdmins takes the active admins' row locks in id order (Postgres: FOR UPDATE; under
// READ COMMITTED a row another transaction changed while we waited is checked again, so an
// admin demoted or disabled by the transaction we queued behind is not returned). SQLite's
// IMMEDIATE write transactions serialise the whole change anyway.
func (r operators) LockActiveAdmins(ctx context.Context) ([]operator.ID, error) {
	if err := r.t.mustWrite(); err != nil {
		return nil, err
	}
	var ids []string
	q := r.t.idb.NewSelect().Table("operators").Column("id").Where("role = ? AND active", string(operator.RoleAdmin)).Order("id")
	if err := r.t.forUpdate(q).Scan(ctx, &ids); err != nil {
		return nil, err
	}
	out := make([]operator.ID, len(ids))
	for i, id := range ids {
		out[i] = operator.ID(id)
	}
	return out, nil
}

func (r operators) RevokeSessions(ctx context.Context, id operator.ID, at time.Time) (int, error) {
	if err := r.t.mustWrite(); err != nil {
		return 0, err
	}
	res, err := r.t.idb.NewUpdate().Table("operator_sessions").Set("revoked_at = ?", at.UTC()).
		Where("operator_id = ? AND revoked_at IS NULL", string(id)).Exec(ctx)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (r operators) AddSession(ctx context.Context, s *operator.Session) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	_, err := r.t.idb.NewInsert().Model(&operatorSessionRow{ID: s.ID, OperatorID: string(s.OperatorID), TokenHash: s.TokenHash,
		CreatedAt: s.CreatedAt.UTC(), LastSeenAt: s.LastSeenAt.UTC(), RevokedAt: utc(s.RevokedAt)}).Exec(ctx)
	return err
}

func (r operators) SessionByTokenHash(ctx context.Context, tokenHash string) (*operator.Session, error) {
	row := new(operatorSessionRow)
	if err := r.t.forUpdate(r.t.idb.NewSelect().Model(row).Where("token_hash = ?", tokenHash)).Scan(ctx); err != nil {
		if kernel.KindOf(notFound(err, "x", "x")) == kernel.KindNotFound {
			return nil, operator.ErrSessionInvalid
		}
		return nil, err
	}
	return &operator.Session{ID: row.ID, OperatorID: operator.ID(row.OperatorID), TokenHash: row.TokenHash,
		CreatedAt: row.CreatedAt.UTC(), LastSeenAt: row.LastSeenAt.UTC(), RevokedAt: utc(row.RevokedAt)}, nil
}

func (r operators) SaveSession(ctx context.Context, s *operator.Session) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	_, err := r.t.idb.NewUpdate().Model(&operatorSessionRow{ID: s.ID, LastSeenAt: s.LastSeenAt.UTC(), RevokedAt: utc(s.RevokedAt)}).
		Column("last_seen_at", "revoked_at").WherePK().Exec(ctx)
	return err
}

type operatorAuditRow struct {
	bun.BaseModel `bun:"table:operator_audit"`

	ID         string    `bun:"id,pk"`
	OperatorID string    `bun:"operator_id"`
	Username   string    `bun:"username"`
	Action     string    `bun:"action"`
	TargetType string    `bun:"target_type"`
	TargetID   string    `bun:"target_id"`
	Before     string    `bun:"before_json"`
	After      string    `bun:"after_json"`
	IP         string    `bun:"ip"`
	At         time.Time `bun:"at"`
}

// operatorAudit is append-only: Append and List, no update or delete path (the migrations add
// triggers refusing UPDATE and DELETE on both databases).
type operatorAudit struct{ t *txn }

func jsonText(b json.RawMessage) string {
	if len(b) == 0 {
		return "null"
	}
	return string(b)
}

func (r operatorAudit) Append(ctx context.Context, e operator.AuditEntry) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	_, err := r.t.idb.NewInsert().Model(&operatorAuditRow{ID: e.ID, OperatorID: string(e.OperatorID), Username: e.Username,
		Action: e.Action, TargetType: e.TargetType, TargetID: e.TargetID, Before: jsonText(e.Before), After: jsonText(e.After),
		IP: e.IP, At: e.At.UTC()}).Exec(ctx)
	return err
}

func (r operatorAudit) List(ctx context.Context, f operator.AuditFilter, before string, limit int) ([]operator.AuditEntry, error) {
	var rows []operatorAuditRow
	q := r.t.idb.NewSelect().Model(&rows)
	if f.OperatorID != "" {
		q = q.Where("operator_id = ?", string(f.OperatorID))
	}
	if f.Action != "" {
		q = q.Where("action = ?", f.Action)
	}
	if f.TargetType != "" {
		q = q.Where("target_type = ?", f.TargetType)
	}
	if f.TargetID != "" {
		q = q.Where("target_id = ?", f.TargetID)
	}
	if !f.Since.IsZero() {
		q = q.Where("at >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		q = q.Where("at < ?", f.Until.UTC())
	}
	if before != "" {
		q = q.Where("id < ?", before)
	}
	if err := q.Order("id DESC").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]operator.AuditEntry, len(rows))
	for i, row := range rows {
		out[i] = operator.AuditEntry{ID: row.ID, OperatorID: operator.ID(row.OperatorID), Username: row.Username, Action: row.Action,
			TargetType: row.TargetType, TargetID: row.TargetID, Before: json.RawMessage(row.Before), After: json.RawMessage(row.After),
			IP: row.IP, At: row.At.UTC()}
	}
	return out, nil
}
