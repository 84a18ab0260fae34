// Seals (ports.SealRenderer): the standard round official seal
// (red ring, five-pointed star, the enterprise's full name along the upper arc in a serif CJK
// font, the seal's wording along the bottom), the oval seal and the square seal, as PNGs with a
// transparent background.
//
// The text is drawn from glyph outlines (sfnt) transformed one by one and filled with
// x/image/vector, so characters can sit rotated along the arc. The font is a subset of Noto
// Serif CJK SC Bold (SIL OFL 1.1, fonts/LICENSE-NotoSerifCJK.txt) to GB 2312, ASCII and the
// full-width forms; a character it lacks falls back to the embedded Droid Sans Fallback of
// (Apache-2.0), and one neither font has is refused.
package document

import (
	"bytes"
	_ "embed" // the serif font
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"

	"github.com/shuxinqian/server/domain/kernel"
	domseal "github.com/shuxinqian/server/domain/seal"
	"github.com/shuxinqian/server/ports"
)

//go:embed fonts/NotoSerifSC-Bold-GB2312.otf
var serifFont []byte

// Seal sizes.
const (
	// SealDiameterMM is the round seal's diameter (the usual 42 mm official seal).
	SealDiameterMM = 42
	// SealOvalWidthMM is the oval's width; its height is 2/3 of it (45 × 30 mm).
	SealOvalWidthMM = 45
	// SealSquareMM is the square seal's side (the legal representative's seal).
	SealSquareMM = 20
	// SealDPI is the resolution of the image.
	SealDPI = 300
	// SealMaxTextRunes bounds the name along the arc.
	SealMaxTextRunes = 40
	// SealMaxPixels bounds the longer side of an image.
	SealMaxPixels = 2000
)

// SealRed is the seal's ink.
var SealRed = color.RGBA{R: 0xD8, G: 0x1E, B: 0x20, A: 0xFF}

var _ ports.SealRenderer = (*SealRenderer)(nil)

// SealRenderer draws seals; it is safe for concurrent use (sfnt.Font is; buffers are per call).
type SealRenderer struct {
	fonts []*sfnt.Font // the serif first, then the fallback
}

// NewSealRenderer parses the fonts.
func NewSealRenderer() (*SealRenderer, error) {
	serif, err := opentype.Parse(serifFont)
	if err != nil {
		return nil, fmt.Errorf("seal: parse serif font: %w", err)
	}
	fallback, err := opentype.Parse([]byte(cjkFont))
	if err != nil {
		return nil, fmt.Errorf("seal: parse fallback font: %w", err)
	}
	return &SealRenderer{fonts: []*sfnt.Font{serif, fallback}}, nil
}

func invalidSealText(msg string) error { return kernel.Invalid("seal-text-invalid", msg) }

// glyph is one character's outline in em units (1 em = 1), centred on the origin of its em box,
// y down.
type glyph struct {
	segs    []sfnt.Segment
	font    *sfnt.Font
	advance float64 // in em
}

const ppem = 1000 // outlines are loaded at 1000 ppem and scaled down by hand

func (r *SealRenderer) glyphs(text string) ([]glyph, error) {
	var buf sfnt.Buffer
	var out []glyph
	for _, c := range text {
		if unicode.IsControl(c) || unicode.Is(unicode.Cf, c) {
			return nil, invalidSealText("the text contains control characters")
		}
		if unicode.IsSpace(c) {
			continue
		}
		var g *glyph
		for _, f := range r.fonts {
			gi, err := f.GlyphIndex(&buf, c)
			if err != nil || gi == 0 {
				continue
			}
			segs, err := f.LoadGlyph(&buf, gi, fixed.I(ppem), nil)
			if err != nil {
				return nil, kernel.Internal(fmt.Errorf("seal: load glyph %q: %w", c, err))
			}
			adv, err := f.GlyphAdvance(&buf, gi, fixed.I(ppem), 0)
			if err != nil {
				return nil, kernel.Internal(err)
			}
			g = &glyph{segs: append([]sfnt.Segment(nil), segs...), font: f, advance: float64(adv) / 64 / ppem}
			break
		}
		if g == nil {
			return nil, invalidSealText(fmt.Sprintf("the character %q cannot be drawn", c))
		}
		out = append(out, *g)
	}
	return out, nil
}

