package document

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

func letterRenderer(t *testing.T) *Renderer {
	t.Helper()
	r, err := NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func letterData() ports.LetterData {
	return ports.LetterData{
		VerificationID:   "01JQ5Z8K3M4N5P6Q7R8S9T0V1W",
		EnterpriseName:   "福州数信科技有限公司",
		CreditCode:       "91350100M000100Y43",
		LegalRepName:     "张三",
		LegalRepIDMasked: "110***********002X",
		OperatorName:     "李四",
		// 23:30 UTC is already the next day in China.
		Date: time.Date(2026, time.March, 3, 23, 30, 0, 0, time.UTC),
	}
}

func letterSigned(t *testing.T, r *Renderer) ports.LetterData {
	t.Helper()
	sig, err := r.RenderSignature("张三")
	if err != nil {
		t.Fatal(err)
	}
	d := letterData()
	d.SignatureImage = sig
	d.SignedAt = time.Date(2026, time.March, 4, 2, 5, 9, 0, time.UTC) // 10:05:09 in China
	return d
}

// letterTool finds a poppler tool: absent, the test is skipped on a workstation but fails in CI.
func letterTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed (apt-get install poppler-utils)", name)
		}
		t.Skipf("%s not installed (apt-get install poppler-utils)", name)
	}
	return p
}

