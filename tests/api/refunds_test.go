package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// payOrder places an order of the items, pays it at the simulator and waits for the grant.
func (s *server) payOrder(token, eid string, items []map[string]any, wantSignatures int) (id, outTradeNo string) {
	s.t.Helper()
	o := s.placeOrder(token, eid, "", map[string]any{"items": items}).expect(s.t, 201, "")
	s.do("POST", "/api/v1/orders/"+o.str("id")+"/wechat-pay", token, map[string]string{"trade_type": "app"}).expect(s.t, 200, "")
	s.do("POST", "/api/v1/sandbox/wechat-pay/orders/"+o.str("id")+"/pay", "", nil).expect(s.t, 200, "")
	s.eventually("package granted", func() bool { return s.quotaSignatures(token, eid) == wantSignatures })
	return o.str("id"), o.str("out_trade_no")
}

func (s *server) quotaSignatures(token, eid string) int {
	q, _ := s.do("GET", "/api/v1/enterprises/"+eid, token, nil).body["quota"].(map[string]any)
	if q == nil {
		return -1
	}
	n, _ := q["signatures"].(float64)
	return int(n)
}

func (s *server) refund(opToken, oid string, body map[string]any) resp {
	s.t.Helper()
	return s.do("POST", "/api/v1/admin/orders/"+oid+"/refunds", opToken, body)
}

