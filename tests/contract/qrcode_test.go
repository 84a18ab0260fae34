package contract

import (
	"bytes"
	"image/png"
	"testing"

	"github.com/makiuchi-d/gozxing"
	zqr "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/shuxinqian/server/adapters/qrcode"
	"github.com/shuxinqian/server/ports"
)

func TestQRCoderContract(t *testing.T) {
	for name, c := range map[string]ports.QRCoder{"go-qrcode": qrcode.Coder{}} {
		t.Run(name, func(t *testing.T) {
			text := "http://localhost:8080/join?channel=q86804&t=3LUGAuc2HPzCTpB0KSj6OA"
			b, err := c.PNG(text, 512)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if r := img.Bounds(); r.Dx() != 512 || r.Dy() != 512 {
				t.Fatalf("size %v", r)
			}
			bmp, err := gozxing.NewBinaryBitmapFromImage(img)
			if err != nil {
				t.Fatal(err)
			}
			res, err := zqr.NewQRCodeReader().Decode(bmp, nil)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if res.GetText() != text {
				t.Fatalf("decoded %q", res.GetText())
			}
			for _, bad := range []struct {
				text string
				size int
			}{{"", 256}, {text, 10}, {text, 5000}, {string(make([]byte, 2000)), 256}} {
				if _, err := c.PNG(bad.text, bad.size); err == nil {
					t.Errorf("accepted text of %d bytes at size %d", len(bad.text), bad.size)
				}
			}
		})
	}
}
