package document

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-pdf/fpdf"
	qr "github.com/skip2/go-qrcode"
	"golang.org/x/image/font/sfnt"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// CodeInvoiceRequestInvalid is the kernel error code of an invoice request the issuer refuses.
const CodeInvoiceRequestInvalid = "invoice-request-invalid"

// InvoiceTitle is the title printed on the invoice.
const InvoiceTitle = "电子发票（普通发票）"

// InvoiceSandboxNote is printed on every invoice the sandbox issues.
const InvoiceSandboxNote = "沙箱测试发票，不具备法律效力"

// Limits of an invoice request.
const (
	maxInvoiceBuyerRunes = 100
	maxInvoiceLineRunes  = 60
	maxInvoiceLines      = 50
	maxInvoiceOrderRef   = 64
	maxInvoiceQuantity   = 1_000_000
)

// Title types of an invoice request.
const (
	InvoiceTitlePersonal   = "personal"
	InvoiceTitleEnterprise = "enterprise"
)

var (
	invoiceKeyPattern    = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)
	invoiceTaxIDPattern  = regexp.MustCompile(`^[0-9A-Z]{15,20}$`)
	invoiceNumberPattern = regexp.MustCompile(`^[0-9]{20}$`)
	invoiceOrderPattern  = regexp.MustCompile(`^[!-~]*$`)
)

// invoiceRandomSpace is 10^16: the number's 16 random digits.
var invoiceRandomSpace = new(big.Int).Exp(big.NewInt(10), big.NewInt(16), nil)

// Seller is the issuing enterprise printed on the invoices.
type Seller struct {
	Name    string
	TaxID   string // the unified social credit code
	Address string // optional
	Drawer  string // 开票人 printed on the invoices; DefaultInvoiceDrawer when empty
}

// DefaultInvoiceDrawer is the 开票人 of a seller that names none.
const DefaultInvoiceDrawer = "数信签"

var _ ports.InvoiceIssuer = (*InvoiceIssuer)(nil)

// InvoiceIssuer is the sandbox issuer of VAT ordinary digital invoices (数电普票): it numbers and
// renders the invoices itself (one-page A4 PDFs marked as sandbox invoices) and keeps each one in
// dir as <key>.json (the issued record) and <key>.pdf, so that issuing again with the same
// idempotency key — in this process or after a restart — returns the first invoice. It is safe for
// concurrent use; across processes sharing dir, the exclusive creation of <key>.json decides which
// issuance wins.
type InvoiceIssuer struct {
	dir    string
	seller Seller
	clock  ports.Clock
	r      *Renderer

	mu     sync.Mutex
	issued int
}

// NewInvoiceIssuer opens (creating it, mode 0700) the directory dir where the invoices are kept.
// The seller needs a name and a valid unified social credit code.
func NewInvoiceIssuer(dir string, seller Seller, clock ports.Clock) (*InvoiceIssuer, error) {
	if strings.TrimSpace(dir) == "" {
		return nil, errors.New("document: invoice issuer: no directory")
	}
	if clock == nil {
		return nil, errors.New("document: invoice issuer: no clock")
	}
	r, err := NewRenderer()
	if err != nil {
		return nil, err
	}
	seller.Name = strings.TrimSpace(seller.Name)
	seller.Address = strings.TrimSpace(seller.Address)
	code, err := kernel.ParseCreditCode(seller.TaxID)
	if err != nil {
		return nil, fmt.Errorf("document: invoice issuer: seller tax id: %w", err)
	}
	seller.TaxID = code.String()
	var buf sfnt.Buffer
	if seller.Name == "" {
		return nil, errors.New("document: invoice issuer: no seller name")
	}
	if seller.Name, err = r.drawable(&buf, seller.Name); err != nil {
		return nil, fmt.Errorf("document: invoice issuer: seller name: %w", err)
	}
	if seller.Address, err = r.drawable(&buf, seller.Address); err != nil {
		return nil, fmt.Errorf("document: invoice issuer: seller address: %w", err)
	}
	if seller.Drawer = strings.TrimSpace(seller.Drawer); seller.Drawer == "" {
		seller.Drawer = DefaultInvoiceDrawer
	}
	if utf8.RuneCountInString(seller.Drawer) > 20 {
		return nil, errors.New("document: invoice issuer: drawer: at most 20 characters")
	}
	if seller.Drawer, err = r.drawable(&buf, seller.Drawer); err != nil {
		return nil, fmt.Errorf("document: invoice issuer: drawer: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("document: invoice issuer: %w", err)
	}
	return &InvoiceIssuer{dir: dir, seller: seller, clock: clock, r: r}, nil
}

// Issued is how many distinct invoices this issuer has issued (replays of a key are not counted).
func (i *InvoiceIssuer) Issued() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.issued
}

