package document

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font/sfnt"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// CodeLetterDataInvalid is the kernel error code of letter data the renderer refuses.
const CodeLetterDataInvalid = "letter-data-invalid"

// LetterTitle is the title of the authorization letter.
const LetterTitle = "数信签授权书"

// Limits of the letter's fields (in characters) and of the signature image.
const (
	maxEnterpriseNameRunes = 64 // as the CA's organisation names
	maxCreditCodeRunes     = 32
	maxPersonNameRunes     = 30 // as the signature appearances' names
	maxMaskedIDRunes       = 32
	maxVerificationIDRunes = 40
	// MaxSignatureImageBytes is the largest signature PNG the letter accepts.
	MaxSignatureImageBytes = 4 << 20
	// MaxSignatureImageSide is the largest width or height (pixels) of the signature PNG.
	MaxSignatureImageSide = 4096
)

var _ ports.DocumentRenderer = (*Renderer)(nil)

// chinaTime is China Standard Time (UTC+8, no daylight saving): the letter's dates are printed in it.
var chinaTime = time.FixedZone("CST", 8*3600)

// templateDate stamps the blank template's metadata, so the template is always the same bytes.
var templateDate = time.Date(2024, time.January, 1, 0, 0, 0, 0, chinaTime)

// clearIDNumber finds what could be an unmasked resident ID number (18 or the old 15 digits).
var clearIDNumber = regexp.MustCompile(`[0-9]{15}`)

// Page geometry (millimetres, A4 portrait) and type sizes (points).
const (
	pageW        = 210.0
	marginX      = 25.0
	contentW     = pageW - 2*marginX
	ptToMM       = 25.4 / 72
	titleSize    = 22.0
	bodySize     = 12.0
	noteSize     = 8.5
	fieldLineH   = 9.0
	bodyLineH    = 7.5
	labelColW    = 46.0
	sigBoxW      = 80.0
	sigBoxH      = 32.0
	sigBoxPad    = 3.0
	blankLineGap = 1.6 // how far below the baseline the blank lines of the template are drawn
)

// Font families registered in the PDF.
const (
	fontCJK   = "cjk"
	fontLatin = "Helvetica"
)

// The clause text. The operator sentence depends on who initiated the verification.
const (
	clauseAuthorize = "本人作为上述企业的法定代表人，特此授权数信签平台依据本授权书所列信息核验本企业的主体身份及" +
		"工商登记信息，并在核验通过后为本企业签发机构数字证书。"
	clauseOperator         = "本人同时授权上述经办人代表本企业在数信签平台办理企业认证及相关事务，经办人在平台上的操作视为本企业的行为。"
	clauseNoOperator       = "本次企业认证由本人亲自办理，未委托经办人。"
	clauseTemplateOperator = "如本企业委托经办人办理，本人同时授权上述经办人代表本企业在数信签平台办理企业认证及相关事务，" +
		"经办人在平台上的操作视为本企业的行为。"
	clauseConfirm = "本人确认所提供的企业信息、法定代表人信息及营业执照等材料真实、准确、完整，并同意平台为完成企业认证" +
		"之目的依法处理上述信息。本授权书自签署之日起生效，至本企业书面撤销授权之日止。"
	noOperator   = "无（由法定代表人本人办理）"
	letterNote   = "注：本授权书由数信签平台根据企业认证信息生成，法定代表人身份证号已脱敏显示。"
	templateNote = "注：请完整填写上述信息，由法定代表人手写签字后，将本授权书扫描或拍照为 JPG 或 GIF 图片上传（请勿上传 PDF）。"
)

// letterField is one labelled line of the letter.
type letterField struct{ label, value string }

// letterContent is what one page shows: the fields, the clause paragraphs and the signature.
type letterContent struct {
	fields     []letterField
	paragraphs []string
	blank      bool        // the template: fields are blank lines
	signature  image.Image // nil when not signed
	sigPNG     []byte      // signature re-encoded as 8-bit NRGBA PNG
	signedAt   string
	note       string
	created    time.Time
	modified   time.Time
}

// AuthorizationLetter renders the authorization letter 《数信签授权书》 as a one-page A4 PDF from the
// verification's data. With d.SignatureImage (a PNG, drawn in the signature box) and d.SignedAt it
// is the signed letter. The same data always gives the same bytes. Missing enterprise name,
// credit code or legal representative, a clear ID number, a character the fonts cannot draw or a
// signature that is not a PNG is kernel invalid "letter-data-invalid".
func (r *Renderer) AuthorizationLetter(d ports.LetterData) ([]byte, error) {
	c, err := r.letterContent(d)
	if err != nil {
		return nil, err
	}
	pdf, _, err := r.renderLetter(c)
	return pdf, err
}

