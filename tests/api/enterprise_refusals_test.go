package api

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

// Refusals of manual §5 with their codes, none of which changes state.
func TestEnterpriseRefusals(t *testing.T) {
	s := start(t, "")
	fx := s.fixtures()
	f := fx[3]
	// Not verified: 403 with the code that sends the app to real-name verification.
	plain := s.login("13500001111")
	s.do("POST", "/api/v1/enterprise-verifications", plain, map[string]any{"enterprise_name": f.name, "legal_rep_id_number": f.repID,
		"legal_rep_phone": f.repPhone, "business_licence_file_id": s.licence(plain), "agreement_accepted": true}).expect(t, 403, "real-name-required")

	op := s.verifiedUser("13500002222", "钱经办", idNumber(t, "440106", "19860606", "555"))
	lic := s.licence(op)
	body := func(mod func(map[string]any)) map[string]any {
		b := map[string]any{"enterprise_name": f.name, "legal_rep_id_number": f.repID, "legal_rep_phone": f.repPhone,
			"business_licence_file_id": lic, "agreement_accepted": true}
		mod(b)
		return b
	}
	post := func(b map[string]any) resp { return s.do("POST", "/api/v1/enterprise-verifications", op, b) }
	post(body(func(b map[string]any) { b["agreement_accepted"] = false })).expect(t, 422, "agreement-required")
	post(body(func(b map[string]any) { b["enterprise_name"] = "不存在的公司" })).expect(t, 404, "registry-enterprise-not-found")
	post(body(func(b map[string]any) { b["legal_rep_id_number"] = idNumber(t, "440106", "19700101", "666") })).expect(t, 422, "legal-rep-mismatch")
	post(body(func(b map[string]any) { b["legal_rep_id_number"] = "123" })).expect(t, 422, "id-number-format")
	post(body(func(b map[string]any) { b["legal_rep_phone"] = "123" })).expect(t, 422, "phone-invalid")
	sigFile := s.upload(op, "signature", "s.png", pngBytes(t, 300, 100)).expect(t, 201, "").str("file_id")
	post(body(func(b map[string]any) { b["business_licence_file_id"] = sigFile })).expect(t, 422, "file-purpose-mismatch")
	post(body(func(b map[string]any) { b["business_licence_file_id"] = "nope" })).expect(t, 404, "file-not-found")

	// An operator cannot sign in the app; the legal rep signs through the link.
	v := post(body(func(map[string]any) {})).expect(t, 201, "")
	id := v.str("id")
	sig := s.do("POST", "/api/v1/me/signatures", op, map[string]any{"generate": true}).expect(t, 201, "").str("id")
	s.do("POST", "/api/v1/enterprise-verifications/"+id+"/sign", op, map[string]string{"signature_id": sig, "code": "123456"}).expect(t, 403, "legal-rep-only")
	// Resending within 60 s is refused; the link expires after 7 days.
	s.do("POST", "/api/v1/enterprise-verifications/"+id+"/authorization-link", op, nil).expect(t, 429, "authorization-link-resend-too-soon")
	url := v.body["link"].(map[string]any)["url"].(string)
	token := url[len(url)-43:]
	s.clock.Advance(7*24*time.Hour + time.Second)
	s.do("GET", "/api/v1/authorization-links/"+token, "", nil).expect(t, 410, "authorization-link-expired")
	s.do("POST", "/api/v1/authorization-links/"+token+"/sms-codes", "", map[string]string{"purpose": "verify_phone"}).expect(t, 410, "authorization-link-expired")
	// A resend gives a fresh link.
	r := s.do("POST", "/api/v1/enterprise-verifications/"+id+"/authorization-link", op, nil).expect(t, 200, "")
	fresh := r.str("url")
	s.do("GET", "/api/v1/authorization-links/"+fresh[len(fresh)-43:], "", nil).expect(t, 200, "")
	// The letter template is public.
	if st, h, b := s.get("/api/v1/authorization-letter-template.pdf", "", ""); st != 200 || h.Get("Content-Type") != "application/pdf" || len(b) < 1000 {
		t.Fatalf("template %d", st)
	}
	// No signature before signing.
	s.do("GET", "/api/v1/enterprise-verifications/"+id+"/authorization-letter.p7s", op, nil).expect(t, 404, "letter-not-signed")
	// Bank transfer input checks.
	bt := func(b map[string]string) resp {
		return s.do("POST", "/api/v1/enterprise-verifications/"+id+"/bank-transfer", op, b)
	}
	bt(map[string]string{"account_number": "12ab", "bank_name": "工行", "bank_province": "广东"}).expect(t, 422, "bank-account-invalid")
	bt(map[string]string{"account_number": "6222021234567890", "bank_name": "", "bank_province": "广东"}).expect(t, 422, "bank-name-invalid")
	s.do("POST", "/api/v1/enterprise-verifications/"+id+"/bank-transfer/confirm", op, map[string]any{"amount_fen": 12, "authorization_letter_file_id": "x"}).
		expect(t, 404, "file-not-found")
}

