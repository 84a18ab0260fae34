package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/membership"
)

type membershipRow struct {
	bun.BaseModel `bun:"table:memberships"`

	ID              string    `bun:"id,pk"`
	EnterpriseID    string    `bun:"enterprise_id"`
	UserID          *string   `bun:"user_id"`
	InviteeNameEnc  []byte    `bun:"invitee_name_enc"`
	InviteePhoneEnc []byte    `bun:"invitee_phone_enc"`
	InviteePhoneIdx *string   `bun:"invitee_phone_idx"`
	Role            string    `bun:"role"`
	Status          string    `bun:"status"`
	CertAuthorized  bool      `bun:"cert_authorized"`
	CertRevokedAt   time.Time `bun:"cert_revoked_at,nullzero"`
	DecidedBy       string    `bun:"decided_by"`
	JoinedAt        time.Time `bun:"joined_at,nullzero"`
	CreatedAt       time.Time `bun:"created_at"`
	UpdatedAt       time.Time `bun:"updated_at"`
	Version         int64     `bun:"version"`
}

const (
	aadInviteeName  = "memberships.invitee_name"
	aadInviteePhone = "memberships.invitee_phone"
)

type memberships struct{ t *txn }

func (r memberships) phoneIdx(p kernel.Phone) string {
	return r.t.store.secrets.Digest("phone", string(p))
}

func (r memberships) toRow(m *membership.Membership) (*membershipRow, error) {
	row := &membershipRow{ID: string(m.ID), EnterpriseID: string(m.EnterpriseID), Role: string(m.Role), Status: string(m.Status),
		CertAuthorized: m.CertAuthorized, CertRevokedAt: utc(m.CertRevokedAt), DecidedBy: string(m.DecidedBy),
		JoinedAt: utc(m.JoinedAt), CreatedAt: utc(m.CreatedAt), UpdatedAt: utc(m.UpdatedAt), Version: m.Version}
	if m.UserID != "" {
		uid := string(m.UserID)
		row.UserID = &uid
	}
	if !m.InviteePhone.IsZero() {
		var err error
		if row.InviteeNameEnc, err = r.t.store.cipher.Seal([]byte(m.InviteeName), aadInviteeName); err != nil {
			return nil, err
		}
		if row.InviteePhoneEnc, err = r.t.store.cipher.Seal([]byte(m.InviteePhone), aadInviteePhone); err != nil {
			return nil, err
		}
		idx := r.phoneIdx(m.InviteePhone)
		row.InviteePhoneIdx = &idx
	}
	return row, nil
}

func (r memberships) fromRow(row *membershipRow) (*membership.Membership, error) {
	m := &membership.Membership{ID: kernel.MembershipID(row.ID), EnterpriseID: kernel.EnterpriseID(row.EnterpriseID),
		Role: membership.Role(row.Role), Status: membership.Status(row.Status), CertAuthorized: row.CertAuthorized,
		CertRevokedAt: utc(row.CertRevokedAt), DecidedBy: kernel.UserID(row.DecidedBy), JoinedAt: utc(row.JoinedAt),
		CreatedAt: utc(row.CreatedAt), UpdatedAt: utc(row.UpdatedAt), Version: row.Version}
	if row.UserID != nil {
		m.UserID = kernel.UserID(*row.UserID)
	}
	if len(row.InviteePhoneEnc) > 0 {
		name, err := r.t.store.cipher.Open(row.InviteeNameEnc, aadInviteeName)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: membership %s: %w", row.ID, err)
		}
		phone, err := r.t.store.cipher.Open(row.InviteePhoneEnc, aadInviteePhone)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: membership %s: %w", row.ID, err)
		}
		m.InviteeName, m.InviteePhone = string(name), kernel.Phone(phone)
	}
	return m, nil
}

