package ports

import "context"

// PDFIntakeInfo describes a PDF accepted as a document to sign (upload purpose "document").
type PDFIntakeInfo struct {
	Pages      int
	Signatures int // signature fields already signed
	// Certified tells a certified PDF (DocMDP); DocMDP is its permission: 2 (form filling and
	// signatures) or 3 (and annotations). P=1 (no changes) is refused.
	Certified bool
	DocMDP    int
}

// PDFIntake checks a PDF before it is accepted for signing. Refusals are kernel invalid with
// stable codes: "file-too-large" (over PDFMaxBytes), "pdf-invalid" (not a PDF, damaged, no
// pages), "pdf-encrypted", "pdf-too-many-pages" (over PDFMaxPages), "pdf-certified" (certified
// with no changes permitted).
type PDFIntake interface {
	CheckPDF(ctx context.Context, pdf []byte) (PDFIntakeInfo, error)
}
