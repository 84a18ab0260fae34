// Package qrcode implements ports.QRCoder with github.com/skip2/go-qrcode.
package qrcode

import (
	"errors"

	qr "github.com/skip2/go-qrcode"
)

// Coder draws QR codes as PNG (error correction level M).
type Coder struct{}

// PNG draws text as a size×size PNG.
func (Coder) PNG(text string, size int) ([]byte, error) {
	if text == "" || len(text) > 1024 {
		return nil, errors.New("qrcode: text must be 1-1024 bytes")
	}
	if size < 64 || size > 2048 {
		return nil, errors.New("qrcode: size must be 64-2048 pixels")
	}
	return qr.Encode(text, qr.Medium, size)
}
