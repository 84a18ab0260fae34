package seal

import (
	"bytes"
	"image/png"

	"github.com/shuxinqian/server/domain/kernel"
)

// Uploaded seal images: a PNG between these sides, no more than twice as wide as high (oval
// seals) or high as wide, with a transparent background.
const (
	ImageMinSide = 64
	ImageMaxSide = 2000
	// ImageMinTransparent is the share of fully transparent pixels an upload must have, in
	// percent (a round seal leaves ~21% of its square transparent in the corners alone).
	ImageMinTransparent = 10
	// ImageMinInk is the share of visible pixels, in percent.
	ImageMinInk = 1
)

func badImage(code, msg string) *kernel.Error { return kernel.Invalid(code, msg) }

// CheckImage checks an uploaded seal image. The header is read first (DecodeConfig) and the
// sides bounded before a single pixel is decoded; then the background must be transparent.
func CheckImage(data []byte) error {
	if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
		return badImage("seal-image-not-png", "a seal image must be a PNG")
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return badImage("seal-image-corrupt", "the seal image is damaged")
	}
	w, h := cfg.Width, cfg.Height
	if w < ImageMinSide || h < ImageMinSide || w > ImageMaxSide || h > ImageMaxSide || w > 2*h || h > 2*w {
		return badImage("seal-image-dimensions", "a seal image has 64 to 2000 pixels on each side, at most twice as wide as high").
			WithDetail("width", w).WithDetail("height", h)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return badImage("seal-image-corrupt", "the seal image is damaged")
	}
	if o, ok := img.(interface{ Opaque() bool }); ok && o.Opaque() {
		return badImage("seal-image-not-transparent", "the seal image needs a transparent background")
	}
	b := img.Bounds()
	var clear, ink int
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			_, _, _, a := img.At(x, y).RGBA()
			switch {
			case a == 0:
				clear++
			case a > 0x8000:
				ink++
			}
		}
	}
	total := b.Dx() * b.Dy()
	if clear*100 < total*ImageMinTransparent {
		return badImage("seal-image-not-transparent", "the seal image needs a transparent background").
			WithDetail("transparent_percent", clear*100/total)
	}
	if ink*100 < total*ImageMinInk {
		return badImage("seal-image-empty", "the seal image is (almost) fully transparent")
	}
	return nil
}
