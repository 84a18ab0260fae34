package api

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"image"
	"image/png"
	"math/big"
	"testing"
	"time"

	"github.com/digitorus/pdf"
	"github.com/digitorus/pdfsign/sign"
	"github.com/go-pdf/fpdf"
)

// intakePDF is an A4 PDF of n pages; with noise it embeds an incompressible image of about
// noise bytes (to make a document over the 10 MiB image limit).
func intakePDF(t *testing.T, n, noise int) []byte {
	t.Helper()
	f := fpdf.New("P", "pt", "A4", "")
	if noise > 0 {
		side := 1
		for side*side*3 < noise {
			side++
		}
		img := image.NewRGBA(image.Rect(0, 0, side, side))
		_, _ = rand.Read(img.Pix)
		for i := 3; i < len(img.Pix); i += 4 {
			img.Pix[i] = 0xff
		}
		var b bytes.Buffer
		if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		f.RegisterImageOptionsReader("noise", fpdf.ImageOptions{ImageType: "PNG"}, &b)
	}
	for i := range n {
		f.AddPage()
		f.SetFont("Helvetica", "", 14)
		f.Text(72, 72, "Bid document page")
		if i == 0 && noise > 0 {
			f.ImageOptions("noise", 72, 100, 400, 400, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
		}
	}
	var b bytes.Buffer
	if err := f.Output(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func intakeEncrypted(t *testing.T) []byte {
	t.Helper()
	f := fpdf.New("P", "pt", "A4", "")
	f.SetProtection(fpdf.CnProtectPrint, "", "owner-secret")
	f.AddPage()
	var b bytes.Buffer
	if err := f.Output(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// intakeCertified certifies doc permitting no changes (DocMDP P=1), as another product would.
func intakeCertified(t *testing.T, doc []byte) []byte {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Other Platform"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	rd, err := pdf.NewReader(bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := sign.Sign(bytes.NewReader(doc), &out, rd, int64(len(doc)), sign.SignData{
		Signature: sign.SignDataSignature{CertType: sign.CertificationSignature, DocMDPPerm: sign.DoNotAllowAnyChangesPerms,
			Info: sign.SignDataSignatureInfo{Name: "Other Platform", Date: time.Now()}},
		Signer: key, Certificate: cert, CertificateChains: [][]*x509.Certificate{{cert}},
	}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestDocumentUploadIntake: POST /api/v1/files with purpose document takes a PDF up to 20 MiB
// and refuses, each with its code, what cannot be signed; nothing refused is stored.
func TestDocumentUploadIntake(t *testing.T) {
	doc := intakePDF(t, 3, 0)
	big := intakePDF(t, 2, 11<<20)
	if len(big) <= 10<<20 || len(big) > 20<<20 {
		t.Fatalf("the big fixture is %d bytes", len(big))
	}
	many := intakePDF(t, 501, 0)
	forEachBackend(t, func(t *testing.T, s *server) {
		token := s.login("13800138000")
		ok := s.upload(token, "document", "bid.pdf", doc).expect(t, 201, "")
		if ok.str("content_type") != "application/pdf" || ok.str("purpose") != "document" || ok.body["size"] != float64(len(doc)) {
			t.Fatalf("upload answer %s", ok.raw)
		}
		s.upload(token, "document", "big.pdf", big).expect(t, 201, "")

		s.upload(token, "document", "huge.pdf", append([]byte("%PDF-1.7\n"), make([]byte, 20<<20)...)).expect(t, 413, "file-too-large")
		s.upload(token, "document", "seal.png", pngBytes(t, 100, 50)).expect(t, 422, "file-type-not-allowed")
		s.upload(token, "document", "broken.pdf", doc[:len(doc)/2]).expect(t, 422, "pdf-invalid")
		s.upload(token, "document", "garbage.pdf", append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte{0xfe, 0x00}, 500)...)).expect(t, 422, "pdf-invalid")
		s.upload(token, "document", "locked.pdf", intakeEncrypted(t)).expect(t, 422, "pdf-encrypted")
		s.upload(token, "document", "many.pdf", many).expect(t, 422, "pdf-too-many-pages")
		s.upload(token, "document", "certified.pdf", intakeCertified(t, doc)).expect(t, 422, "pdf-certified")
		// Images keep their 10 MiB limit.
		s.upload(token, "signature", "big.png", bytes.Repeat([]byte{0x89}, 10<<20+1)).expect(t, 413, "file-too-large")
		// A document is not a signature image.
		s.do("POST", "/api/v1/me/signatures", token, map[string]any{"file_id": ok.str("file_id")}).expect(t, 422, "file-purpose-mismatch")
	})
}
