package sqlstore

import (
	"context"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// consoleOrderRow is an order row with its enterprise's name, read by a correlated subquery so
// the list stays one query and the order's columns need no table qualifier.
type consoleOrderRow struct {
	orderRow `bun:",extend"`

	EnterpriseName string `bun:"enterprise_name,scanonly"`
}

const enterpriseNameExpr = "(SELECT e.name FROM enterprises AS e WHERE e.id = ?TableAlias.enterprise_id) AS enterprise_name"

func consoleOrderOf(row *consoleOrderRow) (ports.ConsoleOrder, error) {
	o, err := orderFromRow(&row.orderRow)
	if err != nil {
		return ports.ConsoleOrder{}, err
	}
	return ports.ConsoleOrder{Order: o, EnterpriseName: row.EnterpriseName}, nil
}

func (r console) Orders(ctx context.Context, f ports.ConsoleOrderFilter) ([]ports.ConsoleOrder, error) {
	var rows []consoleOrderRow
	q := r.t.idb.NewSelect().Model(&rows).ColumnExpr("?TableColumns").ColumnExpr(enterpriseNameExpr)
	if f.Status != "" {
		q = q.Where("?TableAlias.status = ?", string(f.Status))
	}
	if f.EnterpriseID != "" {
		q = q.Where("?TableAlias.enterprise_id = ?", string(f.EnterpriseID))
	}
	if f.OutTradeNo != "" {
		q = q.Where("?TableAlias.out_trade_no = ?", f.OutTradeNo)
	}
	if f.Before != "" {
		q = q.Where("?TableAlias.id < ?", string(f.Before))
	}
	if err := q.OrderExpr("?TableAlias.id DESC").Limit(int64(f.Limit)).Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]ports.ConsoleOrder, 0, len(rows))
	for i := range rows {
		o, err := consoleOrderOf(&rows[i])
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

func (r console) Order(ctx context.Context, id kernel.OrderID) (ports.ConsoleOrder, error) {
	row := new(consoleOrderRow)
	if err := r.t.idb.NewSelect().Model(row).ColumnExpr("?TableColumns").ColumnExpr(enterpriseNameExpr).
		Where("?TableAlias.id = ?", string(id)).Scan(ctx); err != nil {
		return ports.ConsoleOrder{}, notFound(err, "order-not-found", "no such order")
	}
	return consoleOrderOf(row)
}
