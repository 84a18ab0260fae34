package document

import (
	"bytes"
	"context"
	"crypto/rand"
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
}

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
	Amount    int64  `json:"amount_fen"`
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
		rec.Lines = append(rec.Lines, invoiceRecordLine{Name: name, Quantity: l.Quantity, UnitPrice: l.UnitPrice.Fen(), Amount: l.Amount.Fen()})
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

// Invoice page geometry (millimetres) and type sizes (points).
const (
	invTitleSize = 20.0
	invBodySize  = 10.5
	invSmallSize = 9.0
	invRowH      = 7.0
	invLineH     = 5.0
	invColName   = 82.0
	invColQty    = 22.0
	invColPrice  = 28.0
	invColAmount = contentW - invColName - invColQty - invColPrice
	invCellPad   = 2.0
	invBottom    = 297.0 - 30
)

// renderInvoice draws the invoice rec as a one-page A4 PDF; the same record gives the same bytes.
// Lines that do not fit on the page are kernel invalid "invoice-request-invalid".
func (r *Renderer) renderInvoice(rec invoiceRecord) ([]byte, error) {
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

	// Title, centred, with a double rule under it; the sandbox mark under that.
	y := 16.0
	pdf.SetTextColor(150, 40, 30)
	tw := w.width(InvoiceTitle, invTitleSize)
	w.text((pageW-tw)/2, baseline(y, 12, invTitleSize), InvoiceTitle, invTitleSize)
	y += 14
	pdf.SetDrawColor(150, 40, 30)
	pdf.SetLineWidth(0.35)
	pdf.Line((pageW-tw)/2-4, y, (pageW+tw)/2+4, y)
	pdf.Line((pageW-tw)/2-4, y+1, (pageW+tw)/2+4, y+1)
	y += 4
	nw := w.width(InvoiceSandboxNote, size)
	w.text((pageW-nw)/2, baseline(y, invRowH, size), InvoiceSandboxNote, size)
	pdf.SetTextColor(0, 0, 0)
	pdf.SetDrawColor(0, 0, 0)
	y += invRowH + 2

	// Number and date, right of centre.
	infoX := pageW - marginX - 62
	for _, f := range []letterField{
		{"发票号码：", rec.Number},
		{"开票日期：", rec.IssuedAt.In(chinaTime).Format("2006年01月02日")},
	} {
		x := w.text(infoX, baseline(y, invLineH+1, size), f.label, size)
		w.text(x, baseline(y, invLineH+1, size), f.value, size)
		y += invLineH + 1
	}
	y += 3

	// Buyer and seller.
	party := func(heading string, fields []letterField) {
		pdf.SetLineWidth(0.3)
		top := y
		y += 1.5
		w.text(marginX+invCellPad, baseline(y, invLineH+1, size), heading, size)
		y += invLineH + 1
		for _, f := range fields {
			valueX := w.text(marginX+invCellPad, baseline(y, invLineH+1, size), f.label, size)
			valueW := marginX + contentW - invCellPad - valueX
			for _, line := range w.wrap(f.value, size, valueW, valueW) {
				w.text(valueX, baseline(y, invLineH+1, size), line, size)
				y += invLineH + 1
			}
		}
		y += 1.5
		pdf.Rect(marginX, top, contentW, y-top, "D")
	}
	const taxIDLabel = "统一社会信用代码/纳税人识别号："
	buyer := []letterField{{"名称：", rec.BuyerName}}
	if rec.BuyerTaxID != "" {
		buyer = append(buyer, letterField{taxIDLabel, rec.BuyerTaxID})
	}
	party("购买方信息", buyer)
	seller := []letterField{{"名称：", rec.SellerName}, {taxIDLabel, rec.SellerTaxID}}
	if rec.SellerAddress != "" {
		seller = append(seller, letterField{"地址：", rec.SellerAddress})
	}
	y += 2
	party("销售方信息", seller)
	y += 4

	// The table of lines.
	cols := []float64{invColName, invColQty, invColPrice, invColAmount}
	row := func(cells []string, rightAlign bool) {
		nameLines := w.wrap(cells[0], size, cols[0]-2*invCellPad, cols[0]-2*invCellPad)
		h := max(invRowH, float64(len(nameLines))*invLineH+2)
		x := marginX
		for c, colW := range cols {
			pdf.Rect(x, y, colW, h, "D")
			switch {
			case c == 0:
				ly := y + (h-float64(len(nameLines))*invLineH)/2
				for _, line := range nameLines {
					w.text(x+invCellPad, baseline(ly, invLineH, size), line, size)
					ly += invLineH
				}
			case rightAlign:
				w.text(x+colW-invCellPad-w.width(cells[c], size), baseline(y, h, size), cells[c], size)
			default:
				w.text(x+(colW-w.width(cells[c], size))/2, baseline(y, h, size), cells[c], size)
			}
			x += colW
		}
		y += h
	}
	pdf.SetLineWidth(0.25)
	row([]string{"项目名称", "数量", "单价", "金额"}, false)
	for _, l := range rec.Lines {
		row([]string{l.Name, fmt.Sprint(l.Quantity), kernel.Money(l.UnitPrice).String(), kernel.Money(l.Amount).String()}, true)
	}
	total := kernel.Money(rec.Total).String()
	// 合计: the label in the name column, the total in the amount column.
	h := invRowH
	pdf.Rect(marginX, y, contentW, h, "D")
	w.text(marginX+invCellPad, baseline(y, h, size), "合计", size)
	yenTotal := "\xa5" + total // ¥ in Helvetica's WinAnsi encoding: the CJK font has no U+00A5
	pdf.SetFont(fontLatin, "", size)
	pdf.Text(pageW-marginX-invCellPad-pdf.GetStringWidth(yenTotal), baseline(y, h, size), yenTotal)
	y += h
	pdf.Rect(marginX, y, contentW, h, "D")
	x := w.text(marginX+invCellPad, baseline(y, h, size), "价税合计（小写）", size)
	pdf.SetFont(fontLatin, "", size)
	pdf.Text(x+1, baseline(y, h, size), yenTotal)
	y += h

	// Remarks.
	y += 3
	remark := "备注：" + InvoiceSandboxNote
	if rec.OrderRef != "" {
		remark += "；订单号 " + rec.OrderRef
	}
	for _, line := range w.wrap(remark, invSmallSize, contentW, contentW) {
		w.text(marginX, baseline(y, invLineH, invSmallSize), line, invSmallSize)
		y += invLineH
	}
	if y > invBottom {
		return nil, invalidInvoice("lines", "the invoice lines do not fit on one page")
	}

	// Footer: the sandbox note again.
	pdf.SetTextColor(150, 40, 30)
	fy := invBottom + 6
	w.text(marginX, baseline(fy, invLineH, invSmallSize), "注："+InvoiceSandboxNote+"，仅供测试使用，不得用于报销或抵扣。", invSmallSize)
	pdf.SetTextColor(0, 0, 0)

	var out bytes.Buffer
	if err := pdf.Output(&out); err != nil {
		return nil, kernel.Internal(fmt.Errorf("document: render invoice: %w", err))
	}
	return out.Bytes(), nil
}
