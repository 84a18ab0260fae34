package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shuxinqian/server/tests/testdb"
)

// receiver is an integrator's webhook endpoint: it records every delivery and answers 500 to
// the first failFirst of them.
type receiver struct {
	*httptest.Server
	mu        sync.Mutex
	got       []delivered
	failFirst int
}

type delivered struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, failFirst int) *receiver {
	r := &receiver{failFirst: failFirst}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, delivered{header: req.Header.Clone(), body: b})
		n := len(r.got)
		r.mu.Unlock()
		if req.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		if n <= r.failFirst {
			http.Error(w, "temporarily broken", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func (r *receiver) at(i int) delivered {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[i]
}

// verifyWebhook is the README's recipe: HMAC-SHA256 over timestamp + "." + body with the
// secret, compared in constant time, and a timestamp no older than 5 minutes.
func verifyWebhook(secret string, h http.Header, body []byte, now time.Time) bool {
	ts := h.Get("Shuxinqian-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(body)))
	want := "v1=" + hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(h.Get("Shuxinqian-Signature")), []byte(want))
}

func forEachBackendWith(t *testing.T, extra map[string]string, fn func(t *testing.T, s *server)) {
	with := func(db string) map[string]string {
		env := map[string]string{"DATABASE_URL": db}
		for k, v := range extra {
			env[k] = v
		}
		return env
	}
	t.Run("sqlite", func(t *testing.T) { fn(t, startWith(t, with(""))) })
	t.Run("postgres", func(t *testing.T) { fn(t, startWith(t, with(testdb.PostgresSchemaDSN(t)))) })
}

// Issue 16: an integrator's endpoint receives a signed order.paid; a receiver that answers 500
// three times gets it on the fourth try (time driven by the fake clock); an old timestamp is
// detectable; a delivery is sent again on request; admins only; SSRF-safe URLs.
func TestWebhooks(t *testing.T) {
	forEachBackendWith(t, map[string]string{"WEBHOOK_POLL_INTERVAL": "20ms"}, func(t *testing.T, s *server) {
		token, eid := s.orderSetup(0, "13600000021", "对接人", "821")
		base := "/api/v1/enterprises/" + eid + "/webhooks"
		good, flaky := newReceiver(t, 0), newReceiver(t, 3)

		// Registration: the secret is shown once.
		created := s.do("POST", base, token, map[string]any{"url": good.URL + "/hooks?src=sxq", "events": []string{"order.paid", "member.joined"}}).
			expect(t, 201, "")
		secret, hookID := created.str("secret"), created.str("id")
		if !strings.HasPrefix(secret, "whsec_") || len(secret) < 40 || hookID == "" {
			t.Fatalf("created %s", created.raw)
		}
		f := s.do("POST", base, token, map[string]any{"url": flaky.URL, "events": []string{"order.paid"}}).expect(t, 201, "")
		flakySecret, flakyID := f.str("secret"), f.str("id")
		list := s.do("GET", base, token, nil).expect(t, 200, "")
		if items := list.body["items"].([]any); len(items) != 2 || strings.Contains(string(list.raw), secret) ||
			strings.Contains(string(list.raw), "secret") {
			t.Fatalf("list %s", list.raw)
		}

		// Refusals: bad URLs and event types, plain members and outsiders.
		for _, u := range []string{"ftp://example.com/x", "https://user:pw@example.com/", "not a url", "https://example.com/#frag", "/relative"} {
			s.do("POST", base, token, map[string]any{"url": u, "events": []string{"order.paid"}}).expect(t, 422, "webhook-url-invalid")
		}
		s.do("POST", base, token, map[string]any{"url": good.URL, "events": []string{"order.refunded.maybe"}}).expect(t, 422, "webhook-events-invalid")
		s.do("POST", base, token, map[string]any{"url": good.URL, "events": []string{}}).expect(t, 422, "webhook-events-invalid")
		outsider := s.verifiedUser("13600000022", "路人", idNumber(t, "440106", "19800101", "822"))
		s.do("GET", base, outsider, nil).expect(t, 404, "enterprise-not-found")
		s.do("POST", base, outsider, map[string]any{"url": good.URL, "events": []string{"order.paid"}}).expect(t, 404, "enterprise-not-found")

		// Pay an order: both endpoints get order.paid.
		o := s.placeOrder(token, eid, "", map[string]any{"items": []map[string]any{{"sku": "pkg-sign-50", "quantity": 1}}}).expect(t, 201, "")
		oid := o.str("id")
		s.do("POST", "/api/v1/orders/"+oid+"/wechat-pay", token, map[string]string{"trade_type": "jsapi", "openid": "o-test-openid"}).expect(t, 200, "")
		s.do("POST", "/api/v1/sandbox/wechat-pay/orders/"+oid+"/pay", "", nil).expect(t, 200, "")
		s.eventually("order.paid delivered", func() bool { return good.count() == 1 })
		d := good.at(0)
		if !verifyWebhook(secret, d.header, d.body, s.clock.Now()) {
			t.Fatalf("signature does not verify: %v %s", d.header, d.body)
		}
		var ev struct {
			ID        string         `json:"id"`
			Type      string         `json:"type"`
			CreatedAt time.Time      `json:"created_at"`
			Data      map[string]any `json:"data"`
		}
		if err := json.Unmarshal(d.body, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type != "order.paid" || ev.ID == "" || ev.ID != d.header.Get("Shuxinqian-Event-Id") || ev.CreatedAt.IsZero() ||
			ev.Data["order_id"] != oid || ev.Data["enterprise_id"] != eid || ev.Data["total_fen"] != float64(15000) ||
			d.header.Get("Content-Type") != "application/json" {
			t.Fatalf("event %s %v", d.body, d.header)
		}
		// A replay of this delivery later is detectable: the timestamp is old, and a fresh
		// timestamp does not match the signature.
		if verifyWebhook(secret, d.header, d.body, s.clock.Now().Add(10*time.Minute)) {
			t.Fatal("an old delivery verified")
		}
		forged := d.header.Clone()
		forged.Set("Shuxinqian-Timestamp", strconv.FormatInt(s.clock.Now().Add(10*time.Minute).Unix(), 10))
		if verifyWebhook(secret, forged, d.body, s.clock.Now().Add(10*time.Minute)) {
			t.Fatal("a re-stamped delivery verified")
		}
		if verifyWebhook(flakySecret, d.header, d.body, s.clock.Now()) {
			t.Fatal("another endpoint's secret verified")
		}

		// The flaky receiver: 500, 500, 500, then 2xx, each retry after the backoff.
		s.eventually("first attempt", func() bool { return flaky.count() == 1 })
		deliveries := func() map[string]any {
			r := s.do("GET", base+"/"+flakyID+"/deliveries", token, nil).expect(t, 200, "")
			items := r.body["items"].([]any)
			if len(items) != 1 {
				t.Fatalf("deliveries %s", r.raw)
			}
			return items[0].(map[string]any)
		}
		s.eventually("first attempt logged", func() bool { return deliveries()["attempts"] == float64(1) })
		first := deliveries()
		next, _ := time.Parse(time.RFC3339Nano, fmtAny(first["next_attempt_at"]))
		if first["status"] != "pending" || first["last_status_code"] != float64(500) ||
			next.Sub(s.clock.Now()) < 20*time.Second || next.Sub(s.clock.Now()) > 40*time.Second {
			t.Fatalf("after the first failure %v (now %s)", first, s.clock.Now())
		}
		for want := 2; want <= 4; want++ {
			s.clock.Advance(5 * time.Minute)
			s.eventually("attempt "+strconv.Itoa(want), func() bool { return flaky.count() == want })
			s.eventually("attempt logged", func() bool { return deliveries()["attempts"] == float64(want) })
		}
		final := deliveries()
		log := final["log"].([]any)
		if final["status"] != "delivered" || len(log) != 4 || log[0].(map[string]any)["status_code"] != float64(204) ||
			log[3].(map[string]any)["status_code"] != float64(500) || !strings.Contains(fmtAny(log[3].(map[string]any)["response"]), "temporarily broken") {
			t.Fatalf("delivery log %v", final)
		}
		ids := map[string]bool{}
		for i := range 4 {
			g := flaky.at(i)
			ids[g.header.Get("Shuxinqian-Event-Id")] = true
			sent, _ := strconv.ParseInt(g.header.Get("Shuxinqian-Timestamp"), 10, 64) // signed when it was sent
			if !verifyWebhook(flakySecret, g.header, g.body, time.Unix(sent, 0)) || string(g.body) != string(flaky.at(0).body) {
				t.Fatalf("attempt %d not signed or not the same body", i+1)
			}
		}
		if len(ids) != 1 || !ids[ev.ID] {
			t.Fatalf("event ids across attempts %v", ids)
		}
		s.clock.Advance(time.Hour)
		if flaky.count() != 4 {
			t.Fatal("a delivered event was sent again")
		}

		// Redelivery: the same event id and body, freshly signed.
		gd := s.do("GET", base+"/"+hookID+"/deliveries", token, nil).expect(t, 200, "").body["items"].([]any)[0].(map[string]any)
		r := s.do("POST", base+"/"+hookID+"/deliveries/"+fmtAny(gd["id"])+"/redeliver", token, nil).expect(t, 202, "")
		if r.str("status") != "pending" {
			t.Fatalf("redeliver %s", r.raw)
		}
		s.eventually("redelivered", func() bool { return good.count() == 2 })
		again := good.at(1)
		if again.header.Get("Shuxinqian-Event-Id") != ev.ID || string(again.body) != string(d.body) || !verifyWebhook(secret, again.header, again.body, s.clock.Now()) {
			t.Fatalf("redelivery %v %s", again.header, again.body)
		}
		s.do("POST", base+"/"+hookID+"/deliveries/nope/redeliver", token, nil).expect(t, 404, "webhook-delivery-not-found")

		// member.joined carries ids, not the member's name or phone.
		bob := s.verifiedUser("13600000023", "鲍勃", idNumber(t, "440106", "19810101", "823"))
		s.do("POST", "/api/v1/enterprises/"+eid+"/join-requests", bob, nil).expect(t, 201, "")
		s.do("POST", "/api/v1/enterprises/"+eid+"/members/"+s.memberIDs(token, eid, "pending")["鲍勃"]+"/approve", token, nil).expect(t, 200, "")
		s.eventually("member.joined", func() bool { return good.count() == 3 })
		mj := good.at(2)
		if !strings.Contains(string(mj.body), `"type":"member.joined"`) || strings.Contains(string(mj.body), "鲍勃") ||
			strings.Contains(string(mj.body), "13600000023") || !verifyWebhook(secret, mj.header, mj.body, s.clock.Now()) {
			t.Fatalf("member.joined %s", mj.body)
		}
		s.do("GET", base, bob, nil).expect(t, 403, "admin-only")

		// Delete: gone from the list, its log no longer served.
		s.do("DELETE", base+"/"+flakyID, bob, nil).expect(t, 403, "admin-only")
		s.do("DELETE", base+"/"+flakyID, token, nil).expect(t, 204, "")
		s.do("DELETE", base+"/"+flakyID, token, nil).expect(t, 404, "webhook-not-found")
		s.do("GET", base+"/"+flakyID+"/deliveries", token, nil).expect(t, 404, "webhook-not-found")
		if items := s.do("GET", base, token, nil).expect(t, 200, "").body["items"].([]any); len(items) != 1 {
			t.Fatalf("after delete %v", items)
		}
	})
}
