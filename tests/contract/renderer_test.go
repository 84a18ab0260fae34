package contract

import (
	"bytes"
	"image"
	"image/png"
	"testing"

	"github.com/shuxinqian/server/adapters/document"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// rndAdapter is one SignatureRenderer under test.
type rndAdapter struct {
	name string
	make func(t *testing.T) ports.SignatureRenderer
}

func rndAdapters() []rndAdapter {
	return []rndAdapter{{name: "document", make: func(t *testing.T) ports.SignatureRenderer {
		r, err := document.NewRenderer()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}}}
}

func rndDecode(t *testing.T, data []byte) image.Image {
	t.Helper()
	if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatal("not a PNG")
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("PNG does not decode: %v", err)
	}
	return img
}

func rndAlpha(img image.Image, x, y int) uint32 {
	_, _, _, a := img.At(x, y).RGBA()
	return a
}

func TestSignatureRendererContract(t *testing.T) {
	for _, a := range rndAdapters() {
		t.Run(a.name, func(t *testing.T) {
			r := a.make(t)
			for _, name := range []string{"张三", "司马相如", "阿依古丽·买买提"} {
				data, err := r.RenderSignature(name)
				if err != nil {
					t.Fatalf("RenderSignature(%q): %v", name, err)
				}
				img := rndDecode(t, data)
				b := img.Bounds()
				if b.Dx() < 16 || b.Dy() < 16 || b.Dx() > 2000 || b.Dy() > 2000 {
					t.Fatalf("%s: size %v", name, b)
				}
				for _, p := range []image.Point{b.Min, {b.Max.X - 1, b.Min.Y}, {b.Min.X, b.Max.Y - 1}, b.Max.Sub(image.Pt(1, 1))} {
					if rndAlpha(img, p.X, p.Y) != 0 {
						t.Fatalf("%s: background not transparent at %v", name, p)
					}
				}
				ink, bare := 0, 0
				for y := b.Min.Y; y < b.Max.Y; y++ {
					for x := b.Min.X; x < b.Max.X; x++ {
						switch al := rndAlpha(img, x, y); {
						case al == 0:
							bare++
						case al > 0x8000:
							ink++
						}
					}
				}
				if ink < 50 || bare < ink {
					t.Fatalf("%s: %d inked and %d transparent pixels", name, ink, bare)
				}
				again, err := r.RenderSignature(name)
				if err != nil || !bytes.Equal(again, data) {
					t.Fatalf("%s: not deterministic (%v)", name, err)
				}
			}
			if _, err := r.RenderSignature(""); kernel.KindOf(err) != kernel.KindInvalid {
				t.Fatalf("empty name: %v", err)
			}
		})
	}
}
