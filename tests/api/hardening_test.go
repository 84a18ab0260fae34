package api

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/application"
)

// joinedMember makes a verified user an active plain member of eid; it returns the token.
func (s *server) joinedMember(admin, eid, phone, name, seq string) string {
	s.t.Helper()
	tok := s.verifiedUser(phone, name, idNumber(s.t, "440106", "19850101", seq))
	s.do("POST", "/api/v1/enterprises/"+eid+"/join-requests", tok, nil).expect(s.t, 201, "")
	id := s.memberIDs(admin, eid, "pending")[name]
	s.do("POST", "/api/v1/enterprises/"+eid+"/members/"+id+"/approve", admin, nil).expect(s.t, 200, "")
	return tok
}

// Issue 11 item 3: creating and reading an order's invoice follow the rule for reading the order
// (its placer or an admin of the enterprise); a plain member can neither use up the admin's
// order's invoice nor read it.
func TestInvoiceFollowsOrderVisibility(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		admin, eid := s.orderSetup(0, "13700000011", "管理甲", "911")
		member := s.joinedMember(admin, eid, "13700000012", "成员乙", "912")
		oid := s.paidOrder(admin, eid)
		s.do("GET", "/api/v1/orders/"+oid, member, nil).expect(t, 404, "order-not-found")
		body := map[string]any{"type": "vat_ordinary_digital", "title_type": "personal", "title": "成员乙"}
		s.requestInvoice(member, oid, "", body).expect(t, 404, "order-not-found")
		inv := s.requestInvoice(admin, oid, "", body).expect(t, 202, "")
		s.do("GET", "/api/v1/invoices/"+inv.str("id"), member, nil).expect(t, 404, "invoice-not-found")
		s.do("GET", "/api/v1/invoices/"+inv.str("id")+"/pdf", member, nil).expect(t, 404, "invoice-not-found")
		s.do("GET", "/api/v1/invoices/"+inv.str("id"), admin, nil).expect(t, 200, "")

		// The member's own order and its invoice are the member's; the admin sees them too.
		s.do("PUT", "/api/v1/me/channel", member, map[string]string{"code": "q86804"}).expect(t, 200, "")
		own := s.paidOrder(member, eid)
		minv := s.requestInvoice(member, own, "", body).expect(t, 202, "")
		s.do("GET", "/api/v1/invoices/"+minv.str("id"), member, nil).expect(t, 200, "")
		s.do("GET", "/api/v1/invoices/"+minv.str("id"), admin, nil).expect(t, 200, "")
	})
}

// Issue 11 item 10: GET /me lists the user's enterprises with roles (API.md), not a constant [].
func TestMeListsEnterprisesWithRoles(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		f := s.fixtures()[1]
		admin := s.verifiedUser("13700000021", "管理丙", idNumber(t, "440106", "19800101", "921"))
		eid := s.verifiedEnterprise(admin, f)
		member := s.joinedMember(admin, eid, "13700000022", "成员丁", "922")
		outsider := s.login("13700000023")
		for _, tc := range []struct {
			token, role string
		}{{admin, "admin"}, {member, "member"}} {
			me := s.do("GET", "/api/v1/me", tc.token, nil).expect(t, 200, "")
			es, _ := me.body["enterprises"].([]any)
			if len(es) != 1 {
				t.Fatalf("enterprises %s", me.raw)
			}
			e := es[0].(map[string]any)
			if e["id"] != eid || e["role"] != tc.role || e["name"] != f.name {
				t.Fatalf("enterprise %v, want %s as %s", e, eid, tc.role)
			}
		}
		me := s.do("GET", "/api/v1/me", outsider, nil).expect(t, 200, "")
		if es, ok := me.body["enterprises"].([]any); !ok || len(es) != 0 {
			t.Fatalf("outsider enterprises %s", me.raw)
		}
	})
}

// Issue 11 "Also": the link a channel's QR code encodes answers (not 404) until the H5 page
// serves it, and the link it hands back switches the channel.
func TestJoinLinkAnswers(t *testing.T) {
	s := start(t, "")
	ch := s.do("GET", "/api/v1/channels/q86804", "", nil).expect(t, 200, "")
	join := ch.str("join_url")
	if !strings.Contains(join, "/join?") {
		t.Fatalf("join url %q", join)
	}
	// The QR's target is the H5 join page (an HTML page with a strict CSP), never a 404.
	u, _ := url.Parse(join)
	res, err := http.Get(s.base + u.RequestURI())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(res.Header.Get("Content-Security-Policy"), "script-src 'self'") || !strings.Contains(string(body), "<div id=\"app\"") {
		t.Fatalf("join page: %d %v %.200s", res.StatusCode, res.Header, body)
	}
	// The page switches the channel with the scanned link itself.
	token := s.login("13700000031")
	s.do("PUT", "/api/v1/me/channel", token, map[string]string{"qr": join}).expect(t, 200, "")
}

