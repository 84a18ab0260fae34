package sqlstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/uptrace/bun"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/order"
	"github.com/shuxinqian/server/ports"
)

type refundRow struct {
	bun.BaseModel `bun:"table:refunds"`

	ID           string    `bun:"id,pk"`
	OutRefundNo  string    `bun:"out_refund_no"`
	OrderID      string    `bun:"order_id"`
	EnterpriseID string    `bun:"enterprise_id"`
	AmountFen    int64     `bun:"amount_fen"`
	Reason       string    `bun:"reason"`
	RequestedBy  string    `bun:"requested_by"`
	Status       string    `bun:"status"`
	RefundID     string    `bun:"refund_id"`
	Reductions   string    `bun:"reductions"`
	Failure      string    `bun:"failure"`
	CreatedAt    time.Time `bun:"created_at"`
	SettledAt    time.Time `bun:"settled_at,nullzero"`
	UpdatedAt    time.Time `bun:"updated_at"`
	Version      int64     `bun:"version"`
}

type reductionRow struct {
	bun.BaseModel `bun:"table:quota_reductions"`

	OutRefundNo      string `bun:"out_refund_no,pk"`
	SKU              string `bun:"sku,pk"`
	OrderID          string `bun:"order_id"`
	EnterpriseID     string `bun:"enterprise_id"`
	Signatures       int    `bun:"signatures"`
	CertificateYears int    `bun:"certificate_years"`
}

type reductionJSON struct {
	SKU              string `json:"sku"`
	Signatures       int    `json:"signatures"`
	CertificateYears int    `json:"certificate_years"`
}

type refunds struct{ t *txn }

func (t *txn) Refunds() ports.RefundRepository { return refunds{t} }
func (t *txn) QuotaUsage() ports.QuotaUsage    { return quotaUsage{t} }

func refundToRow(r *order.Refund) (*refundRow, error) {
	s := r.Snapshot()
	red := make([]reductionJSON, len(s.Reductions))
	for i, x := range s.Reductions {
		red[i] = reductionJSON(x)
	}
	b, err := json.Marshal(red)
	if err != nil {
		return nil, err
	}
	return &refundRow{ID: s.ID, OutRefundNo: s.OutRefundNo, OrderID: string(s.OrderID), EnterpriseID: string(s.EnterpriseID),
		AmountFen: s.Amount.Fen(), Reason: s.Reason, RequestedBy: s.RequestedBy, Status: string(s.Status), RefundID: s.RefundID,
		Reductions: string(b), Failure: s.Failure, CreatedAt: utc(s.CreatedAt), SettledAt: utc(s.SettledAt), UpdatedAt: utc(s.UpdatedAt),
		Version: s.Version}, nil
}

func refundFromRow(row *refundRow) (*order.Refund, error) {
	var red []reductionJSON
	if err := json.Unmarshal([]byte(row.Reductions), &red); err != nil {
		return nil, err
	}
	s := order.RefundSnapshot{ID: row.ID, OutRefundNo: row.OutRefundNo, OrderID: kernel.OrderID(row.OrderID),
		EnterpriseID: kernel.EnterpriseID(row.EnterpriseID), Amount: kernel.Fen(row.AmountFen), Reason: row.Reason,
		RequestedBy: row.RequestedBy, Status: order.RefundStatus(row.Status), RefundID: row.RefundID, Failure: row.Failure,
		CreatedAt: utc(row.CreatedAt), SettledAt: utc(row.SettledAt), UpdatedAt: utc(row.UpdatedAt), Version: row.Version}
	for _, x := range red {
		s.Reductions = append(s.Reductions, order.Reduction(x))
	}
	return order.RefundFromSnapshot(s), nil
}

// Add inserts the refund and its quota reductions: the enterprise's totals drop at once.
func (r refunds) Add(ctx context.Context, rf *order.Refund) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	row, err := refundToRow(rf)
	if err != nil {
		return err
	}
	row.Version = 1
	if _, err := r.t.idb.NewInsert().Model(row).Exec(ctx); err != nil {
		if isUnique(err) {
			return kernel.Conflict("refund-no-taken", "this refund number is taken")
		}
		return err
	}
	if reds := rf.Reductions(); len(reds) > 0 {
		rows := make([]reductionRow, len(reds))
		for i, x := range reds {
			rows[i] = reductionRow{OutRefundNo: row.OutRefundNo, SKU: x.SKU, OrderID: row.OrderID, EnterpriseID: row.EnterpriseID,
				Signatures: x.Signatures, CertificateYears: x.CertificateYears}
		}
		if _, err := r.t.idb.NewInsert().Model(&rows).Exec(ctx); err != nil {
			return err
		}
	}
	rf.SetVersion(1)
	r.t.record(rf)
	return nil
}

func (r refunds) get(ctx context.Context, no string, lock bool) (*order.Refund, error) {
	row := new(refundRow)
	q := r.t.idb.NewSelect().Model(row).Where("out_refund_no = ?", no)
	if lock {
		q = r.t.forUpdate(q)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, notFound(err, "refund-not-found", "no such refund")
	}
	return refundFromRow(row)
}

func (r refunds) GetByOutRefundNo(ctx context.Context, no string) (*order.Refund, error) {
	return r.get(ctx, no, false)
}