// affine maps em coordinates of a glyph (centred) to pixels: scale (sx, sy), rotate by phi
// (clockwise, y down), translate to (tx, ty).
type affine struct{ sx, sy, cos, sin, tx, ty float64 }

func (a affine) apply(x, y float64) (float32, float32) {
	x, y = x*a.sx, y*a.sy
	return float32(x*a.cos - y*a.sin + a.tx), float32(x*a.sin + y*a.cos + a.ty)
}

// draw adds the glyph's outline to the rasterizer, centred at (cx, cy), height h px (the em),
// horizontal squeeze sq (1 = none), rotated by phi radians clockwise.
func (g glyph) draw(z *vector.Rasterizer, cx, cy, h, sq, phi float64) {
	// The em box of a CJK font spans ascent 0.88 em over the baseline and 0.12 em below; its
	// centre is 0.38 em above the baseline, and the advance's centre is half the advance.
	const emCentreAboveBaseline = 0.38
	a := affine{sx: h * sq, sy: h, cos: math.Cos(phi), sin: math.Sin(phi), tx: cx, ty: cy}
	ox, oy := -g.advance/2, emCentreAboveBaseline
	pt := func(p fixed.Point26_6) (float32, float32) {
		return a.apply(float64(p.X)/64/ppem+ox, float64(p.Y)/64/ppem+oy)
	}
	for _, s := range g.segs {
		switch s.Op {
		case sfnt.SegmentOpMoveTo:
			x, y := pt(s.Args[0])
			z.ClosePath()
			z.MoveTo(x, y)
		case sfnt.SegmentOpLineTo:
			x, y := pt(s.Args[0])
			z.LineTo(x, y)
		case sfnt.SegmentOpQuadTo:
			x1, y1 := pt(s.Args[0])
			x, y := pt(s.Args[1])
			z.QuadTo(x1, y1, x, y)
		case sfnt.SegmentOpCubeTo:
			x1, y1 := pt(s.Args[0])
			x2, y2 := pt(s.Args[1])
			x, y := pt(s.Args[2])
			z.CubeTo(x1, y1, x2, y2, x, y)
		}
	}
	z.ClosePath()
}

// ellipse adds an ellipse centred at (cx, cy) with radii (a, b); ccw reverses the direction
// (a hole when the outer edge went the other way).
func ellipse(z *vector.Rasterizer, cx, cy, a, b float64, ccw bool) {
	const n = 256
	for i := 0; i <= n; i++ {
		t := 2 * math.Pi * float64(i) / n
		if ccw {
			t = -t
		}
		x, y := float32(cx+a*math.Sin(t)), float32(cy-b*math.Cos(t))
		if i == 0 {
			z.MoveTo(x, y)
		} else {
			z.LineTo(x, y)
		}
	}
	z.ClosePath()
}

// ring adds an elliptic ring of stroke width w whose outer edge has radii (a, b).
func ring(z *vector.Rasterizer, cx, cy, a, b, w float64) {
	ellipse(z, cx, cy, a, b, false)
	ellipse(z, cx, cy, a-w, b-w, true)
}

// star adds a five-pointed star with its top point up, circumradius r.
func star(z *vector.Rasterizer, cx, cy, r float64) {
	inner := r * math.Sin(math.Pi/10) / math.Sin(7*math.Pi/10) // the regular star's inner radius
	for i := 0; i < 10; i++ {
		rr := r
		if i%2 == 1 {
			rr = inner
		}
		t := float64(i) * math.Pi / 5
		x, y := float32(cx+rr*math.Sin(t)), float32(cy-rr*math.Cos(t))
		if i == 0 {
			z.MoveTo(x, y)
		} else {
			z.LineTo(x, y)
		}
	}
	z.ClosePath()
}