func (s *server) postRefundNotification(h map[string]string, body []byte) int {
	s.t.Helper()
	req, _ := http.NewRequest("POST", s.base+"/api/v1/callbacks/wechat-pay/refunds", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range h {
		req.Header.Set(k, v)
	}
	return s.send(req).status
}

func sub(r resp, key string) map[string]any {
	m, _ := r.body[key].(map[string]any)
	return m
}

// Issue 16, refunds: pay, refund half → partially_refunded with the package halved, refund the
// rest → refunded; over-refunds, reused refund numbers and a support operator refused; the
// notification verified like the payment one and replay-safe; the invoice marked for 红冲; each
// refund audited. All through wechatpay-go against the simulator.
func TestRefundHalfThenRest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		token, eid := s.orderSetup(0, "13600000101", "退款买家", "861")
		oid, _ := s.payOrder(token, eid, []map[string]any{{"sku": "pkg-sign-50", "quantity": 2}}, 100) // 300.00 yuan, 100 signatures
		inv := s.requestInvoice(token, oid, "", map[string]any{"type": "vat_ordinary_digital", "title_type": "personal", "title": "退款买家"}).
			expect(t, 202, "")
		finance := s.operatorLogin("finance1", "finance")
		support := s.operatorLogin("support1", "support")
		admin := s.operatorLogin("admin1", "admin")

		// Support cannot refund; an app session cannot call the console.
		s.refund(support, oid, map[string]any{"amount_fen": 100, "reason": "试试"}).expect(t, 403, "operator-permission-denied")
		if st := s.refund(token, oid, map[string]any{"amount_fen": 100, "reason": "试试"}).status; st != 401 {
			t.Fatalf("app token on the console: %d", st)
		}
		// Bad input.
		s.refund(finance, oid, map[string]any{"amount_fen": 0, "reason": "零"}).expect(t, 422, "refund-amount-invalid")
		s.refund(finance, oid, map[string]any{"amount_fen": 100, "reason": ""}).expect(t, 422, "refund-reason-invalid")
		s.refund(finance, oid, map[string]any{"amount_fen": 100, "reason": "x", "refund_no": "bad no!"}).expect(t, 422, "refund-no-invalid")
		s.refund(finance, oid, map[string]any{"amount_fen": 30001, "reason": "多退"}).expect(t, 422, "refund-exceeds-paid")
		s.refund(finance, "01nosuchorder0000000000000", map[string]any{"amount_fen": 1, "reason": "x"}).expect(t, 404, "order-not-found")

		// Half: refunding at once, the package halved at once (50 of 100 signatures).
		half := s.refund(finance, oid, map[string]any{"amount_fen": 15000, "reason": "客户申请退还一半", "refund_no": "RH" + oid[:20]}).expect(t, 202, "")
		rf, o := sub(half, "refund"), sub(half, "order")
		if rf["status"] != "processing" || rf["refund_id"] == "" || o["status"] != "refunding" || o["refunding_fen"] != float64(15000) {
			t.Fatalf("half %s", half.raw)
		}
		if red := rf["quota_reductions"].([]any); len(red) != 1 || red[0].(map[string]any)["signatures"] != float64(50) {
			t.Fatalf("reductions %s", half.raw)
		}
		if q := s.quotaSignatures(token, eid); q != 50 {
			t.Fatalf("quota after the half refund request: %d", q)
		}
		// While it is in flight, another half and a bit is refused (total never above the paid).
		s.refund(finance, oid, map[string]any{"amount_fen": 15001, "reason": "多退"}).expect(t, 422, "refund-exceeds-paid")
		// The same refund number again is the same refund; with another amount it is refused.
		again := s.refund(finance, oid, map[string]any{"amount_fen": 15000, "reason": "客户申请退还一半", "refund_no": "RH" + oid[:20]}).expect(t, 202, "")
		if sub(again, "refund")["refund_id"] != rf["refund_id"] {
			t.Fatalf("the same refund number made another refund: %s", again.raw)
		}
		s.refund(finance, oid, map[string]any{"amount_fen": 14000, "reason": "改金额", "refund_no": "RH" + oid[:20]}).expect(t, 422, "refund-no-reused")

		// WeChat Pay refunds it and notifies: partially_refunded, the invoice marked for 红冲.
		s.do("POST", "/api/v1/sandbox/wechat-pay/refunds/RH"+oid[:20]+"/settle", "", map[string]string{"status": "SUCCESS"}).expect(t, 200, "")
		got := s.do("GET", "/api/v1/orders/"+oid, token, nil).expect(t, 200, "")
		if got.str("status") != "partially_refunded" || got.body["refunded_fen"] != float64(15000) || got.body["refunding_fen"] != float64(0) {
			t.Fatalf("after the half refund %s", got.raw)
		}
		if i := s.do("GET", "/api/v1/invoices/"+inv.str("id"), token, nil).expect(t, 200, ""); i.body["red_letter_required"] != true {
			t.Fatalf("invoice not marked for a red-letter invoice: %s", i.raw)
		}
		// The same notification replayed (and 20 concurrent copies) change nothing; a forged one is refused.
		h, body, err := s.rt.PaymentsSimulator().RefundNotification("RH"+oid[:20], nil)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		codes := make([]int, 20)
		for i := range codes {
			wg.Add(1)
			go func() { defer wg.Done(); codes[i] = s.postRefundNotification(h, body) }()
		}
		wg.Wait()
		for _, c := range codes {
			if c != 204 {
				t.Fatalf("replayed notification answered %v", codes)
			}
		}
		forged := copyHeaders(h)
		forged["Wechatpay-Signature"] = "AAAA" + forged["Wechatpay-Signature"][4:]
		if st := s.postRefundNotification(forged, body); st != 401 {
			t.Fatalf("forged refund notification: %d", st)
		}
		// A payment notification's path does not take a refund notification.
		req, _ := http.NewRequest("POST", s.base+"/api/v1/callbacks/wechat-pay", strings.NewReader(string(body)))
		for k, v := range h {
			req.Header.Set(k, v)
		}
		if st := s.send(req).status; st != 400 {
			t.Fatalf("refund notification on the payment callback: %d", st)
		}
		got = s.do("GET", "/api/v1/orders/"+oid, token, nil).expect(t, 200, "")
		if got.str("status") != "partially_refunded" || got.body["refunded_fen"] != float64(15000) || s.quotaSignatures(token, eid) != 50 {
			t.Fatalf("a replay changed the order: %s", got.raw)
		}

		// The rest: refunded, nothing left of the package.
		rest := s.refund(finance, oid, map[string]any{"amount_fen": 15000, "reason": "全部退还"}).expect(t, 202, "")
		restNo := sub(rest, "refund")["refund_no"].(string)
		if s.quotaSignatures(token, eid) != 0 {
			t.Fatal("the full refund left signatures")
		}
		s.refund(finance, oid, map[string]any{"amount_fen": 1, "reason": "再退"}).expect(t, 422, "refund-exceeds-paid")
		s.do("POST", "/api/v1/sandbox/wechat-pay/refunds/"+restNo+"/settle", "", map[string]string{"status": "SUCCESS"}).expect(t, 200, "")
		got = s.do("GET", "/api/v1/orders/"+oid, token, nil).expect(t, 200, "")
		if got.str("status") != "refunded" || got.body["refunded_fen"] != float64(30000) {
			t.Fatalf("after the full refund %s", got.raw)
		}
		if l := s.do("GET", "/api/v1/orders?status=refunded&enterprise_id="+eid, token, nil).expect(t, 200, ""); len(l.body["items"].([]any)) != 1 {
			t.Fatalf("order management by refunded: %s", l.raw)
		}
		list := s.do("GET", "/api/v1/admin/orders/"+oid+"/refunds", support, nil).expect(t, 200, "")
		if items := list.body["items"].([]any); len(items) != 2 || items[0].(map[string]any)["status"] != "success" || items[1].(map[string]any)["status"] != "success" {
			t.Fatalf("refund list %s", list.raw)
		}
		// Each refund is in the audit log, with the operator and the state before and after.
		audit := s.do("GET", "/api/v1/admin/audit?action=order.refund", admin, nil).expect(t, 200, "")
		entries, _ := audit.body["items"].([]any)
		if len(entries) != 2 {
			t.Fatalf("audit %s", audit.raw)
		}
		for _, e := range entries {
			if m := e.(map[string]any); m["target_id"] != oid || !strings.Contains(fmt.Sprint(m), "finance1") {
				t.Fatalf("audit entry %v", m)
			}
		}
	})
}