// Issue 11 item 5: one open verification per initiator and credit code; amount tries are
// counted per credit code across every verification (and per initiator), so opening more
// verifications does not buy more guesses.
func TestMicroDepositTriesPerCreditCode(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		f := s.fixtures()[2]
		a := s.verifiedUser("13700000041", "甲经办", idNumber(t, "440106", "19870707", "941"))
		b := s.verifiedUser("13700000042", "乙经办", idNumber(t, "440106", "19870707", "942"))
		ida := s.startVerification(a, f, f.repPhone).expect(t, 201, "").str("id")
		s.startVerification(a, f, f.repPhone).expect(t, 409, "verification-open")
		idb := s.startVerification(b, f, f.repPhone).expect(t, 201, "").str("id")
		transfer := func(tok, id string) (int64, string) {
			s.do("POST", "/api/v1/enterprise-verifications/"+id+"/bank-transfer", tok, map[string]string{
				"account_number": "6222021234567890", "bank_name": "中国银行", "bank_province": "广东省"}).expect(t, 202, "")
			amount := s.remitted(tok, id)
			scan := s.upload(tok, "authorization_letter_scan", "l.gif", gifBytes(t)).expect(t, 201, "").str("file_id")
			return amount, scan
		}
		confirm := func(tok, id, scan string, fen int64) resp {
			return s.do("POST", "/api/v1/enterprise-verifications/"+id+"/bank-transfer/confirm", tok,
				map[string]any{"amount_fen": fen, "authorization_letter_file_id": scan})
		}
		amountA, scanA := transfer(a, ida)
		for range 3 {
			confirm(a, ida, scanA, amountA%99+1)
		}
		amountB, scanB := transfer(b, idb)
		confirm(b, idb, scanB, amountB%99+1).expect(t, 422, "transfer-amount-wrong")
		confirm(b, idb, scanB, amountB%99+1).expect(t, 422, "transfer-amount-wrong")
		// The sixth try of the day for this credit code is refused, even with the right amount.
		r := confirm(b, idb, scanB, amountB).expect(t, 429, "transfer-tries-daily-limit")
		if r.header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
	})
}

// Issue 11 item 4: a title the issuer cannot print is refused when the invoice is requested
// (422), not accepted and failed for good later.
func TestInvoiceTitleMustBePrintable(t *testing.T) {
	s := start(t, "")
	token, eid := s.orderSetup(0, "13700000051", "开票甲", "951")
	oid := s.paidOrder(token, eid)
	for _, title := range []string{"数信😀科技", "Cafe\u0301 公司", "\U0002A6D6公司"} {
		s.requestInvoice(token, oid, "", map[string]any{"type": "vat_ordinary_digital", "title_type": "personal", "title": title}).
			expect(t, 422, "invoice-text-unprintable")
	}
	s.requestInvoice(token, oid, "", map[string]any{"type": "vat_ordinary_digital", "title_type": "personal", "title": "开票甲"}).expect(t, 202, "")
}

// Issue 11 item 2: uploads are limited per user (UploadsPerUser an hour) in a durable counter:
// the next one answers 429 upload-rate-limited with Retry-After, and another user is not affected.
func TestUploadsPerUserAreLimited(t *testing.T) {
	s := start(t, "")
	tok := s.login("13700000051")
	img := pngBytes(t, 320, 120)
	for i := range application.UploadsPerUser {
		if r := s.upload(tok, "signature", "s.png", img); r.status != 201 {
			t.Fatalf("upload %d: %d %s", i+1, r.status, r.raw)
		}
	}
	r := s.upload(tok, "signature", "s.png", img).expect(t, 429, "upload-rate-limited")
	if r.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	s.upload(s.login("13700000052"), "signature", "s.png", img).expect(t, 201, "")
}

// A signing link (no login: the token is the credential) takes UploadsPerLink signature
// images an hour; then 429 upload-rate-limited with Retry-After, and the hour ending lets it
// upload again. Another link is counted apart.
func TestUploadsPerSigningLinkAreLimited(t *testing.T) {
	s := start(t, "")
	fx := s.fixtures()
	op := s.verifiedUser("13700001251", "钱经办", idNumber(t, "440106", "19880808", "251"))
	_, lp := s.linkToFace(t, op, fx[0], "13600001251")
	img := pngBytes(t, 320, 120)
	for i := range application.UploadsPerLink {
		if r := s.uploadLink(lp+"/signature-image", img); r.status != 201 {
			t.Fatalf("link upload %d: %d %s", i+1, r.status, r.raw)
		}
	}
	r := s.uploadLink(lp+"/signature-image", img).expect(t, 429, "upload-rate-limited")
	if r.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	s.clock.Advance(61 * time.Second)
	_, other := s.linkToFace(t, op, fx[1], "13600001252")
	s.uploadLink(other+"/signature-image", img).expect(t, 201, "")
	s.clock.Advance(time.Hour)
	s.uploadLink(lp+"/signature-image", img).expect(t, 201, "")
}
