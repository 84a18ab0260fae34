package api

import (
	"bytes"
	"encoding/pem"
	"image"
	"image/color"
	"image/gif"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// registryFixture is one enterprise of the sandbox registry (GET /api/v1/sandbox/business-registry).
type registryFixture struct{ name, code, rep, repID, repPhone string }

func (s *server) fixtures() []registryFixture {
	s.t.Helper()
	r := s.do("GET", "/api/v1/sandbox/business-registry", "", nil).expect(s.t, 200, "")
	var out []registryFixture
	for _, it := range r.body["items"].([]any) {
		m := it.(map[string]any)
		out = append(out, registryFixture{fmtAny(m["name"]), fmtAny(m["credit_code"]), fmtAny(m["legal_rep_name"]),
			fmtAny(m["legal_rep_id_number"]), fmtAny(m["legal_rep_phone"])})
	}
	if len(out) < 3 {
		s.t.Fatalf("registry fixtures %s", r.raw)
	}
	return out
}

// verifiedUser logs a phone in and verifies its real name.
func (s *server) verifiedUser(phone, name, id string) string {
	s.t.Helper()
	token := s.login(phone)
	s.do("POST", "/api/v1/me/real-name", token, map[string]any{"name": name, "id_number": id, "consent": true}).expect(s.t, 200, "")
	return token
}

func (s *server) licence(token string) string {
	s.t.Helper()
	return s.upload(token, "business_licence", "licence.png", pngBytes(s.t, 640, 480)).expect(s.t, 201, "").str("file_id")
}

func (s *server) startVerification(token string, f registryFixture, repPhone string) resp {
	s.t.Helper()
	return s.do("POST", "/api/v1/enterprise-verifications", token, map[string]any{"enterprise_name": f.name,
		"legal_rep_id_number": f.repID, "legal_rep_phone": repPhone, "business_licence_file_id": s.licence(token), "agreement_accepted": true})
}

// orgCertificate waits for the organisation certificate (issued by a consumer) and verifies it.
func (s *server) orgCertificate(token, enterpriseID string, f registryFixture) {
	s.t.Helper()
	var pemBytes []byte
	s.eventually("organisation certificate", func() bool {
		st, _, b := s.get("/api/v1/enterprises/"+enterpriseID+"/certificate", token, "application/x-pem-file")
		pemBytes = b
		return st == 200
	})
	_, _, caPEM := s.get("/api/v1/ca.pem", "", "")
	verifyChainAt(s.t, pemBytes, caPEM, f.name, "", s.clock.Now())
	if !strings.Contains(string(pemBytes), "CERTIFICATE") {
		s.t.Fatal("no PEM")
	}
	blk, _ := pem.Decode(pemBytes)
	if !bytes.Contains(blk.Bytes, []byte(f.code)) {
		s.t.Fatal("the organisation certificate does not carry the credit code")
	}
}

func gifBytes(t *testing.T) []byte {
	t.Helper()
	img := image.NewPaletted(image.Rect(0, 0, 200, 280), []color.Color{color.White, color.Black})
	var b bytes.Buffer
	if err := gif.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Manual §5.1: the legal rep starts the verification and signs in the app.
func TestEnterpriseLegalRepInApp(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		f := s.fixtures()[0]
		token := s.verifiedUser(f.repPhone, f.rep, f.repID)
		r := s.do("GET", "/api/v1/business-registry?name="+url.QueryEscape(f.name), token, nil).expect(t, 200, "")
		if r.str("credit_code") != f.code || r.str("legal_rep_name") == f.rep {
			t.Fatalf("registry %s", r.raw)
		}
		v := s.startVerification(token, f, f.repPhone).expect(t, 201, "")
		if v.str("initiator_role") != "legal_rep" || v.str("method") != "legal_rep_authorization" || v.str("next_step") != "sign_in_app" {
			t.Fatalf("start %s", v.raw)
		}
		id := v.str("id")
		st, h, pdf := s.get("/api/v1/enterprise-verifications/"+id+"/authorization-letter.pdf", token, "")
		if st != 200 || h.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
			t.Fatalf("letter %d", st)
		}
		sig := s.do("POST", "/api/v1/me/signatures", token, map[string]any{"generate": true}).expect(t, 201, "").str("id")
		signPath := "/api/v1/enterprise-verifications/" + id + "/sign"
		// The letter is signed with the legal rep's own personal key: without one, set a signing password first.
		s.do("POST", signPath, token, map[string]string{"signature_id": sig, "code": "123456", "signing_password": "Sign1234x"}).
			expect(t, 422, "certificate-missing")
		s.do("PUT", "/api/v1/me/channel", token, map[string]string{"code": "q86804"}).expect(t, 200, "")
		s.do("PUT", "/api/v1/me/signing-password", token, map[string]string{"password": "Sign1234x", "password_confirmation": "Sign1234x"}).expect(t, 201, "")
		s.do("POST", signPath, token, map[string]string{"signature_id": sig, "code": "123456"}).expect(t, 422, "signing-password-required")
		s.do("POST", signPath, token, map[string]string{"signature_id": sig, "code": "123456", "signing_password": "Sign1234x"}).
			expect(t, 422, "sms-code-not-requested")
		s.clock.Advance(61 * time.Second)
		s.do("POST", "/api/v1/sms-codes", token, map[string]string{"purpose": "sign"}).expect(t, 202, "")
		code := s.lastCode(f.repPhone)
		// A wrong signing password counts towards the lock, and the code is not spent.
		w := s.do("POST", signPath, token, map[string]string{"signature_id": sig, "code": code, "signing_password": "Wrong0000x"}).
			expect(t, 422, "signing-password-wrong")
		if d := w.body["error"].(map[string]any)["details"].(map[string]any); d["attempts_left"] != float64(4) {
			t.Fatalf("attempts_left %v", d["attempts_left"])
		}
		r = s.do("POST", signPath, token, map[string]string{"signature_id": sig, "code": code, "signing_password": "Sign1234x"}).expect(t, 200, "")
		if r.str("status") != "verified" || r.str("enterprise_id") == "" {
			t.Fatalf("sign %s", r.raw)
		}
		// The signed letter and its detached CMS signature verify against the CA.
		_, _, signed := s.get("/api/v1/enterprise-verifications/"+id+"/authorization-letter.pdf", token, "")
		_, _, p7s := s.get("/api/v1/enterprise-verifications/"+id+"/authorization-letter.p7s", token, "")
		_, _, caPEM := s.get("/api/v1/ca.pem", "", "")
		opensslCMSVerify(t, signed, p7s, caPEM)
		// Signed with the legal rep's own personal certificate, time-stamped.
		d := verdict(t, s.verifySignature(signed, p7s).expect(t, 200, ""))
		if d["trusted"] != true || d["timestamped"] != true ||
			d["certificate_serial"] != s.do("GET", "/api/v1/me/certificate", token, nil).str("serial") {
			t.Fatalf("in-app signature %v", d)
		}
		// The enterprise, with the legal rep as legal_rep member.
		list := s.do("GET", "/api/v1/enterprises", token, nil).expect(t, 200, "")
		items := list.body["items"].([]any)
		if len(items) != 1 || items[0].(map[string]any)["role"] != "legal_rep" || items[0].(map[string]any)["credit_code"] != f.code {
			t.Fatalf("enterprises %s", list.raw)
		}
		s.orgCertificate(token, r.str("enterprise_id"), f)
		// A second verification of the credit code: 409 with the hint to join.
		other := s.verifiedUser("13900001111", "周八", idNumber(t, "440106", "19900101", "111"))
		e := s.startVerification(other, f, f.repPhone).expect(t, 409, "enterprise-already-verified")
		if d, _ := e.body["error"].(map[string]any)["details"].(map[string]any); d["hint"] != "join" {
			t.Fatalf("no join hint: %s", e.raw)
		}
		// Another user cannot see the verification or the enterprise.
		s.do("GET", "/api/v1/enterprise-verifications/"+id, other, nil).expect(t, 404, "verification-not-found")
		s.do("GET", "/api/v1/enterprises/"+r.str("enterprise_id"), other, nil).expect(t, 404, "enterprise-not-found")
	})
}