// letterOutDir keeps the test's files in $LETTER_OUT (to look at them) or in a temporary dir.
func letterOutDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("LETTER_OUT"); d != "" {
		if err := os.MkdirAll(d, 0o750); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func letterWrite(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func letterText(t *testing.T, pdf []byte) string {
	t.Helper()
	tool := letterTool(t, "pdftotext")
	p := letterWrite(t, t.TempDir(), "letter.pdf", pdf)
	out, err := exec.CommandContext(context.Background(), tool, "-enc", "UTF-8", "-layout", p, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return string(out)
}

// letterRaster renders page 1 at 60 dpi.
func letterRaster(t *testing.T, dir, name string, pdf []byte) image.Image {
	t.Helper()
	tool := letterTool(t, "pdftoppm")
	p := letterWrite(t, dir, name+".pdf", pdf)
	prefix := filepath.Join(dir, name)
	if out, err := exec.CommandContext(context.Background(), tool, "-png", "-r", "60", "-singlefile", p, prefix).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	f, err := os.Open(prefix + ".png")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func letterIsPDF(t *testing.T, data []byte) {
	t.Helper()
	if !bytes.HasPrefix(data, []byte("%PDF-")) || !bytes.Contains(data[len(data)-1024:], []byte("%%EOF")) {
		t.Fatal("not a PDF")
	}
	if n := bytes.Count(data, []byte("/Type /Page\n")); n != 1 {
		t.Fatalf("%d pages, want 1", n)
	}
}

// squash drops the spaces pdftotext puts between runs, so that values are found whatever the layout.
func squash(s string) string { return strings.Join(strings.Fields(s), "") }

func TestAuthorizationLetterText(t *testing.T) {
	r := letterRenderer(t)
	data, err := r.AuthorizationLetter(letterData())
	if err != nil {
		t.Fatal(err)
	}
	letterIsPDF(t, data)
	t.Logf("letter: %d bytes", len(data))
	text := letterText(t, data)
	flat := squash(text)
	for _, want := range []string{
		"数信签授权书", "福州数信科技有限公司", "91350100M000100Y43", "110***********002X",
		"统一社会信用代码：91350100M000100Y43", "法定代表人：张三", "经办人：李四",
		"01JQ5Z8K3M4N5P6Q7R8S9T0V1W", "2026年03月04日", "法定代表人签字：", "签署时间：",
		"本人同时授权上述经办人", "本授权书自签署之日起生效",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("the letter's text lacks %q:\n%s", want, text)
		}
	}
	if regexp.MustCompile(`[0-9]{15}`).MatchString(flat) {
		t.Error("the letter carries something like a clear ID number")
	}

	// The legal rep initiated: no operator.
	d := letterData()
	d.OperatorName = ""
	data, err = r.AuthorizationLetter(d)
	if err != nil {
		t.Fatal(err)
	}
	flat = squash(letterText(t, data))
	for _, want := range []string{"经办人：无（由法定代表人本人办理）", "未委托经办人"} {
		if !strings.Contains(flat, want) {
			t.Errorf("the letter without operator lacks %q", want)
		}
	}
	if strings.Contains(flat, "李四") || strings.Contains(flat, "本人同时授权上述经办人") {
		t.Error("the letter without operator names one")
	}
}

// Latin letters, digits and punctuation inside Chinese text come out right (font switching).
func TestAuthorizationLetterMixedScripts(t *testing.T) {
	r := letterRenderer(t)
	d := letterData()
	d.EnterpriseName = "数信签(Fuzhou)Technology有限公司-2026"
	d.LegalRepName = "阿卜杜·买买提"
	data, err := r.AuthorizationLetter(d)
	if err != nil {
		t.Fatal(err)
	}
	flat := squash(letterText(t, data))
	for _, want := range []string{"数信签(Fuzhou)Technology有限公司-2026", "阿卜杜・买买提"} {
		if !strings.Contains(flat, want) {
			t.Errorf("the letter's text lacks %q: %s", want, flat)
		}
	}
}

func TestAuthorizationLetterSigned(t *testing.T) {
	r := letterRenderer(t)
	unsigned, err := r.AuthorizationLetter(letterData())
	if err != nil {
		t.Fatal(err)
	}
	signed, err := r.AuthorizationLetter(letterSigned(t, r))
	if err != nil {
		t.Fatal(err)
	}
	letterIsPDF(t, signed)
	if bytes.Equal(signed, unsigned) {
		t.Fatal("the signed letter is the unsigned one")
	}
	if !bytes.Contains(signed, []byte("/Subtype /Image")) || bytes.Contains(unsigned, []byte("/Subtype /Image")) {
		t.Fatal("the signature image is not (only) in the signed letter")
	}
	if !bytes.Contains(signed, []byte("/SMask")) {
		t.Fatal("the signature image lost its transparency")
	}
	flat := squash(letterText(t, signed))
	if !strings.Contains(flat, "签署时间：2026年03月04日10:05:09") {
		t.Errorf("the signing time is missing (China time, to the second): %s", flat)
	}

	// Page 1 at 60 dpi: ink inside the signature box in the signed letter only.
	dir := letterOutDir(t)
	signedImg := letterRaster(t, dir, "letter-signed", signed)
	unsignedImg := letterRaster(t, dir, "letter-unsigned", unsigned)
	tmpl, err := r.AuthorizationLetterTemplate()
	if err != nil {
		t.Fatal(err)
	}
	letterRaster(t, dir, "letter-template", tmpl)
	if a, b := signedImg.Bounds(), unsignedImg.Bounds(); a != b || a.Dx() != 497 || a.Dy() != 702 {
		t.Fatalf("page size %v / %v, want A4 at 60 dpi (497x702)", a, b)
	}
	box := letterBoxPixels(t, r, letterData())
	if s, u := letterDark(signedImg, box), letterDark(unsignedImg, box); s < 50 || u != 0 {
		t.Fatalf("dark pixels inside the signature box: signed %d, unsigned %d", s, u)
	}
	letterWithinMargins(t, signedImg)
	letterWithinMargins(t, unsignedImg)
}

// letterWithinMargins checks that nothing is drawn in the side margins (the text is wrapped).
func letterWithinMargins(t *testing.T, img image.Image) {
	t.Helper()
	margin := 59 - 2 // marginX at 60 dpi
	for _, side := range []image.Rectangle{image.Rect(0, 0, margin, 702), image.Rect(497-margin, 0, 497, 702)} {
		if n := letterDark(img, side); n != 0 {
			t.Fatalf("%d dark pixels in the margin %v", n, side)
		}
	}
}

// The longest data the letter accepts still fits on one page, within the margins.
func TestAuthorizationLetterLongestFits(t *testing.T) {
	r := letterRenderer(t)
	d := letterSigned(t, r)
	d.EnterpriseName = strings.Repeat("数", maxEnterpriseNameRunes)
	d.LegalRepName = strings.Repeat("张", maxPersonNameRunes)
	d.OperatorName = strings.Repeat("李", maxPersonNameRunes)
	d.CreditCode = strings.Repeat("W", maxCreditCodeRunes)
	d.VerificationID = strings.Repeat("W", maxVerificationIDRunes)
	data, err := r.AuthorizationLetter(d)
	if err != nil {
		t.Fatal(err)
	}
	letterIsPDF(t, data)
	letterWithinMargins(t, letterRaster(t, letterOutDir(t), "letter-longest", data))
	// The body ends above the note at the foot of the page.
	c, err := r.letterContent(d)
	if err != nil {
		t.Fatal(err)
	}
	fits := false
	for _, scale := range letterScales {
		if _, _, bottom := r.drawLetter(c, scale); bottom <= noteTop-3 {
			fits = true
			break
		}
	}
	if !fits {
		t.Fatal("the longest letter does not fit")
	}
}

// letterBoxPixels is the inside of the signature box (less its padding) at 60 dpi.
func letterBoxPixels(t *testing.T, r *Renderer, d ports.LetterData) image.Rectangle {
	t.Helper()
	c, err := r.letterContent(d)
	if err != nil {
		t.Fatal(err)
	}
	_, box, err := r.renderLetter(c)
	if err != nil {
		t.Fatal(err)
	}
	px := func(mm float64) int { return int(mm / 25.4 * 60) }
	return image.Rect(px(box.x+sigBoxPad)+1, px(box.y+sigBoxPad)+1, px(box.x+box.w-sigBoxPad)-1, px(box.y+box.h-sigBoxPad)-1)
}

func letterDark(img image.Image, rect image.Rectangle) int {
	n := 0
	for y := rect.Min.Y; y < rect.Max.Y; y++ {
		for x := rect.Min.X; x < rect.Max.X; x++ {
			g := color.GrayModel.Convert(img.At(x, y)).(color.Gray)
			if g.Y < 128 {
				n++
			}
		}
	}
	return n
}

func TestAuthorizationLetterTemplate(t *testing.T) {
	r := letterRenderer(t)
	data, err := r.AuthorizationLetterTemplate()
	if err != nil {
		t.Fatal(err)
	}
	letterIsPDF(t, data)
	again, err := r.AuthorizationLetterTemplate()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, again) {
		t.Fatal("the template is not deterministic")
	}
	flat := squash(letterText(t, data))
	for _, want := range []string{"数信签授权书", "企业名称：", "统一社会信用代码：", "法定代表人身份证号：", "经办人（如有）：",
		"法定代表人签字：", "签署时间：", "JPG", "GIF"} {
		if !strings.Contains(flat, want) {
			t.Errorf("the template lacks %q: %s", want, flat)
		}
	}
	if strings.Contains(flat, "福州数信") {
		t.Error("the template carries data")
	}
}

func TestAuthorizationLetterDeterministic(t *testing.T) {
	r := letterRenderer(t)
	signedData := letterSigned(t, r)
	for name, d := range map[string]ports.LetterData{"unsigned": letterData(), "signed": signedData} {
		first, err := r.AuthorizationLetter(d)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		results := make([][]byte, 4)
		errs := make([]error, 4)
		for i := range results {
			wg.Go(func() { results[i], errs[i] = r.AuthorizationLetter(d) })
		}
		wg.Wait()
		for i := range results {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if !bytes.Equal(first, results[i]) {
				t.Fatalf("%s: the same data gave different PDFs", name)
			}
		}
		if !bytes.Contains(first, []byte("/CreationDate (D:20260303233000)")) {
			t.Errorf("%s: creation date is not the letter's date", name)
		}
	}
	// Another date is another document.
	d := letterData()
	d.Date = d.Date.Add(24 * time.Hour)
	a, _ := r.AuthorizationLetter(letterData())
	b, err := r.AuthorizationLetter(d)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) {
		t.Fatal("different dates gave the same PDF")
	}
}

func TestAuthorizationLetterInvalid(t *testing.T) {
	r := letterRenderer(t)
	jpeg := []byte{0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I', 'F', 0}
	for name, mut := range map[string]func(d *ports.LetterData){
		"no enterprise name":   func(d *ports.LetterData) { d.EnterpriseName = "  " },
		"no credit code":       func(d *ports.LetterData) { d.CreditCode = "" },
		"no legal rep":         func(d *ports.LetterData) { d.LegalRepName = "" },
		"clear ID number":      func(d *ports.LetterData) { d.LegalRepIDMasked = "11010519491231002X" },
		"unmasked ID":          func(d *ports.LetterData) { d.LegalRepIDMasked = "110105" },
		"control character":    func(d *ports.LetterData) { d.EnterpriseName = "福州\n数信" },
		"invalid UTF-8":        func(d *ports.LetterData) { d.LegalRepName = "张\xff" },
		"undrawable character": func(d *ports.LetterData) { d.OperatorName = "李😀" },
		"too long":             func(d *ports.LetterData) { d.EnterpriseName = strings.Repeat("数", maxEnterpriseNameRunes+1) },
		"signature not a PNG":  func(d *ports.LetterData) { d.SignatureImage, d.SignedAt = jpeg, d.Date },
		"truncated PNG":        func(d *ports.LetterData) { d.SignatureImage, d.SignedAt = []byte("\x89PNG\r\n\x1a\n"), d.Date },
		"signature without time": func(d *ports.LetterData) {
			d.SignatureImage = letterSigned(t, r).SignatureImage
		},
	} {
		d := letterData()
		mut(&d)
		_, err := r.AuthorizationLetter(d)
		if kernel.KindOf(err) != kernel.KindInvalid || kernel.CodeOf(err) != CodeLetterDataInvalid {
			t.Errorf("%s: err = %v, want invalid %s", name, err, CodeLetterDataInvalid)
		}
	}
}

// A PNG of any colour model (here 16-bit grey, interlacing aside) is accepted and embedded.
func TestAuthorizationLetterAnyPNG(t *testing.T) {
	r := letterRenderer(t)
	img := image.NewGray16(image.Rect(0, 0, 300, 100))
	for x := 20; x < 280; x++ {
		img.SetGray16(x, 50, color.Gray16{})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	d := letterData()
	d.SignatureImage, d.SignedAt = buf.Bytes(), d.Date
	data, err := r.AuthorizationLetter(d)
	if err != nil {
		t.Fatal(err)
	}
	letterIsPDF(t, data)
}

func TestSplitRuns(t *testing.T) {
	got := splitRuns("代码：91350100M000100Y43（A）")
	want := []textRun{{"代码：", false}, {"91350100M000100Y43", true}, {"（", false}, {"A", true}, {"）", false}}
	if len(got) != len(want) {
		t.Fatalf("splitRuns = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("splitRuns = %v, want %v", got, want)
		}
	}
	if splitRuns("") != nil {
		t.Fatal("runs of the empty string")
	}
}

func TestWrapFitsWidth(t *testing.T) {
	w := letterPDF{pdf: newLetterPDF()}
	text := clauseAuthorize + "Shuxinqian is an e-signature platform, " + strings.Repeat("X", 120) + "。" + clauseConfirm
	lines := w.wrap(text, bodySize, 100, 120)
	if squash(strings.Join(lines, "")) != squash(text) {
		t.Fatalf("wrapping lost text:\n%q", lines)
	}
	for i, l := range lines {
		limit := 120.0
		if i == 0 {
			limit = 100
		}
		if lw := w.width(l, bodySize); lw > limit+0.01 {
			t.Errorf("line %d is %.1f mm wide (limit %.0f): %q", i, lw, limit, l)
		}
		if first, _ := utf8.DecodeRuneInString(l); strings.ContainsRune(noLineStart, first) {
			t.Errorf("line %d starts with closing punctuation: %q", i, l)
		}
	}
}

func BenchmarkAuthorizationLetter(b *testing.B) {
	r, err := NewRenderer()
	if err != nil {
		b.Fatal(err)
	}
	d := letterData()
	for b.Loop() {
		if _, err := r.AuthorizationLetter(d); err != nil {
			b.Fatal(err)
		}
	}
}
