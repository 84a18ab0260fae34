package document

// PDF signing (ports.PDFSigner) with github.com/digitorus/pdfsign: each signature is an
// incremental update appending a signature field whose widget's appearance stream draws the
// seal or signature image; the page content is never touched, so earlier signatures stay valid.
// The CMS is made by the caller's crypto.Signer over the byte range, with the certificate chain
// and, when a TSA is given, an RFC 3161 signature timestamp. The pinned pdfsign writes SubFilter
// adbe.pkcs7.detached (its ETSI.CAdES.detached mode is not in this version).

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/digitorus/pdf"
	"github.com/digitorus/pdfsign/sign"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// PDFSigner implements ports.PDFSigner; it is stateless and safe for concurrent use.
type PDFSigner struct{}

var _ ports.PDFSigner = PDFSigner{}

func pdfErr(code, msg string) *kernel.Error { return kernel.Invalid(code, msg) }

// openPDF checks the limits and parses; the reader panics on some damaged files, which is
// caught here and reported as "pdf-invalid".
func openPDF(data []byte) (*pdf.Reader, error) {
	if len(data) > ports.PDFMaxBytes {
		return nil, pdfErr("pdf-too-large", "the PDF is larger than 20 MiB").WithDetail("max_bytes", ports.PDFMaxBytes)
	}
	r, _, err := openPDFAt(bytes.NewReader(data), int64(len(data)))
	return r, err
}

// openPDFAt parses the PDF in ra (size bytes) and refuses what cannot be signed: not a PDF or
// damaged ("pdf-invalid"), encrypted ("pdf-encrypted"), no pages or more than PDFMaxPages
// ("pdf-too-many-pages"), certified with no changes permitted (DocMDP P=1: "pdf-certified").
// It also returns the certification's DocMDP permission (0: not certified).
func openPDFAt(ra io.ReaderAt, size int64) (r *pdf.Reader, docMDP int, err error) {
	head := make([]byte, 5)
	if n, _ := ra.ReadAt(head, 0); n < len(head) || !bytes.Equal(head, []byte("%PDF-")) {
		return nil, 0, pdfErr("pdf-invalid", "the file is not a PDF")
	}
	defer func() {
		if p := recover(); p != nil {
			r, docMDP, err = nil, 0, pdfErr("pdf-invalid", "the PDF is damaged")
		}
	}()
	r, err = pdf.NewReaderEncrypted(ra, size, func() string { return "" })
	if err != nil {
		if strings.Contains(strings.ToLower(err.Error()), "encrypt") || strings.Contains(err.Error(), "password") {
			return nil, 0, pdfErr("pdf-encrypted", "the PDF is encrypted; remove the protection first")
		}
		e := pdfErr("pdf-invalid", "the PDF is damaged")
		e.Err = err
		return nil, 0, e
	}
	if r.Trailer().Key("Encrypt").Kind() != pdf.Null {
		return nil, 0, pdfErr("pdf-encrypted", "the PDF is encrypted; remove the protection first")
	}
	if _, err := pageTree(r); err != nil {
		return nil, 0, err
	}
	docMDP = certification(r)
	if docMDP == 1 {
		return nil, 1, pdfErr("pdf-certified", "the PDF is certified and permits no changes: it cannot be signed again").
			WithDetail("docmdp_permission", 1)
	}
	return r, docMDP, nil
}

