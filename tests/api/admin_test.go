package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/operator"
	"github.com/shuxinqian/server/domain/order"
	"github.com/shuxinqian/server/ports"
)

const operatorPassword = "operator-password-1"

// createOperator makes an operator account the way `shuxinqian operator create` does and
// returns its TOTP secret.
func (s *server) createOperator(username, role string) []byte {
	s.t.Helper()
	c, err := s.rt.Operators.Create(context.Background(), username, role, operatorPassword)
	if err != nil {
		s.t.Fatalf("create operator %s: %v", username, err)
	}
	secret, err := operator.DecodeSecret(c.TOTPSecret)
	if err != nil {
		s.t.Fatal(err)
	}
	return secret
}

// totp is the code an authenticator app shows now (the server's clock).
func (s *server) totp(secret []byte) string {
	return operator.Code(secret, operator.Step(s.clock.Now()))
}

func (s *server) adminLogin(username, password, code string) resp {
	s.t.Helper()
	return s.do("POST", "/api/v1/admin/sessions", "", map[string]string{"username": username, "password": password, "totp": code})
}

// operatorLogin creates an operator with the role and returns its op_ token.
func (s *server) operatorLogin(username, role string) string {
	s.t.Helper()
	secret := s.createOperator(username, role)
	tok := s.adminLogin(username, operatorPassword, s.totp(secret)).expect(s.t, 201, "").str("token")
	if !strings.HasPrefix(tok, operator.TokenPrefix) {
		s.t.Fatalf("operator token %q", tok)
	}
	return tok
}

// auditActions lists the actions of the audit log, oldest first, filtered by the query.
func (s *server) auditActions(token, query string) []string {
	s.t.Helper()
	r := s.do("GET", "/api/v1/admin/audit"+query, token, nil).expect(s.t, 200, "")
	items, _ := r.body["items"].([]any)
	out := make([]string, len(items))
	for i, it := range items {
		out[len(items)-1-i] = it.(map[string]any)["action"].(string)
	}
	return out
}

func TestOperatorLoginTOTP(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		secret := s.createOperator("alice", "admin")
		code := s.totp(secret)
		s.adminLogin("alice", operatorPassword, "").expect(t, 401, "operator-credentials-invalid")
		wrong := "000000"
		if wrong == code {
			wrong = "111111"
		}
		s.adminLogin("alice", operatorPassword, wrong).expect(t, 401, "operator-credentials-invalid")
		s.adminLogin("alice", "not-the-password", code).expect(t, 401, "operator-credentials-invalid")
		s.adminLogin("nobody", operatorPassword, code).expect(t, 401, "operator-credentials-invalid")
		ok := s.adminLogin("alice", operatorPassword, code).expect(t, 201, "")
		token := ok.str("token")
		if op := ok.body["operator"].(map[string]any); op["role"] != "admin" || ok.str("token_type") != "operator" {
			t.Fatalf("login answer %s", ok.raw)
		}
		// The same code again, within its window: refused, even with the right password.
		s.adminLogin("alice", operatorPassword, code).expect(t, 401, "operator-totp-reused")
		s.clock.Advance(10 * time.Second)
		s.adminLogin("alice", operatorPassword, code).expect(t, 401, "operator-totp-reused")

		// Token types do not cross: an app session cannot call /admin, an operator one cannot
		// call the app.
		app := s.login("13900001601")
		s.do("GET", "/api/v1/admin/me", app, nil).expect(t, 401, "operator-session-invalid")
		s.do("GET", "/api/v1/admin/channels", app, nil).expect(t, 401, "operator-session-invalid")
		s.do("GET", "/api/v1/me", token, nil).expect(t, 401, "session-invalid")
		s.do("GET", "/api/v1/admin/me", token, nil).expect(t, 200, "")

		// Sessions end after 30 idle minutes.
		s.clock.Advance(31 * time.Minute)
		s.do("GET", "/api/v1/admin/me", token, nil).expect(t, 401, "operator-session-invalid")

		// Brute force: the 5th failure locks, and then even the right code is refused until the
		// lock ends. The counter is in the database (shared by every instance).
		secret2 := s.createOperator("bob", "support")
		for i := 0; i < 4; i++ {
			s.adminLogin("bob", "guess-"+string(rune('a'+i)), s.totp(secret2)).expect(t, 401, "operator-credentials-invalid")
		}
		locked := s.adminLogin("bob", "guess-e", s.totp(secret2)).expect(t, 429, "operator-locked")
		if locked.header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After on the lock")
		}
		s.clock.Advance(operator.TOTPPeriod)
		s.adminLogin("bob", operatorPassword, s.totp(secret2)).expect(t, 429, "operator-locked")
		s.clock.Advance(operator.LockFor)
		bob := s.adminLogin("bob", operatorPassword, s.totp(secret2)).expect(t, 201, "").str("token")

		// The audit log has the failures and the logins (admins read it; support may not).
		s.do("GET", "/api/v1/admin/audit", bob, nil).expect(t, 403, "operator-permission-denied")
		s.clock.Advance(operator.TOTPPeriod)
		admin := s.adminLogin("alice", operatorPassword, s.totp(secret)).expect(t, 201, "").str("token")
		got := s.auditActions(admin, "?action=session.login_failed")
		// alice: empty code, wrong code, wrong password, reused twice = 5; bob: 5 failures + 1
		// refused while locked is answered before any check (not a failure) = 5.
		if len(got) != 10 {
			t.Fatalf("failed logins audited %d, want 10: %v", len(got), got)
		}
		if n := len(s.auditActions(admin, "?action=session.create")); n != 3 {
			t.Fatalf("logins audited %d, want 3", n)
		}
	})
}

