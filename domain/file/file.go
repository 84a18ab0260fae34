// Package file holds the rules for uploaded files (DESIGN.md §7 "uploads"): at most 10 MiB (a
// document to sign, a PDF, at most 20 MiB), the type
// is told by the content's magic bytes (never by a file name or a client-supplied content type),
// images are sized with DecodeConfig (at most 40 megapixels) before they are ever decoded, and each
// purpose accepts only some types (the authorization-letter scan only JPG or GIF, never PDF).
package file

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"

	"github.com/shuxinqian/server/domain/kernel"
)

// Figures of DESIGN.md §7.
const (
	// MaxSize is the largest accepted upload, in bytes (10 MiB), but for documents.
	MaxSize = 10 << 20
	// MaxDocumentSize is the largest document (a PDF to sign), in bytes (20 MiB); it is also the
	// largest upload of any purpose.
	MaxDocumentSize = 20 << 20
	// MaxPixels is the largest accepted image area (width × height), checked before decoding.
	MaxPixels = 40_000_000
	// Signature images must be within these bounds on both sides, in pixels.
	SignatureMinSide = 16
	SignatureMaxSide = 2000
	// MaxDecodeBytes bounds the pixel memory one image may decode to: width × height × bytes per
	// pixel of its colour model, from the header (a 16-bit RGBA PNG takes 8 bytes a pixel).
	MaxDecodeBytes = 64 << 20
	// ScanMinSide and MaxSide: an authorization-letter scan is at least 200 pixels on its short
	// side (a legible page), and no image is more than 12000 pixels on a side.
	ScanMinSide = 200
	MaxSide     = 12000
)

// Purpose is what an upload is for; it decides which types are accepted.
type Purpose string

// Purposes.
const (
	PurposeBusinessLicence         Purpose = "business_licence"
	PurposeAuthorizationLetterScan Purpose = "authorization_letter_scan"
	PurposeSignature               Purpose = "signature"
	PurposeSeal                    Purpose = "seal" // an enterprise's seal image (seal.CheckImage checks it further)
	// PurposeDocument is a PDF to sign; the application checks it further as a PDF (encryption,
	// damage, pages, certification) through its PDF intake port.
	PurposeDocument Purpose = "document"
	// PurposeBanner is a home-page banner image, uploaded by operators only (not in Purposes:
	// the app's upload refuses it).
	PurposeBanner Purpose = "banner"
)

// Purposes lists every purpose, in a stable order.
var Purposes = []Purpose{PurposeBusinessLicence, PurposeAuthorizationLetterScan, PurposeSignature, PurposeSeal, PurposeDocument}

// MaxSizeOf is the largest upload a purpose accepts, in bytes.
func MaxSizeOf(p Purpose) int {
	if p == PurposeDocument {
		return MaxDocumentSize
	}
	return MaxSize
}

// ParsePurpose validates a purpose.
func ParsePurpose(s string) (Purpose, error) {
	for _, p := range Purposes {
		if string(p) == s {
			return p, nil
		}
	}
	return "", kernel.Invalid("file-purpose-invalid",
		"purpose must be one of business_licence, authorization_letter_scan, signature, seal, document")
}

// Content types told apart by Inspect.
const (
	TypePNG  = "image/png"
	TypeJPEG = "image/jpeg"
	TypeGIF  = "image/gif"
	TypePDF  = "application/pdf"
)

// Info describes an accepted file. Width and Height are zero for non-images.
type Info struct {
	ContentType string
	Width       int
	Height      int
	Size        int64
	SHA256      string // lowercase hex of the SHA-256 of the bytes
}

// Error codes of Inspect (all kernel.KindInvalid; the HTTP layer maps "file-too-large" to 413).
const (
	CodeEmpty           = "file-empty"
	CodeTooLarge        = "file-too-large"
	CodeTypeUnsupported = "file-type-unsupported"
	CodeTypeNotAllowed  = "file-type-not-allowed"
	CodePDFNotAllowed   = "file-pdf-not-allowed"
	CodeImageCorrupt    = "file-image-corrupt"
	CodeImageTooLarge   = "file-image-too-large"
	CodeImageDimensions = "file-image-dimensions"
	// CodePDFInvalid: a document that is not a PDF (the PDF intake uses it for damaged PDFs too).
	CodePDFInvalid = "pdf-invalid"
)