// arcText lays gs along the upper arc of the ellipse (cx, cy, a, b) — the radii of the
// characters' centres — spread symmetrically over span radians of the circle's angle, each
// character upright towards the outside, equally spaced by arc length.
func arcText(z *vector.Rasterizer, gs []glyph, cx, cy, a, b, h, span float64) {
	n := len(gs)
	if n == 0 {
		return
	}
	// Arc length along the ellipse from -span/2 to +span/2, sampled.
	const steps = 2000
	ts := make([]float64, steps+1)
	ls := make([]float64, steps+1)
	var px, py, length float64
	for i := range ts {
		t := -span/2 + span*float64(i)/steps
		x, y := a*math.Sin(t), -b*math.Cos(t)
		if i > 0 {
			length += math.Hypot(x-px, y-py)
		}
		ts[i], ls[i], px, py = t, length, x, y
	}
	total := ls[steps]
	per := total / float64(n)
	sq := math.Min(1, 0.9*per/h) // squeeze long names, never widen short ones
	j := 0
	for i, g := range gs {
		want := per * (float64(i) + 0.5)
		for j < steps && ls[j+1] < want {
			j++
		}
		t := ts[j]
		x, y := cx+a*math.Sin(t), cy-b*math.Cos(t)
		// Outward normal of the ellipse at t: (b sin t, -a cos t); the character's "up" is it.
		phi := math.Atan2(b*math.Sin(t), a*math.Cos(t))
		g.draw(z, x, y, h, sq, phi)
	}
}

// lineText lays gs on a horizontal line centred at (cx, cy), each h px high, squeezed to fit
// maxW.
func lineText(z *vector.Rasterizer, gs []glyph, cx, cy, h, maxW float64) {
	if len(gs) == 0 {
		return
	}
	w := 0.0
	for _, g := range gs {
		w += g.advance * h
	}
	sq := math.Min(1, maxW/w)
	x := cx - w*sq/2
	for _, g := range gs {
		adv := g.advance * h * sq
		g.draw(z, x+adv/2, cy, h, sq, 0)
		x += adv
	}
}

func pixels(mm float64, dpi int) int { return int(math.Round(mm / 25.4 * float64(dpi))) }

// RenderSeal draws the seal described by spec.
func (r *SealRenderer) RenderSeal(spec ports.SealSpec) ([]byte, error) {
	dpi := spec.DPI
	if dpi == 0 {
		dpi = SealDPI
	}
	if dpi < 72 || dpi > 1200 {
		return nil, kernel.Invalid("seal-size-invalid", "dpi is 72 to 1200")
	}
	name := strings.TrimSpace(spec.EnterpriseName)
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > SealMaxTextRunes {
		return nil, invalidSealText(fmt.Sprintf("the name has at most %d characters", SealMaxTextRunes))
	}
	var img *image.RGBA
	var err error
	switch spec.Template {
	case domseal.TemplateRoundStar, domseal.TemplateOval:
		if name == "" {
			return nil, invalidSealText("the seal needs the enterprise's name")
		}
		img, err = r.roundOrOval(spec, name, dpi)
	case domseal.TemplateSquare:
		img, err = r.square(spec, name, dpi)
	default:
		return nil, kernel.Invalid("seal-template-invalid", "template is one of round_star, oval, square")
	}
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.DefaultCompression}).Encode(&out, img); err != nil {
		return nil, kernel.Internal(fmt.Errorf("seal: encode: %w", err))
	}
	return out.Bytes(), nil
}

func sealCanvas(w, h int) (*image.RGBA, *vector.Rasterizer, error) {
	if w < 32 || h < 32 || w > SealMaxPixels || h > SealMaxPixels {
		return nil, nil, kernel.Invalid("seal-size-invalid", fmt.Sprintf("the seal image must be 32 to %d pixels on each side", SealMaxPixels))
	}
	return image.NewRGBA(image.Rect(0, 0, w, h)), vector.NewRasterizer(w, h), nil
}

func paintSeal(img *image.RGBA, z *vector.Rasterizer) {
	z.DrawOp = draw.Over
	z.Draw(img, img.Bounds(), image.NewUniform(SealRed), image.Point{})
}

