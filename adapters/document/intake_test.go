package document_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"testing"
	"time"

	"github.com/digitorus/pdf"
	"github.com/digitorus/pdfsign/sign"
	"github.com/go-pdf/fpdf"

	"github.com/shuxinqian/server/adapters/document"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// certifiedPDF certifies doc with the DocMDP permission perm (an invisible certification
// signature made directly with pdfsign, as another product would).
func certifiedPDF(t testing.TB, pki *testPKI, doc []byte, perm sign.DocMDPPerm) []byte {
	t.Helper()
	rd, err := pdf.NewReader(bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = sign.Sign(bytes.NewReader(doc), &out, rd, int64(len(doc)), sign.SignData{
		Signature: sign.SignDataSignature{CertType: sign.CertificationSignature, DocMDPPerm: perm,
			Info: sign.SignDataSignatureInfo{Name: "其他平台", Date: time.Now()}},
		Signer: pki.keyA, Certificate: pki.leafA[0], CertificateChains: [][]*x509.Certificate{pki.leafA},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func encryptedPDF(t testing.TB, userPassword string) []byte {
	t.Helper()
	f := fpdf.New("P", "pt", "A4", "")
	f.SetProtection(fpdf.CnProtectPrint, userPassword, "owner")
	f.AddPage()
	f.SetFont("Helvetica", "", 12)
	f.Text(72, 72, "secret bid")
	var b bytes.Buffer
	if err := f.Output(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func pagesPDF(t testing.TB, n int) []byte {
	t.Helper()
	f := fpdf.New("P", "pt", "A6", "")
	for range n {
		f.AddPage()
	}
	var b bytes.Buffer
	if err := f.Output(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// rawPDF writes objects (numbered from 1, the first the catalog) with a correct xref table.
func rawPDF(objs ...string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, x)
	return b.Bytes()
}

func inspect(data []byte) (ports.PDFIntakeInfo, error) {
	return document.InspectDocument(bytes.NewReader(data), int64(len(data)))
}

func TestInspectDocumentAccepts(t *testing.T) {
	pki := newTestPKI(t)
	doc := bidPDF(t, 20)
	info, err := inspect(doc)
	if err != nil || info.Pages != 20 || info.Certified || info.Signatures != 0 {
		t.Fatalf("plain PDF: %+v %v", info, err)
	}
	raw := rawPDF("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 /MediaBox [0 0 595 842] >>",
		"<< /Type /Page /Parent 2 0 R >>", "<< /Type /Page /Parent 2 0 R >>")
	if info, err := inspect(raw); err != nil || info.Pages != 2 {
		t.Fatalf("hand-written PDF with an inherited media box: %+v %v", info, err)
	}
	if info, err := inspect(pagesPDF(t, ports.PDFMaxPages)); err != nil || info.Pages != ports.PDFMaxPages {
		t.Fatalf("500 pages: %+v %v", info, err)
	}
	// Certified allowing form filling and signatures (P=2), or annotations too (P=3): accepted.
	for _, perm := range []sign.DocMDPPerm{sign.AllowFillingExistingFormFieldsAndSignaturesPerms,
		sign.AllowFillingExistingFormFieldsAndSignaturesAndCRUDAnnotationsPerms} {
		info, err := inspect(certifiedPDF(t, pki, doc, perm))
		if err != nil || !info.Certified || info.DocMDP != int(perm) || info.Signatures != 1 || info.Pages != 20 {
			t.Fatalf("certified P=%d: %+v %v", perm, info, err)
		}
	}
	// Through the port.
	if info, err := (document.PDFIntake{}).CheckPDF(context.Background(), doc); err != nil || info.Pages != 20 {
		t.Fatalf("CheckPDF: %+v %v", info, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (document.PDFIntake{}).CheckPDF(ctx, doc); err == nil {
		t.Fatal("CheckPDF ran with a cancelled context")
	}
}

func TestInspectDocumentRefuses(t *testing.T) {
	pki := newTestPKI(t)
	doc := bidPDF(t, 2)
	p1 := certifiedPDF(t, pki, doc, sign.DoNotAllowAnyChangesPerms)
	huge := append([]byte("%PDF-1.7\n"), make([]byte, ports.PDFMaxBytes)...)
	for name, tc := range map[string]struct {
		data []byte
		code string
	}{
		"empty":       {nil, "pdf-invalid"},
		"not a pdf":   {[]byte("PK\x03\x04 a zip, not a PDF"), "pdf-invalid"},
		"header only": {[]byte("%PDF-1.7\n"), "pdf-invalid"},
		"broken":      {append([]byte("%PDF-1.4\n1 0 obj << /Type /Catalog"), bytes.Repeat([]byte{0xff}, 100)...), "pdf-invalid"},
		"truncated":   {doc[:len(doc)/2], "pdf-invalid"},
		"no pages":    {rawPDF("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [] /Count 0 >>"), "pdf-invalid"},
		// A page tree that contains itself: the reader's own Page(i) would loop forever.
		"page tree cycle": {rawPDF("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
			"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"), "pdf-invalid"},
		"page tree loop": {rawPDF("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
			"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"), "pdf-invalid"},
		"count lies": {rawPDF("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 400 >>",
			"<< /Type /Page /Parent 2 0 R >>"), "pdf-invalid"}, // and the one page has no media box
		"encrypted, no user": {encryptedPDF(t, ""), "pdf-encrypted"},
		"encrypted, user pw": {encryptedPDF(t, "open-sesame"), "pdf-encrypted"},
		"501 pages":          {pagesPDF(t, ports.PDFMaxPages+1), "pdf-too-many-pages"},
		"over 20 MiB":        {huge, "file-too-large"},
		"certified P=1":      {p1, "pdf-certified"},
	} {
		_, err := inspect(tc.data)
		if kernel.CodeOf(err) != tc.code || kernel.KindOf(err) != kernel.KindInvalid {
			t.Errorf("%s: %v (kind %v), want invalid %s", name, err, kernel.KindOf(err), tc.code)
		}
	}
	// The signer refuses the same document: nothing is added to a PDF that permits no changes.
	var s document.PDFSigner
	_, err := s.Sign(context.Background(), ports.PDFSignRequest{PDF: p1, Signer: pki.keyB, Chain: pki.leafB,
		Field: ports.PDFField{Page: 1, X: 72, Y: 72, W: 100, H: 40}})
	if kernel.CodeOf(err) != "pdf-certified" {
		t.Fatalf("signing a P=1 certified PDF: %v", err)
	}
}

// FuzzInspectDocument: whatever the bytes, the intake answers a description or a kernel invalid
// error with one of its codes — never a panic, never an internal error.
func FuzzInspectDocument(f *testing.F) {
	doc := bidPDF(f, 2)
	f.Add(doc)
	f.Add(doc[:len(doc)-40])
	f.Add(encryptedPDF(f, ""))
	f.Add([]byte("%PDF-1.4\ntrailer << /Root << /Pages << /Kids [1 0 R] /Count 1 >> >> >>\n"))
	f.Add([]byte("%PDF-"))
	f.Add(rawPDF("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"))
	f.Add([]byte("hello"))
	codes := map[string]bool{"pdf-invalid": true, "pdf-encrypted": true, "pdf-too-many-pages": true, "pdf-certified": true, "file-too-large": true}
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := inspect(data)
		if err != nil {
			if kernel.KindOf(err) != kernel.KindInvalid || !codes[kernel.CodeOf(err)] {
				t.Fatalf("%v (kind %v, code %q)", err, kernel.KindOf(err), kernel.CodeOf(err))
			}
			return
		}
		if info.Pages < 1 || info.Pages > ports.PDFMaxPages {
			t.Fatalf("accepted with %d pages", info.Pages)
		}
	})
}