// AuthorizationLetterTemplate renders the blank letter (blank lines for every field), to print,
// sign by hand and scan. It is always the same bytes.
func (r *Renderer) AuthorizationLetterTemplate() ([]byte, error) {
	labels := []string{"企业名称：", "统一社会信用代码：", "法定代表人：", "法定代表人身份证号：", "经办人（如有）：", "认证编号：", "日期："}
	c := letterContent{
		blank:      true,
		paragraphs: []string{clauseAuthorize + clauseTemplateOperator, clauseConfirm},
		note:       templateNote,
		created:    templateDate,
		modified:   templateDate,
	}
	for _, l := range labels {
		c.fields = append(c.fields, letterField{label: l})
	}
	pdf, _, err := r.renderLetter(c)
	return pdf, err
}

func invalidLetter(field, msg string) error {
	return kernel.Invalid(CodeLetterDataInvalid, msg).WithDetail("field", field)
}

// letterContent validates d and turns it into the page's content.
func (r *Renderer) letterContent(d ports.LetterData) (letterContent, error) {
	var buf sfnt.Buffer
	check := func(field, value string, required bool, maxRunes int) (string, error) {
		value = strings.TrimSpace(value)
		switch {
		case value == "" && required:
			return "", invalidLetter(field, field+" is required")
		case !utf8.ValidString(value):
			return "", invalidLetter(field, field+" is not valid UTF-8")
		case utf8.RuneCountInString(value) > maxRunes:
			return "", invalidLetter(field, fmt.Sprintf("%s is longer than %d characters", field, maxRunes))
		}
		out, err := r.drawable(&buf, value)
		if err != nil {
			return "", invalidLetter(field, field+": "+err.Error())
		}
		return out, nil
	}
	name, err := check("enterprise_name", d.EnterpriseName, true, maxEnterpriseNameRunes)
	if err != nil {
		return letterContent{}, err
	}
	code, err := check("credit_code", d.CreditCode, true, maxCreditCodeRunes)
	if err != nil {
		return letterContent{}, err
	}
	legalRep, err := check("legal_rep_name", d.LegalRepName, true, maxPersonNameRunes)
	if err != nil {
		return letterContent{}, err
	}
	maskedID, err := check("legal_rep_id_masked", d.LegalRepIDMasked, false, maxMaskedIDRunes)
	if err != nil {
		return letterContent{}, err
	}
	if maskedID != "" && (clearIDNumber.MatchString(maskedID) || !strings.Contains(maskedID, "*")) {
		return letterContent{}, invalidLetter("legal_rep_id_masked", "the legal representative's ID number must be masked")
	}
	operator, err := check("operator_name", d.OperatorName, false, maxPersonNameRunes)
	if err != nil {
		return letterContent{}, err
	}
	vid, err := check("verification_id", d.VerificationID, false, maxVerificationIDRunes)
	if err != nil {
		return letterContent{}, err
	}

	c := letterContent{note: letterNote}
	date := ""
	if !d.Date.IsZero() {
		date = d.Date.In(chinaTime).Format("2006年01月02日")
		c.created = d.Date
	} else {
		c.created = templateDate
	}
	c.modified = c.created
	operatorValue, operatorClause := noOperator, clauseNoOperator
	if operator != "" {
		operatorValue, operatorClause = operator, clauseOperator
	}
	c.fields = []letterField{
		{"企业名称：", name},
		{"统一社会信用代码：", code},
		{"法定代表人：", legalRep},
		{"法定代表人身份证号：", maskedID},
		{"经办人：", operatorValue},
		{"认证编号：", vid},
		{"日期：", date},
	}
	c.paragraphs = []string{clauseAuthorize + operatorClause, clauseConfirm}

	if len(d.SignatureImage) > 0 {
		if d.SignedAt.IsZero() {
			return letterContent{}, invalidLetter("signed_at", "a signed letter needs its signing time")
		}
		img, pngData, err := normalisePNG(d.SignatureImage)
		if err != nil {
			return letterContent{}, err
		}
		c.signature, c.sigPNG = img, pngData
		c.signedAt = d.SignedAt.In(chinaTime).Format("2006年01月02日 15:04:05")
		c.modified = d.SignedAt
	}
	return c, nil
}