func (r memberships) fromRows(rows []membershipRow) ([]*membership.Membership, error) {
	out := make([]*membership.Membership, 0, len(rows))
	for i := range rows {
		m, err := r.fromRow(&rows[i])
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func (r memberships) Add(ctx context.Context, m *membership.Membership) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	row, err := r.toRow(m)
	if err != nil {
		return err
	}
	row.Version = 1
	if _, err := r.t.idb.NewInsert().Model(row).Exec(ctx); err != nil {
		if isUnique(err) {
			switch m.Status {
			case membership.StatusPending:
				return kernel.Conflict("join-request-pending", "a join request of yours is already waiting for an admin, or you are a member")
			case membership.StatusInvited:
				return kernel.Conflict("already-invited", "this phone is already invited to the enterprise")
			}
			return kernel.Conflict("already-member", "this person already belongs to the enterprise")
		}
		return err
	}
	m.Version = 1
	r.t.record(m)
	return nil
}

func (r memberships) GetByID(ctx context.Context, eid kernel.EnterpriseID, id kernel.MembershipID) (*membership.Membership, error) {
	row := new(membershipRow)
	if err := r.t.idb.NewSelect().Model(row).Where("id = ? AND enterprise_id = ?", string(id), string(eid)).Scan(ctx); err != nil {
		return nil, notFound(err, "member-not-found", "no such member of this enterprise")
	}
	return r.fromRow(row)
}

func (r memberships) Current(ctx context.Context, eid kernel.EnterpriseID, uid kernel.UserID) (*membership.Membership, error) {
	row := new(membershipRow)
	// The open membership first (the partial unique index allows one), else the newest.
	if err := r.t.idb.NewSelect().Model(row).Where("enterprise_id = ? AND user_id = ?", string(eid), string(uid)).
		OrderExpr("CASE WHEN status IN ('pending', 'invited', 'active') THEN 0 ELSE 1 END").
		Order("created_at DESC", "id DESC").Limit(1).Scan(ctx); err != nil {
		return nil, notFound(err, "membership-not-found", "not a member of this enterprise")
	}
	return r.fromRow(row)
}

func (r memberships) ListByUser(ctx context.Context, uid kernel.UserID) ([]*membership.Membership, error) {
	var rows []membershipRow
	if err := r.t.idb.NewSelect().Model(&rows).Where("user_id = ?", string(uid)).Order("created_at DESC").Limit(500).Scan(ctx); err != nil {
		return nil, err
	}
	return r.fromRows(rows)
}

// save writes back the changing columns with an optimistic version check.
func (r memberships) save(ctx context.Context, m *membership.Membership) error {
	row, err := r.toRow(m)
	if err != nil {
		return err
	}
	row.Version = m.Version + 1
	res, err := r.t.idb.NewUpdate().Model(row).
		Column("user_id", "role", "status", "cert_authorized", "cert_revoked_at", "decided_by", "joined_at", "updated_at", "version").
		Where("id = ? AND version = ?", row.ID, m.Version).Exec(ctx)
	if err != nil {
		if isUnique(err) {
			return kernel.Conflict("already-member", "this person already belongs to the enterprise")
		}
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return kernel.Conflict("concurrent-update", "the membership was changed concurrently; try again")
	}
	m.Version++
	r.t.record(m)
	return nil
}

func (r memberships) Update(ctx context.Context, eid kernel.EnterpriseID, id kernel.MembershipID, fn func(m *membership.Membership) error) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	row := new(membershipRow)
	q := r.t.idb.NewSelect().Model(row).Where("id = ? AND enterprise_id = ?", string(id), string(eid))
	if err := r.t.forUpdate(q).Scan(ctx); err != nil {
		return notFound(err, "member-not-found", "no such member of this enterprise")
	}
	m, err := r.fromRow(row)
	if err != nil {
		return err
	}
	if err := fn(m); err != nil {
		return err
	}
	return r.save(ctx, m)
}

