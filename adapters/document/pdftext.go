package document

import (
	"encoding/hex"
	"io"
	"regexp"
	"strings"
	"unicode/utf16"

	"github.com/digitorus/pdf"
)

// The text layer for the keyword locator: a small interpreter of the page's content stream
// (text state, text and graphics matrices; github.com/digitorus/pdf's own text extraction decodes
// two-byte Identity-H fonts byte by byte, losing the characters). Strings are decoded with the
// font's ToUnicode map (bfchar and bfrange), as UTF-16BE for a two-byte font without one, or byte
// by byte for a simple font. Advance widths are estimated from the font size (full width for
// CJK, half for Latin), which places a keyword to within a character or so.

type runeBox struct {
	r       rune
	x, y, w float64
	fs      float64
}

// mat is a PDF matrix [a b c d e f].
type mat [6]float64

var identity = mat{1, 0, 0, 1, 0, 0}

func (m mat) mul(n mat) mat {
	return mat{m[0]*n[0] + m[1]*n[2], m[0]*n[1] + m[1]*n[3], m[2]*n[0] + m[3]*n[2], m[2]*n[1] + m[3]*n[3],
		m[4]*n[0] + m[5]*n[2] + n[4], m[4]*n[1] + m[5]*n[3] + n[5]}
}

func translate(x, y float64) mat { return mat{1, 0, 0, 1, x, y} }

func pageRunes(p pdf.Page) []runeBox {
	fonts := map[string]*toUnicode{}
	var (
		out                []runeBox
		ctm                = identity
		stack              []mat
		tm, tlm            = identity, identity
		font               *toUnicode
		fs, tl, tc, tw, th = 0.0, 0.0, 0.0, 0.0, 1.0
	)
	show := func(raw string) {
		for _, r := range font.decode([]byte(raw)) {
			em := 1.0
			if r < 0x2E80 {
				em = 0.5
			}
			trm := mat{fs * th, 0, 0, fs, 0, 0}.mul(tm).mul(ctm)
			adv := em*fs + tc
			if r == ' ' {
				adv += tw
			}
			adv *= th
			w := adv * ctm[0]
			out = append(out, runeBox{r: r, x: trm[4], y: trm[5], w: w, fs: fs * ctm[3]})
			tm = translate(adv, 0).mul(tm)
		}
	}
	nextLine := func() { tlm = translate(0, -tl).mul(tlm); tm = tlm }
	pdf.Interpret(p.V.Key("Contents"), func(stk *pdf.Stack, op string) {
		n := stk.Len()
		args := make([]pdf.Value, n)
		for i := n - 1; i >= 0; i-- {
			args[i] = stk.Pop()
		}
		num := func(i int) float64 {
			if i < len(args) {
				return args[i].Float64()
			}
			return 0
		}
		six := func() mat { return mat{num(0), num(1), num(2), num(3), num(4), num(5)} }
		switch op {
		case "q":
			if len(stack) < 64 {
				stack = append(stack, ctm)
			}
		case "Q":
			if len(stack) > 0 {
				ctm, stack = stack[len(stack)-1], stack[:len(stack)-1]
			}
		case "cm":
			ctm = six().mul(ctm)
		case "BT":
			tm, tlm = identity, identity
		case "Td":
			tlm = translate(num(0), num(1)).mul(tlm)
			tm = tlm
		case "TD":
			tl = -num(1)
			tlm = translate(num(0), num(1)).mul(tlm)
			tm = tlm
		case "Tm":
			tm = six()
			tlm = tm
		case "T*":
			nextLine()
		case "TL":
			tl = num(0)
		case "Tc":
			tc = num(0)
		case "Tw":
			tw = num(0)
		case "Tz":
			th = num(0) / 100
		case "Tf":
			if len(args) == 2 {
				name := args[0].Name()
				f, ok := fonts[name]
				if !ok {
					f = fontMap(p.Font(name))
					fonts[name] = f
				}
				font, fs = f, num(1)
			}
		case "Tj":
			if len(args) == 1 {
				show(args[0].RawString())
			}
		case "'":
			nextLine()
			if len(args) == 1 {
				show(args[0].RawString())
			}
		case "\"":
			if len(args) == 3 {
				tw, tc = num(0), num(1)
				nextLine()
				show(args[2].RawString())
			}
		case "TJ":
			if len(args) == 1 {
				a := args[0]
				for i := 0; i < a.Len(); i++ {
					if e := a.Index(i); e.Kind() == pdf.String {
						show(e.RawString())
					} else {
						tm = translate(-e.Float64()/1000*fs*th, 0).mul(tm)
					}
				}
			}
		}
	})
	return out
}