// Manual §5.2 + §5.2.1: an operator starts; the legal rep signs through the SMS link with a face check.
func TestEnterpriseOperatorLink(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		f := s.fixtures()[1]
		op := s.verifiedUser("13700001234", "吴经办", idNumber(t, "440106", "19880808", "222"))
		v := s.startVerification(op, f, "13600002222").expect(t, 201, "")
		id := v.str("id")
		link := v.body["link"].(map[string]any)
		if v.str("initiator_role") != "operator" || v.str("next_step") != "legal_rep_signs_by_link" || link["url"] == nil {
			t.Fatalf("start %s", v.raw)
		}
		if st, h, _ := s.get(fmtAny(link["qr_png_url"]), op, ""); st != 200 || h.Get("Content-Type") != "image/png" {
			t.Fatalf("link QR %d", st)
		}
		// The wrong phone got the SMS; the operator corrects it: the old link dies.
		oldURL := fmtAny(link["url"])
		s.eventually("the link texted to the legal rep's phone", func() bool {
			return strings.Contains(fmtAny(s.do("GET", "/api/v1/sandbox/sms?phone=13600002222", "", nil).body["items"]), oldURL)
		})
		v = s.do("PUT", "/api/v1/enterprise-verifications/"+id+"/legal-rep-phone", op, map[string]string{"phone": f.repPhone}).expect(t, 200, "")
		newURL := fmtAny(v.body["link"].(map[string]any)["url"])
		s.eventually("the new link texted to the corrected phone", func() bool {
			return strings.Contains(fmtAny(s.do("GET", "/api/v1/sandbox/sms?phone="+f.repPhone, "", nil).body["items"]), newURL)
		})
		oldToken, token := oldURL[strings.LastIndex(oldURL, "/")+1:], newURL[strings.LastIndex(newURL, "/")+1:]
		s.do("GET", "/api/v1/authorization-links/"+oldToken, "", nil).expect(t, 410, "authorization-link-revoked")
		s.do("GET", "/api/v1/authorization-links/nope-nope-nope-nope-nope-nope-nope-nope", "", nil).expect(t, 404, "authorization-link-not-found")
		page := s.do("GET", "/api/v1/authorization-links/"+token, "", nil).expect(t, 200, "")
		if page.str("enterprise_name") != f.name || page.str("phone") == f.repPhone {
			t.Fatalf("link page %s", page.raw)
		}
		lp := "/api/v1/authorization-links/" + token
		// Signing before the steps: refused.
		s.do("POST", lp+"/sign", "", map[string]any{"code": "123456", "generate": true}).expect(t, 422, "link-phone-not-verified")
		// Prove the phone, start the face check.
		s.do("POST", lp+"/sms-codes", "", map[string]string{"purpose": "verify_phone"}).expect(t, 202, "")
		lv := s.do("POST", lp+"/liveness", "", map[string]string{"code": s.lastCode(f.repPhone)}).expect(t, 200, "")
		// A face check of another person does not count.
		s.do("POST", "/api/v1/sandbox/liveness/"+lv.str("session_id"), "", map[string]any{"result": "pass",
			"as": map[string]string{"name": "冒名者", "id_number": idNumber(t, "110105", "19700101", "333")}}).expect(t, 200, "")
		if p := s.do("GET", lp, "", nil); p.body["steps"].(map[string]any)["liveness_passed"] != false {
			t.Fatalf("another person's face passed: %s", p.raw)
		}
		s.do("POST", lp+"/sign", "", map[string]any{"code": "123456", "generate": true}).expect(t, 422, "link-liveness-required")
		// A failed face check, then a real one.
		s.clock.Advance(61 * time.Second)
		lv = s.do("POST", lp+"/liveness", "", map[string]string{"code": ""}).expect(t, 200, "")
		s.do("POST", "/api/v1/sandbox/liveness/"+lv.str("session_id"), "", map[string]any{"result": "fail"}).expect(t, 200, "")
		if p := s.do("GET", lp, "", nil); p.body["steps"].(map[string]any)["liveness_passed"] != false {
			t.Fatal("failed face check passed")
		}
		lv = s.do("POST", lp+"/liveness", "", map[string]string{"code": ""}).expect(t, 200, "")
		s.do("POST", "/api/v1/sandbox/liveness/"+lv.str("session_id"), "", map[string]any{"result": "pass"}).expect(t, 200, "")
		if p := s.do("GET", lp, "", nil); p.body["steps"].(map[string]any)["liveness_passed"] != true {
			t.Fatalf("face check not recorded: %s", p.raw)
		}
		// Sign with a drawn signature and a sign code.
		img := s.uploadLink(lp+"/signature-image", pngBytes(t, 320, 120)).expect(t, 201, "").str("file_id")
		s.do("POST", lp+"/sms-codes", "", map[string]string{"purpose": "sign"}).expect(t, 202, "")
		r := s.do("POST", lp+"/sign", "", map[string]any{"code": s.lastCode(f.repPhone), "signature_image_file_id": img}).expect(t, 200, "")
		if r.str("status") != "verified" {
			t.Fatalf("sign %s", r.raw)
		}
		// The link is used up.
		s.do("GET", lp, "", nil).expect(t, 410, "authorization-link-used")
		v = s.do("GET", "/api/v1/enterprise-verifications/"+id, op, nil).expect(t, 200, "")
		_, _, signed := s.get("/api/v1/enterprise-verifications/"+id+"/authorization-letter.pdf", op, "")
		_, _, p7s := s.get("/api/v1/enterprise-verifications/"+id+"/authorization-letter.p7s", op, "")
		_, _, caPEM := s.get("/api/v1/ca.pem", "", "")
		opensslCMSVerify(t, signed, p7s, caPEM)
		// The operator is admin; the legal rep has no account, so no legal_rep member yet.
		list := s.do("GET", "/api/v1/enterprises", op, nil).expect(t, 200, "")
		if items := list.body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["role"] != "admin" {
			t.Fatalf("enterprises %s", list.raw)
		}
		s.orgCertificate(op, v.str("enterprise_id"), f)
	})
}

