package document

import (
	"bytes"
	"context"
	"io"

	"github.com/digitorus/pdf"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// PDFIntake checks documents uploaded for signing (ports.PDFIntake). It is stateless.
type PDFIntake struct{}

var _ ports.PDFIntake = PDFIntake{}

// CheckPDF implements ports.PDFIntake with InspectDocument.
func (PDFIntake) CheckPDF(ctx context.Context, data []byte) (ports.PDFIntakeInfo, error) {
	if err := ctx.Err(); err != nil {
		return ports.PDFIntakeInfo{}, err
	}
	return InspectDocument(bytes.NewReader(data), int64(len(data)))
}

// InspectDocument checks a PDF offered for signing and describes it: larger than 20 MiB is
// "file-too-large" (HTTP 413); not a PDF or damaged "pdf-invalid"; encrypted (even with an
// empty user password) "pdf-encrypted"; more than 500 pages "pdf-too-many-pages"; certified with
// no changes permitted (DocMDP P=1) "pdf-certified" — all kernel invalid. A panic of the PDF
// reader on a malformed file is a "pdf-invalid", never a crash.
func InspectDocument(r io.ReaderAt, size int64) (ports.PDFIntakeInfo, error) {
	if size > ports.PDFMaxBytes {
		return ports.PDFIntakeInfo{}, kernel.Invalid("file-too-large", "the PDF is larger than 20 MiB").
			WithDetail("max_bytes", ports.PDFMaxBytes)
	}
	if size <= 0 {
		return ports.PDFIntakeInfo{}, pdfErr("pdf-invalid", "the file is empty")
	}
	rd, perm, err := openPDFAt(r, size)
	if err != nil {
		return ports.PDFIntakeInfo{}, err
	}
	info := ports.PDFIntakeInfo{Certified: perm > 0, DocMDP: perm}
	err = guard(func() error {
		pages, err := pageTree(rd)
		if err != nil {
			return err
		}
		info.Pages = len(pages)
		for i := 1; i <= info.Pages; i++ {
			if _, _, ok := pageSize(pages[i-1]); !ok {
				return pdfErr("pdf-invalid", "a page has no media box").WithDetail("page", i)
			}
		}
		fields := rd.Trailer().Key("Root").Key("AcroForm").Key("Fields")
		for i := 0; i < fields.Len(); i++ {
			if f := fields.Index(i); f.Key("FT").Name() == "Sig" && f.Key("V").Kind() != pdf.Null {
				info.Signatures++
			}
		}
		return nil
	})
	if err != nil {
		return ports.PDFIntakeInfo{}, err
	}
	return info, nil
}