// invoiceRecordLine is one stored invoice line (amounts in fen).
type invoiceRecordLine struct {
	Name      string `json:"name"`
	Quantity  int    `json:"quantity"`
	UnitPrice int64  `json:"unit_price_fen"`
	Amount    int64  `json:"amount_fen"` // tax-inclusive
	// The classification (records issued before it read as the default: 信息技术服务, 6 %).
	TaxCategory string `json:"tax_category,omitempty"`
	TaxCode     string `json:"tax_code,omitempty"`
	TaxRateBP   *int   `json:"tax_rate_bp,omitempty"`
	Unit        string `json:"unit,omitempty"`
	Spec        string `json:"spec,omitempty"`
}

// tax returns the line's classification, with the defaults of records issued before lines had one.
func (l invoiceRecordLine) tax() (category, code string, rate kernel.TaxRate) {
	if l.TaxCode == "" {
		return kernel.DefaultTaxCategory, kernel.DefaultTaxCode, kernel.DefaultTaxRate
	}
	if l.TaxRateBP != nil {
		rate = kernel.TaxRate(*l.TaxRateBP)
	}
	return l.TaxCategory, l.TaxCode, rate
}

// split is the line's amount before tax and tax (kernel.SplitTax).
func (l invoiceRecordLine) split() (net, tax kernel.Money, err error) {
	_, _, rate := l.tax()
	return kernel.SplitTax(kernel.Money(l.Amount), rate)
}

// invoiceRecord is what <key>.json keeps: everything the PDF shows, so the PDF can always be
// rendered again, identically.
type invoiceRecord struct {
	Key           string              `json:"key"`
	Number        string              `json:"number"`
	IssuedAt      time.Time           `json:"issued_at"`
	TitleType     string              `json:"title_type"`
	BuyerName     string              `json:"buyer_name"`
	BuyerTaxID    string              `json:"buyer_tax_id,omitempty"`
	Lines         []invoiceRecordLine `json:"lines"`
	Total         int64               `json:"total_fen"`
	OrderRef      string              `json:"order_ref,omitempty"`
	SellerName    string              `json:"seller_name"`
	SellerTaxID   string              `json:"seller_tax_id"`
	SellerAddress string              `json:"seller_address,omitempty"`
	Drawer        string              `json:"drawer,omitempty"` // records issued before: DefaultInvoiceDrawer
}

func invalidInvoice(field, msg string) error {
	return kernel.Invalid(CodeInvoiceRequestInvalid, msg).WithDetail("field", field)
}

// Issue issues the invoice req asks for, or returns the invoice already issued under its
// idempotency key. An invalid request is kernel invalid "invoice-request-invalid".
func (i *InvoiceIssuer) Issue(ctx context.Context, req ports.IssueRequest) (ports.IssuedInvoice, error) {
	if err := ctx.Err(); err != nil {
		return ports.IssuedInvoice{}, err
	}
	rec, err := i.validate(req)
	if err != nil {
		return ports.IssuedInvoice{}, err
	}

	i.mu.Lock()
	defer i.mu.Unlock()

	if prev, ok, err := i.load(req.IdempotencyKey); err != nil {
		return ports.IssuedInvoice{}, err
	} else if ok {
		return i.deliver(prev)
	}

	now := i.clock.Now().UTC().Truncate(time.Second)
	n, err := rand.Int(rand.Reader, invoiceRandomSpace)
	if err != nil {
		return ports.IssuedInvoice{}, kernel.Internal(fmt.Errorf("document: invoice number: %w", err))
	}
	rec.Number = fmt.Sprintf("%02d44%016d", now.In(chinaTime).Year()%100, n)
	rec.IssuedAt = now
	pdf, err := i.r.renderInvoice(rec) // before anything is stored: a record always renders
	if err != nil {
		return ports.IssuedInvoice{}, err
	}

	created, err := i.create(rec)
	if err != nil {
		return ports.IssuedInvoice{}, err
	}
	if !created { // another process issued it first
		prev, ok, err := i.load(req.IdempotencyKey)
		if err != nil {
			return ports.IssuedInvoice{}, err
		}
		if !ok {
			return ports.IssuedInvoice{}, kernel.Internal(fmt.Errorf("document: invoice %q vanished", req.IdempotencyKey))
		}
		return i.deliver(prev)
	}
	i.issued++
	if err := i.writeFile(i.path(rec.Key, ".pdf"), pdf); err != nil {
		// The invoice is issued (its record is stored); the PDF is rendered again on the next call.
		return ports.IssuedInvoice{}, err
	}
	return ports.IssuedInvoice{Number: rec.Number, IssuedAt: rec.IssuedAt, PDF: pdf}, nil
}

