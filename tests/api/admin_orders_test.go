package api

import (
	"testing"
)

// Issue 16, the console's order lookup: an operator finds any user's order by state,
// enterprise or out_trade_no, page by page, and opens it with its enterprise's name and refunds.
func TestConsoleOrderLookup(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		token, eid := s.orderSetup(0, "13600000181", "查单买家", "862")
		paid, paidNo := s.payOrder(token, eid, []map[string]any{{"sku": "pkg-sign-50", "quantity": 2}}, 100)
		pending := s.placeOrder(token, eid, "", map[string]any{"items": []map[string]any{{"sku": "pkg-sign-50", "quantity": 1}}}).expect(t, 201, "")
		support := s.operatorLogin("support-orders", "support")
		finance := s.operatorLogin("finance-orders", "finance")

		ids := func(r resp) []string {
			var out []string
			for _, it := range r.body["items"].([]any) {
				m := it.(map[string]any)
				o := m["order"].(map[string]any)
				if m["enterprise_name"] == "" || m["user_id"] == "" || o["enterprise_id"] != eid {
					t.Fatalf("order row %v", m)
				}
				out = append(out, o["id"].(string))
			}
			return out
		}
		all := ids(s.do("GET", "/api/v1/admin/orders?enterprise_id="+eid, support, nil).expect(t, 200, ""))
		if len(all) != 2 || all[0] != pending.str("id") || all[1] != paid {
			t.Fatalf("newest first: %v", all)
		}
		if got := ids(s.do("GET", "/api/v1/admin/orders?status=paid&enterprise_id="+eid, support, nil).expect(t, 200, "")); len(got) != 1 || got[0] != paid {
			t.Fatalf("by status: %v", got)
		}
		if got := ids(s.do("GET", "/api/v1/admin/orders?out_trade_no="+paidNo, support, nil).expect(t, 200, "")); len(got) != 1 || got[0] != paid {
			t.Fatalf("by out_trade_no: %v", got)
		}
		page := s.do("GET", "/api/v1/admin/orders?limit=1&enterprise_id="+eid, support, nil).expect(t, 200, "")
		if got := ids(page); len(got) != 1 || got[0] != pending.str("id") || page.str("next_cursor") != pending.str("id") {
			t.Fatalf("first page: %s", page.raw)
		}
		next := s.do("GET", "/api/v1/admin/orders?limit=1&enterprise_id="+eid+"&cursor="+page.str("next_cursor"), support, nil).expect(t, 200, "")
		if got := ids(next); len(got) != 1 || got[0] != paid {
			t.Fatalf("second page: %s", next.raw)
		}

		// Bad filters are 4xx with a code; an app session is not an operator.
		s.do("GET", "/api/v1/admin/orders?status=shipped", support, nil).expect(t, 422, "order-status-invalid")
		s.do("GET", "/api/v1/admin/orders?out_trade_no=no", support, nil).expect(t, 422, "out-trade-no-invalid")
		s.do("GET", "/api/v1/admin/orders?limit=1000", support, nil).expect(t, 422, "limit-invalid")
		if st := s.do("GET", "/api/v1/admin/orders", token, nil).status; st != 401 {
			t.Fatalf("app token: %d", st)
		}

		// The detail carries the refunds; a refund is visible at once.
		s.refund(finance, paid, map[string]any{"amount_fen": 15000, "reason": "退一半"}).expect(t, 202, "")
		d := s.do("GET", "/api/v1/admin/orders/"+paid, support, nil).expect(t, 200, "")
		o := sub(d, "order")
		rfs, _ := d.body["refunds"].([]any)
		if o["id"] != paid || o["status"] != "refunding" || d.str("enterprise_name") == "" || len(rfs) != 1 ||
			rfs[0].(map[string]any)["amount_fen"] != float64(15000) {
			t.Fatalf("detail %s", d.raw)
		}
		s.do("GET", "/api/v1/admin/orders/01nosuchorder0000000000000", support, nil).expect(t, 404, "order-not-found")
		// Reading is not audited.
		if acts := s.auditActions(s.operatorLogin("admin-orders", "admin"), "?target_type=order"); len(acts) != 1 || acts[0] != "order.refund" {
			t.Fatalf("audit %v", acts)
		}
	})
}
