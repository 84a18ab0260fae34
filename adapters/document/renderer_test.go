package document_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font/sfnt"

	"github.com/shuxinqian/server/adapters/document"
	"github.com/shuxinqian/server/domain/file"
	"github.com/shuxinqian/server/domain/kernel"
)

func newRenderer(t *testing.T) *document.Renderer {
	t.Helper()
	r, err := document.NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func render(t *testing.T, r *document.Renderer, name string) (image.Image, []byte) {
	t.Helper()
	data, err := r.RenderSignature(name)
	if err != nil {
		t.Fatalf("RenderSignature(%q): %v", name, err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	return img, data
}

// inkStats counts dark, mostly opaque pixels and any pixel that is neither transparent nor black.
func inkStats(img image.Image) (dark, coloured int) {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			if r != 0 || g != 0 || bl != 0 {
				coloured++
			}
			if a > 0x8000 {
				dark++
			}
		}
	}
	return dark, coloured
}

func transparentAt(img image.Image, x, y int) bool {
	_, _, _, a := img.At(x, y).RGBA()
	return a == 0
}

func TestRenderSignature(t *testing.T) {
	r := newRenderer(t)
	widths := map[string]int{}
	for _, name := range []string{"张三", "欧阳娜娜", "阿卜杜热合曼·买买提", "John Smith", "李", "O'Neil-2"} {
		img, data := render(t, r, name)
		b := img.Bounds()
		for _, p := range []image.Point{{b.Min.X, b.Min.Y}, {b.Max.X - 1, b.Min.Y}, {b.Min.X, b.Max.Y - 1}, {b.Max.X - 1, b.Max.Y - 1}} {
			if !transparentAt(img, p.X, p.Y) {
				t.Fatalf("%s: corner %v not transparent", name, p)
			}
		}
		dark, coloured := inkStats(img)
		if dark < 100 {
			t.Fatalf("%s: only %d dark pixels", name, dark)
		}
		if coloured != 0 {
			t.Fatalf("%s: %d non-black pixels", name, coloured)
		}
		// What the renderer makes is a valid signature upload.
		if _, err := file.Inspect(file.PurposeSignature, data); err != nil {
			t.Fatalf("%s: signature refused by file.Inspect: %v", name, err)
		}
		widths[name] = b.Dx()
	}
	for _, pair := range [][2]string{{"李", "张三"}, {"张三", "欧阳娜娜"}, {"欧阳娜娜", "阿卜杜热合曼·买买提"}} {
		if widths[pair[0]] >= widths[pair[1]] {
			t.Fatalf("width does not grow with the name: %v", widths)
		}
	}
	if os.Getenv("SIGNATURE_PNG_OUT") != "" { // for looking at one by eye
		_, data := render(t, r, "欧阳娜娜")
		if err := os.WriteFile(os.Getenv("SIGNATURE_PNG_OUT"), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRenderSignatureLongest(t *testing.T) {
	r := newRenderer(t)
	name := strings.Repeat("龘", document.MaxNameRunes)
	_, data := render(t, r, name)
	if _, err := file.Inspect(file.PurposeSignature, data); err != nil {
		t.Fatalf("longest signature refused: %v", err)
	}
}

func TestRenderSignatureDeterministic(t *testing.T) {
	r := newRenderer(t)
	_, a := render(t, r, "王小明")
	_, b := render(t, newRenderer(t), "王小明")
	if !bytes.Equal(a, b) {
		t.Fatal("same name, different PNGs")
	}
	_, c := render(t, r, "王小红")
	if bytes.Equal(a, c) {
		t.Fatal("different names, same PNG")
	}
}

func TestRenderSignatureRefused(t *testing.T) {
	r := newRenderer(t)
	for _, name := range []string{
		"", "   ", "\t\n", strings.Repeat("张", document.MaxNameRunes+1), "张\x00三", "张\u202e三", "\xff\xfe",
		"张三😀", "张三\uE000",
	} {
		_, err := r.RenderSignature(name)
		if kernel.CodeOf(err) != "signature-name-invalid" || kernel.KindOf(err) != kernel.KindInvalid {
			t.Errorf("RenderSignature(%q) = %v", name, err)
		}
	}
}

func TestRenderSignatureConcurrent(t *testing.T) {
	r := newRenderer(t)
	want, err := r.RenderSignature("赵钱孙")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for range 16 {
		wg.Go(func() {
			got, err := r.RenderSignature("赵钱孙")
			if err != nil || !bytes.Equal(got, want) {
				errs <- "concurrent render differs"
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

func TestCJKFontIsShipped(t *testing.T) {
	f := document.CJKFont()
	if len(f) < 1<<20 || !bytes.HasPrefix(f, []byte{0, 1, 0, 0}) {
		t.Fatalf("embedded font: %d bytes, header % x", len(f), f[:4])
	}
	f[0] = 0xff // a caller's copy: the next call is unaffected
	if document.CJKFont()[0] != 0 {
		t.Fatal("CJKFont shares its bytes")
	}
	parsed, err := sfnt.Parse(document.CJKFont())
	if err != nil {
		t.Fatal(err)
	}
	var buf sfnt.Buffer
	for c, want := range map[rune]bool{'数': true, '签': true, '龘': true, '・': true, 'Ａ': true, '１': true, 'A': false, '1': false, '·': false} {
		gi, err := parsed.GlyphIndex(&buf, c)
		if err != nil || (gi != 0) != want {
			t.Errorf("glyph for %q: index %d, %v; want present=%v (update the CJKFont doc if the font changed)", c, gi, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join("fonts", "LICENSE-DroidSansFallback.txt")); err != nil {
		t.Fatal("font licence missing:", err)
	}
}

// fpdf (used for the authorization letter template) can load the embedded font and write Chinese.
func TestCJKFontInPDF(t *testing.T) {
	const title = "数信签授权书"
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.AddUTF8FontFromBytes("cjk", "", document.CJKFont())
	pdf.SetFont("cjk", "", 18)
	pdf.AddPage()
	pdf.Cell(0, 12, title)
	pdf.Ln(12)
	pdf.SetFont("cjk", "", 11)
	pdf.MultiCell(0, 7, "本人授权数信签代为办理企业认证，统一社会信用代码：９１３５０１００Ｍ０００１００Ｙ６。", "", "L", false)
	pdf.SetFont("Helvetica", "", 11) // the CJK font has no ASCII glyphs: Latin text uses a core font
	pdf.Cell(0, 7, "Shuxinqian 2026-01-01")
	var out bytes.Buffer
	if err := pdf.Output(&out); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out.Bytes(), []byte("%PDF-")) {
		t.Fatal("not a PDF")
	}
	t.Logf("PDF with the subset font: %d bytes", out.Len())

	pdftotext, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Skip("pdftotext not installed; text extraction not checked")
	}
	path := filepath.Join(t.TempDir(), "letter.pdf")
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	text, err := exec.CommandContext(context.Background(), pdftotext, "-enc", "UTF-8", path, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{title, "本人授权数信签", "９１３５０１００Ｍ０００１００Ｙ６", "Shuxinqian 2026-01-01"} {
		if !strings.Contains(string(text), want) {
			t.Fatalf("pdftotext output %q lacks %q", text, want)
		}
	}
}