// UpdateMany: one locking SELECT … IN, fn in memory, then one UPDATE … IN per distinct outcome
// (a batch decision gives every item the same outcome, so one in practice).
//
// On SQLite both statements take the ids as one bound JSON array (json_each) and run prepared once
// per connection: written into the text, 1,000 ids made two 30 KB texts to parse on every batch.
// Their UPDATE is OR FAIL: a multi-row UPDATE that may abort keeps a statement journal of every
// page it changes (spilled to a temporary file past 64 KiB) to undo itself alone, which a batch
// never needs: any error rolls the whole transaction back.
func (r memberships) UpdateMany(ctx context.Context, eid kernel.EnterpriseID, ids []kernel.MembershipID, fn func(m *membership.Membership) error) (map[kernel.MembershipID]error, error) {
	if err := r.t.mustWrite(); err != nil {
		return nil, err
	}
	out := make(map[kernel.MembershipID]error, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	ss := make([]string, len(ids))
	for i, id := range ids {
		ss[i] = string(id)
	}
	var rows []membershipRow
	if err := r.t.selectCached(ctx, "memberships-many", &rows, func(q *bun.SelectQuery, arg placeholder) *bun.SelectQuery {
		if r.t.store.db.IsPostgres() {
			q = q.Model(&rows).Where("enterprise_id = ?", arg(string(eid))).Where("id = ANY(?)", arg(ss))
			return r.t.forUpdate(q)
		}
		// SQLite: the ids drive the join (CROSS JOIN keeps json_each outside), one primary-key
		// lookup each; on an analysed database the planner otherwise scans the whole table
		// when the enterprise's rows are most of it. The times are read as "+column", an
		// expression: modernc.org/sqlite parses a TIMESTAMP column's text itself (a failing
		// time.Parse first, then the format bun writes), which was a third of reading 1,000
		// rows; bun parses the text in one go.
		js, _ := json.Marshal(ss) // strings: cannot fail
		return q.ColumnExpr("m.id, m.enterprise_id, m.user_id, m.invitee_name_enc, m.invitee_phone_enc, m.invitee_phone_idx").
			ColumnExpr("m.role, m.status, m.cert_authorized, +m.cert_revoked_at AS cert_revoked_at, m.decided_by").
			ColumnExpr("+m.joined_at AS joined_at, +m.created_at AS created_at, +m.updated_at AS updated_at, m.version").
			TableExpr("json_each(?) AS j", arg(string(js))).
			Join("CROSS JOIN memberships AS m ON m.id = j.value").
			Where("m.enterprise_id = ?", arg(string(eid)))
	}); err != nil {
		return nil, err
	}
	found := make(map[kernel.MembershipID]*membership.Membership, len(rows))
	for i := range rows {
		m, err := r.fromRow(&rows[i])
		if err != nil {
			return nil, err
		}
		found[m.ID] = m
	}
	type outcome struct {
		status, role, decidedBy string
		cert                    bool
		revoked, joined, at     time.Time
	}
	groups := map[outcome][]*membership.Membership{}
	var order []outcome
	for _, id := range ids {
		m := found[id]
		if m == nil {
			out[id] = kernel.NotFound("member-not-found", "no such member of this enterprise")
			continue
		}
		if _, done := out[id]; done {
			continue // a repeated id
		}
		if err := fn(m); err != nil {
			out[id] = err
			m.PullEvents()
			continue
		}
		out[id] = nil
		k := outcome{string(m.Status), string(m.Role), string(m.DecidedBy), m.CertAuthorized, utc(m.CertRevokedAt), utc(m.JoinedAt), utc(m.UpdatedAt)}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], m)
	}
	for _, k := range order {
		ms := groups[k]
		gids := make([]string, len(ms))
		for i, m := range ms {
			gids[i] = string(m.ID)
		}
		// The rows are locked since the SELECT (FOR UPDATE on Postgres, the write lock on
		// SQLite), so their versions cannot have moved; the affected-rows check still guards.
		key := fmt.Sprintf("memberships-many-update/%t/%t", k.revoked.IsZero(), k.joined.IsZero())
		res, err := r.t.execUpdate(ctx, key, func(q *bun.UpdateQuery, arg placeholder) *bun.UpdateQuery {
			q = q.Table("memberships").
				Set("status = ?", arg(k.status)).Set("role = ?", arg(k.role)).Set("decided_by = ?", arg(k.decidedBy)).
				Set("cert_authorized = ?", arg(k.cert)).Set("updated_at = ?", arg(k.at)).Set("version = version + 1")
			if k.revoked.IsZero() {
				q = q.Set("cert_revoked_at = NULL")
			} else {
				q = q.Set("cert_revoked_at = ?", arg(k.revoked))
			}
			if k.joined.IsZero() {
				q = q.Set("joined_at = NULL")
			} else {
				q = q.Set("joined_at = ?", arg(k.joined))
			}
			return r.idsIn(q.Where("enterprise_id = ?", arg(string(eid))), arg, gids)
		})
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n != int64(len(ms)) {
			return nil, kernel.Conflict("concurrent-update", "members were changed concurrently; try again")
		}
		for _, m := range ms {
			m.Version++
			r.t.record(m)
		}
	}
	return out, nil
}

// idsIn restricts q to the memberships of ids, one bound value whatever their number (the text
// stays the same, so it is prepared once): on Postgres a text[] array, on SQLite a JSON array.
func (r memberships) idsIn(q *bun.UpdateQuery, arg placeholder, ids []string) *bun.UpdateQuery {
	if r.t.store.db.IsPostgres() {
		return q.Where("id = ANY(?)", arg(ids))
	}
	js, _ := json.Marshal(ids) // strings: cannot fail
	return q.Where("id IN (SELECT value FROM json_each(?))", arg(string(js)))
}

func (r memberships) CountAdmins(ctx context.Context, eid kernel.EnterpriseID) (int, error) {
	n, err := r.t.idb.NewSelect().Table("memberships").
		Where("enterprise_id = ? AND status = ? AND role IN (?)", string(eid), string(membership.StatusActive),
			bun.List([]string{string(membership.RoleAdmin), string(membership.RoleLegalRep)})).Count(ctx)
	return int(n), err
}

func (r memberships) OpenInvites(ctx context.Context, phone kernel.Phone) ([]*membership.Membership, error) {
	var rows []membershipRow
	err := r.t.idb.NewSelect().Model(&rows).Where("invitee_phone_idx = ? AND status = ?", r.phoneIdx(phone), string(membership.StatusInvited)).
		Limit(100).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return r.fromRows(rows)
}