// toUnicode maps character codes of a font to text; nil decodes the bytes as they are (the
// library already decoded simple fonts).
type toUnicode struct {
	twoByte bool
	codes   map[uint32][]rune
}

func fontMap(f pdf.Font) *toUnicode {
	m := &toUnicode{twoByte: f.V.Key("Subtype").Name() == "Type0", codes: map[uint32][]rune{}}
	tu := f.V.Key("ToUnicode")
	if tu.Kind() != pdf.Stream {
		return m
	}
	rd := tu.Reader()
	defer func() { _ = rd.Close() }()
	b, err := io.ReadAll(io.LimitReader(rd, 4<<20))
	if err != nil {
		return m
	}
	m.parse(string(b))
	return m
}

var (
	bfcharBlock  = regexp.MustCompile(`(?s)beginbfchar(.*?)endbfchar`)
	bfrangeBlock = regexp.MustCompile(`(?s)beginbfrange(.*?)endbfrange`)
	hexPair      = regexp.MustCompile(`<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]*)>`)
	hexRange     = regexp.MustCompile(`<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*(<[0-9A-Fa-f]*>|\[[^\]]*\])`)
	hexToken     = regexp.MustCompile(`<([0-9A-Fa-f]*)>`)
)

func hexCode(s string) uint32 {
	b, _ := hex.DecodeString(s)
	var v uint32
	for _, c := range b {
		v = v<<8 | uint32(c)
	}
	return v
}

func utf16Hex(s string) []rune {
	b, _ := hex.DecodeString(s)
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
	}
	return utf16.Decode(u)
}

const maxMapped = 1 << 17

func (m *toUnicode) parse(cm string) {
	for _, blk := range bfcharBlock.FindAllStringSubmatch(cm, -1) {
		for _, p := range hexPair.FindAllStringSubmatch(blk[1], -1) {
			if len(m.codes) < maxMapped {
				m.codes[hexCode(p[1])] = utf16Hex(p[2])
			}
		}
	}
	for _, blk := range bfrangeBlock.FindAllStringSubmatch(cm, -1) {
		for _, p := range hexRange.FindAllStringSubmatch(blk[1], -1) {
			lo, hi := hexCode(p[1]), hexCode(p[2])
			if hi < lo || hi-lo > 0xFFFF {
				continue
			}
			if strings.HasPrefix(p[3], "[") {
				for i, tok := range hexToken.FindAllStringSubmatch(p[3], -1) {
					if len(m.codes) < maxMapped && lo+uint32(i) <= hi {
						m.codes[lo+uint32(i)] = utf16Hex(tok[1])
					}
				}
				continue
			}
			base := utf16Hex(strings.Trim(p[3], "<>"))
			if len(base) == 0 {
				continue
			}
			for c := lo; c <= hi && len(m.codes) < maxMapped; c++ {
				r := append([]rune(nil), base...)
				r[len(r)-1] += rune(c - lo) //nolint:gosec // c - lo <= 0xFFFF, checked above
				m.codes[c] = r
			}
		}
	}
}

func (m *toUnicode) decode(raw []byte) []rune {
	var out []rune
	if m == nil || !m.twoByte {
		for _, b := range raw {
			if m != nil {
				if r, ok := m.codes[uint32(b)]; ok {
					out = append(out, r...)
					continue
				}
			}
			out = append(out, rune(b)) // a simple font: Latin-1 is close enough for keywords
		}
		return out
	}
	for i := 0; i+1 < len(raw); i += 2 {
		code := uint32(raw[i])<<8 | uint32(raw[i+1])
		if r, ok := m.codes[code]; ok {
			out = append(out, r...)
			continue
		}
		out = append(out, rune(code)) //nolint:gosec // two bytes: at most 0xFFFF. No map: UTF-16BE code units (what fpdf writes)
	}
	return out
}