// Manual §5.2.2: corporate bank transfer (micro-deposit) with the scan of the signed letter.
func TestEnterpriseBankTransfer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		f := s.fixtures()[2]
		// The legal rep has an account: it becomes a legal_rep member.
		rep := s.verifiedUser(f.repPhone, f.rep, f.repID)
		op := s.verifiedUser("13700004321", "郑经办", idNumber(t, "440106", "19870707", "444"))
		id := s.startVerification(op, f, f.repPhone).expect(t, 201, "").str("id")
		bt := func() resp {
			return s.do("POST", "/api/v1/enterprise-verifications/"+id+"/bank-transfer", op, map[string]string{
				"account_number": "6222 0212 3456 7890", "bank_name": "中国工商银行", "bank_province": "广东省", "bank_branch": "深圳分行"})
		}
		v := bt().expect(t, 202, "")
		if v.str("method") != "bank_transfer" || !strings.HasSuffix(fmtAny(v.body["transfer"].(map[string]any)["account_number"]), "7890") ||
			strings.Contains(string(v.raw), "6222021234567890") {
			t.Fatalf("transfer %s", v.raw)
		}
		amount := s.remitted(op, id)
		scanID := s.upload(op, "authorization_letter_scan", "letter.gif", gifBytes(t)).expect(t, 201, "").str("file_id")
		s.upload(op, "authorization_letter_scan", "letter.pdf", []byte("%PDF-1.4\n%%EOF\n")).expect(t, 422, "file-pdf-not-allowed")
		confirm := func(fen int64) resp {
			return s.do("POST", "/api/v1/enterprise-verifications/"+id+"/bank-transfer/confirm", op,
				map[string]any{"amount_fen": fen, "authorization_letter_file_id": scanID})
		}
		wrong := amount%99 + 1
		// Three wrong amounts fail the transfer.
		for left := 2; left >= 1; left-- {
			r := confirm(wrong).expect(t, 422, "transfer-amount-wrong")
			if d := r.body["error"].(map[string]any)["details"].(map[string]any); d["attempts_left"] != float64(left) {
				t.Fatalf("attempts_left %v", d["attempts_left"])
			}
		}
		confirm(wrong).expect(t, 422, "transfer-failed")
		confirm(amount).expect(t, 422, "transfer-failed")
		// A second and a third transfer the same day (each replaces the last); a fourth is refused.
		bt().expect(t, 202, "")
		s.remitted(op, id)
		bt().expect(t, 202, "")
		amount = s.remitted(op, id)
		bt().expect(t, 429, "transfer-daily-limit")
		// Confirming after 7 days is refused; a new day allows a new transfer.
		s.clock.Advance(7*24*time.Hour + time.Minute)
		confirm(amount).expect(t, 422, "transfer-expired")
		bt().expect(t, 202, "")
		amount = s.remitted(op, id)
		r := confirm(amount).expect(t, 200, "")
		if r.str("status") != "verified" {
			t.Fatalf("confirm %s", r.raw)
		}
		eid := r.str("enterprise_id")
		s.orgCertificate(op, eid, f)
		if items := s.do("GET", "/api/v1/enterprises", rep, nil).body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["role"] != "legal_rep" {
			t.Fatal("the legal rep is not a legal_rep member")
		}
	})
}