// normalisePNG decodes a signature PNG and re-encodes it as a non-interlaced 8-bit NRGBA PNG (which
// fpdf embeds with its transparency), whatever the original's colour model, depth or interlacing.
func normalisePNG(data []byte) (image.Image, []byte, error) {
	if len(data) > MaxSignatureImageBytes {
		return nil, nil, invalidLetter("signature_image", fmt.Sprintf("the signature image is larger than %d bytes", MaxSignatureImageBytes))
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, nil, invalidLetter("signature_image", "the signature image is not a PNG")
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > MaxSignatureImageSide || cfg.Height > MaxSignatureImageSide {
		return nil, nil, invalidLetter("signature_image", fmt.Sprintf("the signature image must be 1 to %d pixels wide and high", MaxSignatureImageSide))
	}
	src, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, nil, invalidLetter("signature_image", "the signature image is not a valid PNG")
	}
	b := src.Bounds()
	img := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(img, img.Bounds(), src, b.Min, draw.Src)
	var out bytes.Buffer
	if err := png.Encode(&out, img); err != nil {
		return nil, nil, kernel.Internal(fmt.Errorf("document: re-encode signature: %w", err))
	}
	return img, out.Bytes(), nil
}

// drawable returns s as the letter draws it: printable ASCII is drawn with the Latin font and
// everything else with the CJK font; a name dot the CJK font lacks becomes U+30FB. Control
// characters, and characters neither font can draw, are refused.
func (r *Renderer) drawable(buf *sfnt.Buffer, s string) (string, error) {
	var b strings.Builder
	b.Grow(len(s))
	for _, c := range s {
		switch {
		case c >= ' ' && c <= '~':
			b.WriteRune(c)
		case unicode.IsControl(c) || unicode.Is(unicode.Cf, c):
			return "", fmt.Errorf("contains control characters")
		default:
			g, ok := r.glyphFor(buf, c)
			if !ok {
				return "", fmt.Errorf("the character %q cannot be drawn", c)
			}
			b.WriteRune(g)
		}
	}
	return b.String(), nil
}

// textRun is a piece of text drawn in one font.
type textRun struct {
	text  string
	latin bool
}

// splitRuns cuts s into maximal runs of ASCII (drawn with the Latin font: the CJK font has no
// ASCII glyphs) and non-ASCII characters (drawn with the CJK font).
func splitRuns(s string) []textRun {
	var runs []textRun
	start, startLatin := 0, false
	for i, c := range s {
		latin := c < utf8.RuneSelf
		if i == 0 {
			startLatin = latin
			continue
		}
		if latin != startLatin {
			runs = append(runs, textRun{text: s[start:i], latin: startLatin})
			start, startLatin = i, latin
		}
	}
	if start < len(s) {
		runs = append(runs, textRun{text: s[start:], latin: startLatin})
	}
	return runs
}

// letterPDF draws mixed Chinese and Latin text on one fpdf document.
type letterPDF struct {
	pdf *fpdf.Fpdf
}

func (w letterPDF) font(latin bool, size float64) {
	if latin {
		w.pdf.SetFont(fontLatin, "", size)
	} else {
		w.pdf.SetFont(fontCJK, "", size)
	}
}

// width is the width (mm) of s at size, each run in its font.
func (w letterPDF) width(s string, size float64) float64 {
	total := 0.0
	for _, run := range splitRuns(s) {
		w.font(run.latin, size)
		total += w.pdf.GetStringWidth(run.text)
	}
	return total
}

// text draws s with its left end at x and its baseline at y, switching fonts per run; it returns
// the x after the text.
func (w letterPDF) text(x, y float64, s string, size float64) float64 {
	for _, run := range splitRuns(s) {
		w.font(run.latin, size)
		w.pdf.Text(x, y, run.text)
		x += w.pdf.GetStringWidth(run.text)
	}
	return x
}

// closing characters never start a line; opening ones never end one.
const (
	noLineStart = "，。、；：！？）》」』】〉,.;:!?)]}%"
	noLineEnd   = "（《「『【〈([{"
)