// validate checks req and turns it into a record (without number and time).
func (i *InvoiceIssuer) validate(req ports.IssueRequest) (invoiceRecord, error) {
	if !invoiceKeyPattern.MatchString(req.IdempotencyKey) {
		return invoiceRecord{}, invalidInvoice("idempotency_key", "the idempotency key must be 1 to 64 of a-z, 0-9 and -")
	}
	var buf sfnt.Buffer
	text := func(field, value string, maxRunes int) (string, error) {
		value = strings.TrimSpace(value)
		switch {
		case value == "":
			return "", invalidInvoice(field, field+" is required")
		case !utf8.ValidString(value):
			return "", invalidInvoice(field, field+" is not valid UTF-8")
		case utf8.RuneCountInString(value) > maxRunes:
			return "", invalidInvoice(field, fmt.Sprintf("%s is longer than %d characters", field, maxRunes))
		}
		out, err := i.r.drawable(&buf, value)
		if err != nil {
			return "", invalidInvoice(field, field+": "+err.Error())
		}
		return out, nil
	}
	rec := invoiceRecord{
		Key:           req.IdempotencyKey,
		TitleType:     req.TitleType,
		SellerName:    i.seller.Name,
		SellerTaxID:   i.seller.TaxID,
		SellerAddress: i.seller.Address,
		Drawer:        i.seller.Drawer,
	}
	if rec.TitleType != InvoiceTitlePersonal && rec.TitleType != InvoiceTitleEnterprise {
		return invoiceRecord{}, invalidInvoice("title_type", "the title type must be personal or enterprise")
	}
	var err error
	if rec.BuyerName, err = text("buyer_name", req.BuyerName, maxInvoiceBuyerRunes); err != nil {
		return invoiceRecord{}, err
	}
	rec.BuyerTaxID = strings.ToUpper(strings.TrimSpace(req.BuyerTaxID))
	switch {
	case rec.BuyerTaxID == "" && rec.TitleType == InvoiceTitleEnterprise:
		return invoiceRecord{}, invalidInvoice("buyer_tax_id", "an enterprise title needs the buyer's tax id")
	case rec.BuyerTaxID != "" && !invoiceTaxIDPattern.MatchString(rec.BuyerTaxID):
		return invoiceRecord{}, invalidInvoice("buyer_tax_id", "the buyer's tax id must be 15 to 20 digits or capital letters")
	}
	rec.OrderRef = strings.TrimSpace(req.OrderRef)
	if len(rec.OrderRef) > maxInvoiceOrderRef || !invoiceOrderPattern.MatchString(rec.OrderRef) {
		return invoiceRecord{}, invalidInvoice("order_ref", fmt.Sprintf("the order reference must be at most %d printable ASCII characters", maxInvoiceOrderRef))
	}
	if len(req.Lines) == 0 || len(req.Lines) > maxInvoiceLines {
		return invoiceRecord{}, invalidInvoice("lines", fmt.Sprintf("an invoice has 1 to %d lines", maxInvoiceLines))
	}
	var sum kernel.Money
	for n, l := range req.Lines {
		field := fmt.Sprintf("lines[%d]", n)
		name, err := text(field+".name", l.Name, maxInvoiceLineRunes)
		if err != nil {
			return invoiceRecord{}, err
		}
		if l.Quantity < 1 || l.Quantity > maxInvoiceQuantity {
			return invoiceRecord{}, invalidInvoice(field+".quantity", fmt.Sprintf("the quantity must be 1 to %d", maxInvoiceQuantity))
		}
		if l.UnitPrice.IsNegative() || l.Amount.IsNegative() {
			return invoiceRecord{}, invalidInvoice(field, "prices and amounts must not be negative")
		}
		if sum, err = sum.Add(l.Amount); err != nil {
			return invoiceRecord{}, invalidInvoice(field+".amount", "the amounts are out of range")
		}
		line := invoiceRecordLine{Name: name, Quantity: l.Quantity, UnitPrice: l.UnitPrice.Fen(), Amount: l.Amount.Fen()}
		if err := i.classify(&buf, field, l, &line); err != nil {
			return invoiceRecord{}, err
		}
		rec.Lines = append(rec.Lines, line)
	}
	if req.Total.Fen() <= 0 {
		return invoiceRecord{}, invalidInvoice("total", "the total must be positive")
	}
	if sum != req.Total {
		return invoiceRecord{}, invalidInvoice("total", fmt.Sprintf("the total %s is not the sum of the lines' amounts %s", req.Total, sum))
	}
	rec.Total = req.Total.Fen()
	return rec, nil
}

