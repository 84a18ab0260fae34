package sqlstore

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/seal"
)

type sealRow struct {
	bun.BaseModel `bun:"table:seals"`

	ID           string    `bun:"id,pk"`
	EnterpriseID string    `bun:"enterprise_id"`
	Type         string    `bun:"type"`
	Name         string    `bun:"name"`
	Template     string    `bun:"template"`
	ImageFileID  string    `bun:"image_file_id"`
	Automatic    bool      `bun:"automatic"`
	Status       string    `bun:"status"`
	CreatedBy    string    `bun:"created_by"`
	CreatedAt    time.Time `bun:"created_at"`
	UpdatedAt    time.Time `bun:"updated_at"`
	UsedCount    int64     `bun:"used_count"`
	LastUsedAt   time.Time `bun:"last_used_at,nullzero"`
	DeletedAt    time.Time `bun:"deleted_at,nullzero"`
	Version      int64     `bun:"version"`
}

type sealGrantRow struct {
	bun.BaseModel `bun:"table:seal_grants"`

	ID           string    `bun:"id,pk"`
	SealID       string    `bun:"seal_id"`
	EnterpriseID string    `bun:"enterprise_id"`
	MembershipID string    `bun:"membership_id"`
	UserID       string    `bun:"user_id"`
	ExpiresAt    time.Time `bun:"expires_at,nullzero"`
	GrantedBy    string    `bun:"granted_by"`
	GrantedAt    time.Time `bun:"granted_at"`
	RevokedAt    time.Time `bun:"revoked_at,nullzero"`
	RevokedBy    string    `bun:"revoked_by"`
	RevokeReason string    `bun:"revoke_reason"`
}

type seals struct{ t *txn }

func sealToRow(s *seal.Seal) *sealRow {
	p := s.Snapshot()
	return &sealRow{ID: string(p.ID), EnterpriseID: string(p.EnterpriseID), Type: string(p.Type), Name: p.Name,
		Template: string(p.Template), ImageFileID: string(p.ImageFileID), Automatic: p.Automatic, Status: string(p.Status),
		CreatedBy: string(p.CreatedBy), CreatedAt: utc(p.CreatedAt), UpdatedAt: utc(p.UpdatedAt), UsedCount: p.UsedCount,
		LastUsedAt: utc(p.LastUsedAt), DeletedAt: utc(p.DeletedAt), Version: p.Version}
}

func grantToRow(s *seal.Seal, g seal.Grant) *sealGrantRow {
	return &sealGrantRow{ID: string(g.ID), SealID: string(s.ID()), EnterpriseID: string(s.EnterpriseID()),
		MembershipID: string(g.MembershipID), UserID: string(g.UserID), ExpiresAt: utc(g.ExpiresAt), GrantedBy: string(g.GrantedBy),
		GrantedAt: utc(g.GrantedAt), RevokedAt: utc(g.RevokedAt), RevokedBy: string(g.RevokedBy), RevokeReason: g.RevokeReason}
}

func sealFromRows(r *sealRow, grants []sealGrantRow) *seal.Seal {
	p := seal.Snapshot{ID: seal.ID(r.ID), EnterpriseID: kernel.EnterpriseID(r.EnterpriseID), Type: seal.Type(r.Type), Name: r.Name,
		Template: seal.Template(r.Template), ImageFileID: kernel.FileID(r.ImageFileID), Automatic: r.Automatic,
		Status: seal.Status(r.Status), CreatedBy: kernel.UserID(r.CreatedBy), CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt),
		UsedCount: r.UsedCount, LastUsedAt: utc(r.LastUsedAt), DeletedAt: utc(r.DeletedAt), Version: r.Version}
	for _, g := range grants {
		p.Grants = append(p.Grants, seal.Grant{ID: seal.GrantID(g.ID), MembershipID: kernel.MembershipID(g.MembershipID),
			UserID: kernel.UserID(g.UserID), ExpiresAt: utc(g.ExpiresAt), GrantedBy: kernel.UserID(g.GrantedBy), GrantedAt: utc(g.GrantedAt),
			RevokedAt: utc(g.RevokedAt), RevokedBy: kernel.UserID(g.RevokedBy), RevokeReason: g.RevokeReason})
	}
	return seal.FromSnapshot(p)
}

func (r seals) Add(ctx context.Context, s *seal.Seal) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	row := sealToRow(s)
	row.Version = 1
	if _, err := r.t.idb.NewInsert().Model(row).Exec(ctx); err != nil {
		if isUnique(err) && s.Automatic() {
			return kernel.Conflict("seal-automatic-exists", "the enterprise already has its automatic official seal")
		}
		return err
	}
	if err := r.insertGrants(ctx, s, s.Grants()); err != nil {
		return err
	}
	r.t.record(s)
	return nil
}

func (r seals) insertGrants(ctx context.Context, s *seal.Seal, gs []seal.Grant) error {
	if len(gs) == 0 {
		return nil
	}
	rows := make([]*sealGrantRow, len(gs))
	for i, g := range gs {
		rows[i] = grantToRow(s, g)
	}
	if _, err := r.t.idb.NewInsert().Model(&rows).Exec(ctx); err != nil {
		if isUnique(err) {
			return seal.ErrGrantExists
		}
		return err
	}
	return nil
}

