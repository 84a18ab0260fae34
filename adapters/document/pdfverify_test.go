package document_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"image"
	"image/jpeg"
	"math/big"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/go-pdf/fpdf"

	"github.com/shuxinqian/server/adapters/document"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// issueAs issues a signing certificate with the platform CA's profiles: an organisation's
// (O = its name, CN, SERIALNUMBER = credit code) or a person's (CN = the name, no O).
func (p *testPKI) issueAs(t testing.TB, subject pkix.Name) ([]*x509.Certificate, crypto.Signer) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p.serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(p.serial), Subject: subject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.root, &key.PublicKey, p.rootKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return []*x509.Certificate{c, p.root}, key
}

// appendRevision appends an incremental update that replaces object num with body (a stream
// when data is given), as an editor saving "incrementally" would.
func appendRevision(t *testing.T, pdf []byte, num int, dict string, data []byte) []byte {
	t.Helper()
	last := func(re string) int {
		m := regexp.MustCompile(re).FindAllSubmatch(pdf, -1)
		if len(m) == 0 {
			t.Fatalf("no %s in the PDF", re)
		}
		n, _ := strconv.Atoi(string(m[len(m)-1][1]))
		return n
	}
	prev, size, root := last(`startxref\s+(\d+)`), last(`/Size\s+(\d+)`), last(`/Root\s+(\d+)\s+0\s+R`)
	var b bytes.Buffer
	b.Write(pdf)
	if !bytes.HasSuffix(pdf, []byte("\n")) {
		b.WriteByte('\n')
	}
	off := b.Len()
	if data != nil {
		fmt.Fprintf(&b, "%d 0 obj\n<< %s /Length %d >>\nstream\n%s\nendstream\nendobj\n", num, dict, len(data), data)
	} else {
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", num, dict)
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n%d 1\n%010d 00000 n \ntrailer\n<< /Size %d /Root %d 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n", num, off, size, root, prev, x)
	return b.Bytes()
}

// A seal then a personal signature: kind, signer name, and no change after either; an editor's
// incremental update of the page content afterwards marks both modified, though each signature
// stays intact over its own revision.
func TestPDFVerifierKindsAndLaterChanges(t *testing.T) {
	ctx := context.Background()
	pki := newTestPKI(t)
	orgChain, orgKey := pki.issueAs(t, pkix.Name{Country: []string{"CN"}, Organization: []string{"福州数信科技有限公司"},
		CommonName: "福州数信科技有限公司", SerialNumber: "91350100M000100Y43"})
	personChain, personKey := pki.issueAs(t, pkix.Name{Country: []string{"CN"}, CommonName: "张三", SerialNumber: "u-123"})
	sr, _ := document.NewSealRenderer()
	rr, _ := document.NewRenderer()
	sealPNG, _ := sr.RenderSeal(ports.SealSpec{EnterpriseName: "福州数信科技有限公司", Label: "投标专用章"})
	sigPNG, _ := rr.RenderSignature("张三")
	var s document.PDFSigner
	doc := bidPDF(t, 2)
	sealed, err := s.Sign(ctx, ports.PDFSignRequest{PDF: doc, Signer: orgKey, Chain: orgChain, Image: sealPNG,
		Field: ports.PDFField{Page: 2, X: 300, Y: 200, W: 119, H: 119}, TSA: &ports.TSAEndpoint{URL: pki.tsaURL}})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := s.Sign(ctx, ports.PDFSignRequest{PDF: sealed, Signer: personKey, Chain: personChain, Image: sigPNG,
		Field: ports.PDFField{Page: 2, X: 72, Y: 72, W: 120, H: 50}, TSA: &ports.TSAEndpoint{URL: pki.tsaURL}})
	if err != nil {
		t.Fatal(err)
	}
	rootPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.root.Raw})
	var v document.PDFVerifier
	reps, err := v.InspectPDF(ctx, signed, rootPEM, nil)
	if err != nil || len(reps) != 2 {
		t.Fatalf("%d reports, %v", len(reps), err)
	}
	if reps[0].Kind != "seal" || reps[0].SignerName != "福州数信科技有限公司" || reps[1].Kind != "personal" || reps[1].SignerName != "张三" {
		t.Fatalf("kinds and names: %q %q, %q %q", reps[0].Kind, reps[0].SignerName, reps[1].Kind, reps[1].SignerName)
	}
	for i, r := range reps {
		if r.ModifiedAfter || !r.Intact || !r.ChainValid || !r.Timestamped {
			t.Errorf("signature %d: %+v", i, r)
		}
	}
	if reps[0].CoversWholeDocument || !reps[1].CoversWholeDocument {
		t.Errorf("covers: %v %v", reps[0].CoversWholeDocument, reps[1].CoversWholeDocument)
	}

	// An incremental update that rewrites page 1's content stream.
	m := regexp.MustCompile(`/Contents (\d+) 0 R`).FindSubmatch(doc)
	if m == nil {
		t.Fatal("no page content in the fixture")
	}
	num, _ := strconv.Atoi(string(m[1]))
	forged := appendRevision(t, signed, num, "", []byte("BT /F1 24 Tf 72 500 Td (PRICE 1 YUAN) Tj ET"))
	reps, err = v.InspectPDF(ctx, forged, rootPEM, nil)
	if err != nil || len(reps) != 2 {
		t.Fatalf("forged: %d reports, %v", len(reps), err)
	}
	for i, r := range reps {
		if !r.ModifiedAfter || !r.Intact || r.CoversWholeDocument {
			t.Errorf("forged, signature %d: modified %v intact %v covers %v", i, r.ModifiedAfter, r.Intact, r.CoversWholeDocument)
		}
	}
}

