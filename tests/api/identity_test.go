package api

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// idNumber builds a checksum-valid resident ID number born on the given date.
func idNumber(t *testing.T, region, birth, seq string) string {
	t.Helper()
	first := region + birth + seq
	c, err := kernel.IDNumberCheckChar(first)
	if err != nil {
		t.Fatal(err)
	}
	return first + string(c)
}

func (s *server) upload(token, purpose, name string, data []byte) resp {
	s.t.Helper()
	return s.uploadTo("/api/v1/files", token, purpose, name, data)
}

func (s *server) uploadTo(path, token, purpose, name string, data []byte) resp {
	s.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if purpose != "" {
		_ = mw.WriteField("purpose", purpose)
	}
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write(data)
	_ = mw.Close()
	req, _ := http.NewRequest("POST", s.base+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	raw, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, raw: raw}
	_ = jsonUnmarshal(raw, &r.body)
	return r
}

func (s *server) get(path, token, accept string) (int, http.Header, []byte) {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.base+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, raw
}

// Manual §3 and §4 on the default channel q86804: switch channel by code and by QR, verify the
// real name, set the signing password (personal certificate), make a signature appearance.
func TestIdentityFlow(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		token := s.login("13800138000")
		id := idNumber(t, "110105", "19850312", "123")

		// Channels: search by name and by code, switch by code, then by the QR text.
		r := s.do("GET", "/api/v1/channels?q="+urlq("交易专家"), "", nil).expect(t, 200, "")
		if items, _ := r.body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["code"] != "q86804" {
			t.Fatalf("search %s", r.raw)
		}
		ch := s.do("GET", "/api/v1/channels/q86804", "", nil).expect(t, 200, "")
		if cat, _ := ch.body["catalog"].([]any); len(cat) == 0 {
			t.Fatalf("catalog %s", ch.raw)
		} else if it := cat[0].(map[string]any); it["tax_code"] != "3040201000000000000" || it["tax_category"] != "信息技术服务" ||
			it["tax_rate_bp"] != float64(600) || it["tax_rate"] != "6%" || it["unit"] != "套" {
			t.Fatalf("catalog item's tax classification %v", it)
		}
		if st, h, png := s.get("/api/v1/channels/q86804/qr.png", "", ""); st != 200 || h.Get("Content-Type") != "image/png" || len(png) < 100 {
			t.Fatalf("qr.png %d %s", st, h.Get("Content-Type"))
		}
		s.do("PUT", "/api/v1/me/channel", token, map[string]string{"code": "q86804"}).expect(t, 200, "")
		s.do("PUT", "/api/v1/me/channel", token, map[string]string{"qr": ch.str("join_url")}).expect(t, 200, "")
		if me := s.do("GET", "/api/v1/me", token, nil); me.body["channel"].(map[string]any)["code"] != "q86804" {
			t.Fatalf("me.channel %s", me.raw)
		}

		// Signing password before the real name: refused.
		s.do("PUT", "/api/v1/me/signing-password", token, map[string]string{"password": "Sign1234x", "password_confirmation": "Sign1234x"}).
			expect(t, 422, "real-name-required")

		// Real name (id2 on this channel).
		s.do("POST", "/api/v1/me/real-name", token, map[string]any{"name": "张三", "id_number": id, "consent": false}).expect(t, 422, "consent-required")
		r = s.do("POST", "/api/v1/me/real-name", token, map[string]any{"name": "张三", "id_number": id, "consent": true}).expect(t, 200, "")
		if r.str("status") != "verified" || r.str("id_number") != id[:3]+"***********"+id[14:] || strings.Contains(string(r.raw), id) {
			t.Fatalf("real-name %s", r.raw)
		}
		s.do("POST", "/api/v1/me/real-name", token, map[string]any{"name": "张三", "id_number": id, "consent": true}).expect(t, 409, "real-name-already-verified")
		me := s.do("GET", "/api/v1/me", token, nil)
		if me.str("name") != "张三" || strings.Contains(string(me.raw), id) {
			t.Fatalf("me %s", me.raw)
		}

		// Signing password: weak, mismatched, then right.
		sp := func(p, c string) resp {
			return s.do("PUT", "/api/v1/me/signing-password", token, map[string]string{"password": p, "password_confirmation": c})
		}
		sp("weakpass1", "weakpass1").expect(t, 422, "signing-password-too-weak")
		sp("Sign1234x", "Sign1234y").expect(t, 422, "signing-password-mismatch")
		s.do("GET", "/api/v1/me/certificate", token, nil).expect(t, 404, "certificate-not-found")
		r = sp("Sign1234x", "Sign1234x").expect(t, 201, "")
		cert, _ := r.body["certificate"].(map[string]any)
		if cert["status"] != "active" || !strings.Contains(fmtAny(cert["subject"]), "张三") || strings.Contains(string(r.raw), id) {
			t.Fatalf("certificate %s", r.raw)
		}
		sp("Sign1234x", "Sign1234x").expect(t, 409, "signing-password-already-set")

		// The certificate PEM chains to the served CA root.
		st, h, leafPEM := s.get("/api/v1/me/certificate", token, "application/x-pem-file")
		if st != 200 || h.Get("Content-Type") != "application/x-pem-file" {
			t.Fatalf("certificate PEM %d %s", st, leafPEM)
		}
		_, _, caPEM := s.get("/api/v1/ca.pem", "", "")
		verifyChain(t, leafPEM, caPEM, "张三", id)

		// Signature appearance generated from the real name.
		sig := s.do("POST", "/api/v1/me/signatures", token, map[string]any{"generate": true}).expect(t, 201, "")
		if sig.body["default"] != true {
			t.Fatalf("first appearance is not the default: %s", sig.raw)
		}
		st, h, img := s.get("/api/v1/me/signatures/"+sig.str("id")+"/image", token, "")
		if st != 200 || h.Get("Content-Type") != "image/png" {
			t.Fatalf("image %d", st)
		}
		if _, err := png.Decode(bytes.NewReader(img)); err != nil {
			t.Fatalf("image is not a PNG: %v", err)
		}
		// Upload a drawn one, make it the default, delete the generated one.
		up := s.upload(token, "signature", "mine.png", pngBytes(t, 300, 120)).expect(t, 201, "")
		sig2 := s.do("POST", "/api/v1/me/signatures", token, map[string]any{"file_id": up.str("file_id")}).expect(t, 201, "")
		s.do("PUT", "/api/v1/me/signatures/"+sig2.str("id"), token, map[string]any{"default": true}).expect(t, 200, "")
		s.do("DELETE", "/api/v1/me/signatures/"+sig.str("id"), token, nil).expect(t, 204, "")
		list := s.do("GET", "/api/v1/me/signatures", token, nil).expect(t, 200, "")
		if items, _ := list.body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["default"] != true {
			t.Fatalf("signatures %s", list.raw)
		}

		// Another account cannot verify the same ID number.
		other := s.login("13900139000")
		s.do("POST", "/api/v1/me/real-name", other, map[string]any{"name": "张三", "id_number": id, "consent": true}).expect(t, 409, "id-number-taken")
		if r := s.do("GET", "/api/v1/me/real-name", other, nil); r.str("status") != "unverified" {
			t.Fatalf("refused attempt changed state: %s", r.raw)
		}
		// Another user's signature is not visible.
		s.do("GET", "/api/v1/me/signatures/"+sig2.str("id")+"/image", other, nil).expect(t, 404, "signature-not-found")
	})
}

