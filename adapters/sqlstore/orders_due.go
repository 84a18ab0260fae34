package sqlstore

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/shuxinqian/server/domain/order"
)

// ClaimDue selects the due page under FOR UPDATE SKIP LOCKED on Postgres (SQLite serialises
// writing transactions, so the page is the claimer's alone there too) and moves the page's
// next_check_at to recheckAt in the same transaction: two statements whatever the page size.
func (r orders) ClaimDue(ctx context.Context, now, createdBefore, recheckAt time.Time, limit int) ([]*order.Order, error) {
	if err := r.t.mustWrite(); err != nil {
		return nil, err
	}
	var rows []orderRow
	q := r.t.idb.NewSelect().Model(&rows).
		Where("status = ? AND created_at < ?", string(order.StatusPendingPayment), createdBefore.UTC()).
		Where("(next_check_at IS NULL OR next_check_at <= ?)", now.UTC()).
		Where("NOT EXISTS (SELECT 1 FROM payment_anomalies pa WHERE pa.order_id = ?TableAlias.id)").
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
	if _, err := r.t.idb.NewUpdate().Table("orders").Set("next_check_at = ?", recheckAt.UTC()).
		Where("id IN (?)", bun.List(ids)).Exec(ctx); err != nil {
		return nil, err
	}
	out := make([]*order.Order, 0, len(rows))
	for i := range rows {
		o, err := orderFromRow(&rows[i])
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}
