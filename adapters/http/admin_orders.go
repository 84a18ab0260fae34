package http

import (
	"net/http"

	"github.com/shuxinqian/server/application/operators"
	"github.com/shuxinqian/server/domain/operator"
)

// registerAdminOrderRoutes mounts the console's order lookup: an operator finds the order to
// refund by status, enterprise or out_trade_no.
func (s *Server) registerAdminOrderRoutes() {
	s.operator("GET", "/api/v1/admin/orders", operator.PermOrdersRead, s.adminListOrders)
	s.operator("GET", "/api/v1/admin/orders/{order_id}", operator.PermOrdersRead, s.adminGetOrder)
}

// adminOrderJSON is an order as the console lists it: the order as its buyer sees it, the
// buyer's user id and the enterprise's name.
type adminOrderJSON struct {
	Order          orderJSON `json:"order"`
	UserID         string    `json:"user_id"`
	EnterpriseName string    `json:"enterprise_name"`
}

type adminOrderPage struct {
	Items      []adminOrderJSON `json:"items"`
	NextCursor string           `json:"next_cursor,omitempty"`
}

type adminOrderDetail struct {
	Order          orderJSON    `json:"order"`
	UserID         string       `json:"user_id"`
	EnterpriseName string       `json:"enterprise_name"`
	Refunds        []refundJSON `json:"refunds"`
}

func (s *Server) adminListOrders(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	cursor := q.Get("cursor")
	if cursor != "" && !validID(cursor) {
		return queryInvalid("cursor", "the value is not a well-formed cursor")
	}
	eid := q.Get("enterprise_id")
	if eid != "" && !validID(eid) {
		return queryInvalid("enterprise_id", "the value is not a well-formed id")
	}
	list, next, err := s.opts.Operators.Orders(r.Context(), a, operators.OrderQuery{Status: q.Get("status"), EnterpriseID: eid,
		OutTradeNo: q.Get("out_trade_no"), Before: cursor, Limit: limit})
	if err != nil {
		return err
	}
	js := make([]orderJSON, len(list))
	for i, o := range list {
		js[i] = toOrderJSON(o.Order)
	}
	if err := s.withInvoices(r, js); err != nil {
		return err
	}
	out := adminOrderPage{Items: make([]adminOrderJSON, len(list)), NextCursor: next}
	for i, o := range list {
		out.Items[i] = adminOrderJSON{Order: js[i], UserID: string(o.Order.UserID), EnterpriseName: o.EnterpriseName}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) adminGetOrder(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	d, err := s.opts.Operators.Order(r.Context(), a, r.PathValue("order_id"))
	if err != nil {
		return err
	}
	js := []orderJSON{toOrderJSON(d.Order)}
	if err := s.withInvoices(r, js); err != nil {
		return err
	}
	out := adminOrderDetail{Order: js[0], UserID: string(d.Order.UserID), EnterpriseName: d.EnterpriseName,
		Refunds: make([]refundJSON, 0, len(d.Refunds))}
	for _, rf := range d.Refunds {
		out.Refunds = append(out.Refunds, toRefundJSON(rf))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
