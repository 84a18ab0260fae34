package operators

import (
	"context"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/operator"
	"github.com/shuxinqian/server/domain/order"
	"github.com/shuxinqian/server/ports"
)

// OrderQuery selects orders for the console; empty fields match all.
type OrderQuery struct {
	Status       string
	EnterpriseID string
	OutTradeNo   string
	Before       string // cursor: the last order id of the previous page
	Limit        int
}

// Orders lists orders of every user newest first, with their enterprises' names (one query).
func (s *Service) Orders(ctx context.Context, a Actor, q OrderQuery) (out []ports.ConsoleOrder, next string, err error) {
	if err := a.Require(operator.PermOrdersRead); err != nil {
		return nil, "", err
	}
	f := ports.ConsoleOrderFilter{EnterpriseID: kernel.EnterpriseID(q.EnterpriseID), Before: kernel.OrderID(q.Before)}
	if q.Status != "" {
		if f.Status, err = order.ParseStatus(q.Status); err != nil {
			return nil, "", err
		}
	}
	if q.OutTradeNo != "" {
		if !order.ValidOutTradeNo(q.OutTradeNo) {
			return nil, "", kernel.Invalid("out-trade-no-invalid", "out_trade_no is 6 to 32 characters of 0-9, A-Z, a-z, _, -, | and *")
		}
		f.OutTradeNo = q.OutTradeNo
	}
	limit := pageOf(q.Limit)
	f.Limit = limit + 1
	err = s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		page, err := tx.Console().Orders(ctx, f)
		if err != nil {
			return err
		}
		if len(page) > limit {
			page = page[:limit]
			next = string(page[limit-1].Order.ID)
		}
		out = page
		return nil
	})
	return out, next, err
}

// OrderDetail is an order with its enterprise's name and its refunds (oldest first).
type OrderDetail struct {
	ports.ConsoleOrder
	Refunds []*order.Refund
}

// Order returns one order with its enterprise's name and refunds, read in one transaction.
func (s *Service) Order(ctx context.Context, a Actor, id string) (OrderDetail, error) {
	if err := a.Require(operator.PermOrdersRead); err != nil {
		return OrderDetail{}, err
	}
	var d OrderDetail
	err := s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		if d.ConsoleOrder, err = tx.Console().Order(ctx, kernel.OrderID(id)); err != nil {
			return err
		}
		d.Refunds, err = tx.Refunds().ListByOrder(ctx, kernel.OrderID(id))
		return err
	})
	return d, err
}
