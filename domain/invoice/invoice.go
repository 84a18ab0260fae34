// Package invoice holds VAT ordinary digital invoices (数电普票) for paid orders (manual §7, §8):
// requested by a member, issued asynchronously, viewed, downloaded and shared by link.
package invoice

import (
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shuxinqian/server/domain/kernel"
)

// TypeVATOrdinaryDigital is the only invoice type offered.
const TypeVATOrdinaryDigital = "vat_ordinary_digital"

// Title types.
const (
	TitlePersonal   = "personal"
	TitleEnterprise = "enterprise"
)

// Status of an invoice.
type Status string

// Statuses.
const (
	StatusRequested Status = "requested"
	StatusIssuing   Status = "issuing"
	StatusIssued    Status = "issued"
	StatusFailed    Status = "failed"
)

// Request is what the buyer fills in (manual §7).
type Request struct {
	Type      string // "" means vat_ordinary_digital
	TitleType string
	Title     string // the buyer's name
	TaxID     string // required for enterprise titles
	Email     string
}

// Invoice is the invoice of one paid order.
type Invoice struct {
	kernel.Events

	ID            kernel.InvoiceID
	OrderID       kernel.OrderID
	EnterpriseID  kernel.EnterpriseID
	RequestedBy   kernel.UserID
	Type          string
	TitleType     string
	Title         string
	TaxID         kernel.CreditCode
	Email         string
	Amount        kernel.Money
	Net           kernel.Money   // Amount before tax (金额): Net + Tax == Amount
	Tax           kernel.Money   // 税额
	TaxRate       kernel.TaxRate // the lines' rate; meaningless when MixedRates
	MixedRates    bool
	Status        Status
	Number        string
	IssuedAt      time.Time
	PDFKey        string
	Attempts      int
	FailureReason string
	// RedLetterRequired: the order was refunded (wholly or in part) after this invoice was
	// requested: a red-letter invoice (红冲发票) must cancel it.
	RedLetterRequired bool
	CreatedAt         time.Time
	UpdatedAt         time.Time
	Version           int64
}

// New validates a request for the invoice of a paid order of amount.
func New(id kernel.InvoiceID, oid kernel.OrderID, eid kernel.EnterpriseID, by kernel.UserID, amount kernel.Money, r Request, now time.Time) (*Invoice, error) {
	if r.Type == "" {
		r.Type = TypeVATOrdinaryDigital
	}
	if r.Type != TypeVATOrdinaryDigital {
		return nil, kernel.Invalid("invoice-type-not-offered", "only the VAT ordinary digital invoice (数电普票) is offered: type vat_ordinary_digital")
	}
	title := strings.TrimSpace(r.Title)
	if title == "" || utf8.RuneCountInString(title) > 100 ||
		strings.IndexFunc(title, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) >= 0 {
		return nil, kernel.Invalid("invoice-title-invalid", "the invoice title (buyer name) is 1 to 100 characters")
	}
	inv := &Invoice{ID: id, OrderID: oid, EnterpriseID: eid, RequestedBy: by, Type: r.Type, TitleType: r.TitleType, Title: title, Amount: amount,
		Status: StatusRequested}
	switch r.TitleType {
	case TitleEnterprise:
		code, err := kernel.ParseCreditCode(r.TaxID)
		if err != nil {
			return nil, kernel.Invalid("invoice-tax-id-invalid", "an enterprise title needs the buyer's valid unified social credit code").
				WithDetail("reason", kernel.CodeOf(err))
		}
		inv.TaxID = code
	case TitlePersonal:
		if strings.TrimSpace(r.TaxID) != "" {
			return nil, kernel.Invalid("invoice-tax-id-invalid", "a personal title has no tax id")
		}
	default:
		return nil, kernel.Invalid("invoice-title-type-invalid", "title_type is personal or enterprise")
	}
	if e := strings.TrimSpace(r.Email); e != "" {
		addr, err := mail.ParseAddress(e)
		if err != nil || addr.Address != e || len(e) > 254 {
			return nil, kernel.Invalid("invoice-email-invalid", "the email address is not valid")
		}
		inv.Email = e
	}
	if amount <= 0 {
		return nil, kernel.Invalid("invoice-amount-invalid", "the invoiced amount must be positive")
	}
	now = kernel.OccurredAt(now)
	inv.CreatedAt, inv.UpdatedAt = now, now
	inv.Record(Requested{InvoiceID: id, OrderID: oid, At: now})
	return inv, nil
}

