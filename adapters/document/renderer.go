// Package document draws documents and signature appearances. It ships its own CJK font (Droid
// Sans Fallback, Apache-2.0, see fonts/LICENSE-DroidSansFallback.txt) so rendering never depends on
// the fonts installed on the machine.
package document

import (
	"bytes"
	_ "embed" // the CJK font
	"fmt"
	"image"
	"image/png"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

//go:embed fonts/DroidSansFallbackFull.ttf
var cjkFont string

// CJKFont returns the embedded TrueType font (Droid Sans Fallback Full, 4 MB: CJK ideographs,
// CJK punctuation and the full-width forms U+FF01..U+FF5E), e.g. for fpdf's AddUTF8FontFromBytes.
// It has NO glyphs for ASCII letters, digits or punctuation (nor U+00B7): a PDF must write those
// with a Latin font (fpdf's core Helvetica, say) or as full-width forms. Each call returns a copy.
func CJKFont() []byte { return []byte(cjkFont) }

// Signature appearance figures.
const (
	// MaxNameRunes is the longest name RenderSignature draws.
	MaxNameRunes = 30
	// SignatureFontSize is the font size of the signature, in pixels.
	SignatureFontSize = 56
	// SignaturePadding is the transparent margin around the text, in pixels.
	SignaturePadding = 12
)

var _ ports.SignatureRenderer = (*Renderer)(nil)

// Renderer draws signature appearances with the embedded CJK font. It is safe for concurrent use.
type Renderer struct {
	font *sfnt.Font
}

// NewRenderer parses the embedded font.
func NewRenderer() (*Renderer, error) {
	f, err := opentype.Parse([]byte(cjkFont))
	if err != nil {
		return nil, fmt.Errorf("document: parse CJK font: %w", err)
	}
	return &Renderer{font: f}, nil
}

// glyphFor returns the rune to draw for c. Droid Sans Fallback has no Latin glyphs and no U+00B7
// (the middle dot of names like 阿卜杜·买买提), so those are drawn with their full-width
// look-alikes; any other character the font lacks is refused.
func (r *Renderer) glyphFor(buf *sfnt.Buffer, c rune) (rune, bool) {
	if r.has(buf, c) {
		return c, true
	}
	var alt rune
	switch {
	case c == '\u00b7' || c == '\u2022' || c == '\u2027' || c == '\u2219' || c == '\u22c5' || c == '\u2e31':
		alt = '\u30fb' // katakana middle dot, the usual CJK-font stand-in for the name separator
	case c >= '!' && c <= '~':
		alt = c + 0xFEE0 // full-width forms U+FF01..U+FF5E
	default:
		return 0, false
	}
	return alt, r.has(buf, alt)
}

func (r *Renderer) has(buf *sfnt.Buffer, c rune) bool {
	gi, err := r.font.GlyphIndex(buf, c)
	return err == nil && gi != 0
}

func invalidName(msg string) error { return kernel.Invalid("signature-name-invalid", msg) }

// RenderSignature draws name in black on a transparent background, sized to the text, as a PNG.
// The name is trimmed; Latin letters, digits and the name dot are drawn with full-width
// look-alikes (the CJK font has no Latin glyphs). An empty name, one longer than MaxNameRunes,
// one with control characters or one with a character the font cannot draw is refused with kernel invalid
// "signature-name-invalid" (a signature must never show a missing-glyph box).
func (r *Renderer) RenderSignature(name string) ([]byte, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, invalidName("the name is empty")
	}
	if !utf8.ValidString(name) {
		return nil, invalidName("the name is not valid UTF-8")
	}
	if utf8.RuneCountInString(name) > MaxNameRunes {
		return nil, invalidName(fmt.Sprintf("the name is longer than %d characters", MaxNameRunes))
	}
	var (
		buf   sfnt.Buffer
		drawn strings.Builder
	)
	for _, c := range name {
		if unicode.IsControl(c) || unicode.Is(unicode.Cf, c) {
			return nil, invalidName("the name contains control characters")
		}
		g, ok := r.glyphFor(&buf, c)
		if !ok {
			return nil, invalidName(fmt.Sprintf("the character %q cannot be drawn", c))
		}
		drawn.WriteRune(g)
	}
	name = drawn.String()

	// A Face is not safe for concurrent use: make one per call from the shared, parsed font.
	face, err := opentype.NewFace(r.font, &opentype.FaceOptions{
		Size:    SignatureFontSize,
		DPI:     72,
		Hinting: font.HintingNone,
	})
	if err != nil {
		return nil, kernel.Internal(fmt.Errorf("document: font face: %w", err))
	}
	defer func() { _ = face.Close() }()

	m := face.Metrics()
	ascent, descent := m.Ascent.Ceil(), m.Descent.Ceil()
	advance := font.MeasureString(face, name)
	// The ink may overhang the advance box (italic-like strokes, side bearings): take the union.
	ink, _ := font.BoundString(face, name)
	left := min(0, ink.Min.X.Floor())
	right := max(advance.Ceil(), ink.Max.X.Ceil())
	top := min(-ascent, ink.Min.Y.Floor())
	bottom := max(descent, ink.Max.Y.Ceil())

	w := right - left + 2*SignaturePadding
	h := bottom - top + 2*SignaturePadding
	img := image.NewRGBA(image.Rect(0, 0, w, h)) // zero value: fully transparent
	d := font.Drawer{
		Dst:  img,
		Src:  image.Black,
		Face: face,
		Dot:  fixed.P(SignaturePadding-left, SignaturePadding-top),
	}
	d.DrawString(name)

	var out bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&out, img); err != nil {
		return nil, kernel.Internal(fmt.Errorf("document: encode signature: %w", err))
	}
	return out.Bytes(), nil
}