// remitted waits until the consumer has remitted the current transfer, and returns the amount
// the sandbox bank sent (what the user reads on the account statement).
func (s *server) remitted(token, id string) int64 {
	s.t.Helper()
	s.eventually("remittance", func() bool {
		t, _ := s.do("GET", "/api/v1/enterprise-verifications/"+id, token, nil).body["transfer"].(map[string]any)
		return t != nil && t["status"] == "remitted"
	})
	items, _ := s.do("GET", "/api/v1/sandbox/bank-transfers?verification_id="+id, "", nil).body["items"].([]any)
	if len(items) == 0 {
		s.t.Fatal("no sandbox remittance")
	}
	return int64(items[0].(map[string]any)["amount_fen"].(float64))
}

func (s *server) uploadLink(path string, data []byte) resp {
	s.t.Helper()
	return s.uploadTo(path, "", "", "x.png", data)
}

// opensslCMSVerify runs the command the README documents.
func opensslCMSVerify(t *testing.T, pdf, p7s, caPEM []byte) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is needed in CI")
		}
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	for name, b := range map[string][]byte{"letter.pdf": pdf, "letter.p7s": p7s, "ca.pem": caPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", filepath.Join(dir, "letter.p7s"),
		"-content", filepath.Join(dir, "letter.pdf"), "-CAfile", filepath.Join(dir, "ca.pem"), "-out", os.DevNull).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verification successful") {
		t.Fatalf("openssl cms -verify: %v %s", err, out)
	}
}
