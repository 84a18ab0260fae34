package document

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	qrreader "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

type invClock struct{ t time.Time }

func (c invClock) Now() time.Time { return c.t }

var invSeller = Seller{Name: "福州数信科技有限公司", TaxID: "91350100M000100Y43", Address: "福建省福州市鼓楼区软件大道89号"}

// 2025-12-31 17:30 UTC is 2026-01-01 01:30 in China: the number's year and the date are China's.
var invNow = time.Date(2025, 12, 31, 17, 30, 0, 0, time.UTC)

func invIssuer(t *testing.T, dir string) *InvoiceIssuer {
	t.Helper()
	i, err := NewInvoiceIssuer(dir, invSeller, invClock{invNow})
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func invRequest(key string) ports.IssueRequest {
	return ports.IssueRequest{
		IdempotencyKey: key,
		TitleType:      "enterprise",
		BuyerName:      "深圳市数信招标代理有限公司",
		BuyerTaxID:     "91440300MA5FXXXX1X",
		Email:          "finance@example.com",
		Lines: []ports.InvoiceLine{
			{Name: "电子签名服务 企业版套餐（年度）", Quantity: 1, UnitPrice: kernel.Fen(10000), Amount: kernel.Fen(10000)},
			{Name: "签署次数包 100次", Quantity: 3, UnitPrice: kernel.Fen(783), Amount: kernel.Fen(2349)},
		},
		Total:    kernel.Fen(12349),
		OrderRef: "ord-20251231-0001",
	}
}

func invPDFText(t *testing.T, pdf []byte) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("pdftotext not installed")
	}
	f := filepath.Join(t.TempDir(), "invoice.pdf")
	if err := os.WriteFile(f, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", f, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v: %s", err, out)
	}
	return string(out)
}