func TestOperatorPermissions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		support := s.operatorLogin("sam", "support")
		finance := s.operatorLogin("fay", "finance")
		admin := s.operatorLogin("ada", "admin")
		s.do("GET", "/api/v1/admin/me", support, nil).expect(t, 200, "")
		ch := map[string]any{"code": "k16perm", "name": "权限渠道", "real_name_method": "id2"}
		s.do("POST", "/api/v1/admin/channels", support, ch).expect(t, 403, "operator-permission-denied")
		s.do("POST", "/api/v1/admin/channels", finance, ch).expect(t, 403, "operator-permission-denied")
		s.do("PUT", "/api/v1/admin/settings", support, map[string]any{"charging_enabled": false}).expect(t, 403, "operator-permission-denied")
		s.do("GET", "/api/v1/admin/channels", support, nil).expect(t, 200, "")
		s.do("GET", "/api/v1/admin/enterprises", support, nil).expect(t, 200, "")
		s.do("GET", "/api/v1/admin/dead-letters", support, nil).expect(t, 200, "")
		s.do("POST", "/api/v1/admin/dead-letters/1/replay", support, nil).expect(t, 403, "operator-permission-denied")
		s.do("GET", "/api/v1/admin/audit", finance, nil).expect(t, 403, "operator-permission-denied")

		// Finance actions: a support operator may read anomalies but not resolve them.
		if err := s.rt.Store.Do(context.Background(), func(ctx context.Context, tx ports.Tx) error {
			return tx.Anomalies().Record(ctx, ports.PaymentAnomaly{ID: "01anomalyk16o0000000000001", Kind: "amount_mismatch", OutTradeNo: "T16",
				TransactionID: "4200001616", Amount: kernel.Fen(99), At: s.clock.Now()})
		}); err != nil {
			t.Fatal(err)
		}
		list := s.do("GET", "/api/v1/admin/payment-anomalies", support, nil).expect(t, 200, "")
		if items := list.body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["resolved"] != false {
			t.Fatalf("anomalies %s", list.raw)
		}
		const resolve = "/api/v1/admin/payment-anomalies/01anomalyk16o0000000000001/resolve"
		s.do("POST", resolve, support, map[string]string{"note": "refunded"}).expect(t, 403, "operator-permission-denied")
		s.do("POST", resolve, finance, map[string]string{"note": ""}).expect(t, 422, "note-invalid")
		r := s.do("POST", resolve, finance, map[string]string{"note": "退款 0.99 元, 已联系付款人"}).expect(t, 200, "")
		if r.body["resolved"] != true || r.str("note") == "" {
			t.Fatalf("resolved %s", r.raw)
		}
		s.do("POST", resolve, admin, map[string]string{"note": "again"}).expect(t, 409, "anomaly-resolved")
		if open := s.do("GET", "/api/v1/admin/payment-anomalies", finance, nil).expect(t, 200, ""); len(open.body["items"].([]any)) != 0 {
			t.Fatalf("open anomalies after resolving %s", open.raw)
		}
		if all := s.do("GET", "/api/v1/admin/payment-anomalies?status=all", finance, nil).expect(t, 200, ""); len(all.body["items"].([]any)) != 1 {
			t.Fatalf("all anomalies %s", all.raw)
		}
		if got := s.auditActions(admin, "?target_type=payment_anomaly"); len(got) != 1 || got[0] != "anomaly.resolve" {
			t.Fatalf("anomaly audit %v", got)
		}
		// The refund permission: admin and finance, not support (the refunds route checks it).
		if operator.RoleSupport.Can(operator.PermRefund) || !operator.RoleFinance.Can(operator.PermRefund) {
			t.Fatal("refund permission table")
		}
	})
}

