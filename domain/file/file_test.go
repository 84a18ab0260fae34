package file_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/file"
	"github.com/shuxinqian/server/domain/kernel"
)

func testImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{R: uint8(x), G: uint8(y), B: 0x80, A: 0xFF})
		}
	}
	return img
}

func encodePNG(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, testImage(w, h)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testImage(w, h), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeGIF(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gif.Encode(&b, testImage(w, h), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngChunk builds one PNG chunk with a correct CRC.
func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	_ = binary.Write(&b, binary.BigEndian, crc.Sum32())
	return b.Bytes()
}

// bombPNG is a valid PNG header claiming w×h RGBA pixels, with a tiny IDAT and an IEND: a full
// decode would allocate w*h*4 bytes before failing.
func bombPNG(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8] = 8 // bit depth
	ihdr[9] = 6 // colour type RGBA
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	b.Write(pngChunk("IHDR", ihdr))
	b.Write(pngChunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01}))
	b.Write(pngChunk("IEND", nil))
	return b.Bytes()
}

// bombPNG16 is a header-only 16-bit RGBA PNG claiming w×h pixels.
func bombPNG16(w, h uint32) []byte {
	b := bombPNG(w, h)
	b[8+8+8] = 16 // IHDR bit depth
	// fix the IHDR CRC
	ihdr := b[8+4 : 8+4+4+13]
	crc := crc32.ChecksumIEEE(ihdr)
	b[8+4+4+13], b[8+4+4+13+1], b[8+4+4+13+2], b[8+4+4+13+3] = byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc)
	return b
}

func TestParsePurpose(t *testing.T) {
	for _, p := range file.Purposes {
		got, err := file.ParsePurpose(string(p))
		if err != nil || got != p {
			t.Fatalf("ParsePurpose(%q) = %q, %v", p, got, err)
		}
	}
	for _, s := range []string{"", "avatar", "SIGNATURE", "signature "} {
		if _, err := file.ParsePurpose(s); kernel.CodeOf(err) != "file-purpose-invalid" {
			t.Fatalf("ParsePurpose(%q) err = %v", s, err)
		}
	}
}