// pageTree lists the pages in order, walking the page tree itself: the reader's NumPage trusts
// /Count and its Page(i) loops forever on a tree that contains itself. A tree with a cycle, deeper
// than 64 levels or with no pages is "pdf-invalid"; more than PDFMaxPages pages
// "pdf-too-many-pages".
func pageTree(r *pdf.Reader) ([]pdf.Page, error) {
	const maxDepth, maxNodes = 64, 4*ports.PDFMaxPages + 64
	noPtr := pdf.Value{}.GetPtr()
	seen := map[any]bool{}
	var (
		pages []pdf.Page
		nodes int
		walk  func(v pdf.Value, depth int) error
	)
	walk = func(v pdf.Value, depth int) error {
		nodes++
		if depth > maxDepth || nodes > maxNodes {
			return pdfErr("pdf-invalid", "the PDF's page tree is damaged")
		}
		if ptr := v.GetPtr(); ptr != noPtr {
			if seen[ptr] {
				return pdfErr("pdf-invalid", "the PDF's page tree is damaged (it contains itself)")
			}
			seen[ptr] = true
		}
		if v.Kind() != pdf.Dict {
			return pdfErr("pdf-invalid", "the PDF's page tree is damaged")
		}
		kids := v.Key("Kids")
		if kids.Kind() != pdf.Array {
			if v.Key("Type").Name() == "Pages" {
				return pdfErr("pdf-invalid", "the PDF's page tree is damaged")
			}
			pages = append(pages, pdf.Page{V: v})
			if len(pages) > ports.PDFMaxPages {
				return pdfErr("pdf-too-many-pages", "the PDF has more than 500 pages").WithDetail("max_pages", ports.PDFMaxPages)
			}
			return nil
		}
		for i := 0; i < kids.Len(); i++ {
			if err := walk(kids.Index(i), depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(r.Trailer().Key("Root").Key("Pages"), 0); err != nil {
		return nil, err
	}
	if len(pages) == 0 {
		return nil, pdfErr("pdf-invalid", "the PDF has no pages")
	}
	return pages, nil
}

// certification is the DocMDP permission (1, 2 or 3) of a certified PDF, 0 for one that is not
// certified. The certification signature is the catalog's /Perms /DocMDP; some signers (the
// pinned pdfsign among them) leave /Perms out, so a signed field whose signature carries a
// DocMDP transform counts too. /P (default 2) says what may change.
func certification(r *pdf.Reader) int {
	root := r.Trailer().Key("Root")
	if sig := root.Key("Perms").Key("DocMDP"); sig.Kind() == pdf.Dict {
		if p := docMDPPerm(sig); p > 0 {
			return p
		}
		return 2
	}
	fields := root.Key("AcroForm").Key("Fields")
	for i := 0; i < fields.Len() && i < 1000; i++ {
		if f := fields.Index(i); f.Key("FT").Name() == "Sig" {
			if p := docMDPPerm(f.Key("V")); p > 0 {
				return p
			}
		}
	}
	return 0
}

// docMDPPerm is the /P of the DocMDP transform a signature dictionary references, 0 when it
// references none.
func docMDPPerm(sig pdf.Value) int {
	refs := sig.Key("Reference")
	for i := 0; i < refs.Len() && i < 16; i++ {
		ref := refs.Index(i)
		if ref.Key("TransformMethod").Name() != "DocMDP" {
			continue
		}
		if p := ref.Key("TransformParams").Key("P"); p.Kind() == pdf.Integer && p.Int64() >= 1 && p.Int64() <= 3 {
			return int(p.Int64())
		}
		return 2
	}
	return 0
}

// guard runs fn, turning a reader panic into "pdf-invalid".
func guard(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = pdfErr("pdf-invalid", "the PDF is damaged")
		}
	}()
	return fn()
}

// inherited looks a page attribute up the page tree (MediaBox and CropBox are inheritable).
func inherited(p pdf.Page, key string) pdf.Value {
	v := p.V
	for depth := 0; depth < 64 && !v.IsNull(); depth++ {
		if r := v.Key(key); !r.IsNull() {
			return r
		}
		v = v.Key("Parent")
	}
	return pdf.Value{}
}

func pageSize(p pdf.Page) (w, h float64, ok bool) {
	box := inherited(p, "CropBox")
	if box.Len() != 4 {
		box = inherited(p, "MediaBox")
	}
	if box.Len() != 4 {
		return 0, 0, false
	}
	w = box.Index(2).Float64() - box.Index(0).Float64()
	h = box.Index(3).Float64() - box.Index(1).Float64()
	return w, h, w > 0 && h > 0
}

// Inspect reports the pages, their sizes and the signatures already in the PDF.
func (PDFSigner) Inspect(_ context.Context, data []byte) (ports.PDFInfo, error) {
	r, err := openPDF(data)
	if err != nil {
		return ports.PDFInfo{}, err
	}
	var info ports.PDFInfo
	err = guard(func() error {
		pages, err := pageTree(r)
		if err != nil {
			return err
		}
		info.Pages = len(pages)
		for i := 1; i <= info.Pages; i++ {
			w, h, ok := pageSize(pages[i-1])
			if !ok {
				return pdfErr("pdf-invalid", "a page has no media box").WithDetail("page", i)
			}
			info.PageSizes = append(info.PageSizes, [2]float64{w, h})
		}
		fields := r.Trailer().Key("Root").Key("AcroForm").Key("Fields")
		for i := 0; i < fields.Len(); i++ {
			if f := fields.Index(i); f.Key("FT").Name() == "Sig" && f.Key("V").Kind() != pdf.Null {
				info.Signatures++
			}
		}
		return nil
	})
	return info, err
}

// Sign adds one signature (see ports.PDFSignRequest).
func (s PDFSigner) Sign(ctx context.Context, req ports.PDFSignRequest) ([]byte, error) {
	if req.Signer == nil || len(req.Chain) == 0 {
		return nil, kernel.Internal(fmt.Errorf("document: sign PDF: no signer or certificate"))
	}
	info, err := s.Inspect(ctx, req.PDF)
	if err != nil {
		return nil, err
	}
	f := req.Field
	if f.Page < 1 || f.Page > info.Pages {
		return nil, pdfErr("pdf-page-out-of-range", "the page does not exist").WithDetail("pages", info.Pages)
	}
	size := info.PageSizes[f.Page-1]
	if f.W < 8 || f.H < 8 || f.X < 0 || f.Y < 0 || f.X+f.W > size[0] || f.Y+f.H > size[1] {
		return nil, pdfErr("pdf-field-outside-page", "the field must lie on the page and be at least 8 points wide and high").
			WithDetail("page_width", size[0]).WithDetail("page_height", size[1])
	}
	if req.Certify && info.Signatures > 0 {
		return nil, kernel.Precondition("pdf-already-signed", "only the first signature may certify the document")
	}
	r, err := openPDF(req.PDF)
	if err != nil {
		return nil, err
	}
	when := req.SigningTime
	if when.IsZero() {
		when = time.Now()
	}
	data := sign.SignData{
		Signature: sign.SignDataSignature{CertType: sign.ApprovalSignature, Info: sign.SignDataSignatureInfo{
			Name: req.Name, Reason: req.Reason, Location: req.Location, Date: when}},
		Signer:            req.Signer,
		Certificate:       req.Chain[0],
		CertificateChains: [][]*x509.Certificate{req.Chain},
		Appearance: sign.Appearance{Visible: true, Page: uint32(f.Page), //nolint:gosec // 1..500, checked above
			LowerLeftX: f.X, LowerLeftY: f.Y, UpperRightX: f.X + f.W, UpperRightY: f.Y + f.H, Image: req.Image},
	}
	if req.Certify {
		// The pinned pdfsign makes certification signatures invisible only: DocMDP (P=2) is
		// given by an invisible signature; the caller adds the visible seal after it.
		data.Signature.CertType = sign.CertificationSignature
		data.Signature.DocMDPPerm = sign.AllowFillingExistingFormFieldsAndSignaturesPerms
		data.Appearance = sign.Appearance{}
	}
	if req.TSA != nil {
		data.TSA = sign.TSA{URL: req.TSA.URL, Username: req.TSA.Username, Password: req.TSA.Password}
	}
	var out bytes.Buffer
	out.Grow(len(req.PDF) + len(req.Image) + 64<<10)
	err = guard(func() error {
		return sign.Sign(bytes.NewReader(req.PDF), &out, r, int64(len(req.PDF)), data)
	})
	if err != nil {
		if kernel.KindOf(err) != kernel.KindInternal {
			return nil, err
		}
		if req.TSA != nil && (strings.Contains(err.Error(), "TSA") || strings.Contains(err.Error(), "timestamp") ||
			strings.Contains(err.Error(), "non success response")) {
			return nil, kernel.Unavailable("tsa-unavailable", "the time-stamping service did not answer", err)
		}
		return nil, kernel.Internal(fmt.Errorf("document: sign PDF: %w", err))
	}
	return out.Bytes(), nil
}

// Locate finds keyword in the pages' text (pdftext.go decodes it), in content order, spaces
// ignored; each match reports the box from its first to its last character.
func (PDFSigner) Locate(_ context.Context, data []byte, keyword string) ([]ports.PDFTextLocation, error) {
	keyword = strings.TrimSpace(keyword)
	if keyword == "" || utf8.RuneCountInString(keyword) > 50 {
		return nil, pdfErr("pdf-keyword-invalid", "the keyword has 1 to 50 characters")
	}
	r, err := openPDF(data)
	if err != nil {
		return nil, err
	}
	want := []rune(strings.Join(strings.Fields(keyword), ""))
	var out []ports.PDFTextLocation
	err = guard(func() error {
		pages, err := pageTree(r)
		if err != nil {
			return err
		}
		for p := 1; p <= len(pages); p++ {
			var line []runeBox
			for _, rb := range pageRunes(pages[p-1]) {
				if rb.r == ' ' || rb.r == '\u3000' || rb.r == '\n' {
					continue
				}
				line = append(line, rb)
			}
			for i := 0; i+len(want) <= len(line); i++ {
				match := true
				for k, c := range want {
					if line[i+k].r != c {
						match = false
						break
					}
				}
				if !match {
					continue
				}
				first, last := line[i], line[i+len(want)-1]
				x0, x1 := first.x, last.x+last.w
				if last.y != first.y || x1 < x0 { // across lines: the first line's part
					x1 = x0 + first.w*float64(len(want))
				}
				out = append(out, ports.PDFTextLocation{Page: p, X: x0, Y: first.y - 0.2*first.fs, W: x1 - x0, H: first.fs})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, pdfErr("pdf-keyword-not-found", "the keyword is not in the document's text").WithDetail("keyword", keyword)
	}
	return out, nil
}
