package ports

import (
	"context"
	"crypto"
	"crypto/x509"
	"time"
)

// PDF limits (API.md "Documents and signing").
const (
	PDFMaxBytes = 20 << 20
	PDFMaxPages = 500
)

// PDFField is where a visible signature goes: a page (from 1) and a rectangle in PDF points
// (1/72 in), origin at the page's lower left corner.
type PDFField struct {
	Page int
	X, Y float64 // lower left corner
	W, H float64
}

// TSAEndpoint is an RFC 3161 time-stamping service reached over HTTP
// (application/timestamp-query → application/timestamp-reply).
type TSAEndpoint struct {
	URL      string
	Username string
	Password string
}

// PDFSignRequest asks for one signature added to a PDF as an incremental update.
type PDFSignRequest struct {
	PDF []byte
	// Signer signs the CMS; Chain is its certificate first, then the issuers (root last).
	Signer crypto.Signer
	Chain  []*x509.Certificate
	// Image is the visible appearance (a PNG with transparency: the seal or the signature).
	Image []byte
	Field PDFField
	// Name, Reason and Location go into the signature dictionary.
	Name, Reason, Location string
	// Certify makes this a certification signature (DocMDP, P=2: later form filling and
	// signatures allowed); only for the document's first signature. It is invisible (Image is
	// not drawn): the visible seal follows as the next, approval signature.
	Certify bool
	// TSA, when set, timestamps the signature (RFC 3161, in the CMS's unsigned attributes).
	TSA *TSAEndpoint
	// SigningTime is the claimed signing time (the timestamp is the proof).
	SigningTime time.Time
}

// PDFInfo describes a PDF accepted for signing.
type PDFInfo struct {
	Pages      int
	Signatures int
	// PageSizes are the pages' media boxes (width, height in points), page 1 first.
	PageSizes [][2]float64
}

// PDFTextLocation is where a keyword was found: its page and its box in points.
type PDFTextLocation struct {
	Page       int
	X, Y, W, H float64
}

// PDFSigner signs PDFs and finds places in them. Bad input is kernel invalid with stable codes:
// "pdf-too-large", "pdf-invalid", "pdf-encrypted", "pdf-too-many-pages",
// "pdf-page-out-of-range", "pdf-field-outside-page", "pdf-keyword-not-found".
type PDFSigner interface {
	Inspect(ctx context.Context, pdf []byte) (PDFInfo, error)
	// Sign returns the signed PDF: the input bytes unchanged, then the update.
	Sign(ctx context.Context, req PDFSignRequest) ([]byte, error)
	// Locate finds every occurrence of keyword in the text of the PDF, page by page.
	Locate(ctx context.Context, pdf []byte, keyword string) ([]PDFTextLocation, error)
}
