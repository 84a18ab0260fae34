package document_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"image"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digitorus/pdfsign/verify"
	"github.com/digitorus/timestamp"
	"github.com/go-pdf/fpdf"

	"github.com/shuxinqian/server/adapters/document"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/seal"
	"github.com/shuxinqian/server/ports"
)

// testPKI is a root CA with signing certificates for two signers and a TSA.
type testPKI struct {
	root           *x509.Certificate
	rootKey        crypto.Signer
	tsaCert        *x509.Certificate
	tsaKey         crypto.Signer
	serial         int64
	leafA, leafB   []*x509.Certificate
	keyA, keyB     crypto.Signer
	tsaURL         string
	tsaRequests    atomic.Int32
	tsaUnavailable atomic.Bool
}

func (p *testPKI) issue(t testing.TB, cn string, pub crypto.PublicKey, eku []x509.ExtKeyUsage) *x509.Certificate {
	t.Helper()
	p.serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(p.serial), Subject: pkix.Name{CommonName: cn, Organization: []string{"测试"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment, ExtKeyUsage: eku}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.root, pub, p.rootKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "测试根 CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(der)
	p := &testPKI{root: root, rootKey: rootKey, serial: 1}
	ka, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	kb, _ := rsa.GenerateKey(rand.Reader, 2048)
	tk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p.keyA, p.keyB, p.tsaKey = ka, kb, tk
	p.leafA = []*x509.Certificate{p.issue(t, "福州数信科技有限公司", &ka.PublicKey, nil), root}
	p.leafB = []*x509.Certificate{p.issue(t, "张三", &kb.PublicKey, nil), root}
	p.tsaCert = p.issue(t, "测试 TSA", &tk.PublicKey, []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping})
	srv := httptest.NewServer(http.HandlerFunc(p.serveTSA))
	t.Cleanup(srv.Close)
	p.tsaURL = srv.URL
	return p
}

// serveTSA is an RFC 3161 time-stamping service made with github.com/digitorus/timestamp.
func (p *testPKI) serveTSA(w http.ResponseWriter, r *http.Request) {
	p.tsaRequests.Add(1)
	if p.tsaUnavailable.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	body, _ := io.ReadAll(r.Body)
	req, err := timestamp.ParseRequest(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ts := timestamp.Timestamp{HashAlgorithm: req.HashAlgorithm, HashedMessage: req.HashedMessage, Time: time.Now(),
		Nonce: req.Nonce, Policy: asn1.ObjectIdentifier{1, 2, 3, 4, 1}, AddTSACertificate: req.Certificates,
		SerialNumber: big.NewInt(time.Now().UnixNano())}
	resp, err := ts.CreateResponseWithOpts(p.tsaCert, p.tsaKey, crypto.SHA256)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/timestamp-reply")
	_, _ = w.Write(resp)
}

// bidPDF is an A4 bid document of n pages; page 2 carries the keyword 甲方（盖章）.
func bidPDF(t testing.TB, n int) []byte {
	t.Helper()
	f := fpdf.New("P", "pt", "A4", "")
	f.SetCompression(false)
	f.AddUTF8FontFromBytes("cjk", "", document.CJKFont())
	for i := 1; i <= n; i++ {
		f.AddPage()
		f.SetFont("Helvetica", "", 14)
		f.Text(72, 72, fmt.Sprintf("BIDDOC page %d", i))
		f.SetFont("cjk", "", 14)
		f.Text(72, 110, "招标文件 第"+fmt.Sprint(i)+"页")
		if i == 2 {
			f.Text(320, 600, "甲方（盖章）：")
		}
	}
	var b bytes.Buffer
	if err := f.Output(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func havePoppler(t *testing.T) {
	for _, tool := range []string{"pdfsig", "pdftoppm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s (poppler-utils) is missing", tool)
			}
			t.Skipf("%s (poppler-utils) is not installed", tool)
		}
	}
}

func pdfsig(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command("pdfsig", p).CombinedOutput() // exit status 1 or 2 on invalid signatures
	return string(out)
}