// tokens cuts a paragraph into unbreakable pieces: a CJK character (with any closing
// punctuation after it and opening punctuation before it), an ASCII word, or a space.
func tokens(s string) []string {
	var (
		out     []string
		pending string // opening punctuation waiting for the next token
	)
	emit := func(t string) {
		out = append(out, pending+t)
		pending = ""
	}
	for i := 0; i < len(s); {
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == ' ':
			if pending != "" {
				emit("")
			}
			out = append(out, " ")
			i += size
		case strings.ContainsRune(noLineStart, c) && len(out) > 0 && out[len(out)-1] != " " && pending == "":
			out[len(out)-1] += string(c)
			i += size
		case strings.ContainsRune(noLineEnd, c):
			pending += string(c)
			i += size
		case c < utf8.RuneSelf:
			j := i
			for j < len(s) && s[j] != ' ' && s[j] < utf8.RuneSelf &&
				(j == i || !strings.ContainsRune(noLineEnd+noLineStart, rune(s[j]))) {
				j++
			}
			emit(s[i:j])
			i = j
		default:
			emit(string(c))
			i += size
		}
	}
	if pending != "" {
		emit("")
	}
	return out
}

// wrap breaks s into lines no wider than width (the first line firstWidth), never breaking an
// ASCII word unless it is wider than a whole line.
func (w letterPDF) wrap(s string, size, firstWidth, width float64) []string {
	var (
		lines []string
		line  strings.Builder
		lineW float64
	)
	limit := firstWidth
	flush := func() {
		lines = append(lines, strings.TrimRight(line.String(), " "))
		line.Reset()
		lineW = 0
		limit = width
	}
	for _, t := range tokens(s) {
		if t == " " && line.Len() == 0 {
			continue // no space at the start of a line
		}
		tw := w.width(t, size)
		if lineW+tw <= limit || t == " " {
			line.WriteString(t)
			lineW += tw
			continue
		}
		if line.Len() > 0 {
			flush()
		}
		for tw > limit { // a word wider than the line: cut it where it overflows
			cut := ""
			for _, c := range t {
				if cut != "" && w.width(cut+string(c), size) > limit {
					break
				}
				cut += string(c)
			}
			line.WriteString(cut)
			flush()
			t = t[len(cut):]
			tw = w.width(t, size)
		}
		line.WriteString(t)
		lineW += tw
	}
	if line.Len() > 0 || len(lines) == 0 {
		flush()
	}
	return lines
}

// baseline is where text of size sits in a line of height lineH starting at top.
func baseline(top, lineH, size float64) float64 {
	return top + lineH/2 + size*ptToMM*0.35
}

// newLetterPDF starts an A4 page with the CJK font registered.
func newLetterPDF() *fpdf.Fpdf {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCatalogSort(true)
	pdf.SetCompression(true)
	pdf.SetAutoPageBreak(false, 0)
	pdf.SetMargins(marginX, 20, marginX)
	pdf.AddUTF8FontFromBytes(fontCJK, "", []byte(cjkFont))
	pdf.AddPage()
	pdf.SetTextColor(0, 0, 0)
	pdf.SetDrawColor(0, 0, 0)
	return pdf
}

// rect is a rectangle on the page, in millimetres.
type rect struct{ x, y, w, h float64 }

// letterScales are the type scales tried, largest first, until the letter fits on its page.
var letterScales = []float64{1, 0.92, 0.85, 0.78, 0.7}

// noteTop is where the note at the foot of the page starts; the letter's body must end above it.
const noteTop = 297.0 - 28

// renderLetter draws the page at the largest scale at which it fits; it also tells where the
// signature box is.
func (r *Renderer) renderLetter(c letterContent) ([]byte, rect, error) {
	for _, scale := range letterScales {
		pdf, sigBox, bottom := r.drawLetter(c, scale)
		if bottom > noteTop-3 {
			continue
		}
		var out bytes.Buffer
		if err := pdf.Output(&out); err != nil {
			return nil, rect{}, kernel.Internal(fmt.Errorf("document: render the authorization letter: %w", err))
		}
		return out.Bytes(), sigBox, nil
	}
	return nil, rect{}, kernel.Internal(fmt.Errorf("document: the authorization letter does not fit on a page"))
}

