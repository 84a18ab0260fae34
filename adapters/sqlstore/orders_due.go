package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/shuxinqian/server/domain/order"
)

// ClaimDue selects the due page (next_check_at, set to the first check when an order is
// inserted) under FOR UPDATE SKIP LOCKED on Postgres (SQLite serialises
// writing transactions, so the page is the claimer's alone there too) and moves each row's
// next_check_at to next(order) in the same transaction (one UPDATE … CASE id): two statements
// whatever the page size.
func (r orders) ClaimDue(ctx context.Context, now, createdBefore time.Time, next func(*order.Order) time.Time, limit int) ([]*order.Order, error) {
	if err := r.t.mustWrite(); err != nil {
		return nil, err
	}
	var rows []orderRow
	// Walks orders_due (next_check_at of pending orders) in order and stops after the page: the
	// cost is the page's, not the number of pending orders.
	q := r.t.idb.NewSelect().Model(&rows).
		Where("status = ? AND next_check_at <= ?", string(order.StatusPendingPayment), now.UTC()).
		Where("created_at < ?", createdBefore.UTC()).
		Where("NOT EXISTS (SELECT 1 FROM payment_anomalies pa WHERE pa.order_id = ?TableAlias.id)").
		OrderExpr("next_check_at, id").Limit(int64(limit))
	if r.t.store.db.IsPostgres() {
		q = q.For("UPDATE SKIP LOCKED")
	}
	if err := q.Scan(ctx); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	out := make([]*order.Order, 0, len(rows))
	ids := make([]string, len(rows))
	var when strings.Builder
	args := make([]any, 0, 2*len(rows))
	then := " WHEN ? THEN ?"
	if r.t.store.db.IsPostgres() {
		then = " WHEN ? THEN ?::timestamptz" // a CASE of untyped literals would be text
	}
	when.WriteString("next_check_at = CASE id")
	for i := range rows {
		o, err := orderFromRow(&rows[i])
		if err != nil {
			return nil, err
		}
		out = append(out, o)
		ids[i] = rows[i].ID
		when.WriteString(then)
		args = append(args, rows[i].ID, next(o).UTC())
	}
	when.WriteString(" END")
	if _, err := r.t.idb.NewUpdate().Table("orders").Set(when.String(), args...).
		Where("id IN (?)", bun.List(ids)).Exec(ctx); err != nil {
		return nil, err
	}
	return out, nil
}
