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
	// OpenKey is the user of an open membership (pending, invited with a user, or active), else
	// NULL: the unique (enterprise_id, open_key) index allows one per person and enterprise.
	// A partial index on the status did that, but approving (pending → active) then rewrote its
	// entry; open_key does not change.
	OpenKey *string `bun:"open_key"`
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
		if m.Status.Open() {
			row.OpenKey = &uid
		}
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

// ofUser is the memberships of the person uid: the open ones by their open_key (the unique
// memberships_open_key leads with it), the closed ones by user_id (memberships_user_closed holds
// only those, so that approving a request adds no entry to it).
func ofUser(q *bun.SelectQuery, uid kernel.UserID) *bun.SelectQuery {
	return q.Where("(?TableAlias.open_key = ? OR (?TableAlias.user_id = ? AND ?TableAlias.open_key IS NULL))", string(uid), string(uid))
}

func (r memberships) Current(ctx context.Context, eid kernel.EnterpriseID, uid kernel.UserID) (*membership.Membership, error) {
	row := new(membershipRow)
	// The open membership first (the unique index allows one), else the newest.
	if err := ofUser(r.t.idb.NewSelect().Model(row), uid).Where("enterprise_id = ?", string(eid)).
		OrderExpr("CASE WHEN open_key IS NULL THEN 1 ELSE 0 END").
		Order("created_at DESC", "id DESC").Limit(1).Scan(ctx); err != nil {
		return nil, notFound(err, "membership-not-found", "not a member of this enterprise")
	}
	return r.fromRow(row)
}

func (r memberships) ListByUser(ctx context.Context, uid kernel.UserID) ([]*membership.Membership, error) {
	var rows []membershipRow
	if err := ofUser(r.t.idb.NewSelect().Model(&rows), uid).Order("created_at DESC").Limit(500).Scan(ctx); err != nil {
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
		Column("user_id", "role", "status", "cert_authorized", "cert_revoked_at", "decided_by", "joined_at", "updated_at", "version", "open_key").
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

// DecideMany is one guarded UPDATE … RETURNING: the requests among ids that are in d.Requires()
// get the decision's state and their ids and users come back, so the write is the read too (the
// row locks are the UPDATE's own; on Postgres a request decided concurrently is re-checked
// against the guard after its lock is granted and skipped). d.Event is recorded for each. Only
// the ids it did not change are read, to answer them as the aggregate would (Decide's error, or
// not-found).
//
// It replaced a locking read of the whole batch, the aggregate's method on each and an UPDATE of
// the same rows: the read was a third of a 1,000-request approval. What the UPDATE sets is
// membership.Decision's statement of what deciding does; TestDecideManyMatchesDecide holds it
// to the aggregate's Decide.
//
// The ids are one bound value (a text[] on Postgres, a JSON array on SQLite) so the text is the
// same for any batch and prepared once (execUpdate).
func (r memberships) DecideMany(ctx context.Context, eid kernel.EnterpriseID, ids []kernel.MembershipID, d membership.Decision) (map[kernel.MembershipID]error, error) {
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
	var decided []struct {
		ID     string  `bun:"id"`
		UserID *string `bun:"user_id"`
	}
	key := fmt.Sprintf("memberships-decide/%t/%t", d.Admits(), d.Status().Open())
	err := r.t.updateReturning(ctx, key, &decided, func(q *bun.UpdateQuery, arg placeholder) *bun.UpdateQuery {
		q = q.Table("memberships").
			Set("status = ?", arg(string(d.Status()))).Set("decided_by = ?", arg(string(d.DecidedBy()))).
			Set("updated_at = ?", arg(utc(d.At()))).Set("version = version + 1")
		if d.Admits() {
			q = q.Set("cert_authorized = ?", arg(true)).Set("joined_at = ?", arg(utc(d.At())))
		}
		if !d.Status().Open() {
			q = q.Set("open_key = NULL")
		}
		return r.idsIn(q, arg, ss, string(eid), string(d.Requires())).Returning("id, user_id")
	})
	if err != nil {
		if isUnique(err) {
			return nil, kernel.Conflict("already-member", "this person already belongs to the enterprise")
		}
		return nil, err
	}
	for _, row := range decided {
		var uid kernel.UserID
		if row.UserID != nil {
			uid = kernel.UserID(*row.UserID)
		}
		out[kernel.MembershipID(row.ID)] = nil
		r.t.events = append(r.t.events, d.Event(kernel.MembershipID(row.ID), eid, uid))
	}
	if len(decided) == len(ids) {
		return out, nil
	}
	var rest []string
	for _, id := range ids {
		if _, done := out[id]; !done {
			rest = append(rest, string(id))
		}
	}
	var rows []membershipRow
	if err := r.t.idb.NewSelect().Model(&rows).Where("enterprise_id = ?", string(eid)).
		Where("id IN (?)", bun.List(rest)).Scan(ctx); err != nil {
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
	for _, id := range rest {
		id := kernel.MembershipID(id)
		if _, done := out[id]; done {
			continue // a repeated id
		}
		m := found[id]
		if m == nil {
			out[id] = kernel.NotFound("member-not-found", "no such member of this enterprise")
			continue
		}
		if err := m.Decide(d); err != nil {
			out[id] = err
			continue
		}
		// In d.Requires() now but not when the UPDATE ran: made pending concurrently. Its
		// events are not the transaction's (nothing of it is written).
		m.PullEvents()
		out[id] = kernel.Conflict("concurrent-update", "the membership was changed concurrently; try again")
	}
	return out, nil
}

// idsIn restricts q to the memberships of ids in the enterprise eid and in status, the ids one
// bound value whatever their number (the text stays the same, so it is prepared once): on
// Postgres a text[] array, on SQLite a JSON array. The ids drive: one primary-key lookup each.
// On SQLite the enterprise and status terms are written "+column" so that they cannot be used
// for an index: on an analysed database the planner otherwise walks the enterprise's requests
// in memberships_enterprise_status_page and tests each against the ids, which is every pending
// request of the enterprise, not the batch.
func (r memberships) idsIn(q *bun.UpdateQuery, arg placeholder, ids []string, eid, status string) *bun.UpdateQuery {
	if r.t.store.db.IsPostgres() {
		return q.Where("id = ANY(?)", arg(ids)).Where("enterprise_id = ?", arg(eid)).Where("status = ?", arg(status))
	}
	js, _ := json.Marshal(ids) // strings: cannot fail
	return q.Where("id IN (SELECT value FROM json_each(?))", arg(string(js))).
		Where("+enterprise_id = ?", arg(eid)).Where("+status = ?", arg(status))
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
