package document

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"regexp"
	"strconv"
	"time"

	"github.com/digitorus/pdfsign/verify"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// PDFVerifier reports on every signature of a signed PDF (ports.PDFSignatureVerifier): the CMS
// over its byte range (pdfsign's verifier), the time-stamp, whether the signature covers the whole
// file or later revisions were appended after it, and whether the signing certificate chains to
// the platform CA at the signing time. The certificates the PDF embeds are never trusted as roots.
type PDFVerifier struct{}

var byteRangeRe = regexp.MustCompile(`/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]`)

// InspectPDF implements ports.PDFSignatureVerifier. A file that is not a signed PDF is a 422.
func (PDFVerifier) InspectPDF(_ context.Context, pdf []byte, caChainPEM, _ []byte) ([]ports.SignatureReport, error) {
	if len(pdf) > ports.PDFMaxBytes {
		return nil, kernel.Invalid("pdf-too-large", "the PDF is larger than 20 MiB")
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		return nil, kernel.Invalid("pdf-invalid", "the file is not a PDF")
	}
	opts := verify.DefaultVerifyOptions()
	opts.EnableExternalRevocationCheck = false // revocation comes from the platform's own records
	opts.AllowUntrustedRoots = false
	var res *verify.Response
	err := guard(func() error { // the verifier's PDF reader panics on some damaged files
		var err error
		res, err = verify.VerifyWithOptions(bytes.NewReader(pdf), int64(len(pdf)), opts)
		return err
	})
	if err != nil || res == nil || len(res.Signers) == 0 {
		return nil, kernel.Invalid("pdf-not-signed", "the file is not a signed PDF, or its signatures cannot be read")
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for rest := caChainPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			continue
		}
		if bytes.Equal(c.RawIssuer, c.RawSubject) {
			roots.AddCert(c)
		} else {
			inter.AddCert(c)
		}
	}
	// Signatures come in the order of the file's revisions, as do their byte ranges.
	ranges := byteRangeRe.FindAllSubmatch(pdf, -1)
	out := make([]ports.SignatureReport, 0, len(res.Signers))
	for i, s := range res.Signers {
		r := ports.SignatureReport{Intact: s.ValidSignature}
		if len(s.Certificates) > 0 && s.Certificates[0].Certificate != nil {
			leaf := s.Certificates[0].Certificate
			r.Signer, r.CertificateSerial, r.CertificateDER = leaf.Subject.String(), hex.EncodeToString(leaf.SerialNumber.Bytes()), leaf.Raw
			r.Kind, r.SignerName = CertificateKind(leaf)
		}
		switch {
		case s.TimeStamp != nil && !s.TimeStamp.Time.IsZero():
			r.Timestamped, r.SignedAt = true, s.TimeStamp.Time.UTC()
		case s.SignatureTime != nil:
			r.SignedAt = s.SignatureTime.UTC()
			r.Problems = append(r.Problems, "no time-stamp: the signing time is the signer's claim")
		}
		if r.CertificateDER != nil {
			leaf := s.Certificates[0].Certificate
			at := r.SignedAt
			if at.IsZero() {
				at = time.Now()
			}
			for _, c := range s.Certificates[1:] {
				if c.Certificate != nil {
					inter.AddCert(c.Certificate)
				}
			}
			_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
			r.ChainValid = err == nil
			if err != nil {
				r.Problems = append(r.Problems, "the certificate does not chain to the platform CA at the signing time")
			}
		}
		if !r.Intact {
			r.Problems = append(r.Problems, "the signed bytes were changed after signing")
		}
		if i < len(ranges) && len(ranges) == len(res.Signers) {
			end := rangeEnd(ranges[i])
			r.CoversWholeDocument = end == int64(len(pdf))
			if !r.CoversWholeDocument && end < int64(len(pdf)) {
				r.Problems = append(r.Problems, "later revisions were appended after this signature")
				var why string
				if r.ModifiedAfter, why = modifiedAfter(pdf, end); r.ModifiedAfter {
					r.Problems = append(r.Problems, "the document was changed after this signature: "+why)
				}
			}
		} else {
			r.ModifiedAfter = true
			r.Problems = append(r.Problems, "the signature's byte range cannot be matched to a revision")
		}
		out = append(out, r)
	}
	return out, nil
}

// CertificateKind tells a seal (an organisation's certificate: its subject names an
// organisation) from a personal signature, and the signer's name: the organisation's, or the
// person's common name.
func CertificateKind(c *x509.Certificate) (kind, name string) {
	if len(c.Subject.Organization) > 0 && c.Subject.Organization[0] != "" {
		return "seal", c.Subject.Organization[0]
	}
	return "personal", c.Subject.CommonName
}

// rangeEnd is where a /ByteRange [a b c d] ends: c + d.
func rangeEnd(m [][]byte) int64 {
	c, _ := strconv.ParseInt(string(m[3]), 10, 64)
	d, _ := strconv.ParseInt(string(m[4]), 10, 64)
	return c + d
}