// classify validates the tax classification, unit and specification of l into line.
func (i *InvoiceIssuer) classify(buf *sfnt.Buffer, field string, l ports.InvoiceLine, line *invoiceRecordLine) error {
	category, code, rate := strings.TrimSpace(l.TaxCategory), l.TaxCode, l.TaxRate
	if code == "" {
		category, code, rate = kernel.DefaultTaxCategory, kernel.DefaultTaxCode, kernel.DefaultTaxRate
	}
	if _, err := kernel.ParseTaxCode(code); err != nil {
		return invalidInvoice(field+".tax_code", "the tax classification code is 19 digits, starting with 1 to 6")
	}
	if _, err := kernel.ParseTaxRate(int(rate)); err != nil {
		return invalidInvoice(field+".tax_rate", "the tax rate is not a VAT rate or levy rate")
	}
	unit, spec := strings.TrimSpace(l.Unit), strings.TrimSpace(l.Spec)
	var err error
	for _, f := range []struct {
		name     string
		value    *string
		min, max int
	}{{"tax_category", &category, 1, 16}, {"unit", &unit, 0, 8}, {"spec", &spec, 0, 40}} {
		n := utf8.RuneCountInString(*f.value)
		if !utf8.ValidString(*f.value) || n < f.min || n > f.max || strings.ContainsRune(*f.value, '*') {
			return invalidInvoice(field+"."+f.name, fmt.Sprintf("%s is %d to %d characters without *", f.name, f.min, f.max))
		}
		if *f.value, err = i.r.drawable(buf, *f.value); err != nil {
			return invalidInvoice(field+"."+f.name, f.name+": "+err.Error())
		}
	}
	line.TaxCategory, line.TaxCode, line.TaxRateBP, line.Unit, line.Spec = category, code, new(int(rate)), unit, spec
	return nil
}

func (i *InvoiceIssuer) path(key, ext string) string { return filepath.Join(i.dir, key+ext) }

// load reads the record stored under key; ok is false when there is none.
func (i *InvoiceIssuer) load(key string) (invoiceRecord, bool, error) {
	data, err := os.ReadFile(i.path(key, ".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return invoiceRecord{}, false, nil
	}
	if err != nil {
		return invoiceRecord{}, false, kernel.Internal(fmt.Errorf("document: read invoice %q: %w", key, err))
	}
	var rec invoiceRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return invoiceRecord{}, false, kernel.Internal(fmt.Errorf("document: invoice %q: corrupt record: %w", key, err))
	}
	if rec.Key != key || !invoiceNumberPattern.MatchString(rec.Number) || rec.IssuedAt.IsZero() {
		return invoiceRecord{}, false, kernel.Internal(fmt.Errorf("document: invoice %q: corrupt record", key))
	}
	rec.IssuedAt = rec.IssuedAt.UTC()
	return rec, true, nil
}