func (r refunds) ListByOrder(ctx context.Context, id kernel.OrderID) ([]*order.Refund, error) {
	var rows []refundRow
	if err := r.t.idb.NewSelect().Model(&rows).Where("order_id = ?", string(id)).Order("created_at", "id").Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]*order.Refund, 0, len(rows))
	for i := range rows {
		rf, err := refundFromRow(&rows[i])
		if err != nil {
			return nil, err
		}
		out = append(out, rf)
	}
	return out, nil
}

// Update saves the refund; a refund that became closed gives its units back (its reductions go).
func (r refunds) Update(ctx context.Context, no string, fn func(rf *order.Refund) error) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	rf, err := r.get(ctx, no, true)
	if err != nil {
		return err
	}
	if err := fn(rf); err != nil {
		return err
	}
	row, err := refundToRow(rf)
	if err != nil {
		return err
	}
	row.Version = rf.Version() + 1
	res, err := r.t.idb.NewUpdate().Model(row).Column("status", "refund_id", "failure", "settled_at", "updated_at", "version").
		Where("out_refund_no = ? AND version = ?", no, rf.Version()).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return kernel.Conflict("concurrent-update", "the refund was changed concurrently; try again")
	}
	if rf.Status() == order.RefundClosed {
		if _, err := r.t.idb.NewDelete().Model((*reductionRow)(nil)).Where("out_refund_no = ?", no).Exec(ctx); err != nil {
			return err
		}
	}
	rf.SetVersion(row.Version)
	r.t.record(rf)
	return nil
}

func (r refunds) ClaimDue(ctx context.Context, now, createdBefore, recheckAt time.Time, limit int) ([]*order.Refund, error) {
	if err := r.t.mustWrite(); err != nil {
		return nil, err
	}
	var rows []refundRow
	q := r.t.idb.NewSelect().Model(&rows).
		Where("status IN (?)", bun.List([]string{string(order.RefundSubmitting), string(order.RefundProcessing)})).
		Where("created_at < ?", createdBefore.UTC()).
		Where("(next_check_at IS NULL OR next_check_at <= ?)", now.UTC()).
		OrderExpr("COALESCE(next_check_at, created_at), created_at").Limit(int64(limit))
	if r.t.store.db.IsPostgres() {
		q = q.For("UPDATE SKIP LOCKED")
	}
	if err := q.Scan(ctx); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	ids := make([]string, len(rows))
	for i := range rows {
		ids[i] = rows[i].ID
	}
	if _, err := r.t.idb.NewUpdate().Table("refunds").Set("next_check_at = ?", recheckAt.UTC()).
		Where("id IN (?)", bun.List(ids)).Exec(ctx); err != nil {
		return nil, err
	}
	out := make([]*order.Refund, 0, len(rows))
	for i := range rows {
		rf, err := refundFromRow(&rows[i])
		if err != nil {
			return nil, err
		}
		out = append(out, rf)
	}
	return out, nil
}

func (r refunds) Reduced(ctx context.Context, id kernel.OrderID) (map[string]order.Reduction, error) {
	var rows []reductionRow
	if err := r.t.idb.NewSelect().Model(&rows).Where("order_id = ?", string(id)).Scan(ctx); err != nil {
		return nil, err
	}
	out := map[string]order.Reduction{}
	for _, x := range rows {
		p := out[x.SKU]
		p.SKU = x.SKU
		p.Signatures += x.Signatures
		p.CertificateYears += x.CertificateYears
		out[x.SKU] = p
	}
	return out, nil
}

type quotaUseRow struct {
	bun.BaseModel `bun:"table:quota_usage"`

	ID               string    `bun:"id,pk"`
	EnterpriseID     string    `bun:"enterprise_id"`
	Signatures       int       `bun:"signatures"`
	CertificateYears int       `bun:"certificate_years"`
	Reason           string    `bun:"reason"`
	At               time.Time `bun:"at"`
}

type quotaUsage struct{ t *txn }

func (q quotaUsage) Use(ctx context.Context, u ports.QuotaUse) error {
	if err := q.t.mustWrite(); err != nil {
		return err
	}
	_, err := q.t.idb.NewInsert().Model(&quotaUseRow{ID: u.ID, EnterpriseID: string(u.EnterpriseID), Signatures: u.Signatures,
		CertificateYears: u.CertificateYears, Reason: u.Reason, At: u.At.UTC()}).On("CONFLICT DO NOTHING").Exec(ctx)
	return err
}

func (q quotaUsage) Used(ctx context.Context, eid kernel.EnterpriseID) (ports.Quota, error) {
	var out ports.Quota
	err := q.t.idb.NewSelect().Table("quota_usage").ColumnExpr("COALESCE(SUM(signatures), 0), COALESCE(SUM(certificate_years), 0)").
		Where("enterprise_id = ?", string(eid)).Scan(ctx, &out.Signatures, &out.CertificateYears)
	return out, err
}

// LockEnterprise takes the enterprise's quota lock (lockQuota): the same row a signing's
// reservation locks, so a refund's check of the unused quota and a signing cannot interleave.
func (q quotaUsage) LockEnterprise(ctx context.Context, eid kernel.EnterpriseID) error {
	return lockQuota(ctx, q.t, eid)
}

func (q quotaUsage) Granted(ctx context.Context, id kernel.OrderID) (bool, error) {
	return q.t.idb.NewSelect().Table("quota_grants").Where("order_id = ?", string(id)).Exists(ctx)
}