// drawLetter lays the letter out with type sizes and line heights times scale, and returns the
// document, the signature box and where the body ends.
func (r *Renderer) drawLetter(c letterContent, scale float64) (*fpdf.Fpdf, rect, float64) {
	pdf := newLetterPDF()
	pdf.SetCreationDate(c.created.UTC()) // fpdf writes no time zone: UTC, as readers assume
	pdf.SetModificationDate(c.modified.UTC())
	pdf.SetProducer("Shuxinqian document renderer", false)
	pdf.SetCreator("数信签 Shuxinqian", true)
	pdf.SetAuthor("数信签 Shuxinqian", true)
	pdf.SetTitle(LetterTitle, true)
	pdf.SetSubject("企业认证法定代表人授权书", true)
	pdf.SetLang("zh-CN")
	w := letterPDF{pdf: pdf}
	size, fieldH, lineH := bodySize*scale, fieldLineH*scale, bodyLineH*scale

	// Title, centred, with a rule under it.
	y := 24.0
	tw := w.width(LetterTitle, titleSize)
	w.text((pageW-tw)/2, baseline(y, 14, titleSize), LetterTitle, titleSize)
	y += 18
	pdf.SetLineWidth(0.4)
	pdf.Line(marginX, y, pageW-marginX, y)
	y += 6 * scale

	w.text(marginX, baseline(y, fieldH, size), "致：数信签平台", size)
	y += fieldH + 2*scale

	// Fields: label column, then the value (wrapped, continuation lines closer) or a blank line
	// to fill in by hand.
	valueX, valueW := marginX+labelColW*scale, contentW-labelColW*scale
	pdf.SetLineWidth(0.25)
	for _, f := range c.fields {
		w.text(marginX, baseline(y, fieldH, size), f.label, size)
		if c.blank || f.value == "" {
			ly := baseline(y, fieldH, size) + blankLineGap
			pdf.Line(valueX, ly, pageW-marginX, ly)
			y += fieldH
			continue
		}
		for i, line := range w.wrap(f.value, size, valueW, valueW) {
			if i > 0 {
				y += lineH - fieldH // a continuation line
			}
			w.text(valueX, baseline(y, fieldH, size), line, size)
			y += fieldH
		}
	}
	y += 5 * scale

	// The clause, each paragraph indented by two characters.
	indent := 2 * size * ptToMM
	for _, p := range c.paragraphs {
		for i, line := range w.wrap(p, size, contentW-indent, contentW) {
			x := marginX
			if i == 0 {
				x += indent
			}
			w.text(x, baseline(y, lineH, size), line, size)
			y += lineH
		}
		y += 2 * scale
	}
	y += 10 * scale

	// Signature: the label, the box (with the signature image when signed) and the signing time.
	const sigLabel = "法定代表人签字："
	boxX := marginX + w.width(sigLabel, size) + 2
	w.text(marginX, baseline(y, sigBoxH, size), sigLabel, size)
	pdf.SetLineWidth(0.3)
	pdf.SetDrawColor(120, 120, 120)
	sigBox := rect{boxX, y, sigBoxW, sigBoxH}
	pdf.Rect(boxX, y, sigBoxW, sigBoxH, "D")
	pdf.SetDrawColor(0, 0, 0)
	if c.signature != nil {
		r.placeSignature(pdf, c, boxX, y)
	}
	y += sigBoxH + 4*scale
	const timeLabel = "签署时间："
	x := w.text(marginX, baseline(y, fieldH, size), timeLabel, size)
	if c.signature != nil {
		w.text(boxX, baseline(y, fieldH, size), c.signedAt, size)
	} else {
		ly := baseline(y, fieldH, size) + blankLineGap
		pdf.SetLineWidth(0.25)
		pdf.Line(max(x, boxX), ly, boxX+sigBoxW, ly)
	}
	y += fieldH

	// The note at the foot of the page.
	pdf.SetTextColor(100, 100, 100)
	noteY := noteTop
	for _, line := range w.wrap(c.note, noteSize, contentW, contentW) {
		w.text(marginX, baseline(noteY, 5, noteSize), line, noteSize)
		noteY += 5
	}
	return pdf, sigBox, y
}

// placeSignature draws the signature image in the box at (boxX, boxY), as large as fits within
// the padding, keeping its proportions, centred.
func (r *Renderer) placeSignature(pdf *fpdf.Fpdf, c letterContent, boxX, boxY float64) {
	b := c.signature.Bounds()
	iw, ih := float64(b.Dx()), float64(b.Dy())
	availW, availH := sigBoxW-2*sigBoxPad, sigBoxH-2*sigBoxPad
	scale := min(availW/iw, availH/ih)
	w, h := iw*scale, ih*scale
	opts := fpdf.ImageOptions{ImageType: "PNG"}
	pdf.RegisterImageOptionsReader("signature", opts, bytes.NewReader(c.sigPNG))
	pdf.ImageOptions("signature", boxX+(sigBoxW-w)/2, boxY+(sigBoxH-h)/2, w, h, false, opts, 0, "")
}