// The acceptance flow up to the refund: an operator creates a channel and a catalog
// item through the API; an app user switches to it, buys the item and pays through the WeChat
// Pay simulator; a later price change does not alter the placed order; the audit log shows
// each operator step.
func TestConsoleChannelCatalogOrderFlow(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		admin := s.operatorLogin("ada", "admin")
		ch := s.do("POST", "/api/v1/admin/channels", admin, map[string]any{"code": "k16flow", "name": "验收渠道",
			"real_name_method": "id2", "charging_enabled": true, "personal_cert_service": true}).expect(t, 201, "")
		if ch.body["active"] != true || ch.str("join_url") == "" || len(ch.body["catalog"].([]any)) != 0 {
			t.Fatalf("channel %s", ch.raw)
		}
		s.do("POST", "/api/v1/admin/channels", admin, map[string]any{"code": "k16flow", "name": "again", "real_name_method": "id2"}).
			expect(t, 409, "channel-code-taken")
		s.do("POST", "/api/v1/admin/channels", admin, map[string]any{"code": "BAD CODE", "name": "x", "real_name_method": "id2"}).
			expect(t, 422, "channel-code-invalid")
		item := map[string]any{"name": "签署套餐 20 次", "description": "20 次电子签署", "unit_price_fen": 2000,
			"grants": map[string]int{"signatures": 20}, "tax_code": "3040201000000000000", "tax_rate_bp": 600}
		put := s.do("PUT", "/api/v1/admin/channels/k16flow/catalog/pkg-sign-20", admin, item).expect(t, 201, "")
		if put.body["unit_price_fen"] != float64(2000) || put.str("tax_rate") == "" {
			t.Fatalf("item %s", put.raw)
		}
		s.do("PUT", "/api/v1/admin/channels/k16flow/catalog/pkg-bad", admin, map[string]any{"name": "x", "unit_price_fen": 0}).
			expect(t, 422, "catalog-price-invalid")

		// The user switches to the channel and sees the item at once (the cache was emptied).
		token, eid := s.orderSetup(0, "13600001601", "渠道买家", "861")
		s.do("PUT", "/api/v1/me/channel", token, map[string]string{"code": "k16flow"}).expect(t, 200, "")
		// Another instance may answer from its cache for up to sqlstore.ChannelCacheTTL.
		s.within(sqlstore.ChannelCacheTTL+5*time.Second, "the new item in the catalog", func() bool {
			cat := s.do("GET", "/api/v1/enterprises/"+eid+"/catalog", token, nil).expect(t, 200, "")
			items := cat.body["catalog"].([]any)
			return len(items) == 1 && items[0].(map[string]any)["sku"] == "pkg-sign-20"
		})
		o := s.placeOrder(token, eid, "", map[string]any{"items": []map[string]any{{"sku": "pkg-sign-20", "quantity": 2}}}).expect(t, 201, "")
		id := o.str("id")
		if o.body["total_fen"] != float64(4000) {
			t.Fatalf("order %s", o.raw)
		}
		// A price change never alters a placed order.
		item["unit_price_fen"] = 2500
		s.do("PUT", "/api/v1/admin/channels/k16flow/catalog/pkg-sign-20", admin, item).expect(t, 200, "")
		s.do("POST", "/api/v1/orders/"+id+"/wechat-pay", token, map[string]string{"trade_type": "jsapi", "openid": "o-k16o"}).expect(t, 200, "")
		s.do("POST", "/api/v1/sandbox/wechat-pay/orders/"+id+"/pay", "", nil).expect(t, 200, "")
		got := s.do("GET", "/api/v1/orders/"+id, token, nil).expect(t, 200, "")
		if got.str("status") != "paid" || got.body["total_fen"] != float64(4000) {
			t.Fatalf("paid order %s", got.raw)
		}
		s.eventually("the package granted", func() bool {
			q, _ := s.do("GET", "/api/v1/enterprises/"+eid, token, nil).body["quota"].(map[string]any)
			return q != nil && q["signatures"] == float64(40)
		})
		s.within(sqlstore.ChannelCacheTTL+5*time.Second, "the new price shown", func() bool {
			again := s.do("GET", "/api/v1/enterprises/"+eid+"/catalog", token, nil).expect(t, 200, "")
			return again.body["catalog"].([]any)[0].(map[string]any)["unit_price_fen"] == float64(2500)
		})

		// Editing the channel shows on the public channel page (every instance within the cache TTL).
		s.do("PUT", "/api/v1/admin/channels/k16flow", admin, map[string]any{"name": "验收渠道（新）"}).expect(t, 200, "")
		s.within(sqlstore.ChannelCacheTTL+5*time.Second, "the edited name shown", func() bool {
			return s.do("GET", "/api/v1/channels/k16flow", "", nil).expect(t, 200, "").str("name") == "验收渠道（新）"
		})
		s.do("PUT", "/api/v1/admin/channels/k16flow", admin, map[string]any{"real_name_method": "nope"}).expect(t, 422, "real-name-method-invalid")
		s.do("DELETE", "/api/v1/admin/channels/k16flow/catalog/nope", admin, nil).expect(t, 404, "catalog-item-not-found")

		// Settings.
		st := s.do("PUT", "/api/v1/admin/settings", admin, map[string]any{"charging_enabled": false}).expect(t, 200, "")
		if st.body["charging_enabled"] != false {
			t.Fatalf("settings %s", st.raw)
		}

		want := []string{"session.create", "channel.create", "catalog.put", "catalog.put", "channel.update", "settings.update"}
		if got := s.auditActions(admin, ""); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("audit %v, want %v", got, want)
		}
		// The audit keeps the price before and after.
		r := s.do("GET", "/api/v1/admin/audit?action=catalog.put&limit=1", admin, nil).expect(t, 200, "")
		e := r.body["items"].([]any)[0].(map[string]any)
		if e["before"].(map[string]any)["unit_price_fen"] != float64(2000) || e["after"].(map[string]any)["unit_price_fen"] != float64(2500) ||
			e["ip"] != "127.0.0.1" || e["username"] != "ada" || r.str("next_cursor") == "" {
			t.Fatalf("audit entry %s", r.raw)
		}
		next := s.do("GET", "/api/v1/admin/audit?action=catalog.put&limit=1&cursor="+r.str("next_cursor"), admin, nil).expect(t, 200, "")
		if items := next.body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["before"] != nil {
			t.Fatalf("second page %s", next.raw)
		}
		s.do("GET", "/api/v1/admin/audit?since=yesterday", admin, nil).expect(t, 422, "query-invalid")

		// Deactivating the enterprise revokes its organisation certificate.
		s.eventually("the organisation certificate", func() bool {
			d := s.do("GET", "/api/v1/admin/enterprises/"+eid, admin, nil)
			return d.status == 200 && d.str("certificate_serial") != ""
		})
		d := s.do("POST", "/api/v1/admin/enterprises/"+eid+"/deactivate", admin, map[string]string{"reason": "营业执照吊销"}).expect(t, 200, "")
		if d.body["active"] != false || d.str("certificate_serial") != "" || d.str("deactivated_at") == "" {
			t.Fatalf("deactivated %s", d.raw)
		}
		s.do("POST", "/api/v1/admin/enterprises/"+eid+"/deactivate", admin, map[string]string{"reason": "again"}).expect(t, 409, "enterprise-deactivated")
		s.do("GET", "/api/v1/enterprises/"+eid+"/certificate", token, nil).expect(t, 404, "")
		if got := s.auditActions(admin, "?target_id="+eid); len(got) != 1 || got[0] != "enterprise.deactivate" {
			t.Fatalf("deactivation audit %v", got)
		}
	})
}

