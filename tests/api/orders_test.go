package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// orderSetup: an admin of a verified enterprise on channel q86804.
func (s *server) orderSetup(fi int, phone, name, seq string) (token, eid string) {
	s.t.Helper()
	token = s.verifiedUser(phone, name, idNumber(s.t, "440106", "19800101", seq))
	eid = s.verifiedEnterprise(token, s.fixtures()[fi])
	s.do("PUT", "/api/v1/me/channel", token, map[string]string{"code": "q86804"}).expect(s.t, 200, "")
	return token, eid
}

func (s *server) placeOrder(token, eid, key string, items any) resp {
	s.t.Helper()
	req, _ := http.NewRequest("POST", s.base+"/api/v1/enterprises/"+eid+"/orders", strings.NewReader(mustJSON(items)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	return s.send(req)
}

// Manual §6: catalog, order, JSAPI parameters, pay through the simulator, order management,
// the package granted to the enterprise.
func TestOrderAndWeChatPay(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		token, eid := s.orderSetup(0, "13600000001", "买家", "801")
		cat := s.do("GET", "/api/v1/enterprises/"+eid+"/catalog", token, nil).expect(t, 200, "")
		if len(cat.body["catalog"].([]any)) < 2 {
			t.Fatalf("catalog %s", cat.raw)
		}
		body := map[string]any{"items": []map[string]any{{"sku": "pkg-sign-50", "quantity": 2}, {"sku": "svc-org-cert-1y", "quantity": 1}}}
		o := s.placeOrder(token, eid, "k-1", body).expect(t, 201, "")
		if o.str("status") != "pending_payment" || o.body["total_fen"] != float64(2*15000+30000) || o.str("expires_at") == "" {
			t.Fatalf("order %s", o.raw)
		}
		// The same key and body replay the first answer; another body is refused.
		if again := s.placeOrder(token, eid, "k-1", body).expect(t, 201, ""); again.str("id") != o.str("id") {
			t.Fatal("the Idempotency-Key did not replay")
		}
		s.placeOrder(token, eid, "k-1", map[string]any{"items": []map[string]any{{"sku": "pkg-sign-50", "quantity": 3}}}).
			expect(t, 422, "idempotency-key-reused")
		// The same key sent six times at once: one order, every answer is it (the claim, the
		// order and the stored answer commit together; the others wait for that commit).
		par := map[string]any{"items": []map[string]any{{"sku": "pkg-sign-50", "quantity": 1}}}
		answers := make([]string, 6)
		var wg sync.WaitGroup
		for i := range answers {
			wg.Go(func() {
				req, _ := http.NewRequest("POST", s.base+"/api/v1/enterprises/"+eid+"/orders", strings.NewReader(mustJSON(par)))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Idempotency-Key", "k-par")
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					answers[i] = err.Error()
					return
				}
				defer func() { _ = res.Body.Close() }()
				var b struct {
					ID string `json:"id"`
				}
				_ = json.NewDecoder(res.Body).Decode(&b)
				answers[i] = fmt.Sprintf("%d %s", res.StatusCode, b.ID)
			})
		}
		wg.Wait()
		for _, a := range answers {
			if a != answers[0] || !strings.HasPrefix(a, "201 ") || len(a) < 5 {
				t.Fatalf("concurrent requests with one key answered %q", answers)
			}
		}
		pending := s.do("GET", "/api/v1/orders?status=pending_payment&enterprise_id="+eid, token, nil).expect(t, 200, "")
		if items := pending.body["items"].([]any); len(items) != 2 {
			t.Fatalf("%d pending orders after k-1 and six k-par, want 2: %s", len(items), pending.raw)
		}
		s.do("POST", "/api/v1/orders/"+strings.TrimPrefix(answers[0], "201 ")+"/cancel", token, nil).expect(t, 200, "")
		id := o.str("id")
		pay := s.do("POST", "/api/v1/orders/"+id+"/wechat-pay", token, map[string]string{"trade_type": "jsapi", "openid": "o-test-openid"}).expect(t, 200, "")
		params := pay.body["params"].(map[string]any)
		for _, k := range []string{"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"} {
			if params[k] == nil || params[k] == "" {
				t.Fatalf("jsapi params %s", pay.raw)
			}
		}
		// Paying again reuses the out_trade_no (and WeChat's prepay_id); switching to another
		// trade type for the same out_trade_no is refused by WeChat.
		again := s.do("POST", "/api/v1/orders/"+id+"/wechat-pay", token, map[string]string{"trade_type": "jsapi", "openid": "o-test-openid"}).expect(t, 200, "")
		if again.str("prepay_id") != pay.str("prepay_id") {
			t.Fatalf("retry got another prepay_id: %s vs %s", again.raw, pay.raw)
		}
		s.do("POST", "/api/v1/orders/"+id+"/wechat-pay", token, map[string]string{"trade_type": "app"}).expect(t, 409, "payment-out-trade-no-reused")
		// The simulator pays and notifies our callback through the real SDK path.
		s.do("POST", "/api/v1/sandbox/wechat-pay/orders/"+id+"/pay", "", nil).expect(t, 200, "")
		got := s.do("GET", "/api/v1/orders/"+id, token, nil).expect(t, 200, "")
		if got.str("status") != "paid" || got.str("transaction_id") == "" || got.str("paid_at") == "" {
			t.Fatalf("after pay %s", got.raw)
		}
		list := s.do("GET", "/api/v1/orders?status=paid&enterprise_id="+eid, token, nil).expect(t, 200, "")
		if items := list.body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != id {
			t.Fatalf("order management %s", list.raw)
		}
		s.eventually("package granted", func() bool {
			q, _ := s.do("GET", "/api/v1/enterprises/"+eid, token, nil).body["quota"].(map[string]any)
			return q != nil && q["signatures"] == float64(100) && q["certificate_years"] == float64(1)
		})
		s.do("POST", "/api/v1/orders/"+id+"/cancel", token, nil).expect(t, 409, "order-not-cancellable")

		// Refusals.
		s.placeOrder(token, eid, "", map[string]any{"items": []map[string]any{{"sku": "nope", "quantity": 1}}}).expect(t, 422, "order-sku-unknown")
		s.placeOrder(token, eid, "", map[string]any{"items": []map[string]any{{"sku": "pkg-sign-50", "quantity": 1000}}}).expect(t, 422, "order-quantity-invalid")
		s.placeOrder(token, eid, "", map[string]any{"items": []map[string]any{{"sku": "pkg-sign-50", "quantity": 1, "unit_price_fen": 1}}}).expect(t, 400, "body-unknown-field")
		outsider := s.verifiedUser("13600000002", "路人", idNumber(t, "440106", "19800101", "802"))
		s.placeOrder(outsider, eid, "", body).expect(t, 404, "enterprise-not-found")
		s.do("GET", "/api/v1/orders/"+id, outsider, nil).expect(t, 404, "order-not-found")
	})
}