// A refund never takes back what was used; concurrent refunds never exceed the paid amount; a
// closed refund gives amount and package back; a lost notification is found by the reconciler.
func TestRefundLimitsConcurrencyAndReconcile(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		token, eid := s.orderSetup(1, "13600000111", "退款买家乙", "871")
		finance := s.operatorLogin("finance2", "finance")
		b, _ := s.payOrder(token, eid, []map[string]any{{"sku": "pkg-sign-50", "quantity": 1}}, 50) // 150.00 yuan, 50 signatures
		// 40 of the 50 signatures used: refunding half would take 25 back, only 10 are unused.
		if err := s.rt.Store.Do(t.Context(), func(ctx context.Context, tx ports.Tx) error {
			return tx.QuotaUsage().Use(ctx, ports.QuotaUse{ID: "use-40", EnterpriseID: kernel.EnterpriseID(eid), Signatures: 40,
				Reason: "test", At: s.clock.Now()})
		}); err != nil {
			t.Fatal(err)
		}
		r := s.refund(finance, b, map[string]any{"amount_fen": 7500, "reason": "退一半", "refund_no": "RU" + b[:20]}).expect(t, 422, "refund-exceeds-unused")
		if d, _ := sub(r, "error")["details"].(map[string]any); d["signatures_to_take_back"] != float64(25) || d["signatures_unused"] != float64(10) {
			t.Fatalf("details %s", r.raw)
		}
		if _, _, err := s.rt.PaymentsSimulator().RefundNotification("RU"+b[:20], nil); err == nil {
			t.Fatal("a refused refund reached WeChat Pay")
		}
		if o := s.do("GET", "/api/v1/orders/"+b, token, nil); o.str("status") != "paid" || s.quotaSignatures(token, eid) != 50 {
			t.Fatalf("a refused refund changed the order or the quota: %s", o.raw)
		}
		// 20% takes back exactly the 10 unused signatures.
		s.refund(finance, b, map[string]any{"amount_fen": 3000, "reason": "退两成"}).expect(t, 202, "")

		// 12 concurrent refunds of 20.00 on a 150.00 order: exactly 7 accepted, never above the total.
		c, _ := s.payOrder(token, eid, []map[string]any{{"sku": "pkg-sign-50", "quantity": 1}}, 90)
		var wg sync.WaitGroup
		results := make([]resp, 12)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = s.refund(finance, c, map[string]any{"amount_fen": 2000, "reason": "并发退款", "refund_no": fmt.Sprintf("RC%02d%s", i, c[:20])})
			}()
		}
		wg.Wait()
		var accepted []string
		for _, r := range results {
			switch {
			case r.status == 202:
				accepted = append(accepted, sub(r, "refund")["refund_no"].(string))
			case r.status == 422 && sub(r, "error")["code"] == "refund-exceeds-paid":
			default:
				t.Fatalf("concurrent refund answered %d %s", r.status, r.raw)
			}
		}
		o := s.do("GET", "/api/v1/orders/"+c, token, nil).expect(t, 200, "")
		if len(accepted) != 7 || o.body["refunding_fen"] != float64(14000) || o.str("status") != "refunding" {
			t.Fatalf("accepted %d, order %s", len(accepted), o.raw)
		}
		// 7 × 20.00 of 150.00 takes back ceil(50 × 140/150) = 47 signatures.
		if q := s.quotaSignatures(token, eid); q != 40+50-47 {
			t.Fatalf("quota %d", q)
		}
		// Closed: the amount and the signatures come back.
		s.do("POST", "/api/v1/sandbox/wechat-pay/refunds/"+accepted[0]+"/settle", "", map[string]string{"status": "CLOSED"}).expect(t, 200, "")
		o = s.do("GET", "/api/v1/orders/"+c, token, nil).expect(t, 200, "")
		if o.body["refunding_fen"] != float64(12000) || o.body["refunded_fen"] != float64(0) {
			t.Fatalf("after a closed refund %s", o.raw)
		}
		// Its own reduction comes back: 6 or 7 signatures (the cumulative rounding of 7 × 20.00
		// of 150.00 takes 7, 7, 6, 7, 7, 6, 7 in the order the refunds were stored).
		if q := s.quotaSignatures(token, eid); q != 43+6 && q != 43+7 {
			t.Fatalf("quota after a closed refund %d", q)
		}
		// Abnormal: the amount stays reserved; an anomaly is recorded for a person.
		s.do("POST", "/api/v1/sandbox/wechat-pay/refunds/"+accepted[1]+"/settle", "", map[string]string{"status": "ABNORMAL"}).expect(t, 200, "")
		anomalies, err := s.rt.App.PaymentAnomalies(t.Context(), 10)
		if err != nil || len(anomalies) != 1 || anomalies[0].Kind != "refund_abnormal" {
			t.Fatalf("anomalies %+v %v", anomalies, err)
		}
		// Lost notifications: WeChat Pay refunded the others but told nobody; the reconciler asks.
		for _, no := range accepted[2:] {
			if _, err := s.rt.PaymentsSimulator().MarkRefund(no, ports.RefundStateSuccess); err != nil {
				t.Fatal(err)
			}
		}
		s.clock.Advance(2 * time.Minute)
		rep, err := s.rt.Refunds.Reconcile(t.Context())
		if err != nil || rep.Queried != 6 || rep.Settled != 5 { // the 5 lost ones; b's 20% refund is still processing
			t.Fatalf("reconcile %+v %v", rep, err)
		}
		o = s.do("GET", "/api/v1/orders/"+c, token, nil).expect(t, 200, "")
		if o.body["refunded_fen"] != float64(10000) || o.body["refunding_fen"] != float64(2000) || o.str("status") != "refunding" {
			t.Fatalf("after reconcile %s", o.raw)
		}
		// Unpaid orders cannot be refunded.
		u := s.placeOrder(token, eid, "", map[string]any{"items": []map[string]any{{"sku": "pkg-sign-50", "quantity": 1}}}).expect(t, 201, "")
		s.refund(finance, u.str("id"), map[string]any{"amount_fen": 100, "reason": "未付"}).expect(t, 422, "order-not-refundable")
	})
}

