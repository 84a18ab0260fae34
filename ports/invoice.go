package ports

import (
	"context"
	"time"

	"github.com/shuxinqian/server/domain/invoice"
	"github.com/shuxinqian/server/domain/kernel"
)

// InvoiceLine is one line of an invoice.
type InvoiceLine struct {
	Name      string
	Quantity  int
	UnitPrice kernel.Money
	Amount    kernel.Money // tax-inclusive; the issuer splits it by kernel.SplitTax
	// The classification printed on the invoice: *TaxCategory*Name, the rate and tax, 单位, 规格型号.
	// An empty TaxCode means the default (kernel.DefaultTaxCode, 信息技术服务, 6 %).
	TaxCategory string
	TaxCode     string
	TaxRate     kernel.TaxRate
	Unit        string
	Spec        string
}

// IssueRequest asks the invoicing provider for a VAT ordinary digital invoice (数电普票).
type IssueRequest struct {
	// IdempotencyKey identifies the invoice: issuing again with the same key returns the first
	// invoice and never issues a second one (a consumer that crashed after issuing retries).
	IdempotencyKey string
	TitleType      string // personal | enterprise
	BuyerName      string
	BuyerTaxID     string // the unified social credit code, for enterprise titles
	Email          string
	Lines          []InvoiceLine
	Total          kernel.Money
	OrderRef       string
}

// IssuedInvoice is what the provider issued.
type IssuedInvoice struct {
	Number   string // 20 digits
	IssuedAt time.Time
	PDF      []byte
}

// InvoiceIssuer issues invoices (a digital-invoice provider; the sandbox renders them itself).
type InvoiceIssuer interface {
	Issue(ctx context.Context, req IssueRequest) (IssuedInvoice, error)
	// Printable checks, before an invoice is requested, that text can be printed on it (every
	// character in the issuer's fonts); otherwise the kernel invalid "invoice-text-unprintable".
	Printable(field, text string) error
}

// InvoiceRepository stores invoices; one per order.
type InvoiceRepository interface {
	// Add inserts; a second invoice for an order is the conflict "invoice-exists".
	Add(ctx context.Context, inv *invoice.Invoice) error
	// Get loads; missing → not-found "invoice-not-found".
	Get(ctx context.Context, id kernel.InvoiceID) (*invoice.Invoice, error)
	// ByOrders returns the invoices of the given orders, by order.
	ByOrders(ctx context.Context, ids []kernel.OrderID) (map[kernel.OrderID]*invoice.Invoice, error)
	// Update loads under a row lock, applies fn and saves with the events.
	Update(ctx context.Context, id kernel.InvoiceID, fn func(inv *invoice.Invoice) error) error
}
