package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	"github.com/smallstep/pkcs7"

	"github.com/shuxinqian/server/adapters/ca"
	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// needOpenSSL skips without openssl locally; in CI (CI=true) a missing openssl is a failure.
func needOpenSSL(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is needed in CI")
		}
		t.Skip("openssl not installed")
	}
}

func openssl(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// verifySignature posts a detached CMS to the verification service.
func (s *server) verifySignature(content, signature []byte) resp {
	s.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for name, b := range map[string][]byte{"content": content, "signature": signature} {
		if b == nil {
			continue
		}
		w, err := mw.CreateFormFile(name, name)
		if err != nil {
			s.t.Fatal(err)
		}
		_, _ = w.Write(b)
	}
	_ = mw.Close()
	req, err := http.NewRequest("POST", s.base+"/api/v1/signature-verifications", &body)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return s.send(req)
}

func verdict(t *testing.T, r resp) map[string]any {
	t.Helper()
	list, _ := r.body["signatures"].([]any)
	if len(list) != 1 {
		t.Fatalf("verdicts %s", r.raw)
	}
	return list[0].(map[string]any)
}

// A personal certificate names the CRL and the OCSP responder; a reset of the forgotten signing
// password revokes it: OCSP answers good, then revoked; the CRL lists it with its reason;
// `openssl verify -crl_check` refuses it.
func TestTrustRevocationOnSigningPasswordReset(t *testing.T) {
	needOpenSSL(t)
	forEachBackend(t, func(t *testing.T, s *server) {
		token := s.login("13800138000")
		s.do("PUT", "/api/v1/me/channel", token, map[string]string{"code": "q86804"}).expect(t, 200, "")
		s.do("POST", "/api/v1/me/real-name", token, map[string]any{"name": "张三", "id_number": idNumber(t, "110105", "19850312", "123"), "consent": true}).expect(t, 200, "")
		s.do("PUT", "/api/v1/me/signing-password", token, map[string]string{"password": "Sign1234x", "password_confirmation": "Sign1234x"}).expect(t, 201, "")
		_, _, oldPEM := s.get("/api/v1/me/certificate", token, "application/x-pem-file")
		_, _, chain := s.get("/api/v1/ca.pem", "", "")
		block, rest := pem.Decode(chain)
		if block == nil {
			t.Fatalf("ca.pem %s", chain)
		}
		if b2, _ := pem.Decode(rest); b2 == nil {
			t.Fatal("ca.pem holds no root after the issuing CA")
		}
		old := parsePEMCert(t, oldPEM)
		if len(old.CRLDistributionPoints) != 1 || old.CRLDistributionPoints[0] != s.base+"/api/v1/ca/crl" ||
			len(old.OCSPServer) != 1 || old.OCSPServer[0] != s.base+"/api/v1/ca/ocsp" || len(old.Policies) == 0 {
			t.Fatalf("CRL DP %v, OCSP %v, policies %v", old.CRLDistributionPoints, old.OCSPServer, old.Policies)
		}
		dir := t.TempDir()
		writeFiles(t, dir, map[string][]byte{"chain.pem": chain, "issuing.pem": pem.EncodeToMemory(block), "old.pem": oldPEM})
		ocsp := func(cert string) string {
			out, err := openssl(t, dir, "ocsp", "-issuer", "issuing.pem", "-cert", cert, "-url", s.base+"/api/v1/ca/ocsp", "-CAfile", "chain.pem")
			if err != nil {
				t.Fatalf("openssl ocsp: %v\n%s", err, out)
			}
			return out
		}
		if out := ocsp("old.pem"); !strings.Contains(out, "Response verify OK") || !strings.Contains(out, "old.pem: good") {
			t.Fatalf("OCSP before the reset:\n%s", out)
		}

		// Forgotten: reset with an SMS code (the channel verifies by id2: no face check).
		s.requestCode("13800138000", "reset_signing_password", token).expect(t, 202, "")
		r := s.do("PUT", "/api/v1/me/signing-password", token, map[string]string{"password": "Third999z", "password_confirmation": "Third999z",
			"code": s.lastCode("13800138000")}).expect(t, 201, "")
		newSerial := r.body["certificate"].(map[string]any)["serial"]
		_, _, newPEM := s.get("/api/v1/me/certificate", token, "application/x-pem-file")
		writeFiles(t, dir, map[string][]byte{"new.pem": newPEM})
		if out := ocsp("old.pem"); !strings.Contains(out, "old.pem: revoked") || !strings.Contains(out, "keyCompromise") {
			t.Fatalf("OCSP after the reset:\n%s", out)
		}
		if out := ocsp("new.pem"); !strings.Contains(out, "new.pem: good") {
			t.Fatalf("OCSP of the new certificate:\n%s", out)
		}

		st, h, crl := s.get("/api/v1/ca/crl", "", "")
		if st != 200 || h.Get("Content-Type") != "application/pkix-crl" {
			t.Fatalf("crl %d %s", st, h.Get("Content-Type"))
		}
		writeFiles(t, dir, map[string][]byte{"crl.der": crl})
		out, err := openssl(t, dir, "crl", "-inform", "DER", "-in", "crl.der", "-noout", "-text")
		if err != nil || !strings.Contains(out, strings.ToUpper(hex.EncodeToString(old.SerialNumber.Bytes()))) ||
			!strings.Contains(out, "Key Compromise") {
			t.Fatalf("openssl crl (old serial %X):\n%s %v", old.SerialNumber, out, err)
		}
		if strings.Contains(strings.ToLower(out), fmtAny(newSerial)) {
			t.Fatal("the new certificate is listed")
		}
		if out, err := openssl(t, dir, "crl", "-inform", "DER", "-in", "crl.der", "-out", "crl.pem"); err != nil {
			t.Fatal(out)
		}
		if out, err := openssl(t, dir, "verify", "-crl_check", "-CAfile", "chain.pem", "-CRLfile", "crl.pem", "old.pem"); err == nil ||
			!strings.Contains(out, "revoked") {
			t.Fatalf("openssl verify -crl_check accepted the revoked certificate:\n%s", out)
		}
		if out, err := openssl(t, dir, "verify", "-crl_check", "-CAfile", "chain.pem", "-CRLfile", "crl.pem", "new.pem"); err != nil {
			t.Fatalf("openssl verify -crl_check refused the live certificate:\n%s", out)
		}
		// A re-issue (proving the signing password) supersedes the new certificate in turn.
		s.do("POST", "/api/v1/me/certificate/reissue", token, map[string]string{"signing_password": "Wrong0000x"}).expect(t, 422, "signing-password-wrong")
		third := s.do("POST", "/api/v1/me/certificate/reissue", token, map[string]string{"signing_password": "Third999z"}).expect(t, 201, "")
		if third.body["certificate"].(map[string]any)["serial"] == newSerial {
			t.Fatal("re-issue kept the serial")
		}
		if out := ocsp("new.pem"); !strings.Contains(out, "new.pem: revoked") || !strings.Contains(out, "superseded") {
			t.Fatalf("OCSP after the re-issue:\n%s", out)
		}
		s.do("POST", "/api/v1/me/signing-password/verify", token, map[string]string{"password": "Third999z"}).expect(t, 204, "")
		_, _, crl = s.get("/api/v1/ca/crl", "", "")

		// The CRL is valid a day and regenerated well before: after two hours a newer one is served.
		first, err := x509.ParseRevocationList(crl)
		if err != nil || first.NextUpdate.Sub(first.ThisUpdate) != 24*time.Hour || len(first.RevokedCertificateEntries) != 2 {
			t.Fatalf("crl %+v %v", first, err)
		}
		reasons := map[string]int{}
		for _, e := range first.RevokedCertificateEntries {
			reasons[fmt.Sprintf("%032x", e.SerialNumber)] = e.ReasonCode
		}
		if reasons[fmt.Sprintf("%032x", old.SerialNumber)] != ports.ReasonKeyCompromise || reasons[fmtAny(newSerial)] != ports.ReasonSuperseded {
			t.Fatalf("crl reasons %v", reasons)
		}
		s.clock.Advance(2 * time.Hour)
		_, _, crl2 := s.get("/api/v1/ca/crl", "", "")
		second, err := x509.ParseRevocationList(crl2)
		if err != nil || !second.ThisUpdate.After(first.ThisUpdate) || second.Number.Cmp(first.Number) <= 0 || len(second.RevokedCertificateEntries) != 2 {
			t.Fatalf("regenerated crl %+v %v", second, err)
		}
	})
}

func parsePEMCert(t *testing.T, b []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("no PEM: %s", b)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// linkToFace walks a signing link up to a passed face check and returns its path.
func (s *server) linkToFace(t *testing.T, op string, f registryFixture, phone string) (string, string) {
	t.Helper()
	v := s.startVerification(op, f, phone).expect(t, 201, "")
	u := fmtAny(v.body["link"].(map[string]any)["url"])
	lp := "/api/v1/authorization-links/" + u[strings.LastIndex(u, "/")+1:]
	s.do("POST", lp+"/sms-codes", "", map[string]string{"purpose": "verify_phone"}).expect(t, 202, "")
	lv := s.do("POST", lp+"/liveness", "", map[string]string{"code": s.lastCode(phone)}).expect(t, 200, "")
	s.do("POST", "/api/v1/sandbox/liveness/"+lv.str("session_id"), "", map[string]any{"result": "pass"}).expect(t, 200, "")
	if p := s.do("GET", lp, "", nil); p.body["steps"].(map[string]any)["liveness_passed"] != true {
		t.Fatalf("face check not recorded: %s", p.raw)
	}
	return v.str("id"), lp
}

// The legal rep signs through the link with an event certificate bound to the letter's hash;
// the sign code is bound to the letter shown and refused for another; the signature carries an
// RFC 3161 token that openssl accepts, and it still verifies three years on, when its certificate
// has long expired.
func TestTrustEventCertificateAndTimestamp(t *testing.T) {
	needOpenSSL(t)
	s := start(t, "")
	fx := s.fixtures()
	op := s.verifiedUser("13700001234", "吴经办", idNumber(t, "440106", "19880808", "222"))
	const phone = "13600002222" // the operator gives one phone for both legal reps' links
	_, lpA := s.linkToFace(t, op, fx[0], phone)
	s.clock.Advance(61 * time.Second)
	idB, lpB := s.linkToFace(t, op, fx[1], phone)

	// A sign code for letter A, bound to A's hash.
	s.clock.Advance(61 * time.Second)
	_, _, letterA := s.get(lpA+"/authorization-letter.pdf", "", "")
	sumA := sha256.Sum256(letterA)
	s.do("POST", lpA+"/sms-codes", "", map[string]string{"purpose": "sign", "document_sha256": strings.Repeat("0", 64)}).
		expect(t, 409, "document-changed")
	rc := s.do("POST", lpA+"/sms-codes", "", map[string]string{"purpose": "sign", "document_sha256": hex.EncodeToString(sumA[:])}).expect(t, 202, "")
	if rc.str("document_sha256") != hex.EncodeToString(sumA[:]) {
		t.Fatalf("code not bound to letter A: %s", rc.raw)
	}
	codeA := s.lastCode(phone)
	// Used to sign letter B: refused, though phone and purpose match.
	s.do("POST", lpB+"/sign", "", map[string]any{"code": codeA, "generate": true}).expect(t, 422, "sms-code-wrong")

	s.clock.Advance(61 * time.Second)
	s.do("POST", lpB+"/sms-codes", "", map[string]string{"purpose": "sign"}).expect(t, 202, "")
	signAt := s.clock.Now()
	s.do("POST", lpB+"/sign", "", map[string]any{"code": s.lastCode(phone), "generate": true}).expect(t, 200, "")
	_, _, letter := s.get("/api/v1/enterprise-verifications/"+idB+"/authorization-letter.pdf", op, "")
	_, _, p7s := s.get("/api/v1/enterprise-verifications/"+idB+"/authorization-letter.p7s", op, "")
	_, _, chain := s.get("/api/v1/ca.pem", "", "")
	sum := sha256.Sum256(letter)

	// The event certificate: the legal rep's identity, an hour's life, the letter's hash.
	p7, err := pkcs7.Parse(p7s)
	if err != nil {
		t.Fatal(err)
	}
	leaf := p7.GetOnlySigner()
	if leaf.Subject.CommonName != fx[1].rep || !bytes.Equal(ca.DocumentHashOf(leaf), sum[:]) || leaf.NotAfter.Sub(leaf.NotBefore) > 2*time.Hour {
		t.Fatalf("event certificate %s, binds %x (letter %x), %s – %s", leaf.Subject, ca.DocumentHashOf(leaf), sum, leaf.NotBefore, leaf.NotAfter)
	}
	// The evidence names the phone check, the face check, the IP and the time.
	var v *enterprise.Verification
	if err := s.rt.Store.Read(context.Background(), func(ctx context.Context, tx ports.Tx) error {
		var err error
		v, err = tx.Verifications().Get(ctx, kernel.VerificationID(idB))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ev := v.Signing().Evidence
	if !strings.Contains(ev.PhoneCheck, "sms-code:verify_phone") || !strings.Contains(ev.PhoneCheck, "sha256:") || ev.PhoneVerifiedAt.IsZero() ||
		ev.LivenessResultID == "" || ev.IP != "127.0.0.1" || !ev.OTPVerifiedAt.Equal(signAt.UTC().Truncate(time.Microsecond)) && ev.OTPVerifiedAt.Sub(signAt).Abs() > time.Second ||
		ev.CertificateKind != "event" || ev.DocumentSHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("evidence %+v", ev)
	}

	// The evidence as the initiator sees it.
	ve := s.do("GET", "/api/v1/enterprise-verifications/"+idB, op, nil).expect(t, 200, "").body["signing_evidence"].(map[string]any)
	if ve["certificate_kind"] != "event" || ve["liveness_result_id"] != ev.LivenessResultID || ve["ip"] != "127.0.0.1" ||
		ve["document_sha256"] != hex.EncodeToString(sum[:]) || ve["certificate_serial"] != fmt.Sprintf("%032x", leaf.SerialNumber) {
		t.Fatalf("signing_evidence %v", ve)
	}

	// The signature time-stamp token: over the signature value, and openssl accepts it.
	si := p7.Signers[0]
	var token []byte
	for _, a := range si.UnauthenticatedAttributes {
		if a.Type.String() == "1.2.840.113549.1.9.16.2.14" {
			token = a.Value.Bytes
		}
	}
	if token == nil {
		t.Fatal("no signature time-stamp token")
	}
	ts, err := timestamp.Parse(token)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"letter.pdf": letter, "letter.p7s": p7s, "chain.pem": chain, "token.der": token, "sig.bin": si.EncryptedDigest})
	if out, err := openssl(t, dir, "ts", "-verify", "-in", "token.der", "-token_in", "-data", "sig.bin", "-CAfile", "chain.pem"); err != nil ||
		!strings.Contains(out, "Verification: OK") {
		t.Fatalf("openssl ts -verify: %v\n%s", err, out)
	}
	genTime := fmt.Sprint(ts.Time.Unix())
	cms := func(at string) (string, error) {
		return openssl(t, dir, "cms", "-verify", "-binary", "-inform", "DER", "-in", "letter.p7s", "-content", "letter.pdf",
			"-CAfile", "chain.pem", "-attime", at, "-out", os.DevNull)
	}
	if out, err := cms(genTime); err != nil || !strings.Contains(out, "Verification successful") {
		t.Fatalf("openssl cms -verify -attime genTime: %v\n%s", err, out)
	}
	threeYears := fmt.Sprint(ts.Time.AddDate(3, 0, 0).Unix())
	if out, err := cms(threeYears); err == nil {
		t.Fatalf("the event certificate still valid three years on?\n%s", out)
	}

	// The verification service: valid and time-stamped, now and three years on.
	check := func(when string) {
		r := s.verifySignature(letter, p7s).expect(t, 200, "")
		d := verdict(t, r)
		if d["trusted"] != true || d["timestamped"] != true || d["intact"] != true || d["certificate_status"] != "good" ||
			d["covers_whole_document"] != true || d["certificate_serial"] != fmt.Sprintf("%032x", leaf.SerialNumber) ||
			d["document_sha256"] != hex.EncodeToString(sum[:]) {
			t.Fatalf("%s: %s", when, r.raw)
		}
		// A person's event certificate: personal, named, and no later revision (a detached CMS).
		if d["kind"] != "personal" || d["signer_name"] == "" || d["signer_name"] != leaf.Subject.CommonName || d["modified_after"] != false {
			t.Fatalf("%s: kind, signer_name, modified_after: %s", when, r.raw)
		}
		signed, _ := time.Parse(time.RFC3339, fmtAny(d["signed_at"]))
		if !signed.Equal(ts.Time) {
			t.Fatalf("%s: signed_at %v, genTime %v", when, d["signed_at"], ts.Time)
		}
	}
	check("now")
	s.clock.Advance(3 * 365 * 24 * time.Hour)
	check("three years on")
	// Another document under the same signature: not intact, not bound, not trusted.
	bad := verdict(t, s.verifySignature(letterA, p7s).expect(t, 200, ""))
	if bad["trusted"] != false || bad["intact"] != false {
		t.Fatalf("another document verified: %v", bad)
	}
	// The README's offline extraction of the token and the signature value, with openssl alone.
	script := `P="openssl asn1parse -inform DER -in letter.p7s"
TOK=$($P | grep -A2 ':id-smime-aa-timeStampToken' | tail -1 | cut -d: -f1 | tr -d ' ')
SIGV=$($P | grep -B1 'cont \[ 1 \]' | grep 'OCTET STRING' | head -1 | cut -d: -f1 | tr -d ' ')
$P -offset $TOK -noout -out token2.der && $P -strparse $SIGV -noout -out sig2.bin
openssl ts -verify -in token2.der -token_in -data sig2.bin -CAfile chain.pem`
	if out, err := exec.Command("sh", "-c", "cd "+dir+" && "+script).CombinedOutput(); err != nil || !strings.Contains(string(out), "Verification: OK") {
		t.Fatalf("README extraction: %v\n%s", err, out)
	}
	// The sandbox TSA over HTTP, as the README shows it.
	if out, err := openssl(t, dir, "ts", "-query", "-data", "letter.pdf", "-sha256", "-cert", "-out", "q.tsq"); err != nil {
		t.Fatal(out)
	}
	q, _ := os.ReadFile(filepath.Join(dir, "q.tsq"))
	req, _ := http.NewRequest("POST", s.base+"/api/v1/tsa", bytes.NewReader(q))
	req.Header.Set("Content-Type", "application/timestamp-query")
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	reply, _ := io.ReadAll(hr.Body)
	_ = hr.Body.Close()
	if hr.StatusCode != 200 || hr.Header.Get("Content-Type") != "application/timestamp-reply" {
		t.Fatalf("tsa %d %s", hr.StatusCode, reply)
	}
	writeFiles(t, dir, map[string][]byte{"r.tsr": reply})
	if out, err := openssl(t, dir, "ts", "-verify", "-in", "r.tsr", "-data", "letter.pdf", "-CAfile", "chain.pem"); err != nil ||
		!strings.Contains(out, "Verification: OK") {
		t.Fatalf("openssl ts -verify of the /api/v1/tsa reply: %v\n%s", err, out)
	}
	s.do("POST", "/api/v1/tsa", "", map[string]string{"x": "y"}).expect(t, 415, "unsupported-media-type")
	if st, _, pemChain := s.get("/api/v1/tsa.pem", "", ""); st != 200 || !bytes.Contains(pemChain, []byte("BEGIN CERTIFICATE")) {
		t.Fatalf("tsa.pem %d", st)
	}
	// A PDF without signatures (the letter: its signature is detached) and nothing at all are clear 422s.
	s.verifySignature(nil, nil).expect(t, 422, "verification-input-missing")
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, _ := mw.CreateFormFile("file", "signed.pdf")
	_, _ = w.Write(letter)
	_ = mw.Close()
	req, _ = http.NewRequest("POST", s.base+"/api/v1/signature-verifications", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	s.send(req).expect(t, 422, "pdf-not-signed")
}

// On a channel that verifies identities by face, resetting a forgotten signing password needs a
// passed face check of the account's own identity, then the SMS code.
func TestTrustResetNeedsFaceOnFaceChannel(t *testing.T) {
	s := start(t, "")
	token := s.login("13800138000")
	s.do("PUT", "/api/v1/me/channel", token, map[string]string{"code": "q86804"}).expect(t, 200, "")
	s.do("POST", "/api/v1/me/real-name", token, map[string]any{"name": "张三", "id_number": idNumber(t, "110105", "19850312", "123"), "consent": true}).expect(t, 200, "")
	s.do("PUT", "/api/v1/me/signing-password", token, map[string]string{"password": "Sign1234x", "password_confirmation": "Sign1234x"}).expect(t, 201, "")
	before := s.do("GET", "/api/v1/me/certificate", token, nil).str("serial")
	s.do("PUT", "/api/v1/me/channel", token, map[string]string{"code": "q10001"}).expect(t, 200, "") // verifies by face
	s.requestCode("13800138000", "reset_signing_password", token).expect(t, 202, "")
	code := s.lastCode("13800138000")
	reset := func(session string) resp {
		body := map[string]string{"password": "Third999z", "password_confirmation": "Third999z", "code": code}
		if session != "" {
			body["liveness_session_id"] = session
		}
		return s.do("PUT", "/api/v1/me/signing-password", token, body)
	}
	r := reset("").expect(t, 202, "")
	sess := r.body["liveness"].(map[string]any)["session_id"].(string)
	reset(sess).expect(t, 422, "liveness-pending")
	s.do("POST", "/api/v1/sandbox/liveness/"+sess, "", map[string]any{"result": "fail"}).expect(t, 200, "")
	reset(sess).expect(t, 422, "liveness-not-passed")
	sess = reset("").expect(t, 202, "").body["liveness"].(map[string]any)["session_id"].(string)
	s.do("POST", "/api/v1/sandbox/liveness/"+sess, "", map[string]any{"result": "pass"}).expect(t, 200, "")
	reset(sess).expect(t, 201, "")
	if after := s.do("GET", "/api/v1/me/certificate", token, nil).str("serial"); after == before {
		t.Fatal("no new certificate after the reset")
	}
	s.do("POST", "/api/v1/me/signing-password/verify", token, map[string]string{"password": "Third999z"}).expect(t, 204, "")
}

// Deactivating an enterprise (the operations console's use case) revokes its organisation
// certificate with reason cessationOfOperation: OCSP says revoked, the CRL lists it.
func TestTrustRevokeOrganisationCertificate(t *testing.T) {
	needOpenSSL(t)
	s := start(t, "")
	f := s.fixtures()[2]
	rep := s.verifiedUser(f.repPhone, f.rep, f.repID)
	s.do("PUT", "/api/v1/me/channel", rep, map[string]string{"code": "q86804"}).expect(t, 200, "")
	s.do("PUT", "/api/v1/me/signing-password", rep, map[string]string{"password": "Sign1234x", "password_confirmation": "Sign1234x"}).expect(t, 201, "")
	id := s.startVerification(rep, f, f.repPhone).expect(t, 201, "").str("id")
	sig := s.do("POST", "/api/v1/me/signatures", rep, map[string]any{"generate": true}).expect(t, 201, "").str("id")
	s.do("POST", "/api/v1/sms-codes", rep, map[string]string{"purpose": "sign"}).expect(t, 202, "")
	eid := s.do("POST", "/api/v1/enterprise-verifications/"+id+"/sign", rep, map[string]string{"signature_id": sig, "code": s.lastCode(f.repPhone),
		"signing_password": "Sign1234x"}).expect(t, 200, "").str("enterprise_id")
	var certPEM []byte
	s.eventually("the organisation certificate", func() bool {
		st, _, b := s.get("/api/v1/enterprises/"+eid+"/certificate", rep, "application/x-pem-file")
		certPEM = b
		return st == 200
	})
	serial, err := s.rt.App.RevokeOrganisationCertificate(context.Background(), eid, ports.ReasonCessationOfOperation)
	if err != nil {
		t.Fatal(err)
	}
	if c := parsePEMCert(t, certPEM); fmt.Sprintf("%032x", c.SerialNumber) != serial {
		t.Fatalf("revoked %s, certificate %x", serial, c.SerialNumber)
	}
	if _, err := s.rt.App.RevokeOrganisationCertificate(context.Background(), eid, ports.ReasonCessationOfOperation); kernel.CodeOf(err) != "org-certificate-missing" {
		t.Fatalf("second revocation: %v", err)
	}
	_, _, chain := s.get("/api/v1/ca.pem", "", "")
	block, _ := pem.Decode(chain)
	dir := t.TempDir()
	_, _, crl := s.get("/api/v1/ca/crl", "", "")
	writeFiles(t, dir, map[string][]byte{"chain.pem": chain, "issuing.pem": pem.EncodeToMemory(block), "org.pem": certPEM, "crl.der": crl})
	out, err := openssl(t, dir, "ocsp", "-issuer", "issuing.pem", "-cert", "org.pem", "-url", s.base+"/api/v1/ca/ocsp", "-CAfile", "chain.pem")
	if err != nil || !strings.Contains(out, "org.pem: revoked") || !strings.Contains(out, "cessationOfOperation") {
		t.Fatalf("openssl ocsp: %v\n%s", err, out)
	}
	if out, err := openssl(t, dir, "crl", "-inform", "DER", "-in", "crl.der", "-noout", "-text"); err != nil || !strings.Contains(out, "Cessation Of Operation") {
		t.Fatalf("openssl crl: %v\n%s", err, out)
	}
}