func TestInspect(t *testing.T) {
	pngData := encodePNG(t, 64, 32)
	jpegData := encodeJPEG(t, 64, 32)
	gifData := encodeGIF(t, 64, 32)
	pdfData := []byte("%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")
	php := []byte("<?php system($_GET['c']); ?>")

	tests := []struct {
		name    string
		purpose file.Purpose
		data    []byte
		code    string // "" means accepted
		ct      string
	}{
		{"png licence", file.PurposeBusinessLicence, pngData, "", file.TypePNG},
		{"jpeg licence", file.PurposeBusinessLicence, jpegData, "", file.TypeJPEG},
		{"gif licence", file.PurposeBusinessLicence, gifData, "", file.TypeGIF},
		{"pdf licence", file.PurposeBusinessLicence, pdfData, file.CodeTypeNotAllowed, ""},
		{"jpeg scan", file.PurposeAuthorizationLetterScan, encodeJPEG(t, 600, 800), "", file.TypeJPEG},
		{"gif scan", file.PurposeAuthorizationLetterScan, encodeGIF(t, 600, 800), "", file.TypeGIF},
		// Issue 11 item 2: a scan must be a plausible page, not a 1×1 GIF.
		{"1x1 gif scan", file.PurposeAuthorizationLetterScan, encodeGIF(t, 1, 1), file.CodeImageDimensions, ""},
		{"tiny jpeg scan", file.PurposeAuthorizationLetterScan, jpegData, file.CodeImageDimensions, ""},
		// Decode memory is width × height × bytes per pixel: a 16-bit RGBA PNG of 39.7 MP (under the
		// 40 MP cap) would take 317 MB and is refused from its header.
		{"16-bit rgba under 40 MP", file.PurposeBusinessLicence, bombPNG16(6300, 6300), file.CodeImageTooLarge, ""},
		{"signature of 6000 px refused before decoding", file.PurposeSignature, bombPNG16(6000, 100), file.CodeImageDimensions, ""},
		{"png scan", file.PurposeAuthorizationLetterScan, pngData, file.CodeTypeNotAllowed, ""},
		{"pdf scan", file.PurposeAuthorizationLetterScan, pdfData, file.CodePDFNotAllowed, ""},
		{"png signature", file.PurposeSignature, pngData, "", file.TypePNG},
		{"jpeg signature", file.PurposeSignature, jpegData, file.CodeTypeNotAllowed, ""},
		{"gif signature", file.PurposeSignature, gifData, file.CodeTypeNotAllowed, ""},
		{"php script as licence", file.PurposeBusinessLicence, php, file.CodeTypeUnsupported, ""},
		{"php script as scan", file.PurposeAuthorizationLetterScan, php, file.CodeTypeUnsupported, ""},
		{"html", file.PurposeSignature, []byte("<html><script>alert(1)</script>"), file.CodeTypeUnsupported, ""},
		{"png magic not at start", file.PurposeSignature, append([]byte(" "), pngData...), file.CodeTypeUnsupported, ""},
		{"empty", file.PurposeSignature, nil, file.CodeEmpty, ""},
		{"too large", file.PurposeBusinessLicence, append(bytes.Clone(jpegData), make([]byte, file.MaxSize+1-len(jpegData))...), file.CodeTooLarge, ""},
		{"bomb png", file.PurposeBusinessLicence, bombPNG(100000, 100000), file.CodeImageTooLarge, ""},
		{"bomb png signature", file.PurposeSignature, bombPNG(100000, 100000), file.CodeImageTooLarge, ""},
		{"just over 40 MP", file.PurposeBusinessLicence, bombPNG(8000, 5001), file.CodeImageTooLarge, ""},
		{"truncated png", file.PurposeBusinessLicence, pngData[:len(pngData)/2], file.CodeImageCorrupt, ""},
		{"png header only", file.PurposeBusinessLicence, pngData[:8], file.CodeImageCorrupt, ""},
		{"truncated jpeg", file.PurposeAuthorizationLetterScan, jpegData[:len(jpegData)/2], file.CodeImageCorrupt, ""},
		{"truncated gif", file.PurposeAuthorizationLetterScan, gifData[:len(gifData)/2], file.CodeImageCorrupt, ""},
		{"jpeg magic only", file.PurposeAuthorizationLetterScan, []byte{0xFF, 0xD8, 0xFF, 0xE0}, file.CodeImageCorrupt, ""},
		{"signature too small", file.PurposeSignature, encodePNG(t, 15, 40), file.CodeImageDimensions, ""},
		{"signature too wide", file.PurposeSignature, encodePNG(t, 2001, 16), file.CodeImageDimensions, ""},
		{"signature at bounds", file.PurposeSignature, encodePNG(t, 2000, 16), "", file.TypePNG},
		{"unknown purpose", file.Purpose("avatar"), pngData, "file-purpose-invalid", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			info, err := file.Inspect(tc.purpose, tc.data)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("Inspect: %v", err)
				}
				if info.ContentType != tc.ct || info.Size != int64(len(tc.data)) || len(info.SHA256) != 64 ||
					info.Width <= 0 || info.Height <= 0 {
					t.Fatalf("info = %+v", info)
				}
				return
			}
			if got := kernel.CodeOf(err); got != tc.code {
				t.Fatalf("code = %q (%v), want %q", got, err, tc.code)
			}
			if kernel.KindOf(err) != kernel.KindInvalid {
				t.Fatalf("kind = %v, want invalid", kernel.KindOf(err))
			}
			if info != (file.Info{}) {
				t.Fatalf("refused file still described: %+v", info)
			}
		})
	}
}

// Documents to sign: PDF only (an image is file-type-not-allowed, other bytes pdf-invalid), up to 20 MiB where images stop at 10.
func TestInspectDocument(t *testing.T) {
	pdfData := []byte("%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")
	big := append(bytes.Clone(pdfData), make([]byte, 15<<20)...)
	info, err := file.Inspect(file.PurposeDocument, big)
	if err != nil || info.ContentType != file.TypePDF || info.Size != int64(len(big)) || info.Width != 0 {
		t.Fatalf("15 MiB PDF: %+v %v", info, err)
	}
	over := append(bytes.Clone(pdfData), make([]byte, file.MaxDocumentSize+1-len(pdfData))...)
	if _, err := file.Inspect(file.PurposeDocument, over); kernel.CodeOf(err) != file.CodeTooLarge {
		t.Fatalf("PDF over 20 MiB: %v", err)
	}
	if _, err := file.Inspect(file.PurposeBusinessLicence, big); kernel.CodeOf(err) != file.CodeTooLarge {
		t.Fatalf("15 MiB licence: %v", err)
	}
	for name, data := range map[string][]byte{"script": []byte("<?php ?>"), "pdf magic late": append([]byte(" "), pdfData...)} {
		if _, err := file.Inspect(file.PurposeDocument, data); kernel.CodeOf(err) != file.CodePDFInvalid {
			t.Errorf("%s as a document: %v", name, err)
		}
	}
	// An image is a known type, just not a document.
	if _, err := file.Inspect(file.PurposeDocument, encodePNG(t, 64, 32)); kernel.CodeOf(err) != file.CodeTypeNotAllowed {
		t.Errorf("png as a document: %v", err)
	}
	if _, err := file.Inspect(file.PurposeDocument, nil); kernel.CodeOf(err) != file.CodeEmpty {
		t.Errorf("empty document: %v", err)
	}
	if file.MaxSizeOf(file.PurposeDocument) != 20<<20 || file.MaxSizeOf(file.PurposeSignature) != 10<<20 {
		t.Error("size limits")
	}
}