func (r seals) grantsOf(ctx context.Context, ids []string) (map[string][]sealGrantRow, error) {
	out := make(map[string][]sealGrantRow, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []sealGrantRow
	if err := r.t.idb.NewSelect().Model(&rows).Where("seal_id IN (?)", bun.List(ids)).Order("granted_at", "id").Scan(ctx); err != nil {
		return nil, err
	}
	for _, g := range rows {
		out[g.SealID] = append(out[g.SealID], g)
	}
	return out, nil
}

func (r seals) load(ctx context.Context, eid kernel.EnterpriseID, id seal.ID, lock bool) (*seal.Seal, error) {
	row := new(sealRow)
	q := r.t.idb.NewSelect().Model(row).Where("id = ? AND enterprise_id = ? AND status <> ?", string(id), string(eid), string(seal.StatusDeleted))
	if lock {
		q = r.t.forUpdate(q)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, notFound(err, "seal-not-found", "no such seal of this enterprise")
	}
	gs, err := r.grantsOf(ctx, []string{row.ID})
	if err != nil {
		return nil, err
	}
	return sealFromRows(row, gs[row.ID]), nil
}

func (r seals) Get(ctx context.Context, eid kernel.EnterpriseID, id seal.ID) (*seal.Seal, error) {
	return r.load(ctx, eid, id, false)
}

func (r seals) List(ctx context.Context, eid kernel.EnterpriseID, after seal.ID, limit int) ([]*seal.Seal, error) {
	var rows []sealRow
	q := r.t.idb.NewSelect().Model(&rows).Where("enterprise_id = ? AND status <> ?", string(eid), string(seal.StatusDeleted))
	if after != "" {
		q = q.Where("id > ?", string(after))
	}
	if err := q.Order("id").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, err
	}
	ids := make([]string, len(rows))
	for i := range rows {
		ids[i] = rows[i].ID
	}
	gs, err := r.grantsOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]*seal.Seal, len(rows))
	for i := range rows {
		out[i] = sealFromRows(&rows[i], gs[rows[i].ID])
	}
	return out, nil
}

func (r seals) Update(ctx context.Context, eid kernel.EnterpriseID, id seal.ID, fn func(s *seal.Seal) error) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	s, err := r.load(ctx, eid, id, true)
	if err != nil {
		return err
	}
	before := s.Grants()
	if err := fn(s); err != nil {
		return err
	}
	return r.save(ctx, s, before)
}

// save writes the seal's changing columns (optimistic version check), then the grants that
// changed (revocations first, so a replaced grant frees the open-grant index), then new grants.
func (r seals) save(ctx context.Context, s *seal.Seal, before []seal.Grant) error {
	row := sealToRow(s)
	row.Version = s.Version() + 1
	res, err := r.t.idb.NewUpdate().Model(row).
		Column("name", "status", "updated_at", "used_count", "last_used_at", "deleted_at", "version").
		Where("id = ? AND version = ?", row.ID, s.Version()).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return kernel.Conflict("concurrent-update", "the seal was changed concurrently; try again")
	}
	old := make(map[seal.GrantID]seal.Grant, len(before))
	for _, g := range before {
		old[g.ID] = g
	}
	var added []seal.Grant
	for _, g := range s.Grants() {
		prev, ok := old[g.ID]
		switch {
		case !ok:
			added = append(added, g)
		case prev.RevokedAt.IsZero() && !g.RevokedAt.IsZero():
			if _, err := r.t.idb.NewUpdate().Model(grantToRow(s, g)).Column("revoked_at", "revoked_by", "revoke_reason").
				WherePK().Exec(ctx); err != nil {
				return err
			}
		}
	}
	if err := r.insertGrants(ctx, s, added); err != nil {
		return err
	}
	r.t.record(s)
	return nil
}

func (r seals) HasAutomatic(ctx context.Context, eid kernel.EnterpriseID) (bool, error) {
	return r.t.idb.NewSelect().Table("seals").Where("enterprise_id = ? AND automatic", string(eid)).Exists(ctx)
}

func (r seals) RevokeMemberGrants(ctx context.Context, eid kernel.EnterpriseID, mid kernel.MembershipID, by kernel.UserID, now time.Time) (int, error) {
	if err := r.t.mustWrite(); err != nil {
		return 0, err
	}
	var ids []string
	if err := r.t.idb.NewSelect().Table("seal_grants").Column("seal_id").Distinct().
		Where("enterprise_id = ? AND membership_id = ? AND revoked_at IS NULL", string(eid), string(mid)).
		Order("seal_id").Scan(ctx, &ids); err != nil {
		return 0, err
	}
	total := 0
	for _, id := range ids {
		var n int
		err := r.Update(ctx, eid, seal.ID(id), func(s *seal.Seal) error {
			n = s.RevokeMember(mid, by, now)
			return nil
		})
		if err != nil && kernel.CodeOf(err) != "seal-not-found" {
			return 0, err
		}
		total += n
	}
	return total, nil
}