// FuzzPDFVerifier: whatever the bytes, the verifier answers reports or a kernel invalid error
// (never a panic, never an internal error); a damaged later revision is reported, not fatal.
func FuzzPDFVerifier(f *testing.F) {
	pki := newTestPKI(f)
	var s document.PDFSigner
	doc := bidPDF(f, 1)
	once, err := s.Sign(context.Background(), ports.PDFSignRequest{PDF: doc, Signer: pki.keyA, Chain: pki.leafA,
		Field: ports.PDFField{Page: 1, X: 72, Y: 72, W: 100, H: 40}})
	if err != nil {
		f.Fatal(err)
	}
	twice, err := s.Sign(context.Background(), ports.PDFSignRequest{PDF: once, Signer: pki.keyB, Chain: pki.leafB,
		Field: ports.PDFField{Page: 1, X: 72, Y: 200, W: 100, H: 40}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(twice)
	f.Add(twice[:len(twice)-30])
	f.Add(append(bytes.Clone(once), []byte("\n1 0 obj\n<< /Type /Pages /Kids [1 0 R] /Count 1 >>\nendobj\n")...))
	f.Add(rawPDF("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [2 0 R] /Count 1 >>"))
	rootPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.root.Raw})
	codes := map[string]bool{"pdf-invalid": true, "pdf-not-signed": true, "pdf-too-large": true}
	var v document.PDFVerifier
	f.Fuzz(func(t *testing.T, data []byte) {
		reps, err := v.InspectPDF(context.Background(), data, rootPEM, nil)
		if err != nil {
			if kernel.KindOf(err) != kernel.KindInvalid || !codes[kernel.CodeOf(err)] {
				t.Fatalf("%v (kind %v, code %q)", err, kernel.KindOf(err), kernel.CodeOf(err))
			}
			return
		}
		if len(reps) == 0 {
			t.Fatal("no error and no reports")
		}
	})
}

// A scanned bid (a JPEG page image, DCTDecode, which the PDF reader cannot decode) signed twice:
// the first signature is not reported as modified, its image stream is never read.
func TestPDFVerifierScannedDocument(t *testing.T) {
	ctx := context.Background()
	pki := newTestPKI(t)
	img := image.NewRGBA(image.Rect(0, 0, 400, 560))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, img, &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	f := fpdf.New("P", "pt", "A4", "")
	f.RegisterImageOptionsReader("scan", fpdf.ImageOptions{ImageType: "JPG"}, &jb)
	f.AddPage()
	f.ImageOptions("scan", 0, 0, 595, 842, false, fpdf.ImageOptions{ImageType: "JPG"}, 0, "")
	var doc bytes.Buffer
	if err := f.Output(&doc); err != nil {
		t.Fatal(err)
	}
	var s document.PDFSigner
	once, err := s.Sign(ctx, ports.PDFSignRequest{PDF: doc.Bytes(), Signer: pki.keyA, Chain: pki.leafA, Field: ports.PDFField{Page: 1, X: 72, Y: 72, W: 100, H: 40}})
	if err != nil {
		t.Fatal(err)
	}
	twice, err := s.Sign(ctx, ports.PDFSignRequest{PDF: once, Signer: pki.keyB, Chain: pki.leafB, Field: ports.PDFField{Page: 1, X: 300, Y: 72, W: 100, H: 40}})
	if err != nil {
		t.Fatal(err)
	}
	var v document.PDFVerifier
	reps, err := v.InspectPDF(ctx, twice, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.root.Raw}), nil)
	if err != nil || len(reps) != 2 {
		t.Fatalf("%d reports, %v", len(reps), err)
	}
	if reps[0].ModifiedAfter || reps[1].ModifiedAfter {
		t.Fatalf("a second signature reported as a modification: %v", reps[0].Problems)
	}
}