// TaxLine is one line of the invoiced order: its tax-inclusive amount and its rate.
type TaxLine struct {
	Amount kernel.Money
	Rate   kernel.TaxRate
}

// SplitTax sets the amount before tax and the tax from the order's lines: each line is split by
// kernel.SplitTax (tax rounded half up per line) and the parts are summed, so Net + Tax equals
// the invoiced amount exactly. The lines must add up to the amount.
func (i *Invoice) SplitTax(lines []TaxLine) error {
	if len(lines) == 0 {
		return kernel.Invalid("invoice-lines-missing", "an invoice needs the order's lines")
	}
	var sum, net, tax kernel.Money
	i.MixedRates, i.TaxRate = false, lines[0].Rate
	for _, l := range lines {
		n, t, err := kernel.SplitTax(l.Amount, l.Rate)
		if err != nil {
			return err
		}
		if sum, err = sum.Add(l.Amount); err != nil {
			return err
		}
		net, tax = net+n, tax+t // n + t == l.Amount, and the amounts' sum did not overflow
		if l.Rate != i.TaxRate {
			i.MixedRates = true
		}
	}
	if sum != i.Amount {
		return kernel.Invalid("invoice-lines-mismatch", "the lines do not add up to the invoiced amount")
	}
	i.Net, i.Tax = net, tax
	return nil
}

// StartIssuing moves a requested (or failed, for a retry) invoice to issuing.
func (i *Invoice) StartIssuing(now time.Time) error {
	switch i.Status {
	case StatusRequested, StatusFailed, StatusIssuing: // issuing: a consumer crashed mid-way
	case StatusIssued:
		return kernel.Conflict("invoice-already-issued", "the invoice is issued")
	default:
		return kernel.Conflict("invoice-status-invalid", "the invoice cannot be issued from status "+string(i.Status))
	}
	i.Status, i.Attempts, i.UpdatedAt = StatusIssuing, i.Attempts+1, kernel.OccurredAt(now)
	return nil
}

// Issued records the issued invoice.
func (i *Invoice) Issued(number string, issuedAt time.Time, pdfKey string, now time.Time) error {
	if i.Status == StatusIssued {
		return nil
	}
	if i.Status != StatusIssuing {
		return kernel.Conflict("invoice-not-issuing", "the invoice is not being issued")
	}
	if len(number) != 20 || strings.Trim(number, "0123456789") != "" || pdfKey == "" || issuedAt.IsZero() {
		return kernel.Invalid("invoice-issue-invalid", "an issued invoice has a 20-digit number and a PDF")
	}
	now = kernel.OccurredAt(now)
	i.Status, i.Number, i.IssuedAt, i.PDFKey, i.FailureReason, i.UpdatedAt = StatusIssued, number, kernel.OccurredAt(issuedAt), pdfKey, "", now
	i.Record(Issued{InvoiceID: i.ID, OrderID: i.OrderID, Number: number, At: now})
	return nil
}

// Failed records a failed attempt (the consumer retries with backoff, then parks the message).
func (i *Invoice) Failed(reason string, now time.Time) {
	if i.Status == StatusIssued {
		return
	}
	i.Status, i.FailureReason, i.UpdatedAt = StatusFailed, reason, kernel.OccurredAt(now)
}

// RequireRedLetter marks the invoice for a red-letter invoice (红冲): its order was refunded. It
// returns false when it was marked already.
func (i *Invoice) RequireRedLetter(now time.Time) bool {
	if i.RedLetterRequired {
		return false
	}
	i.RedLetterRequired, i.UpdatedAt = true, kernel.OccurredAt(now)
	return true
}

// Requested: an invoice was requested (the issuing consumer takes it from here).
type Requested struct {
	InvoiceID kernel.InvoiceID `json:"invoice_id"`
	OrderID   kernel.OrderID   `json:"order_id"`
	At        time.Time        `json:"at"`
}

// EventName implements kernel.Event.
func (Requested) EventName() string { return "invoice.requested" }

// Issued: an invoice was issued.
type Issued struct {
	InvoiceID kernel.InvoiceID `json:"invoice_id"`
	OrderID   kernel.OrderID   `json:"order_id"`
	Number    string           `json:"number"`
	At        time.Time        `json:"at"`
}

// EventName implements kernel.Event.
func (Issued) EventName() string { return "invoice.issued" }