func TestConsoleBannersAndDeadLetters(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		admin := s.operatorLogin("ada", "admin")
		img := s.uploadTo("/api/v1/admin/banner-images", admin, "", "banner.png", pngBytes(t, 750, 300)).expect(t, 201, "")
		fid := img.str("file_id")
		if img.str("purpose") != "banner" {
			t.Fatalf("upload %s", img.raw)
		}
		// An app user's upload is not a banner image, and an app user cannot upload one.
		app := s.login("13900001602")
		s.uploadTo("/api/v1/admin/banner-images", app, "", "banner.png", pngBytes(t, 750, 300)).expect(t, 401, "operator-session-invalid")
		now := s.clock.Now()
		b1 := s.do("POST", "/api/v1/admin/banners", admin, map[string]any{"title": "新用户礼包", "image_file_id": fid,
			"target_type": "catalog", "target_value": "q86804", "sort_order": 2}).expect(t, 201, "")
		s.do("POST", "/api/v1/admin/banners", admin, map[string]any{"image_file_id": fid, "target_type": "url",
			"target_value": "https://example.com/活动", "sort_order": 1}).expect(t, 201, "")
		s.do("POST", "/api/v1/admin/banners", admin, map[string]any{"image_file_id": fid, "target_type": "url",
			"target_value": "https://example.com/later", "starts_at": now.Add(10 * time.Minute)}).expect(t, 201, "")
		for _, bad := range []map[string]any{
			{"image_file_id": fid, "target_type": "url", "target_value": "javascript:alert(1)"},
			{"image_file_id": fid, "target_type": "url", "target_value": "ftp://example.com/x"},
			{"image_file_id": fid, "target_type": "catalog", "target_value": "nosuchchannel"},
			{"image_file_id": "01nosuchfile0000000000000", "target_type": "url", "target_value": "https://example.com"},
			{"image_file_id": fid, "target_type": "url", "target_value": "https://example.com", "starts_at": now, "ends_at": now},
		} {
			if r := s.do("POST", "/api/v1/admin/banners", admin, bad); r.status != 422 {
				t.Fatalf("banner %v: %d %s", bad, r.status, r.raw)
			}
		}
		pub := s.do("GET", "/api/v1/banners", "", nil).expect(t, 200, "")
		items := pub.body["items"].([]any)
		if len(items) != 2 || items[0].(map[string]any)["target_type"] != "url" || items[1].(map[string]any)["id"] != b1.str("id") {
			t.Fatalf("public banners %s", pub.raw)
		}
		st, h, raw := s.try("GET", items[1].(map[string]any)["image_url"].(string), "", nil)
		if st != 200 || h.Get("Content-Type") != "image/png" || len(raw) == 0 {
			t.Fatalf("banner image: %d %s", st, h.Get("Content-Type"))
		}
		// The scheduled one appears when its window opens; a deactivated one disappears.
		s.clock.Advance(11 * time.Minute)
		if n := len(s.do("GET", "/api/v1/banners", "", nil).expect(t, 200, "").body["items"].([]any)); n != 3 {
			t.Fatalf("banners after 11 minutes: %d", n)
		}
		s.do("PUT", "/api/v1/admin/banners/"+b1.str("id"), admin, map[string]any{"image_file_id": fid, "target_type": "catalog",
			"target_value": "q86804", "active": false}).expect(t, 200, "")
		if n := len(s.do("GET", "/api/v1/banners", "", nil).expect(t, 200, "").body["items"].([]any)); n != 2 {
			t.Fatalf("banners after deactivating one: %d", n)
		}
		s.do("GET", "/api/v1/banners/"+b1.str("id")+"/image", "", nil).expect(t, 404, "banner-not-found")
		s.do("DELETE", "/api/v1/admin/banners/"+b1.str("id"), admin, nil).expect(t, 204, "")
		s.do("DELETE", "/api/v1/admin/banners/"+b1.str("id"), admin, nil).expect(t, 404, "banner-not-found")

		// Dead letters: an order.paid event whose grant handler gave up is listed, inspected and
		// replayed (to that one handler, same message id), and the replay is audited.
		token, eid := s.orderSetup(1, "13600001603", "死信买家", "863")
		ev, _ := json.Marshal(order.Paid{OrderID: "01k16onosuchorder000000000", EnterpriseID: kernel.EnterpriseID(eid), TransactionID: "42000016", Total: 1, At: s.clock.Now()})
		_ = token
		poison, err := s.rt.Store.NewPoisonPublisher()
		if err != nil {
			t.Fatal(err)
		}
		msg := message.NewMessage(watermill.NewULID(), ev)
		msg.Metadata.Set("name", "order.paid")
		msg.Metadata.Set(middleware.PoisonedHandlerKey, "grant_order")
		msg.Metadata.Set(middleware.ReasonForPoisonedKey, "test: gave up")
		if err := poison.Publish(sqlstore.PoisonTopic, msg); err != nil {
			t.Fatal(err)
		}
		list := s.do("GET", "/api/v1/admin/dead-letters", admin, nil).expect(t, 200, "")
		dls := list.body["items"].([]any)
		if len(dls) != 1 || dls[0].(map[string]any)["handler"] != "grant_order" || dls[0].(map[string]any)["message_id"] != msg.UUID {
			t.Fatalf("dead letters %s", list.raw)
		}
		id := fmtAny(int64(dls[0].(map[string]any)["id"].(float64)))
		one := s.do("GET", "/api/v1/admin/dead-letters/"+id, admin, nil).expect(t, 200, "")
		if p, _ := one.body["payload"].(map[string]any); p == nil || p["order_id"] != "01k16onosuchorder000000000" {
			t.Fatalf("dead letter %s", one.raw)
		}
		s.do("GET", "/api/v1/admin/dead-letters/999999", admin, nil).expect(t, 404, "dead-letter-not-found")
		s.do("POST", "/api/v1/admin/dead-letters/"+id+"/replay", admin, nil).expect(t, 202, "")
		s.do("POST", "/api/v1/admin/dead-letters/"+id+"/replay", admin, nil).expect(t, 404, "dead-letter-not-found")
		if got := s.auditActions(admin, "?action=dead-letter.replay"); len(got) != 1 {
			t.Fatalf("replay audit %v", got)
		}
		want := []string{"session.create", "banner_image.upload", "banner.create", "banner.create", "banner.create", "banner.update",
			"banner.delete", "dead-letter.replay"}
		if got := s.auditActions(admin, ""); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("audit %v, want %v", got, want)
		}
	})
}