func TestInspectInfo(t *testing.T) {
	data := encodePNG(t, 64, 32)
	info, err := file.Inspect(file.PurposeSignature, data)
	if err != nil {
		t.Fatal(err)
	}
	if info.Width != 64 || info.Height != 32 {
		t.Fatalf("size %dx%d", info.Width, info.Height)
	}
	if sum := sha256.Sum256(data); info.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("sha256 %s", info.SHA256)
	}
}

func TestInspectMessages(t *testing.T) {
	_, err := file.Inspect(file.PurposeAuthorizationLetterScan, []byte("%PDF-1.4\n"))
	var e *kernel.Error
	if !errors.As(err, &e) || !strings.Contains(e.Message, "PDF") || !strings.Contains(e.Message, "JPG/GIF") ||
		!strings.Contains(e.Message, "only JPG or GIF scans are accepted, not PDF") {
		t.Fatalf("pdf scan message: %v", err)
	}
	_, err = file.Inspect(file.PurposeSignature, encodeJPEG(t, 32, 32))
	if !errors.As(err, &e) || !strings.Contains(e.Message, "PNG") {
		t.Fatalf("signature message: %v", err)
	}
}

// The bomb is refused from its header: no pixel buffer, few allocations, at once.
func TestInspectBombDoesNotDecode(t *testing.T) {
	bomb := bombPNG(100000, 100000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := file.Inspect(file.PurposeBusinessLicence, bomb)
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	if kernel.CodeOf(err) != file.CodeImageTooLarge {
		t.Fatalf("err = %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("allocated %d bytes for a refused header", grew)
	}
	if elapsed > time.Second {
		t.Fatalf("took %v", elapsed)
	}
	allocs := testing.AllocsPerRun(20, func() { _, _ = file.Inspect(file.PurposeBusinessLicence, bomb) })
	if allocs > 50 {
		t.Fatalf("%v allocations per refused bomb", allocs)
	}
}

func TestSniff(t *testing.T) {
	for in, want := range map[string]string{
		"\x89PNG\r\n\x1a\nrest": file.TypePNG,
		"\xff\xd8\xff\xe0":      file.TypeJPEG,
		"GIF87a":                file.TypeGIF,
		"GIF89a..":              file.TypeGIF,
		"%PDF-1.7":              file.TypePDF,
		"%PDF":                  "",
		"GIF90a":                "",
		"\x89PNG":               "",
		"<?php":                 "",
		"":                      "",
	} {
		if got := file.Sniff([]byte(in)); got != want {
			t.Errorf("Sniff(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzInspect(f *testing.F) {
	f.Add(encodePNG(f, 20, 20))
	f.Add(encodeJPEG(f, 20, 20))
	f.Add(encodeGIF(f, 20, 20))
	f.Add(bombPNG(100000, 100000))
	f.Add(bombPNG(1, 1))
	f.Add([]byte("%PDF-1.4"))
	f.Add([]byte("<?php system($_GET['c']); ?>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range file.Purposes {
			info, err := file.Inspect(p, data)
			if err != nil {
				if kernel.KindOf(err) != kernel.KindInvalid {
					t.Fatalf("%s: non-invalid error %v", p, err)
				}
				continue
			}
			if info.Size != int64(len(data)) || info.ContentType != file.Sniff(data) ||
				int64(info.Width)*int64(info.Height) > file.MaxPixels {
				t.Fatalf("%s: info %+v", p, info)
			}
		}
	})
}
