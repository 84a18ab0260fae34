package application

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/shuxinqian/server/domain/invoice"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/order"
	"github.com/shuxinqian/server/ports"
)

// DefaultInvoiceLinkTTL is how long a shared invoice link works unless configured.
const DefaultInvoiceLinkTTL = 7 * 24 * time.Hour

// RequestInvoice asks for the 数电普票 of a paid order of the caller's enterprise (manual §7).
func (a *App) RequestInvoice(ctx context.Context, actor Actor, orderID string, r invoice.Request) (*invoice.Invoice, error) {
	var inv *invoice.Invoice
	err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		inv, err = a.requestInvoice(ctx, tx, actor, orderID, r)
		return err
	})
	return inv, err
}

// RequestInvoiceOnce is RequestInvoice under a client's Idempotency-Key: answer renders the
// invoice, and the same request again replays that answer (see idempotent).
func (a *App) RequestInvoiceOnce(ctx context.Context, actor Actor, orderID string, r invoice.Request, o Once,
	answer func(*invoice.Invoice) (int, []byte, error)) (int, []byte, error) {
	return a.idempotent(ctx, o, func(ctx context.Context, tx ports.Tx) (int, []byte, error) {
		inv, err := a.requestInvoice(ctx, tx, actor, orderID, r)
		if err != nil {
			return 0, nil, err
		}
		return answer(inv)
	})
}

func (a *App) requestInvoice(ctx context.Context, tx ports.Tx, actor Actor, orderID string, r invoice.Request) (*invoice.Invoice, error) {
	now := a.clock.Now()
	// The same rule as reading the order: its placer (still a member) or an admin.
	o, err := visibleOrder(ctx, tx, actor, orderID)
	if err != nil {
		return nil, err
	}
	if o.Status != order.StatusPaid {
		return nil, kernel.Precondition("order-not-paid", "only a paid order can be invoiced")
	}
	inv, err := invoice.New(kernel.InvoiceID(a.ids.NewID()), o.ID, o.EnterpriseID, kernel.UserID(actor.UserID), o.Total, r, now)
	if err != nil {
		return nil, err
	}
	taxLines := make([]invoice.TaxLine, len(o.Items))
	for n, it := range o.Items {
		taxLines[n] = invoice.TaxLine{Amount: it.Subtotal, Rate: it.Tax.Rate}
	}
	if err := inv.SplitTax(taxLines); err != nil {
		return nil, err
	}
	// The issuer must be able to print the title, or the invoice would fail for good later.
	if a.invoicer != nil {
		if err := a.invoicer.Printable("title", inv.Title); err != nil {
			return nil, err
		}
	}
	// One invoice per order: one that failed for good is requested again with the new request
	// (same invoice); any other one is the conflict invoice-exists.
	existing, err := tx.Invoices().ByOrders(ctx, []kernel.OrderID{o.ID})
	if err != nil {
		return nil, err
	}
	if cur := existing[o.ID]; cur != nil {
		fresh := inv
		err := tx.Invoices().Update(ctx, cur.ID, func(i *invoice.Invoice) error {
			if err := i.Rerequest(fresh, now); err != nil {
				return err
			}
			inv = i
			return nil
		})
		return inv, err
	}
	return inv, tx.Invoices().Add(ctx, inv)
}

// memberInvoice loads an invoice the caller may read: the rule for reading its order (the
// order's placer while a member, or an admin of the enterprise).
func memberInvoice(ctx context.Context, tx ports.Tx, actor Actor, id string) (*invoice.Invoice, error) {
	inv, err := tx.Invoices().Get(ctx, kernel.InvoiceID(id))
	if err != nil {
		return nil, err
	}
	if _, err := visibleOrder(ctx, tx, actor, string(inv.OrderID)); err != nil {
		if kernel.KindOf(err) == kernel.KindNotFound {
			return nil, kernel.NotFound("invoice-not-found", "no such invoice")
		}
		return nil, err
	}
	return inv, nil
}

// Invoice returns an invoice of the caller's enterprise.
func (a *App) Invoice(ctx context.Context, actor Actor, id string) (*invoice.Invoice, error) {
	var inv *invoice.Invoice
	err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		inv, err = memberInvoice(ctx, tx, actor, id)
		return err
	})
	return inv, err
}

// InvoicePDF returns the PDF of an issued invoice of the caller's enterprise.
func (a *App) InvoicePDF(ctx context.Context, actor Actor, id string) ([]byte, error) {
	inv, err := a.Invoice(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	return a.invoicePDF(ctx, inv)
}

func (a *App) invoicePDF(ctx context.Context, inv *invoice.Invoice) ([]byte, error) {
	if inv.Status != invoice.StatusIssued {
		return nil, kernel.Conflict("invoice-not-issued", "the invoice is not issued yet").WithDetail("status", string(inv.Status))
	}
	b, err := a.files.Get(ctx, inv.PDFKey)
	if err != nil {
		return nil, kernel.Internal(err)
	}
	return b, nil
}

// InvoicesOfOrders returns the invoices of orders (for order management).
func (a *App) InvoicesOfOrders(ctx context.Context, ids []kernel.OrderID) (map[kernel.OrderID]*invoice.Invoice, error) {
	var out map[kernel.OrderID]*invoice.Invoice
	err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		out, err = tx.Invoices().ByOrders(ctx, ids)
		return err
	})
	return out, err
}

