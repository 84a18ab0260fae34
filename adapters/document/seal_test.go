package document_test

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/shuxinqian/server/adapters/document"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/seal"
	"github.com/shuxinqian/server/ports"
)

func sealImage(t *testing.T, r *document.SealRenderer, spec ports.SealSpec) (image.Image, []byte) {
	t.Helper()
	b, err := r.RenderSeal(spec)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return img, b
}

func isRed(img image.Image, x, y int) bool {
	r, g, b, a := img.At(x, y).RGBA()
	return a > 0xC000 && r > 0xA000 && g < 0x4000 && b < 0x4000
}

func isClear(img image.Image, x, y int) bool {
	_, _, _, a := img.At(x, y).RGBA()
	return a == 0
}

// TestRenderSeal checks the drawing's geometry: 42 mm at 300 dpi, a transparent background, the
// red ring, the star in the centre, the name's ink along the upper arc, and that the result
// passes the uploaded-seal check too. SEAL_PREVIEW_DIR=dir writes the images there to look at.
func TestRenderSeal(t *testing.T) {
	r, err := document.NewSealRenderer()
	if err != nil {
		t.Fatal(err)
	}
	specs := map[string]ports.SealSpec{
		"official": {Template: seal.TemplateRoundStar, EnterpriseName: "东莞市交易专家招标代理有限公司"},
		"contract": {Template: seal.TemplateRoundStar, EnterpriseName: "福州数信科技有限公司", Label: "合同专用章"},
		"oval":     {Template: seal.TemplateOval, EnterpriseName: "福州数信科技有限公司", Label: "财务专用章"},
		"square":   {Template: seal.TemplateSquare, EnterpriseName: "福州数信科技有限公司", LegalRepName: "张三"},
	}
	for name, spec := range specs {
		img, b := sealImage(t, r, spec)
		if dir := os.Getenv("SEAL_PREVIEW_DIR"); dir != "" {
			_ = os.WriteFile(filepath.Join(dir, "seal-"+name+".png"), b, 0o644)
		}
		if err := seal.CheckImage(b); err != nil {
			t.Errorf("%s: the drawn seal fails the upload check: %v", name, err)
		}
		bd := img.Bounds()
		w, h := bd.Dx(), bd.Dy()
		want := map[string][2]int{"official": {496, 496}, "contract": {496, 496}, "oval": {531, 354}, "square": {236, 236}}[name]
		if w != want[0] || h != want[1] {
			t.Errorf("%s: %dx%d, want %dx%d", name, w, h, want[0], want[1])
		}
		if !isClear(img, 1, 1) || !isClear(img, w-2, h-2) {
			t.Errorf("%s: the corners are not transparent", name)
		}
		switch spec.Template {
		case seal.TemplateRoundStar:
			// The ring: 0.4 mm margin, 1.2 mm wide (≈14 px) at the left, right, top, bottom.
			for _, p := range [][2]int{{12, h / 2}, {w - 13, h / 2}, {w / 2, 12}, {w / 2, h - 13}} {
				if !isRed(img, p[0], p[1]) {
					t.Errorf("%s: no ring at %v", name, p)
				}
			}
			if !isRed(img, w/2, h/2) {
				t.Errorf("%s: no star in the centre", name)
			}
			// Inside the ring, just within it, is a transparent gap.
			if !isClear(img, w/2, 24) && !isClear(img, w/2, 22) {
				t.Errorf("%s: no gap between the ring and the text", name)
			}
			// The name's ink sits in the upper band (between the ring and the star), none in
			// the star's own band beside it in the lower part when there is no label.
			ink := 0
			for y := 30; y < 120; y++ {
				for x := 30; x < w-30; x++ {
					if isRed(img, x, y) {
						ink++
					}
				}
			}
			if ink < 2000 {
				t.Errorf("%s: only %d red pixels along the upper arc", name, ink)
			}
		case seal.TemplateSquare:
			if !isRed(img, 5, h/2) || !isRed(img, w/2, 5) {
				t.Errorf("%s: no border", name)
			}
		}
	}
	// Bigger and sharper on demand; refused when absurd.
	img, _ := sealImage(t, r, ports.SealSpec{Template: seal.TemplateRoundStar, EnterpriseName: "福州数信科技有限公司", DiameterMM: 40, DPI: 600})
	if img.Bounds().Dx() != 945 {
		t.Errorf("40 mm at 600 dpi: %d px", img.Bounds().Dx())
	}
	for name, tc := range map[string]struct {
		spec ports.SealSpec
		code string
	}{
		"no name":       {ports.SealSpec{Template: seal.TemplateRoundStar}, "seal-text-invalid"},
		"control":       {ports.SealSpec{Template: seal.TemplateRoundStar, EnterpriseName: "福州\u0007公司"}, "seal-text-invalid"},
		"no glyph":      {ports.SealSpec{Template: seal.TemplateRoundStar, EnterpriseName: "福州\U0001F600公司"}, "seal-text-invalid"},
		"too long":      {ports.SealSpec{Template: seal.TemplateRoundStar, EnterpriseName: string(bytes.Repeat([]byte("公"), 41))}, "seal-text-invalid"},
		"bad template":  {ports.SealSpec{Template: "hexagon", EnterpriseName: "公司"}, "seal-template-invalid"},
		"huge":          {ports.SealSpec{Template: seal.TemplateRoundStar, EnterpriseName: "公司", DiameterMM: 400}, "seal-size-invalid"},
		"dpi":           {ports.SealSpec{Template: seal.TemplateRoundStar, EnterpriseName: "公司", DPI: 5000}, "seal-size-invalid"},
		"square no txt": {ports.SealSpec{Template: seal.TemplateSquare}, "seal-text-invalid"},
	} {
		if _, err := r.RenderSeal(tc.spec); kernel.CodeOf(err) != tc.code {
			t.Errorf("%s: %v, want %s", name, err, tc.code)
		}
	}
	// A rare character outside GB 2312 falls back to the sans font instead of failing.
	if _, err := r.RenderSeal(ports.SealSpec{Template: seal.TemplateRoundStar, EnterpriseName: "福州堃犇科技有限公司"}); err != nil {
		t.Errorf("fallback glyphs: %v", err)
	}
}

func TestRenderSealConcurrently(t *testing.T) {
	r, err := document.NewSealRenderer()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	out := make([][]byte, 4)
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], _ = r.RenderSeal(ports.SealSpec{Template: seal.TemplateRoundStar, EnterpriseName: "福州数信科技有限公司", Label: "合同专用章"})
		}()
	}
	wg.Wait()
	for i := range out {
		if len(out[i]) == 0 || !bytes.Equal(out[i], out[0]) {
			t.Fatal("concurrent renderings differ")
		}
	}
}

func BenchmarkRenderSeal(b *testing.B) {
	r, _ := document.NewSealRenderer()
	for b.Loop() {
		if _, err := r.RenderSeal(ports.SealSpec{Template: seal.TemplateRoundStar, EnterpriseName: "东莞市交易专家招标代理有限公司"}); err != nil {
			b.Fatal(err)
		}
	}
}