func TestOrderCancelExpireAndReconcile(t *testing.T) {
	s := start(t, "")
	token, eid := s.orderSetup(1, "13600000011", "买家乙", "811")
	one := map[string]any{"items": []map[string]any{{"sku": "pkg-sign-50", "quantity": 1}}}
	// Cancel an unpaid order.
	a := s.placeOrder(token, eid, "", one).expect(t, 201, "")
	s.do("POST", "/api/v1/orders/"+a.str("id")+"/wechat-pay", token, map[string]string{"trade_type": "app"}).expect(t, 200, "")
	c := s.do("POST", "/api/v1/orders/"+a.str("id")+"/cancel", token, nil).expect(t, 200, "")
	if c.str("status") != "closed" || c.str("close_reason") != "cancelled" {
		t.Fatalf("cancel %s", c.raw)
	}
	s.do("POST", "/api/v1/orders/"+a.str("id")+"/wechat-pay", token, map[string]string{"trade_type": "app"}).expect(t, 422, "order-not-payable")
	// Paid at WeChat but the notification was lost: the reconciler finds it.
	b := s.placeOrder(token, eid, "", one).expect(t, 201, "")
	s.do("POST", "/api/v1/orders/"+b.str("id")+"/wechat-pay", token, map[string]string{"trade_type": "app"}).expect(t, 200, "")
	// An expired order that was never paid is closed (at WeChat first).
	d := s.placeOrder(token, eid, "", one).expect(t, 201, "")
	s.do("POST", "/api/v1/orders/"+d.str("id")+"/wechat-pay", token, map[string]string{"trade_type": "app"}).expect(t, 200, "")
	if err := s.rt.PaymentsSimulator().MarkPaid(b.str("out_trade_no")); err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(31 * time.Minute)
	rep, err := s.rt.App.Reconcile(t.Context())
	if err != nil || rep.Paid != 1 || rep.Closed != 1 {
		t.Fatalf("reconcile %+v %v", rep, err)
	}
	if st := s.do("GET", "/api/v1/orders/"+b.str("id"), token, nil).str("status"); st != "paid" {
		t.Fatalf("lost notification: %s", st)
	}
	if st := s.do("GET", "/api/v1/orders/"+d.str("id"), token, nil).str("status"); st != "closed" {
		t.Fatalf("expired: %s", st)
	}
	// A payment notice that arrives after the order was closed (paid at WeChat as we closed it)
	// is recorded for refund, not silently paid.
	h, body, err := s.rt.PaymentsSimulator().Notification(c.str("out_trade_no"), func(tx map[string]any) {
		tx["trade_state"], tx["transaction_id"] = "SUCCESS", "4200000000202611260000000042"
	})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", s.base+"/api/v1/callbacks/wechat-pay", strings.NewReader(string(body)))
	for k, v := range h {
		req.Header.Set(k, v)
	}
	if st := s.send(req).status; st != 204 {
		t.Fatalf("late notification answered %d", st)
	}
	if st := s.do("GET", "/api/v1/orders/"+a.str("id"), token, nil).str("status"); st != "closed" {
		t.Fatalf("a closed order was paid: %s", st)
	}
	anomalies, err := s.rt.App.PaymentAnomalies(t.Context(), 10)
	if err != nil || len(anomalies) != 1 || anomalies[0].Kind != "paid_after_close" {
		t.Fatalf("anomalies %+v %v", anomalies, err)
	}
}