func TestRealNameRefusals(t *testing.T) {
	s := start(t, "")
	token := s.login("13800138000")
	rn := func(name, id string) resp {
		return s.do("POST", "/api/v1/me/real-name", token, map[string]any{"name": name, "id_number": id, "consent": true})
	}
	good := idNumber(t, "440106", "19900101", "457")
	bad := good[:17] + map[bool]string{true: "0", false: "1"}[good[17] != '0']
	rn("李四", bad).expect(t, 422, "id-number-checksum")
	future := idNumber(t, "440106", time.Now().AddDate(1, 0, 0).Format("20060102"), "457")
	rn("李四", future).expect(t, 422, "id-number-birth-date")
	rn("李四", "12345").expect(t, 422, "id-number-format")
	rn("X", good).expect(t, 422, "real-name-invalid")
	// The sandbox authority rejects names containing 假: five failures a day, then 429.
	for left := 4; left >= 0; left-- {
		r := rn("假名字", good).expect(t, 422, "real-name-mismatch")
		if d := r.body["error"].(map[string]any)["details"].(map[string]any); d["attempts_left"] != float64(left) {
			t.Fatalf("attempts_left %v want %d", d["attempts_left"], left)
		}
	}
	r := rn("李四", good).expect(t, 429, "real-name-attempts-exceeded")
	if r.header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	if st := s.do("GET", "/api/v1/me/real-name", token, nil); st.str("status") != "unverified" {
		t.Fatalf("state %s", st.raw)
	}
	// Channel refusals.
	s.do("GET", "/api/v1/channels/nope", "", nil).expect(t, 404, "channel-not-found")
	s.do("PUT", "/api/v1/me/channel", token, map[string]string{"code": "q99999"}).expect(t, 422, "channel-inactive")
	s.do("PUT", "/api/v1/me/channel", token, map[string]string{"qr": "http://localhost/join?channel=q86804&t=forged"}).expect(t, 422, "channel-qr-invalid")
	s.do("PUT", "/api/v1/me/channel", token, map[string]string{"qr": "not a url at all"}).expect(t, 422, "channel-qr-invalid")
	s.do("GET", "/api/v1/channels", "", nil).expect(t, 422, "channel-query-invalid")
}