// deliver returns a stored invoice with its PDF, rendering (and storing) the PDF again if it is
// missing: the same record always renders the same bytes.
func (i *InvoiceIssuer) deliver(rec invoiceRecord) (ports.IssuedInvoice, error) {
	out := ports.IssuedInvoice{Number: rec.Number, IssuedAt: rec.IssuedAt}
	pdf, err := os.ReadFile(i.path(rec.Key, ".pdf"))
	if err == nil && bytes.HasPrefix(pdf, []byte("%PDF-")) && bytes.Contains(pdf[max(0, len(pdf)-64):], []byte("%%EOF")) {
		out.PDF = pdf
		return out, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return ports.IssuedInvoice{}, kernel.Internal(fmt.Errorf("document: read invoice %q: %w", rec.Key, err))
	}
	if out.PDF, err = i.r.renderInvoice(rec); err != nil {
		return ports.IssuedInvoice{}, err
	}
	if err := i.writeFile(i.path(rec.Key, ".pdf"), out.PDF); err != nil {
		return ports.IssuedInvoice{}, err
	}
	return out, nil
}

// create stores rec as <key>.json, atomically and exclusively: the complete file is written
// under a temporary name and hard-linked to its final name, which fails if the name exists.
// created is false when another issuance stored the key first.
func (i *InvoiceIssuer) create(rec invoiceRecord) (created bool, err error) {
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return false, kernel.Internal(fmt.Errorf("document: encode invoice: %w", err))
	}
	tmp, err := i.writeTemp(rec.Key+".json", data)
	if err != nil {
		return false, err
	}
	defer func() { _ = os.Remove(tmp) }()
	if err := os.Link(tmp, i.path(rec.Key, ".json")); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, kernel.Internal(fmt.Errorf("document: store invoice %q: %w", rec.Key, err))
	}
	i.syncDir()
	return true, nil
}

// writeFile replaces path with data atomically (a temporary file renamed over it), mode 0600.
func (i *InvoiceIssuer) writeFile(path string, data []byte) error {
	tmp, err := i.writeTemp(filepath.Base(path), data)
	if err != nil {
		return err
	}
	// The names are the configured directory and keys matching invoiceKeyPattern ([a-z0-9-]).
	if err := os.Rename(tmp, path); err != nil { //nolint:gosec // see above
		_ = os.Remove(tmp) //nolint:gosec // see above
		return kernel.Internal(fmt.Errorf("document: store %s: %w", filepath.Base(path), err))
	}
	i.syncDir()
	return nil
}

// writeTemp writes data to a new temporary file (mode 0600) in the directory and syncs it.
func (i *InvoiceIssuer) writeTemp(name string, data []byte) (string, error) {
	f, err := os.CreateTemp(i.dir, "."+name+".tmp-*")
	if err != nil {
		return "", kernel.Internal(fmt.Errorf("document: store %s: %w", name, err))
	}
	tmp := f.Name()
	fail := func(err error) (string, error) {
		_ = f.Close()
		_ = os.Remove(tmp)
		return "", kernel.Internal(fmt.Errorf("document: store %s: %w", name, err))
	}
	if err := f.Chmod(0o600); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(tmp)
		return "", kernel.Internal(fmt.Errorf("document: store %s: %w", name, err))
	}
	return tmp, nil
}