// The notification path against forged, stale, tampered, probe, wrong-amount, unknown and
// duplicated notifications, all made by the simulator (signed and encrypted as WeChat does).
func TestWeChatPayNotifications(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		token, eid := s.orderSetup(2, "13600000021", "买家丙", "821")
		o := s.placeOrder(token, eid, "", map[string]any{"items": []map[string]any{{"sku": "pkg-sign-200", "quantity": 1}}}).expect(t, 201, "")
		id, no := o.str("id"), o.str("out_trade_no")
		s.do("POST", "/api/v1/orders/"+id+"/wechat-pay", token, map[string]string{"trade_type": "app"}).expect(t, 200, "")
		sim := s.rt.PaymentsSimulator()
		post := func(h map[string]string, body []byte) int {
			req, _ := http.NewRequest("POST", s.base+"/api/v1/callbacks/wechat-pay", strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/json")
			for k, v := range h {
				req.Header.Set(k, v)
			}
			return s.send(req).status
		}
		status := func() string { return s.do("GET", "/api/v1/orders/"+id, token, nil).str("status") }
		if err := sim.MarkPaid(no); err != nil {
			t.Fatal(err)
		}
		h, body, err := sim.Notification(no, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Tampered body, wrong signature, stale timestamp, unknown serial, the signature probe.
		tampered := []byte(strings.Replace(string(body), `"id":"`, `"id":"x`, 1))
		if st := post(h, tampered); st != 401 {
			t.Fatalf("tampered body: %d", st)
		}
		bad := copyHeaders(h)
		bad["Wechatpay-Signature"] = "AAAA" + bad["Wechatpay-Signature"][4:]
		if st := post(bad, body); st != 401 {
			t.Fatalf("wrong signature: %d", st)
		}
		stale := copyHeaders(h)
		stale["Wechatpay-Timestamp"] = fmt.Sprint(time.Now().Add(-6 * time.Minute).Unix())
		if st := post(stale, body); st != 401 {
			t.Fatalf("stale timestamp: %d", st)
		}
		unknown := copyHeaders(h)
		unknown["Wechatpay-Serial"] = "PUB_KEY_ID_0000000000000000000000000000"
		if st := post(unknown, body); st != 401 {
			t.Fatalf("unknown serial: %d", st)
		}
		probe := copyHeaders(h)
		probe["Wechatpay-Signature"] = "WECHATPAY/SIGNTEST/" + probe["Wechatpay-Signature"]
		if st := post(probe, body); st != 401 {
			t.Fatalf("signature probe: %d", st)
		}
		if status() != "pending_payment" {
			t.Fatal("a refused notification changed the order")
		}
		// A correctly signed notification with a wrong amount: an anomaly, the order unpaid.
		wh, wb, _ := sim.Notification(no, func(tx map[string]any) { tx["amount"].(map[string]any)["total"] = 1 })
		if st := post(wh, wb); st != 204 {
			t.Fatalf("wrong amount: %d", st)
		}
		// An unknown out_trade_no: recorded, acknowledged.
		uh, ub, _ := sim.Notification(no, func(tx map[string]any) {
			tx["out_trade_no"] = "SXQ00000000000000000000000000"
			tx["transaction_id"] = "4200000000000000000000000001"
		})
		if st := post(uh, ub); st != 204 {
			t.Fatalf("unknown order: %d", st)
		}
		if status() != "pending_payment" {
			t.Fatal("an anomaly paid the order")
		}
		// 50 concurrent copies of the real notification: one state change, one grant.
		var wg sync.WaitGroup
		codes := make([]int, 50)
		for i := range codes {
			wg.Add(1)
			go func() { defer wg.Done(); codes[i] = post(h, body) }()
		}
		wg.Wait()
		for _, c := range codes {
			if c != 204 {
				t.Fatalf("concurrent copies answered %v", codes)
			}
		}
		if status() != "paid" {
			t.Fatal("not paid")
		}
		s.eventually("one grant", func() bool {
			q, _ := s.do("GET", "/api/v1/enterprises/"+eid, token, nil).body["quota"].(map[string]any)
			return q != nil && q["signatures"] == float64(200)
		})
		kinds := map[string]int{}
		as, _ := s.rt.App.PaymentAnomalies(t.Context(), 10)
		for _, a := range as {
			kinds[a.Kind]++
		}
		if kinds["amount_mismatch"] != 1 || kinds["unknown_order"] != 1 || len(as) != 2 {
			t.Fatalf("anomalies %v", kinds)
		}
	})
}

func copyHeaders(h map[string]string) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[k] = v
	}
	return out
}