// Manual §3 on a face channel: the account is verifying until the liveness session ends.
func TestFaceRealName(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		token := s.login("13800138000")
		s.do("PUT", "/api/v1/me/channel", token, map[string]string{"code": "q10001"}).expect(t, 200, "")
		id := idNumber(t, "320102", "19791224", "004")
		start := func() resp {
			return s.do("POST", "/api/v1/me/real-name", token, map[string]any{"name": "王五", "id_number": id, "consent": true}).expect(t, 202, "")
		}
		play := func(session string, body map[string]any) {
			s.do("POST", "/api/v1/sandbox/liveness/"+session, "", body).expect(t, 200, "")
		}
		// A face check that fails.
		r := start()
		lv := r.body["liveness"].(map[string]any)
		if r.str("status") != "verifying" || !strings.Contains(fmtAny(lv["url"]), fmtAny(lv["session_id"])) {
			t.Fatalf("start %s", r.raw)
		}
		if st := s.do("GET", "/api/v1/me/real-name", token, nil); st.str("status") != "verifying" {
			t.Fatalf("pending %s", st.raw)
		}
		if page := s.do("GET", "/api/v1/sandbox/liveness/"+fmtAny(lv["session_id"]), "", nil).expect(t, 200, ""); page.str("status") != "pending" {
			t.Fatalf("liveness page %s", page.raw)
		}
		if me := s.do("GET", "/api/v1/me", token, nil); me.body["name"] != nil || me.body["id_number"] != nil {
			t.Fatalf("/me shows an unverified identity: %s", me.raw)
		}
		play(fmtAny(lv["session_id"]), map[string]any{"result": "fail"})
		if st := s.do("GET", "/api/v1/me/real-name", token, nil); st.str("status") != "unverified" || st.str("failure_reason") == "" {
			t.Fatalf("after fail %s", st.raw)
		}
		// A session that verified another person does not verify this account.
		lv = start().body["liveness"].(map[string]any)
		play(fmtAny(lv["session_id"]), map[string]any{"result": "pass", "as": map[string]string{"name": "赵六", "id_number": idNumber(t, "320102", "19800101", "005")}})
		if st := s.do("GET", "/api/v1/me/real-name", token, nil); st.str("status") != "unverified" || !strings.Contains(st.str("failure_reason"), "another person") {
			t.Fatalf("after another person %s", st.raw)
		}
		// A session decided twice is refused; a passing one verifies.
		sess := fmtAny(start().body["liveness"].(map[string]any)["session_id"])
		play(sess, map[string]any{"result": "pass"})
		s.do("POST", "/api/v1/sandbox/liveness/"+sess, "", map[string]any{"result": "fail"}).expect(t, 409, "liveness-session-finished")
		if st := s.do("GET", "/api/v1/me/real-name", token, nil); st.str("status") != "verified" || st.str("method") != "face" {
			t.Fatalf("after pass %s", st.raw)
		}
		// This channel does not offer the personal certificate while charging is on.
		s.do("PUT", "/api/v1/me/signing-password", token, map[string]string{"password": "Sign1234x", "password_confirmation": "Sign1234x"}).
			expect(t, 422, "personal-certificate-not-offered")
	})
}