func TestInvoiceIssuerIssues(t *testing.T) {
	dir := t.TempDir()
	iss := invIssuer(t, dir)
	inv, err := iss.Issue(context.Background(), invRequest("order-1"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^264[4][0-9]{16}$`).MatchString(inv.Number) {
		t.Fatalf("number %q: want 20 digits, year 26 (China time), then 44", inv.Number)
	}
	if !inv.IssuedAt.Equal(invNow) {
		t.Fatalf("issued at %v, want %v", inv.IssuedAt, invNow)
	}
	if !bytes.HasPrefix(inv.PDF, []byte("%PDF-")) {
		t.Fatal("not a PDF")
	}
	if iss.Issued() != 1 {
		t.Fatalf("issued %d", iss.Issued())
	}
	text := invPDFText(t, inv.PDF)
	for _, want := range []string{
		"电子发票（普通发票）", inv.Number, "2026年01月01日", "深圳市数信招标代理有限公司", "91440300MA5FXXXX1X",
		"福州数信科技有限公司", "91350100M000100Y43", "电子签名服务", "项目名称", "数量", "单价", "金额",
		"规格型号", "单位", "税率/征收率", "税额", "*信息技术服务*电子签名服务",
		// 100.00 at 6 %: tax round(5.6604) = 5.66, net 94.34; 23.49: tax round(1.3296) = 1.33, net 22.16,
		// unit price 22.16 / 3 = 7.38666667 (8 decimals, half up).
		"94.34", "5.66", "22.16", "1.33", "7.38666667", "6%", "合计", "¥116.50", "¥6.99",
		"价税合计（大写）", "壹佰贰拾叁元肆角玖分", "（小写）", "¥123.49", "开票人：数信签",
		"沙箱测试发票，不具备法律效力", "ord-20251231-0001",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF text lacks %q:\n%s", want, text)
		}
	}
	checkInvoiceSums(t, text)
	if strings.Count(text, "\n\f") > 1 || strings.Count(text, "\f") > 1 {
		t.Errorf("more than one page")
	}

	for _, name := range []string{"order-1.json", "order-1.pdf"} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", name, st.Mode().Perm())
		}
	}
	sub := filepath.Join(dir, "sub", "invoices")
	if _, err := NewInvoiceIssuer(sub, invSeller, invClock{invNow}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(sub); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("dir %v, %v", st, err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

func TestInvoiceIssuerPersonalTitle(t *testing.T) {
	iss := invIssuer(t, t.TempDir())
	req := invRequest("personal-1")
	req.TitleType, req.BuyerName, req.BuyerTaxID = "personal", "张三", ""
	inv, err := iss.Issue(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	text := invPDFText(t, inv.PDF)
	if !strings.Contains(text, "张三") || strings.Contains(text, "91440300MA5FXXXX1X") {
		t.Fatalf("PDF text:\n%s", text)
	}
}

func TestInvoiceIssuerIdempotent(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	iss := invIssuer(t, dir)
	first, err := iss.Issue(ctx, invRequest("order-1"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := iss.Issue(ctx, invRequest("order-1"))
	if err != nil {
		t.Fatal(err)
	}
	if again.Number != first.Number || !again.IssuedAt.Equal(first.IssuedAt) || !bytes.Equal(again.PDF, first.PDF) {
		t.Fatalf("replay differs: %s %v vs %s %v", again.Number, again.IssuedAt, first.Number, first.IssuedAt)
	}
	if iss.Issued() != 1 {
		t.Fatalf("issued %d", iss.Issued())
	}

	// A restart: a new issuer on the same directory, a later clock.
	restarted, err := NewInvoiceIssuer(dir, invSeller, invClock{invNow.Add(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	after, err := restarted.Issue(ctx, invRequest("order-1"))
	if err != nil {
		t.Fatal(err)
	}
	if after.Number != first.Number || !after.IssuedAt.Equal(first.IssuedAt) || !bytes.Equal(after.PDF, first.PDF) {
		t.Fatalf("after restart: %s %v vs %s %v", after.Number, after.IssuedAt, first.Number, first.IssuedAt)
	}
	if restarted.Issued() != 0 {
		t.Fatalf("restarted issuer issued %d", restarted.Issued())
	}

	// A lost PDF is rendered again from the stored record, identically.
	if err := os.Remove(filepath.Join(dir, "order-1.pdf")); err != nil {
		t.Fatal(err)
	}
	again, err = restarted.Issue(ctx, invRequest("order-1"))
	if err != nil {
		t.Fatal(err)
	}
	if again.Number != first.Number || !bytes.Equal(again.PDF, first.PDF) {
		t.Fatal("the PDF rendered again differs")
	}

	// Different keys, different invoices.
	other, err := iss.Issue(ctx, invRequest("order-2"))
	if err != nil {
		t.Fatal(err)
	}
	if other.Number == first.Number {
		t.Fatal("two keys, one number")
	}
	if iss.Issued() != 2 {
		t.Fatalf("issued %d", iss.Issued())
	}
}

func TestInvoiceIssuerConcurrentSameKey(t *testing.T) {
	iss := invIssuer(t, t.TempDir())
	const n = 20
	var (
		wg      sync.WaitGroup
		numbers [n]string
		errs    [n]error
	)
	for g := range n {
		wg.Go(func() {
			inv, err := iss.Issue(context.Background(), invRequest("same-key"))
			numbers[g], errs[g] = inv.Number, err
		})
	}
	wg.Wait()
	for g := range n {
		if errs[g] != nil {
			t.Fatal(errs[g])
		}
		if numbers[g] != numbers[0] {
			t.Fatalf("numbers differ: %s vs %s", numbers[g], numbers[0])
		}
	}
	if iss.Issued() != 1 {
		t.Fatalf("issued %d", iss.Issued())
	}
}

func TestInvoiceIssuerRefusesInvalidRequests(t *testing.T) {
	iss := invIssuer(t, t.TempDir())
	long := make([]ports.InvoiceLine, 40)
	for n := range long {
		long[n] = ports.InvoiceLine{Name: strings.Repeat("服务", 25), Quantity: 1, UnitPrice: 1, Amount: 1}
	}
	cases := map[string]func(r *ports.IssueRequest){
		"empty key":           func(r *ports.IssueRequest) { r.IdempotencyKey = "" },
		"capital key":         func(r *ports.IssueRequest) { r.IdempotencyKey = "Order-1" },
		"path key":            func(r *ports.IssueRequest) { r.IdempotencyKey = "../x" },
		"long key":            func(r *ports.IssueRequest) { r.IdempotencyKey = strings.Repeat("a", 65) },
		"no buyer":            func(r *ports.IssueRequest) { r.BuyerName = "  " },
		"undrawable buyer":    func(r *ports.IssueRequest) { r.BuyerName = "公司\u0007" },
		"bad title":           func(r *ports.IssueRequest) { r.TitleType = "company" },
		"enterprise no tax":   func(r *ports.IssueRequest) { r.BuyerTaxID = "" },
		"bad tax id":          func(r *ports.IssueRequest) { r.BuyerTaxID = "123" },
		"no lines":            func(r *ports.IssueRequest) { r.Lines, r.Total = nil, 0 },
		"wrong total":         func(r *ports.IssueRequest) { r.Total = kernel.Fen(12348) },
		"zero quantity":       func(r *ports.IssueRequest) { r.Lines[1].Quantity = 0 },
		"negative amount":     func(r *ports.IssueRequest) { r.Lines[1].Amount, r.Total = -2349, 10000-2349 },
		"empty line name":     func(r *ports.IssueRequest) { r.Lines[0].Name = "" },
		"zero total":          func(r *ports.IssueRequest) { r.Lines = r.Lines[:1]; r.Lines[0].Amount, r.Total = 0, 0 },
		"lines beyond a page": func(r *ports.IssueRequest) { r.Lines, r.Total = long, 40 },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			req := invRequest("bad-1")
			req.Lines = append([]ports.InvoiceLine(nil), req.Lines...)
			mutate(&req)
			_, err := iss.Issue(context.Background(), req)
			var e *kernel.Error
			if !errors.As(err, &e) || e.Kind != kernel.KindInvalid || e.Code != CodeInvoiceRequestInvalid {
				t.Fatalf("err %v", err)
			}
		})
	}
	if iss.Issued() != 0 {
		t.Fatalf("issued %d", iss.Issued())
	}
	if _, err := os.Stat(filepath.Join(iss.dir, "bad-1.json")); !os.IsNotExist(err) {
		t.Fatalf("a refused request left a record: %v", err)
	}
}

func TestNewInvoiceIssuerRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	bad := invSeller
	bad.TaxID = "91350100M000100Y44"
	if _, err := NewInvoiceIssuer(dir, bad, invClock{invNow}); err == nil {
		t.Error("a bad seller tax id was accepted")
	}
	bad = invSeller
	bad.Name = ""
	if _, err := NewInvoiceIssuer(dir, bad, invClock{invNow}); err == nil {
		t.Error("an empty seller name was accepted")
	}
	if _, err := NewInvoiceIssuer("", invSeller, invClock{invNow}); err == nil {
		t.Error("an empty dir was accepted")
	}
	if _, err := NewInvoiceIssuer(dir, invSeller, nil); err == nil {
		t.Error("a nil clock was accepted")
	}
}

// checkInvoiceSums reads 合计 (¥net, ¥tax) and （小写） ¥total from the PDF text and checks
// net + tax = total.
func checkInvoiceSums(t *testing.T, text string) {
	t.Helper()
	yen := regexp.MustCompile(`¥([0-9]+\.[0-9]{2})`)
	var sums, totals []string
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.Contains(line, "合计") && !strings.Contains(line, "价税合计"):
			for _, m := range yen.FindAllStringSubmatch(line, -1) {
				sums = append(sums, m[1])
			}
		case strings.Contains(line, "（小写）"):
			for _, m := range yen.FindAllStringSubmatch(line, -1) {
				totals = append(totals, m[1])
			}
		}
	}
	if len(sums) != 2 || len(totals) != 1 {
		t.Fatalf("合计 amounts %v, 小写 %v:\n%s", sums, totals, text)
	}
	net, err1 := kernel.ParseYuan(sums[0])
	tax, err2 := kernel.ParseYuan(sums[1])
	total, err3 := kernel.ParseYuan(totals[0])
	if err1 != nil || err2 != nil || err3 != nil || net+tax != total {
		t.Errorf("net %s + tax %s ≠ total %s", sums[0], sums[1], totals[0])
	}
}

// The QR code printed on the invoice decodes to InvoiceQRText of the invoice.
func TestInvoiceQRCode(t *testing.T) {
	if _, err := exec.LookPath("pdftoppm"); err != nil {
		t.Skip("pdftoppm not installed")
	}
	iss := invIssuer(t, t.TempDir())
	inv, err := iss.Issue(context.Background(), invRequest("order-qr"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "invoice.pdf")
	if err := os.WriteFile(f, inv.PDF, 0o600); err != nil {
		t.Fatal(err)
	}
	// The QR code is 24 mm square at (12 mm, 10 mm): crop that area at 300 dpi, with a margin.
	const dpi = 300
	mm := func(v float64) string { return fmt.Sprint(int(v / 25.4 * dpi)) }
	out, err := exec.Command("pdftoppm", "-png", "-r", fmt.Sprint(dpi), "-x", mm(6), "-y", mm(4), "-W", mm(36), "-H", mm(36),
		"-singlefile", f, filepath.Join(dir, "qr")).CombinedOutput()
	if err != nil {
		t.Fatalf("pdftoppm: %v: %s", err, out)
	}
	pngFile, err := os.Open(filepath.Join(dir, "qr.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pngFile.Close() }()
	img, err := png.Decode(pngFile)
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrreader.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("decode the invoice's QR code: %v", err)
	}
	// 100.00 + 23.49 at 6 %: net 94.34 + 22.16 = 116.50.
	want := InvoiceQRText(inv.Number, kernel.Fen(11650), inv.IssuedAt, "91350100M000100Y43", kernel.Fen(12349))
	if res.GetText() != want {
		t.Fatalf("QR %q, want %q", res.GetText(), want)
	}
	if !regexp.MustCompile(`^01,32,,[0-9]{20},116\.50,20260101,,[0-9A-F]{4},$`).MatchString(want) {
		t.Fatalf("QR layout %q", want)
	}
}