func (a *App) linkTTL() time.Duration {
	if a.settings.InvoiceLinkTTL > 0 {
		return a.settings.InvoiceLinkTTL
	}
	return DefaultInvoiceLinkTTL
}

// InvoiceShareLink makes a copyable link to an issued invoice's PDF: HMAC-signed, expiring, no
// login needed. It returns the token and its expiry.
func (a *App) InvoiceShareLink(inv *invoice.Invoice) (string, time.Time) {
	exp := a.clock.Now().Add(a.linkTTL()).Truncate(time.Second)
	payload := base64.RawURLEncoding.EncodeToString([]byte(inv.ID)) + "." + strconv.FormatInt(exp.Unix(), 10)
	return payload + "." + a.linkMAC(payload), exp
}

func (a *App) linkMAC(payload string) string { return a.secrets.Digest("invoice-link", payload)[:32] }

// InvoiceByLink opens a shared link: a forged or damaged token is not found, an expired one gone.
func (a *App) InvoiceByLink(ctx context.Context, token string) ([]byte, error) {
	errBad := kernel.NotFound("invoice-link-invalid", "this invoice link is not valid")
	parts := strings.Split(token, ".")
	if len(token) > 200 || len(parts) != 3 {
		return nil, errBad
	}
	payload := parts[0] + "." + parts[1]
	if subtle.ConstantTimeCompare([]byte(parts[2]), []byte(a.linkMAC(payload))) != 1 {
		return nil, errBad
	}
	id, err := base64.RawURLEncoding.DecodeString(parts[0])
	exp, perr := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || perr != nil {
		return nil, errBad
	}
	if !a.clock.Now().Before(time.Unix(exp, 0)) {
		return nil, kernel.Gone("invoice-link-expired", "this invoice link has expired; copy a new one from the app")
	}
	var inv *invoice.Invoice
	if err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		inv, err = tx.Invoices().Get(ctx, kernel.InvoiceID(id))
		return err
	}); err != nil {
		return nil, err
	}
	return a.invoicePDF(ctx, inv)
}

// IssueInvoice is the consumer of InvoiceRequested: it has the issuer issue the invoice, stores
// the PDF and records it. The invoice id is the idempotency key towards the issuer, so a consumer
// that crashed after issuing and before saving gets the same invoice on the retry, not a second
// one. A failure is recorded and returned: the router retries with backoff, then parks it.
func (a *App) IssueInvoice(ctx context.Context, ev *invoice.Requested) error {
	now := a.clock.Now()
	var inv *invoice.Invoice
	var lines []ports.InvoiceLine
	err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		o, err := tx.Orders().Get(ctx, ev.OrderID)
		if err != nil {
			return err
		}
		for _, it := range o.Items {
			lines = append(lines, ports.InvoiceLine{Name: it.Name, Quantity: it.Quantity, UnitPrice: it.UnitPrice, Amount: it.Subtotal,
				TaxCategory: it.Tax.Category, TaxCode: it.Tax.Code, TaxRate: it.Tax.Rate, Unit: it.Unit, Spec: it.Spec})
		}
		return tx.Invoices().Update(ctx, ev.InvoiceID, func(cur *invoice.Invoice) error {
			inv = cur
			if cur.Status == invoice.StatusIssued {
				return errNoChange
			}
			return cur.StartIssuing(now)
		})
	})
	if errors.Is(err, errNoChange) {
		return nil
	}
	if err != nil {
		return err
	}
	issued, err := a.invoicer.Issue(ctx, ports.IssueRequest{IdempotencyKey: string(inv.ID), TitleType: inv.TitleType, BuyerName: inv.Title,
		BuyerTaxID: string(inv.TaxID), Email: inv.Email, Lines: lines, Total: inv.Amount, OrderRef: string(inv.OrderID)})
	if err != nil {
		_ = a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			return tx.Invoices().Update(ctx, inv.ID, func(cur *invoice.Invoice) error { cur.Failed(shortReason(err), a.clock.Now()); return nil })
		})
		return err
	}
	key := "invoices/" + string(inv.ID) + "-pdf"
	if err := a.files.Put(ctx, key, issued.PDF); err != nil {
		return err
	}
	return a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		return tx.Invoices().Update(ctx, inv.ID, func(cur *invoice.Invoice) error {
			return cur.Issued(issued.Number, issued.IssuedAt, key, a.clock.Now())
		})
	})
}

// shortReason is a failure reason safe to store and show: the error code, not its text.
func shortReason(err error) string {
	if c := kernel.CodeOf(err); c != "internal" {
		return c
	}
	return "issuer-error"
}