func TestSigningPasswordLockAndChange(t *testing.T) {
	s := start(t, "")
	token := s.login("13800138000")
	s.do("PUT", "/api/v1/me/channel", token, map[string]string{"code": "q86804"}).expect(t, 200, "")
	s.do("POST", "/api/v1/me/real-name", token, map[string]any{"name": "张三", "id_number": idNumber(t, "110105", "19850312", "123"), "consent": true}).expect(t, 200, "")
	s.do("PUT", "/api/v1/me/signing-password", token, map[string]string{"password": "Sign1234x", "password_confirmation": "Sign1234x"}).expect(t, 201, "")
	verify := func(p string) resp {
		return s.do("POST", "/api/v1/me/signing-password/verify", token, map[string]string{"password": p})
	}
	verify("Sign1234x").expect(t, 204, "")
	// Change with the old password; the old one stops working.
	s.do("PUT", "/api/v1/me/signing-password", token, map[string]string{"password": "Next5678y", "password_confirmation": "Next5678y", "old_password": "Sign1234x"}).expect(t, 200, "")
	verify("Sign1234x").expect(t, 422, "signing-password-wrong")
	verify("Next5678y").expect(t, 204, "")
	// Five wrong tries lock signing for 30 minutes.
	for left := 4; left >= 1; left-- {
		r := verify("Wrong0000x").expect(t, 422, "signing-password-wrong")
		if d := r.body["error"].(map[string]any)["details"].(map[string]any); d["attempts_left"] != float64(left) {
			t.Fatalf("attempts_left %v want %d", d["attempts_left"], left)
		}
	}
	r := verify("Wrong0000x").expect(t, 429, "signing-locked")
	if r.header.Get("Retry-After") != "1800" {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	verify("Next5678y").expect(t, 429, "signing-locked")
	s.do("PUT", "/api/v1/me/signing-password", token, map[string]string{"password": "Other111a", "password_confirmation": "Other111a", "old_password": "Next5678y"}).
		expect(t, 429, "signing-locked")
	// Forgotten while locked: a reset with an SMS code revokes the certificate and issues a new
	// one over a new key (the platform has no copy of the old key), and clears the lock.
	before := s.do("GET", "/api/v1/me/certificate", token, nil).str("serial")
	s.requestCode("13800138000", "reset_signing_password", token).expect(t, 202, "")
	code := s.lastCode("13800138000")
	s.do("PUT", "/api/v1/me/signing-password", token, map[string]string{"password": "Third999z", "password_confirmation": "Third999z", "code": code}).expect(t, 201, "")
	verify("Third999z").expect(t, 204, "")
	verify("Next5678y").expect(t, 422, "signing-password-wrong")
	if after := s.do("GET", "/api/v1/me/certificate", token, nil).str("serial"); after == before {
		t.Fatalf("the certificate stayed %s after a reset: the old key would still sign", before)
	}
	// The lock also ends by itself after 30 minutes.
	for range 5 {
		verify("Wrong0000x")
	}
	verify("Third999z").expect(t, 429, "signing-locked")
	s.clock.Advance(30 * time.Minute)
	verify("Third999z").expect(t, 204, "")
}

func TestUploadRefusals(t *testing.T) {
	s := start(t, "")
	token := s.login("13800138000")
	s.upload(token, "signature", "shell.png", []byte("<?php system($_GET['c']); ?>")).expect(t, 422, "file-type-unsupported")
	s.upload(token, "signature", "bomb.png", bombPNG(100000, 100000)).expect(t, 422, "file-image-too-large")
	s.upload(token, "authorization_letter_scan", "letter.pdf", []byte("%PDF-1.7\n%âãÏÓ\n1 0 obj\n<<>>\nendobj\n")).expect(t, 422, "file-pdf-not-allowed")
	s.upload(token, "signature", "big.png", bytes.Repeat([]byte{0x89}, 10<<20+1)).expect(t, 413, "file-too-large")
	s.upload(token, "selfie", "a.png", pngBytes(t, 100, 50)).expect(t, 422, "file-purpose-invalid")
	s.upload("", "signature", "a.png", pngBytes(t, 100, 50)).expect(t, 401, "session-invalid")
	s.do("POST", "/api/v1/files", token, map[string]string{"x": "y"}).expect(t, 415, "unsupported-media-type")
	// Nothing was stored: the generated-or-uploaded list is still empty and an unknown file id is refused.
	s.do("POST", "/api/v1/me/signatures", token, map[string]any{"file_id": "nope"}).expect(t, 404, "file-not-found")
	if list := s.do("GET", "/api/v1/me/signatures", token, nil); len(list.body["items"].([]any)) != 0 {
		t.Fatalf("signatures %s", list.raw)
	}
	// A licence image is not a signature.
	lic := s.upload(token, "business_licence", "licence.png", pngBytes(t, 800, 600)).expect(t, 201, "")
	s.do("POST", "/api/v1/me/signatures", token, map[string]any{"file_id": lic.str("file_id")}).expect(t, 422, "file-purpose-mismatch")
}

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for x := 10; x < w-10; x++ {
		img.Pix[(h/2)*img.Stride+x*4+3] = 255
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// bombPNG is a tiny PNG whose header claims w×h pixels (a decompression bomb).
func bombPNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.Write([]byte("\x89PNG\r\n\x1a\n"))
	chunk := func(typ string, data []byte) {
		var l [4]byte
		l[0], l[1], l[2], l[3] = byte(len(data)>>24), byte(len(data)>>16), byte(len(data)>>8), byte(len(data))
		b.Write(l[:])
		b.WriteString(typ)
		b.Write(data)
		crc := crc32.ChecksumIEEE(append([]byte(typ), data...))
		b.Write([]byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)})
	}
	ihdr := []byte{byte(w >> 24), byte(w >> 16), byte(w >> 8), byte(w), byte(h >> 24), byte(h >> 16), byte(h >> 8), byte(h), 8, 6, 0, 0, 0}
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return b.Bytes()
}