// TestPDFSignTwice: an enterprise seal (certifying, timestamped), then a person's signature,
// each an incremental update: pdfsig finds two valid signatures, one changed byte breaks them,
// and the rendered page shows the seal's red where the field was placed.
func TestPDFSignTwice(t *testing.T) {
	havePoppler(t)
	ctx := context.Background()
	pki := newTestPKI(t)
	var s document.PDFSigner
	doc := bidPDF(t, 3)

	loc, err := s.Locate(ctx, doc, "甲方（盖章）")
	if err != nil || len(loc) != 1 || loc[0].Page != 2 {
		t.Fatalf("locate: %+v %v", loc, err)
	}
	if loc[0].X < 315 || loc[0].X > 325 || loc[0].Y < 842-600-10 || loc[0].Y > 842-600+5 || loc[0].W < 60 {
		t.Fatalf("keyword box %+v, want near x=320, y=%d (PDF points from the bottom)", loc[0], 842-600)
	}
	sr, _ := document.NewSealRenderer()
	sealPNG, _ := sr.RenderSeal(ports.SealSpec{Template: seal.TemplateRoundStar, EnterpriseName: "福州数信科技有限公司", Label: "合同专用章"})
	rr, _ := document.NewRenderer()
	sigPNG, _ := rr.RenderSignature("张三")

	// The seal over the keyword: 42 mm ≈ 119 pt, centred on the keyword's start.
	field := ports.PDFField{Page: 2, X: loc[0].X + loc[0].W/2 - 60, Y: loc[0].Y - 50, W: 119, H: 119}
	once, err := s.Sign(ctx, ports.PDFSignRequest{PDF: doc, Signer: pki.keyA, Chain: pki.leafA, Image: sealPNG, Field: field,
		Name: "福州数信科技有限公司", Reason: "投标文件盖章", Location: "福州", TSA: &ports.TSAEndpoint{URL: pki.tsaURL}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(once, doc) {
		t.Fatal("the first signature rewrote the document instead of appending to it")
	}
	if _, err := s.Sign(ctx, ports.PDFSignRequest{PDF: once, Signer: pki.keyB, Chain: pki.leafB, Image: sigPNG, Certify: true,
		Field: ports.PDFField{Page: 3, X: 72, Y: 72, W: 120, H: 50}}); kernel.CodeOf(err) != "pdf-already-signed" {
		t.Fatalf("certifying a signed document: %v", err)
	}
	twice, err := s.Sign(ctx, ports.PDFSignRequest{PDF: once, Signer: pki.keyB, Chain: pki.leafB, Image: sigPNG,
		Field: ports.PDFField{Page: 3, X: 72, Y: 72, W: 120, H: 50}, Name: "张三", Reason: "投标人签字", TSA: &ports.TSAEndpoint{URL: pki.tsaURL}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(twice, once) {
		t.Fatal("the second signature rewrote the first revision")
	}
	if info, err := s.Inspect(ctx, twice); err != nil || info.Signatures != 2 || info.Pages != 3 {
		t.Fatalf("inspect %+v %v", info, err)
	}

	out := pdfsig(t, twice)
	if n := strings.Count(out, "Signature Validation: Signature is Valid."); n != 2 {
		t.Fatalf("pdfsig: %d valid signatures, want 2:\n%s", n, out)
	}
	if !strings.Contains(out, "adbe.pkcs7.detached") {
		t.Errorf("pdfsig: SubFilter not adbe.pkcs7.detached:\n%s", out)
	}
	// Both carry an RFC 3161 timestamp from the TSA.
	res, err := verify.VerifyWithOptions(bytes.NewReader(twice), int64(len(twice)), &verify.VerifyOptions{})
	if err != nil || len(res.Signers) != 2 {
		t.Fatalf("verify: %v %+v", err, res)
	}
	for i, sg := range res.Signers {
		if !sg.ValidSignature || sg.TimeStamp == nil || sg.TimestampStatus != "valid" {
			t.Errorf("signer %d: valid %v timestamp %v (%s)", i, sg.ValidSignature, sg.TimeStamp != nil, sg.TimestampStatus)
		}
	}
	if pki.tsaRequests.Load() != 2 {
		t.Errorf("TSA asked %d times, want 2", pki.tsaRequests.Load())
	}

	// One changed byte in the signed content breaks both signatures.
	i := bytes.Index(twice, []byte("BIDDOC page 1"))
	if i < 0 {
		t.Fatal("page text not found")
	}
	bad := bytes.Clone(twice)
	bad[i] = 'X'
	if out := pdfsig(t, bad); strings.Contains(out, "Signature is Valid") {
		t.Fatalf("a changed document still verifies:\n%s", out)
	}

	// The seal is on page 2 where the field was placed: red pixels inside it, none far away.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "s.pdf"), twice, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("pdftoppm", "-f", "2", "-l", "2", "-r", "72", "-png", filepath.Join(dir, "s.pdf"), filepath.Join(dir, "p"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v %s", err, b)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "p-*2.png"))
	if len(matches) != 1 {
		t.Fatalf("rendered pages %v", matches)
	}
	img := decodePNGFile(t, matches[0])
	pageH := img.Bounds().Dy() // 842 at 72 dpi: one pixel per point
	top := pageH - int(field.Y+field.H)
	inside := redIn(img, image.Rect(int(field.X), top, int(field.X+field.W), top+int(field.H)))
	if inside < 300 {
		t.Fatalf("only %d red pixels in the seal's field", inside)
	}
	if outside := redIn(img, image.Rect(0, 0, img.Bounds().Dx(), top-5)); outside != 0 {
		t.Fatalf("%d red pixels above the field", outside)
	}
}

func decodePNGFile(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func redIn(img image.Image, r image.Rectangle) int {
	n := 0
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if cr > 0xB000 && cg < 0x7000 && cb < 0x7000 {
				n++
			}
		}
	}
	return n
}

// TestPDFCertify: the first signer certifies (DocMDP P=2, invisible), then seals visibly and a
// second signer signs: all three signatures verify.
func TestPDFCertify(t *testing.T) {
	havePoppler(t)
	ctx := context.Background()
	pki := newTestPKI(t)
	var s document.PDFSigner
	doc := bidPDF(t, 2)
	sr, _ := document.NewSealRenderer()
	sealPNG, _ := sr.RenderSeal(ports.SealSpec{Template: seal.TemplateRoundStar, EnterpriseName: "福州数信科技有限公司"})
	field := ports.PDFField{Page: 1, X: 300, Y: 300, W: 119, H: 119}
	cert, err := s.Sign(ctx, ports.PDFSignRequest{PDF: doc, Signer: pki.keyA, Chain: pki.leafA, Field: field, Certify: true, Name: "福州数信科技有限公司"})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Sign(ctx, ports.PDFSignRequest{PDF: cert, Signer: pki.keyA, Chain: pki.leafA, Image: sealPNG, Field: field})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := s.Sign(ctx, ports.PDFSignRequest{PDF: sealed, Signer: pki.keyB, Chain: pki.leafB, Image: sealPNG,
		Field: ports.PDFField{Page: 2, X: 100, Y: 100, W: 119, H: 119}})
	if err != nil {
		t.Fatal(err)
	}
	out := pdfsig(t, signed)
	if n := strings.Count(out, "Signature Validation: Signature is Valid."); n != 3 {
		t.Fatalf("pdfsig: %d valid, want 3:\n%s", n, out)
	}
	if !bytes.Contains(cert, []byte("/DocMDP")) || !bytes.Contains(cert, []byte("/P 2")) {
		t.Fatal("no DocMDP transform with P 2 in the certified document")
	}
}

func TestPDFSignRefusals(t *testing.T) {
	ctx := context.Background()
	pki := newTestPKI(t)
	var s document.PDFSigner
	doc := bidPDF(t, 2)
	req := func(pdf []byte, f ports.PDFField) ports.PDFSignRequest {
		return ports.PDFSignRequest{PDF: pdf, Signer: pki.keyA, Chain: pki.leafA, Field: f}
	}
	ok := ports.PDFField{Page: 1, X: 10, Y: 10, W: 100, H: 100}

	enc := fpdf.New("P", "pt", "A4", "")
	enc.SetProtection(fpdf.CnProtectPrint, "", "owner")
	enc.AddPage()
	var eb bytes.Buffer
	_ = enc.Output(&eb)

	many := fpdf.New("P", "pt", "A6", "")
	for range 501 {
		many.AddPage()
	}
	var mb bytes.Buffer
	_ = many.Output(&mb)

	huge := append([]byte("%PDF-1.7\n"), make([]byte, ports.PDFMaxBytes)...)
	for name, tc := range map[string]struct {
		r    ports.PDFSignRequest
		code string
	}{
		"too large":      {req(huge, ok), "pdf-too-large"},
		"not a pdf":      {req([]byte("hello"), ok), "pdf-invalid"},
		"broken":         {req(append([]byte("%PDF-1.4\n1 0 obj << /Type /Catalog"), bytes.Repeat([]byte{0xff}, 100)...), ok), "pdf-invalid"},
		"truncated":      {req(doc[:len(doc)/2], ok), "pdf-invalid"},
		"encrypted":      {req(eb.Bytes(), ok), "pdf-encrypted"},
		"501 pages":      {req(mb.Bytes(), ok), "pdf-too-many-pages"},
		"no such page":   {req(doc, ports.PDFField{Page: 3, X: 10, Y: 10, W: 100, H: 100}), "pdf-page-out-of-range"},
		"page zero":      {req(doc, ports.PDFField{Page: 0, X: 10, Y: 10, W: 100, H: 100}), "pdf-page-out-of-range"},
		"off the right":  {req(doc, ports.PDFField{Page: 1, X: 550, Y: 10, W: 100, H: 100}), "pdf-field-outside-page"},
		"off the top":    {req(doc, ports.PDFField{Page: 1, X: 10, Y: 800, W: 100, H: 100}), "pdf-field-outside-page"},
		"negative":       {req(doc, ports.PDFField{Page: 1, X: -1, Y: 10, W: 100, H: 100}), "pdf-field-outside-page"},
		"too small":      {req(doc, ports.PDFField{Page: 1, X: 10, Y: 10, W: 2, H: 2}), "pdf-field-outside-page"},
		"tsa down":       {ports.PDFSignRequest{PDF: doc, Signer: pki.keyA, Chain: pki.leafA, Field: ok, TSA: &ports.TSAEndpoint{URL: pki.tsaURL}}, "tsa-unavailable"},
		"unreachable ts": {ports.PDFSignRequest{PDF: doc, Signer: pki.keyA, Chain: pki.leafA, Field: ok, TSA: &ports.TSAEndpoint{URL: "http://127.0.0.1:1/tsa"}}, "tsa-unavailable"},
	} {
		pki.tsaUnavailable.Store(name == "tsa down")
		if _, err := s.Sign(ctx, tc.r); kernel.CodeOf(err) != tc.code {
			t.Errorf("%s: %v, want %s", name, err, tc.code)
		}
	}
	if _, err := s.Locate(ctx, doc, "乙方（签字）"); kernel.CodeOf(err) != "pdf-keyword-not-found" {
		t.Errorf("absent keyword: %v", err)
	}
	if _, err := s.Locate(ctx, doc, " "); kernel.CodeOf(err) != "pdf-keyword-invalid" {
		t.Errorf("empty keyword: %v", err)
	}
	if got, err := s.Locate(ctx, doc, "BIDDOC page"); err != nil || len(got) != 2 || got[1].Page != 2 {
		t.Errorf("latin keyword on every page: %+v %v", got, err)
	}
}

func benchmarkSign(b *testing.B, pages int) {
	pki := newTestPKI(b)
	doc := bidPDF(b, pages)
	sr, _ := document.NewSealRenderer()
	sealPNG, _ := sr.RenderSeal(ports.SealSpec{Template: seal.TemplateRoundStar, EnterpriseName: "福州数信科技有限公司"})
	var s document.PDFSigner
	req := ports.PDFSignRequest{PDF: doc, Signer: pki.keyA, Chain: pki.leafA, Image: sealPNG,
		Field: ports.PDFField{Page: pages, X: 300, Y: 100, W: 119, H: 119}, Name: "福州数信科技有限公司"}
	b.SetBytes(int64(len(doc)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Sign(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPDFSign20Pages: one seal on a 20-page PDF (no TSA round trip).
func BenchmarkPDFSign20Pages(b *testing.B) { benchmarkSign(b, 20) }

// BenchmarkPDFSign200Pages: one seal on a 200-page PDF.
func BenchmarkPDFSign200Pages(b *testing.B) { benchmarkSign(b, 200) }

// The verification service's PDF side: both signatures intact, time-stamped and chained to the CA;
// the first no longer covers the whole file (a revision came after it), the second does; a changed
// byte breaks them; a PDF without signatures is refused.
func TestPDFVerifierReportsEverySignature(t *testing.T) {
	ctx := context.Background()
	pki := newTestPKI(t)
	var s document.PDFSigner
	rr, _ := document.NewRenderer()
	sigPNG, _ := rr.RenderSignature("张三")
	doc := bidPDF(t, 2)
	once, err := s.Sign(ctx, ports.PDFSignRequest{PDF: doc, Signer: pki.keyA, Chain: pki.leafA, Image: sigPNG,
		Field: ports.PDFField{Page: 1, X: 72, Y: 72, W: 120, H: 50}, Name: "甲", TSA: &ports.TSAEndpoint{URL: pki.tsaURL}})
	if err != nil {
		t.Fatal(err)
	}
	twice, err := s.Sign(ctx, ports.PDFSignRequest{PDF: once, Signer: pki.keyB, Chain: pki.leafB, Image: sigPNG,
		Field: ports.PDFField{Page: 2, X: 72, Y: 72, W: 120, H: 50}, Name: "乙", TSA: &ports.TSAEndpoint{URL: pki.tsaURL}})
	if err != nil {
		t.Fatal(err)
	}
	rootPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.root.Raw})
	var v document.PDFVerifier
	reps, err := v.InspectPDF(ctx, twice, rootPEM, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 2 {
		t.Fatalf("%d reports, want 2", len(reps))
	}
	for i, r := range reps {
		if !r.Intact || !r.Timestamped || !r.ChainValid || r.CertificateSerial == "" || r.SignedAt.IsZero() {
			t.Errorf("signature %d: %+v", i, r)
		}
	}
	if reps[0].CoversWholeDocument || !reps[1].CoversWholeDocument {
		t.Errorf("covers whole document: %v, %v; want false, true", reps[0].CoversWholeDocument, reps[1].CoversWholeDocument)
	}
	// Another CA's chain: intact, but not trusted.
	other := newTestPKI(t)
	reps, err = v.InspectPDF(ctx, twice, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: other.root.Raw}), nil)
	if err != nil || reps[1].ChainValid {
		t.Fatalf("foreign CA: %+v %v", reps, err)
	}
	// One changed byte inside the signed range of both signatures.
	bad := bytes.Clone(twice)
	i := bytes.Index(bad, []byte("/Type /Page"))
	bad[i+1] ^= 0x20
	reps, err = v.InspectPDF(ctx, bad, rootPEM, nil)
	if err == nil {
		for i, r := range reps {
			if r.Intact {
				t.Errorf("signature %d intact after a byte changed", i)
			}
		}
	}
	if _, err := v.InspectPDF(ctx, doc, rootPEM, nil); kernel.CodeOf(err) != "pdf-not-signed" {
		t.Fatalf("unsigned PDF: %v", err)
	}
}