// syncDir makes the directory's entries durable (best effort).
func (i *InvoiceIssuer) syncDir() {
	if d, err := os.Open(i.dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// Invoice page geometry (millimetres) and type sizes (points). The invoice uses wider margins
// than the letters: eight columns like the tax authority's layout.
const (
	invTitleSize = 18.0
	invBodySize  = 10.0
	invSmallSize = 8.5
	invRowH      = 7.0
	invLineH     = 4.6
	invX         = 12.0
	invW         = pageW - 2*invX
	invCellPad   = 1.5
	invBottom    = 297.0 - 30
	invQRSize    = 24.0
)

// invCols are the widths of 项目名称, 规格型号, 单位, 数量, 单价, 金额, 税率/征收率, 税额 (sum invW).
var invCols = []float64{50, 22, 12, 13, 26, 22, 19, 22}

// InvoiceQRText is the text of an invoice's QR code, in the comma-separated layout of the
// tax authority's invoices:
//
//	01,32,,<发票号码>,<金额 before tax, yuan>,<开票日期 YYYYMMDD>,,<check>,
//
// 01 is the layout version, 32 the type code of 电子发票（普通发票）, the empty third field the
// 发票代码 (digital invoices have none), the empty seventh the legacy 校验码. check is the first
// 4 hexadecimal digits (upper case) of the SHA-256 of "<number>,<net>,<date>,<seller tax id>,
// <total fen>", so a reader can tell a code that does not belong to the invoice. The sandbox's
// codes cannot be checked at the tax authority.
func InvoiceQRText(number string, net kernel.Money, issued time.Time, sellerTaxID string, total kernel.Money) string {
	date := issued.In(chinaTime).Format("20060102")
	sum := sha256.Sum256(fmt.Appendf(nil, "%s,%s,%s,%s,%d", number, net, date, sellerTaxID, total.Fen()))
	return fmt.Sprintf("01,32,,%s,%s,%s,,%X,", number, net, date, sum[:2])
}

// netUnitPrice is the unit price before tax, net ÷ quantity, printed with up to 8 decimals
// (trailing zeros dropped, at least 2), rounded half up like the tax authority's 单价.
func netUnitPrice(net kernel.Money, quantity int) string {
	q := new(big.Int).Mul(big.NewInt(net.Fen()), big.NewInt(1_000_000)) // fen × 10^6: 8 decimals of yuan
	d := big.NewInt(int64(quantity))
	r := new(big.Int)
	q.QuoRem(q, d, r)
	if r.Mul(r, big.NewInt(2)).Cmp(d) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	digits := fmt.Sprintf("%09s", q.String())
	whole, frac := digits[:len(digits)-8], strings.TrimRight(digits[len(digits)-8:], "0")
	for len(frac) < 2 {
		frac += "0"
	}
	return whole + "." + frac
}

// renderInvoice draws the invoice rec as a one-page A4 PDF; the same record gives the same bytes.
// Lines that do not fit on the page are kernel invalid "invoice-request-invalid".
func (r *Renderer) renderInvoice(rec invoiceRecord) ([]byte, error) {
	type lineOut struct {
		name, spec, unit, qty, price, net, rate, tax string
	}
	var lines []lineOut
	var netSum, taxSum kernel.Money
	for _, l := range rec.Lines {
		category, _, rate := l.tax()
		net, tax, err := l.split()
		if err != nil {
			return nil, invalidInvoice("lines", "a line's amount cannot be split into amount and tax")
		}
		netSum, taxSum = netSum+net, taxSum+tax // each ≤ its line's amount; the amounts' sum fits
		lines = append(lines, lineOut{name: "*" + category + "*" + l.Name, spec: l.Spec, unit: cmp.Or(l.Unit, "项"),
			qty: fmt.Sprint(l.Quantity), price: netUnitPrice(net, l.Quantity), net: net.String(), rate: rate.String(), tax: tax.String()})
	}
	total := kernel.Money(rec.Total)
	drawer := cmp.Or(rec.Drawer, DefaultInvoiceDrawer)
	qrPNG, err := qr.Encode(InvoiceQRText(rec.Number, netSum, rec.IssuedAt, rec.SellerTaxID, total), qr.Medium, 256)
	if err != nil {
		return nil, kernel.Internal(fmt.Errorf("document: invoice QR code: %w", err))
	}

	pdf := newLetterPDF()
	pdf.SetCreationDate(rec.IssuedAt.UTC())
	pdf.SetModificationDate(rec.IssuedAt.UTC())
	pdf.SetProducer("Shuxinqian document renderer", false)
	pdf.SetCreator("数信签 Shuxinqian", true)
	pdf.SetAuthor(rec.SellerName, true)
	pdf.SetTitle(InvoiceTitle+" "+rec.Number, true)
	pdf.SetSubject(InvoiceSandboxNote, true)
	pdf.SetLang("zh-CN")
	w := letterPDF{pdf: pdf}
	size := invBodySize

	// The QR code, top left.
	opts := fpdf.ImageOptions{ImageType: "PNG"}
	pdf.RegisterImageOptionsReader("invoice-qr", opts, bytes.NewReader(qrPNG))
	pdf.ImageOptions("invoice-qr", invX, 10, invQRSize, invQRSize, false, opts, 0, "")

	// Title, centred, with a double rule under it; the sandbox mark under that.
	y := 14.0
	pdf.SetTextColor(150, 40, 30)
	tw := w.width(InvoiceTitle, invTitleSize)
	w.text((pageW-tw)/2, baseline(y, 12, invTitleSize), InvoiceTitle, invTitleSize)
	y += 14
	pdf.SetDrawColor(150, 40, 30)
	pdf.SetLineWidth(0.35)
	pdf.Line((pageW-tw)/2-4, y, (pageW+tw)/2+4, y)
	pdf.Line((pageW-tw)/2-4, y+1, (pageW+tw)/2+4, y+1)
	y += 3
	nw := w.width(InvoiceSandboxNote, invSmallSize)
	w.text((pageW-nw)/2, baseline(y, invLineH, invSmallSize), InvoiceSandboxNote, invSmallSize)
	pdf.SetTextColor(0, 0, 0)
	pdf.SetDrawColor(0, 0, 0)

	// Number and date, top right.
	iy := 16.0
	infoX := pageW - invX - 58
	for _, f := range []letterField{
		{"发票号码：", rec.Number},
		{"开票日期：", rec.IssuedAt.In(chinaTime).Format("2006年01月02日")},
	} {
		x := w.text(infoX, baseline(iy, invLineH+1, size), f.label, size)
		w.text(x, baseline(iy, invLineH+1, size), f.value, size)
		iy += invLineH + 1
	}
	y = max(y+invLineH, 10+invQRSize) + 3

	// Buyer and seller, side by side.
	pdf.SetLineWidth(0.3)
	const taxIDLabel = "统一社会信用代码/纳税人识别号："
	buyer := []letterField{{"名称：", rec.BuyerName}}
	if rec.BuyerTaxID != "" {
		buyer = append(buyer, letterField{taxIDLabel, rec.BuyerTaxID})
	}
	seller := []letterField{{"名称：", rec.SellerName}, {taxIDLabel, rec.SellerTaxID}}
	if rec.SellerAddress != "" {
		seller = append(seller, letterField{"地址：", rec.SellerAddress})
	}
	half := invW / 2
	party := func(x float64, heading string, fields []letterField) float64 {
		py := y + 1.5
		const headW = 7.0 // the vertical heading column
		hy := py
		for _, ch := range heading {
			w.text(x+(headW-w.width(string(ch), invSmallSize))/2, baseline(hy, invLineH, invSmallSize), string(ch), invSmallSize)
			hy += invLineH
		}
		pdf.Line(x+headW, y, x+headW, y+36)
		for _, f := range fields {
			for n, line := range w.wrap(f.label+f.value, invSmallSize, half-headW-2*invCellPad, half-headW-2*invCellPad) {
				_ = n
				w.text(x+headW+invCellPad, baseline(py, invLineH, invSmallSize), line, invSmallSize)
				py += invLineH
			}
			py += 1
		}
		return max(py, hy)
	}
	by := party(invX, "购买方信息", buyer)
	sy := party(invX+half, "销售方信息", seller)
	partyH := max(by, sy, y+36) - y
	pdf.Rect(invX, y, half, partyH, "D")
	pdf.Rect(invX+half, y, half, partyH, "D")
	y += partyH

	// The table of lines: heading, lines, 合计.
	pdf.SetLineWidth(0.25)
	tableTop := y
	row := func(cells []string, align []byte, rowSize float64) {
		nameLines := w.wrap(cells[0], rowSize, invCols[0]-2*invCellPad, invCols[0]-2*invCellPad)
		h := max(invRowH-1, float64(len(nameLines))*invLineH+2)
		x := invX
		for c, colW := range invCols {
			switch {
			case cells[c] == "":
			case c == 0:
				ly := y + (h-float64(len(nameLines))*invLineH)/2
				for _, line := range nameLines {
					w.text(x+invCellPad, baseline(ly, invLineH, rowSize), line, rowSize)
					ly += invLineH
				}
			case align[c] == 'r':
				w.text(x+colW-invCellPad-w.width(cells[c], rowSize), baseline(y, h, rowSize), cells[c], rowSize)
			default:
				w.text(x+(colW-w.width(cells[c], rowSize))/2, baseline(y, h, rowSize), cells[c], rowSize)
			}
			x += colW
		}
		y += h
	}
	centred := []byte("cccccccc")
	row([]string{"项目名称", "规格型号", "单位", "数量", "单价", "金额", "税率/征收率", "税额"}, centred, invSmallSize)
	for _, l := range lines {
		row([]string{l.name, l.spec, l.unit, l.qty, l.price, l.net, l.rate, l.tax}, []byte("lcccrrcr"), invSmallSize)
	}
	y += 2
	// 合计: the label, then ¥ net under 金额 and ¥ tax under 税额 (¥ in Helvetica's WinAnsi
	// encoding: the CJK font has no U+00A5).
	yen := func(right, top, h float64, m kernel.Money) {
		s := "\xa5" + m.String()
		pdf.SetFont(fontLatin, "", invSmallSize)
		pdf.Text(right-invCellPad-pdf.GetStringWidth(s), baseline(top, h, invSmallSize), s)
	}
	colEnd := func(c int) float64 {
		x := invX
		for _, cw := range invCols[:c+1] {
			x += cw
		}
		return x
	}
	w.text(invX+(invCols[0]-w.width("合计", size))/2, baseline(y, invRowH, size), "合计", size)
	yen(colEnd(5), y, invRowH, netSum)
	yen(colEnd(7), y, invRowH, taxSum)
	y += invRowH
	pdf.Rect(invX, tableTop, invW, y-tableTop, "D")
	x := invX
	for _, cw := range invCols[:len(invCols)-1] {
		x += cw
		pdf.Line(x, tableTop, x, tableTop+(y-tableTop-invRowH-2))
	}
	pdf.Line(invX, tableTop+invRowH-1, invX+invW, tableTop+invRowH-1)

	// 价税合计（大写）and（小写）.
	h := invRowH + 1
	pdf.Rect(invX, y, invW, h, "D")
	lx := w.text(invX+invCellPad, baseline(y, h, size), "价税合计（大写）", size)
	pdf.Line(invX+invCols[0], y, invX+invCols[0], y+h)
	w.text(max(lx, invX+invCols[0])+invCellPad+2, baseline(y, h, size), kernel.UpperCase(total), size)
	sx := invX + invW - 52
	sx = w.text(sx, baseline(y, h, size), "（小写）", size)
	pdf.SetFont(fontLatin, "", size)
	pdf.Text(sx+1, baseline(y, h, size), "\xa5"+total.String())
	y += h

	// 备注.
	remark := InvoiceSandboxNote
	if rec.OrderRef != "" {
		remark += "；订单号 " + rec.OrderRef
	}
	remarkLines := w.wrap(remark, invSmallSize, invW-invCols[0]-2*invCellPad, invW-invCols[0]-2*invCellPad)
	h = max(14, float64(len(remarkLines))*invLineH+4)
	pdf.Rect(invX, y, invW, h, "D")
	pdf.Line(invX+invCols[0], y, invX+invCols[0], y+h)
	w.text(invX+(invCols[0]-w.width("备注", size))/2, baseline(y, h, size), "备注", size)
	ry := y + 2
	for _, line := range remarkLines {
		w.text(invX+invCols[0]+invCellPad, baseline(ry, invLineH, invSmallSize), line, invSmallSize)
		ry += invLineH
	}
	y += h + 3

	// 开票人.
	w.text(invX+invCellPad, baseline(y, invLineH+1, size), "开票人："+drawer, size)
	y += invLineH + 1
	if y > invBottom {
		return nil, invalidInvoice("lines", "the invoice lines do not fit on one page")
	}

	// Footer: the sandbox note again.
	pdf.SetTextColor(150, 40, 30)
	fy := invBottom + 6
	w.text(invX, baseline(fy, invLineH, invSmallSize), "注："+InvoiceSandboxNote+"，仅供测试使用，不得用于报销或抵扣。", invSmallSize)
	pdf.SetTextColor(0, 0, 0)

	var out bytes.Buffer
	if err := pdf.Output(&out); err != nil {
		return nil, kernel.Internal(fmt.Errorf("document: render invoice: %w", err))
	}
	return out.Bytes(), nil
}
