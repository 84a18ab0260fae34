package document_test

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/shuxinqian/server/adapters/document"
	"github.com/shuxinqian/server/adapters/tsa"
	"github.com/shuxinqian/server/domain/seal"
	"github.com/shuxinqian/server/ports"
)

// sandboxTSA serves the platform's sandbox TSA (tsa.Local, as POST /api/v1/tsa does) over HTTP.
func sandboxTSA(b *testing.B, pki *testPKI) string {
	b.Helper()
	local, err := tsa.NewLocal(pki.tsaKey, []*x509.Certificate{pki.tsaCert, pki.root}, asn1.ObjectIdentifier{1, 2, 3, 4, 1}, nil)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		resp, err := local.Respond(r.Context(), q)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		_, _ = w.Write(resp)
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

// benchmarkSealTSA signs a bid PDF of pages pages with one official seal (42 mm round, drawn by
// the seal renderer), a signature time-stamp from the sandbox TSA over HTTP, as a signing does
// (without the database: see tests/api for the whole flow). It reports signings per second.
func benchmarkSealTSA(b *testing.B, pages int) {
	pki := newTestPKI(b)
	url := sandboxTSA(b, pki)
	doc := bidPDF(b, pages)
	sr, _ := document.NewSealRenderer()
	sealPNG, err := sr.RenderSeal(ports.SealSpec{Template: seal.TemplateRoundStar, EnterpriseName: "福州数信科技有限公司"})
	if err != nil {
		b.Fatal(err)
	}
	var s document.PDFSigner
	req := ports.PDFSignRequest{PDF: doc, Signer: pki.keyA, Chain: pki.leafA, Image: sealPNG,
		Field: ports.PDFField{Page: pages, X: 300, Y: 100, W: 119, H: 119}, Name: "福州数信科技有限公司",
		TSA: &ports.TSAEndpoint{URL: url}}
	b.SetBytes(int64(len(doc)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Sign(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signings/s")
}

// BenchmarkSealSign20PagesSandboxTSA: one seal on a 20-page PDF, time-stamped by the sandbox TSA.
func BenchmarkSealSign20PagesSandboxTSA(b *testing.B) { benchmarkSealTSA(b, 20) }

// BenchmarkSealSign200PagesSandboxTSA: one seal on a 200-page PDF, time-stamped by the sandbox TSA.
func BenchmarkSealSign200PagesSandboxTSA(b *testing.B) { benchmarkSealTSA(b, 200) }