func (r *SealRenderer) roundOrOval(spec ports.SealSpec, name string, dpi int) (*image.RGBA, error) {
	oval := spec.Template == domseal.TemplateOval
	mmW := spec.DiameterMM
	if mmW == 0 {
		mmW = SealDiameterMM
		if oval {
			mmW = SealOvalWidthMM
		}
	}
	mmH := mmW
	if oval {
		mmH = mmW * 2 / 3
	}
	w, h := pixels(mmW, dpi), pixels(mmH, dpi)
	img, z, err := sealCanvas(w, h)
	if err != nil {
		return nil, err
	}
	nameGlyphs, err := r.glyphs(name)
	if err != nil {
		return nil, err
	}
	labelGlyphs, err := r.glyphs(spec.Label)
	if err != nil {
		return nil, err
	}
	px := float64(w) / mmW // pixels per mm
	cx, cy := float64(w)/2, float64(h)/2
	margin := 0.4 * px
	a, b := cx-margin, cy-margin
	ringW := 1.2 * px // the 1.2 mm border of an official seal
	if oval {
		ringW = 1.0 * px
	}
	ring(z, cx, cy, a, b, ringW)
	if oval {
		// Oval: the name along the top, the wording across the middle below the centre.
		ch := 0.23 * b
		gap := 1.1 * px
		arcText(z, nameGlyphs, cx, cy, a-ringW-gap-ch/2, b-ringW-gap-ch/2, ch, math.Min(4.0, math.Max(2.2, 0.36*float64(len(nameGlyphs)))))
		lineText(z, labelGlyphs, cx, cy+0.38*b, 0.2*b, 1.1*a)
	} else {
		// Round: the name along ~240° of the upper arc, characters ~6 mm high; the star of
		// 14 mm across in the centre; the wording under it.
		ch := 0.27 * a
		gap := 1.0 * px
		span := math.Min(4.7, math.Max(2.4, 0.42*float64(len(nameGlyphs))))
		rr := a - ringW - gap - ch/2
		arcText(z, nameGlyphs, cx, cy, rr, rr, ch, span)
		star(z, cx, cy, 0.33*a)
		lineText(z, labelGlyphs, cx, cy+0.56*a, 0.2*a, 0.95*a)
	}
	paintSeal(img, z)
	return img, nil
}

// square draws the square seal: its text (the legal representative's name + 印, or the given
// name) in columns read from the right, top to bottom, inside a square border.
func (r *SealRenderer) square(spec ports.SealSpec, name string, dpi int) (*image.RGBA, error) {
	text := strings.TrimSpace(spec.LegalRepName)
	switch {
	case text != "":
		if utf8.RuneCountInString(text) == 2 {
			text += "之印" // 张三 → 张三之印: four characters fill the square
		} else {
			text += "印"
		}
	case strings.TrimSpace(spec.Label) != "":
		text = strings.TrimSpace(spec.Label)
	default:
		text = name
	}
	if text == "" || utf8.RuneCountInString(text) > 16 {
		return nil, invalidSealText("a square seal shows 1 to 16 characters")
	}
	gs, err := r.glyphs(text)
	if err != nil {
		return nil, err
	}
	mm := spec.DiameterMM
	if mm == 0 {
		mm = SealSquareMM
	}
	side := pixels(mm, dpi)
	img, z, err := sealCanvas(side, side)
	if err != nil {
		return nil, err
	}
	px := float64(side) / mm
	s := float64(side)
	m := 0.3 * px
	bw := 1.0 * px
	rect := func(x0, y0, x1, y1 float64, ccw bool) {
		pts := [][2]float64{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}}
		if ccw {
			pts[1], pts[3] = pts[3], pts[1]
		}
		z.MoveTo(float32(pts[0][0]), float32(pts[0][1]))
		for _, p := range pts[1:] {
			z.LineTo(float32(p[0]), float32(p[1]))
		}
		z.ClosePath()
	}
	rect(m, m, s-m, s-m, false)
	rect(m+bw, m+bw, s-m-bw, s-m-bw, true)
	n := len(gs)
	cols := int(math.Ceil(math.Sqrt(float64(n))))
	rows := (n + cols - 1) / cols
	inner := s - 2*(m+bw) - 2*0.6*px
	cw, rh := inner/float64(cols), inner/float64(rows)
	x0 := m + bw + 0.6*px
	for i, g := range gs {
		col, row := i/rows, i%rows
		x := x0 + inner - cw*(float64(col)+0.5) // from the right
		y := x0 + rh*(float64(row)+0.5)
		g.draw(z, x, y, rh*0.98, math.Min(1.6, cw/rh*1.0), 0)
	}
	paintSeal(img, z)
	return img, nil
}