// The first acceptance bullet: an operator creates a channel and a catalog item through
// the API; an app user switches to it, buys the item and pays; a finance operator refunds half;
// the order shows partially_refunded, the enterprise's quota the reduction, the audit log each
// operator step. All through the real wechatpay-go SDK against the simulator.
func TestRefundAcceptance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		admin := s.operatorLogin("ada", "admin")
		finance := s.operatorLogin("fay", "finance")
		support := s.operatorLogin("sam", "support")
		s.do("POST", "/api/v1/admin/channels", admin, map[string]any{"code": "k16refund", "name": "验收渠道",
			"real_name_method": "id2", "charging_enabled": true, "personal_cert_service": true}).expect(t, 201, "")
		s.do("PUT", "/api/v1/admin/channels/k16refund/catalog/pkg-sign-20", admin, map[string]any{"name": "签署套餐 20 次",
			"unit_price_fen": 2000, "grants": map[string]int{"signatures": 20}, "tax_code": "3040201000000000000", "tax_rate_bp": 600}).
			expect(t, 201, "")
		token, eid := s.orderSetup(0, "13600001621", "验收买家", "862")
		s.do("PUT", "/api/v1/me/channel", token, map[string]string{"code": "k16refund"}).expect(t, 200, "")
		oid, _ := s.payOrder(token, eid, []map[string]any{{"sku": "pkg-sign-20", "quantity": 2}}, 40) // 40.00 yuan, 40 signatures
		s.refund(support, oid, map[string]any{"amount_fen": 2000, "reason": "退一半"}).expect(t, 403, "operator-permission-denied")
		r := s.refund(finance, oid, map[string]any{"amount_fen": 2000, "reason": "退一半"}).expect(t, 202, "")
		no := sub(r, "refund")["refund_no"].(string)
		s.do("POST", "/api/v1/sandbox/wechat-pay/refunds/"+no+"/settle", "", map[string]string{"status": "SUCCESS"}).expect(t, 200, "")
		o := s.do("GET", "/api/v1/orders/"+oid, token, nil).expect(t, 200, "")
		if o.str("status") != "partially_refunded" || o.body["refunded_fen"] != float64(2000) {
			t.Fatalf("order %s", o.raw)
		}
		if q := s.quotaSignatures(token, eid); q != 20 {
			t.Fatalf("quota %d, want 20 of 40", q)
		}
		want := []string{"session.create", "session.create", "session.create", "channel.create", "catalog.put", "order.refund"}
		if got := s.auditActions(admin, ""); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("audit %v, want %v", got, want)
		}
		e := s.do("GET", "/api/v1/admin/audit?action=order.refund", admin, nil).expect(t, 200, "").body["items"].([]any)[0].(map[string]any)
		before, _ := e["before"].(map[string]any)
		after, _ := e["after"].(map[string]any)
		if e["username"] != "fay" || e["target_id"] != oid || before["order_status"] != "paid" || after["order_status"] != "refunding" ||
			after["amount_fen"] != float64(2000) {
			t.Fatalf("refund audit %v", e)
		}
	})
}
