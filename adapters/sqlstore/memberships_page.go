package sqlstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/uptrace/bun"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/membership"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
)

// memberListRow is a membership row joined with the few user columns the members list shows.
type memberListRow struct {
	membershipRow `bun:",extend"`

	UserPhoneEnc       []byte  `bun:"u_phone_enc,scanonly"`
	UserRealNameEnc    []byte  `bun:"u_real_name_enc,scanonly"`
	UserIDNumberSet    bool    `bun:"u_id_number_set,scanonly"`
	UserRealNameStatus *string `bun:"u_real_name_status,scanonly"`
}

// Page reads one page of members with their users in one statement: memberships LEFT JOIN
// users (phone, real name, real-name status only; no certificate), keyset on id.
func (r memberships) Page(ctx context.Context, eid kernel.EnterpriseID, states []membership.Status, before kernel.MembershipID, limit int) ([]ports.MemberListing, error) {
	var rows []memberListRow
	q := r.t.idb.NewSelect().Model(&rows).
		ColumnExpr("?TableAlias.*").
		ColumnExpr("u.phone_enc AS u_phone_enc, u.real_name_enc AS u_real_name_enc").
		ColumnExpr("u.id_number_enc IS NOT NULL AS u_id_number_set, u.real_name_status AS u_real_name_status").
		Join("LEFT JOIN users AS u ON u.id = ?TableAlias.user_id").
		Where("?TableAlias.enterprise_id = ?", string(eid))
	if len(states) > 0 {
		ss := make([]string, len(states))
		for i, st := range states {
			ss[i] = string(st)
		}
		q = q.Where("?TableAlias.status IN (?)", bun.List(ss))
		// The pages of statuses other than active read their partial index,
		// memberships_enterprise_status_page: SQLite uses a partial index only when the query
		// states its condition as a term of its own. The active members page through
		// memberships_enterprise_page (see the migration 20261206050001).
		if !slices.Contains(states, membership.StatusActive) {
			q = q.Where("?TableAlias.status <> 'active'")
		}
	}
	if before != "" {
		q = q.Where("?TableAlias.id < ?", string(before))
	}
	if err := q.OrderExpr("?TableAlias.id DESC").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]ports.MemberListing, 0, len(rows))
	for i := range rows {
		row := &rows[i]
		m, err := r.fromRow(&row.membershipRow)
		if err != nil {
			return nil, err
		}
		l := ports.MemberListing{M: m, Name: m.InviteeName, Phone: m.InviteePhone}
		if m.UserID != "" {
			if row.UserRealNameStatus == nil {
				return nil, fmt.Errorf("sqlstore: membership %s: user %s missing", row.ID, m.UserID)
			}
			phone, err := r.t.store.cipher.Open(row.UserPhoneEnc, aadUserPhone)
			if err != nil {
				return nil, fmt.Errorf("sqlstore: user %s phone: %w", m.UserID, err)
			}
			l.Phone, l.Name, l.RealNameStatus = kernel.Phone(phone), "", user.RealNameStatus(*row.UserRealNameStatus)
			if row.UserIDNumberSet {
				name, err := r.t.store.cipher.Open(row.UserRealNameEnc, aadRealName)
				if err != nil {
					return nil, fmt.Errorf("sqlstore: user %s name: %w", m.UserID, err)
				}
				l.Name = string(name)
			}
		}
		out = append(out, l)
	}
	return out, nil
}