var magics = []struct {
	prefix      []byte
	contentType string
}{
	{[]byte("\x89PNG\r\n\x1a\n"), TypePNG},
	{[]byte{0xFF, 0xD8, 0xFF}, TypeJPEG},
	{[]byte("GIF87a"), TypeGIF},
	{[]byte("GIF89a"), TypeGIF},
	{[]byte("%PDF-"), TypePDF},
}

// Sniff tells the content type from the leading magic bytes only, or "" when it is none of
// PNG, JPEG, GIF or PDF.
func Sniff(data []byte) string {
	for _, m := range magics {
		if bytes.HasPrefix(data, m.prefix) {
			return m.contentType
		}
	}
	return ""
}

// allowed lists the content types each purpose accepts. Business licences are images only: the
// licence photo is shown to reviewers inline, and accepting PDFs would bring in a PDF parser surface
// for no need of the flows in DESIGN.md.
var allowed = map[Purpose][]string{
	PurposeBusinessLicence:         {TypePNG, TypeJPEG, TypeGIF},
	PurposeAuthorizationLetterScan: {TypeJPEG, TypeGIF},
	PurposeSignature:               {TypePNG},
	PurposeSeal:                    {TypePNG},
	PurposeDocument:                {TypePDF},
	PurposeBanner:                  {TypePNG, TypeJPEG},
}

// Inspect checks an upload for a purpose and describes it. The checks run from the cheapest to the
// dearest: size, magic bytes, the purpose's allowed types, the image header (DecodeConfig) against
// MaxPixels, and only then a full decode, so a decompression bomb is refused before any pixel
// buffer is allocated.
func Inspect(purpose Purpose, data []byte) (Info, error) {
	return InspectWithin(purpose, data, nil)
}

// Reserve reserves decode memory (bytes) before an image is decoded and returns its release; the
// application bounds the memory of all decodes in flight with it.
type Reserve func(bytes int64) (release func(), err error)