// Two users finishing the verification of one credit code at the same moment: exactly one
// enterprise. Run on both databases; the Postgres run is the one the issue asks for.
func TestConcurrentVerificationOfOneCreditCode(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		f := s.fixtures()[4]
		type party struct {
			token, id string
			amount    int64
			scan      string
		}
		var ps []party
		for i, phone := range []string{"13300001111", "13300002222"} {
			tok := s.verifiedUser(phone, []string{"甲经办", "乙经办"}[i], idNumber(t, "440106", "19850101", []string{"777", "888"}[i]))
			id := s.startVerification(tok, f, f.repPhone).expect(t, 201, "").str("id")
			s.do("POST", "/api/v1/enterprise-verifications/"+id+"/bank-transfer", tok, map[string]string{
				"account_number": "6222021234567890", "bank_name": "中国银行", "bank_province": "广东省"}).expect(t, 202, "")
			ps = append(ps, party{token: tok, id: id, amount: s.remitted(tok, id),
				scan: s.upload(tok, "authorization_letter_scan", "l.gif", gifBytes(t)).expect(t, 201, "").str("file_id")})
		}
		var wg sync.WaitGroup
		results := make([]resp, len(ps))
		startLine := make(chan struct{})
		for i, p := range ps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-startLine
				st, h, raw := s.try("POST", "/api/v1/enterprise-verifications/"+p.id+"/bank-transfer/confirm", p.token,
					map[string]any{"amount_fen": p.amount, "authorization_letter_file_id": p.scan})
				results[i] = resp{status: st, header: h, raw: raw}
				_ = jsonUnmarshal(raw, &results[i].body)
			}()
		}
		close(startLine)
		wg.Wait()
		won, lost := 0, 0
		for _, r := range results {
			switch {
			case r.status == http.StatusOK:
				won++
			case r.status == http.StatusConflict && r.body["error"].(map[string]any)["code"] == "enterprise-already-verified":
				lost++
			default:
				t.Fatalf("unexpected answer %d %s", r.status, r.raw)
			}
		}
		if won != 1 || lost != 1 {
			t.Fatalf("won %d lost %d", won, lost)
		}
		enterprises := 0
		for i, p := range ps {
			items := s.do("GET", "/api/v1/enterprises", p.token, nil).body["items"].([]any)
			enterprises += len(items)
			st := s.do("GET", "/api/v1/enterprise-verifications/"+p.id, p.token, nil).str("status")
			if results[i].status == http.StatusOK && st != "verified" || results[i].status != http.StatusOK && st != "superseded" {
				t.Fatalf("party %d status %s", i, st)
			}
		}
		if enterprises != 1 {
			t.Fatalf("%d enterprise memberships for one credit code", enterprises)
		}
	})
}