// verifyChain checks the leaf against the root with crypto/x509, and with openssl when present.
func verifyChain(t *testing.T, leafPEM, caPEM []byte, name, idNumber string) {
	t.Helper()
	verifyChainAt(t, leafPEM, caPEM, name, idNumber, time.Time{})
}

// verifyChainAt verifies at a given time (the server's clock in tests that move it).
func verifyChainAt(t *testing.T, leafPEM, caPEM []byte, name, idNumber string, at time.Time) {
	t.Helper()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("ca.pem holds no certificate: %s", caPEM)
	}
	blk, _ := pem.Decode(leafPEM)
	if blk == nil {
		t.Fatalf("not PEM: %s", leafPEM)
	}
	leaf, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("chain: %v", err)
	}
	if leaf.Subject.CommonName != name || (idNumber != "" && (strings.Contains(leaf.Subject.String(), idNumber) || bytes.Contains(blk.Bytes, []byte(idNumber)))) {
		t.Fatalf("subject %s", leaf.Subject)
	}
	if _, err := exec.LookPath("openssl"); err != nil || !at.IsZero() {
		return // openssl verifies at the wall-clock time only
	}
	dir := t.TempDir()
	_ = os.WriteFile(filepath.Join(dir, "ca.pem"), caPEM, 0o600)
	_ = os.WriteFile(filepath.Join(dir, "leaf.pem"), leafPEM, 0o600)
	out, err := exec.Command("openssl", "verify", "-CAfile", filepath.Join(dir, "ca.pem"), filepath.Join(dir, "leaf.pem")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), ": OK") {
		t.Fatalf("openssl verify: %v %s", err, out)
	}
}

func urlq(s string) string { return url.QueryEscape(s) }