// InspectWithin is Inspect with the decode memory reserved through reserve (nil: no budget).
func InspectWithin(purpose Purpose, data []byte, reserve Reserve) (Info, error) {
	if _, err := ParsePurpose(string(purpose)); err != nil && purpose != PurposeBanner {
		return Info{}, err
	}
	if len(data) == 0 {
		return Info{}, kernel.Invalid(CodeEmpty, "the file is empty")
	}
	if limit := MaxSizeOf(purpose); len(data) > limit {
		return Info{}, kernel.Invalid(CodeTooLarge, fmt.Sprintf("the file is larger than %d MiB", limit>>20)).
			WithDetail("max_bytes", limit)
	}
	ct := Sniff(data)
	if purpose == PurposeDocument && ct != TypePDF {
		// An image is a known type that is not allowed here; anything else claims to be a
		// document and is not a readable PDF.
		if ct != "" {
			return Info{}, kernel.Invalid(CodeTypeNotAllowed, "a document to sign must be a PDF")
		}
		return Info{}, kernel.Invalid(CodePDFInvalid, "a document to sign must be a PDF")
	}
	if ct == "" {
		return Info{}, kernel.Invalid(CodeTypeUnsupported, "the file is not a PNG, JPG, GIF or PDF")
	}
	if err := checkAllowed(purpose, ct); err != nil {
		return Info{}, err
	}
	sum := sha256.Sum256(data)
	info := Info{ContentType: ct, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
	if ct == TypePDF { // a document: the application checks it as a PDF
		return info, nil
	}
	c := codecs[ct]
	cfg, err := c.config(data)
	if err != nil {
		return Info{}, corrupt(err)
	}
	w, h := cfg.Width, cfg.Height
	if err := checkDimensions(purpose, cfg); err != nil {
		return Info{}, err
	}
	need := DecodeBytes(cfg)
	if reserve != nil {
		release, err := reserve(need)
		if err != nil {
			return Info{}, err
		}
		defer release()
	}
	if err := c.decode(data); err != nil {
		return Info{}, corrupt(err)
	}
	info.Width, info.Height = w, h
	return info, nil
}

// DecodeBytes is the pixel memory an image decodes to, from its header.
func DecodeBytes(cfg image.Config) int64 {
	bpp := int64(4)
	switch cfg.ColorModel {
	case color.RGBA64Model, color.NRGBA64Model:
		bpp = 8
	case color.Gray16Model:
		bpp = 2
	case color.GrayModel, color.AlphaModel:
		bpp = 1
	case color.Alpha16Model:
		bpp = 2
	case color.YCbCrModel:
		bpp = 3
	case color.CMYKModel:
		bpp = 4
	default:
		if _, ok := cfg.ColorModel.(color.Palette); ok {
			bpp = 1
		}
	}
	return int64(cfg.Width) * int64(cfg.Height) * bpp
}

// checkDimensions applies the header limits before anything is decoded: the area, the decode
// memory, the longest side, and the purpose's own bounds.
func checkDimensions(purpose Purpose, cfg image.Config) error {
	w, h := cfg.Width, cfg.Height
	switch {
	case w <= 0 || h <= 0 || int64(w)*int64(h) > MaxPixels || w > MaxSide || h > MaxSide:
		return kernel.Invalid(CodeImageTooLarge, "the image is larger than 40 megapixels or 12000 pixels on a side").
			WithDetail("max_pixels", MaxPixels)
	case DecodeBytes(cfg) > MaxDecodeBytes:
		return kernel.Invalid(CodeImageTooLarge, fmt.Sprintf("the image would take %d MiB to decode; at most %d MiB",
			DecodeBytes(cfg)>>20, MaxDecodeBytes>>20)).WithDetail("max_decode_bytes", MaxDecodeBytes)
	case purpose == PurposeSignature &&
		(w < SignatureMinSide || h < SignatureMinSide || w > SignatureMaxSide || h > SignatureMaxSide):
		return kernel.Invalid(CodeImageDimensions,
			fmt.Sprintf("a signature image must be between %d and %d pixels on each side", SignatureMinSide, SignatureMaxSide)).
			WithDetail("width", w).WithDetail("height", h)
	case purpose == PurposeAuthorizationLetterScan && (w < ScanMinSide || h < ScanMinSide):
		return kernel.Invalid(CodeImageDimensions,
			fmt.Sprintf("a scan of the signed letter must be at least %d pixels on each side", ScanMinSide)).
			WithDetail("width", w).WithDetail("height", h)
	}
	return nil
}

func checkAllowed(purpose Purpose, ct string) error {
	for _, a := range allowed[purpose] {
		if a == ct {
			return nil
		}
	}
	switch purpose {
	case PurposeAuthorizationLetterScan:
		if ct == TypePDF {
			return kernel.Invalid(CodePDFNotAllowed,
				"只支持 JPG/GIF 扫描件，切勿使用 PDF (only JPG or GIF scans are accepted, not PDF)")
		}
		return kernel.Invalid(CodeTypeNotAllowed,
			"只支持 JPG/GIF 扫描件 (only JPG or GIF scans are accepted)")
	case PurposeSignature:
		return kernel.Invalid(CodeTypeNotAllowed, "a signature must be a PNG image")
	case PurposeSeal:
		return kernel.Invalid(CodeTypeNotAllowed, "a seal must be a PNG image with a transparent background")
	case PurposeDocument:
		return kernel.Invalid(CodeTypeNotAllowed, "a document to sign must be a PDF")
	default:
		return kernel.Invalid(CodeTypeNotAllowed, "a business licence must be a PNG, JPG or GIF image")
	}
}

type codec struct {
	config func([]byte) (image.Config, error)
	decode func([]byte) error
}

// The format's own decoder is called (not image.Decode's registry), so that the decoder always
// matches the sniffed type whatever other formats the binary registers.
var codecs = map[string]codec{
	TypePNG: {
		config: func(b []byte) (image.Config, error) { return png.DecodeConfig(bytes.NewReader(b)) },
		decode: func(b []byte) error { _, err := png.Decode(bytes.NewReader(b)); return err },
	},
	TypeJPEG: {
		config: func(b []byte) (image.Config, error) { return jpeg.DecodeConfig(bytes.NewReader(b)) },
		decode: func(b []byte) error { _, err := jpeg.Decode(bytes.NewReader(b)); return err },
	},
	TypeGIF: {
		config: func(b []byte) (image.Config, error) { return gif.DecodeConfig(bytes.NewReader(b)) },
		decode: func(b []byte) error { _, err := gif.Decode(bytes.NewReader(b)); return err },
	},
}

func corrupt(cause error) error {
	e := kernel.Invalid(CodeImageCorrupt, "the image is damaged or not a valid image")
	e.Err = cause
	return e
}
