package sqlstore

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/shuxinqian/server/domain/invoice"
	"github.com/shuxinqian/server/domain/kernel"
)

type invoiceRow struct {
	bun.BaseModel `bun:"table:invoices"`

	ID            string    `bun:"id,pk"`
	OrderID       string    `bun:"order_id"`
	EnterpriseID  string    `bun:"enterprise_id"`
	RequestedBy   string    `bun:"requested_by"`
	Type          string    `bun:"type"`
	TitleType     string    `bun:"title_type"`
	Title         string    `bun:"title"`
	TaxID         string    `bun:"tax_id"`
	EmailEnc      []byte    `bun:"email_enc"`
	AmountFen     int64     `bun:"amount_fen"`
	NetFen        int64     `bun:"net_fen"`
	TaxFen        int64     `bun:"tax_fen"`
	TaxRateBP     int       `bun:"tax_rate_bp"`
	Status        string    `bun:"status"`
	Number        string    `bun:"number"`
	IssuedAt      time.Time `bun:"issued_at,nullzero"`
	PDFKey        string    `bun:"pdf_key"`
	Attempts      int       `bun:"attempts"`
	FailureReason string    `bun:"failure_reason"`
	RedLetter     bool      `bun:"red_letter_required"`
	CreatedAt     time.Time `bun:"created_at"`
	UpdatedAt     time.Time `bun:"updated_at"`
	Version       int64     `bun:"version"`
}

const aadInvoiceEmail = "invoices.email"

type invoices struct{ t *txn }

func (r invoices) toRow(i *invoice.Invoice) (*invoiceRow, error) {
	row := &invoiceRow{ID: string(i.ID), OrderID: string(i.OrderID), EnterpriseID: string(i.EnterpriseID), RequestedBy: string(i.RequestedBy),
		Type: i.Type, TitleType: i.TitleType, Title: i.Title, TaxID: string(i.TaxID), AmountFen: i.Amount.Fen(), Status: string(i.Status),
		NetFen: i.Net.Fen(), TaxFen: i.Tax.Fen(), TaxRateBP: i.TaxRate.BasisPoints(),
		Number: i.Number, IssuedAt: utc(i.IssuedAt), PDFKey: i.PDFKey, Attempts: i.Attempts, FailureReason: i.FailureReason, RedLetter: i.RedLetterRequired,
		CreatedAt: utc(i.CreatedAt), UpdatedAt: utc(i.UpdatedAt), Version: i.Version}
	if i.MixedRates {
		row.TaxRateBP = -1
	}
	if i.Email != "" {
		enc, err := r.t.store.cipher.Seal([]byte(i.Email), aadInvoiceEmail)
		if err != nil {
			return nil, err
		}
		row.EmailEnc = enc
	}
	return row, nil
}

func (r invoices) fromRow(row *invoiceRow) (*invoice.Invoice, error) {
	i := &invoice.Invoice{ID: kernel.InvoiceID(row.ID), OrderID: kernel.OrderID(row.OrderID), EnterpriseID: kernel.EnterpriseID(row.EnterpriseID),
		RequestedBy: kernel.UserID(row.RequestedBy), Type: row.Type, TitleType: row.TitleType, Title: row.Title, TaxID: kernel.CreditCode(row.TaxID),
		Amount: kernel.Fen(row.AmountFen), Status: invoice.Status(row.Status), Number: row.Number, IssuedAt: utc(row.IssuedAt), PDFKey: row.PDFKey,
		Attempts: row.Attempts, FailureReason: row.FailureReason, CreatedAt: utc(row.CreatedAt), UpdatedAt: utc(row.UpdatedAt), Version: row.Version,
		Net: kernel.Fen(row.NetFen), Tax: kernel.Fen(row.TaxFen), TaxRate: kernel.TaxRate(row.TaxRateBP), MixedRates: row.TaxRateBP < 0,
		RedLetterRequired: row.RedLetter}
	if len(row.EmailEnc) > 0 {
		e, err := r.t.store.cipher.Open(row.EmailEnc, aadInvoiceEmail)
		if err != nil {
			return nil, err
		}
		i.Email = string(e)
	}
	return i, nil
}

func (r invoices) Add(ctx context.Context, i *invoice.Invoice) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	row, err := r.toRow(i)
	if err != nil {
		return err
	}
	row.Version = 1
	if _, err := r.t.idb.NewInsert().Model(row).Exec(ctx); err != nil {
		if isUnique(err) {
			return kernel.Conflict("invoice-exists", "this order already has an invoice")
		}
		return err
	}
	i.Version = 1
	r.t.record(i)
	return nil
}

func (r invoices) get(ctx context.Context, id string, lock bool) (*invoice.Invoice, error) {
	row := new(invoiceRow)
	q := r.t.idb.NewSelect().Model(row).Where("id = ?", id)
	if lock {
		q = r.t.forUpdate(q)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, notFound(err, "invoice-not-found", "no such invoice")
	}
	return r.fromRow(row)
}

func (r invoices) Get(ctx context.Context, id kernel.InvoiceID) (*invoice.Invoice, error) {
	return r.get(ctx, string(id), false)
}

func (r invoices) ByOrders(ctx context.Context, ids []kernel.OrderID) (map[kernel.OrderID]*invoice.Invoice, error) {
	out := map[kernel.OrderID]*invoice.Invoice{}
	if len(ids) == 0 {
		return out, nil
	}
	ss := make([]string, len(ids))
	for i, id := range ids {
		ss[i] = string(id)
	}
	var rows []invoiceRow
	if err := r.t.idb.NewSelect().Model(&rows).Where("order_id IN (?)", bun.List(ss)).Scan(ctx); err != nil {
		return nil, err
	}
	for i := range rows {
		inv, err := r.fromRow(&rows[i])
		if err != nil {
			return nil, err
		}
		out[inv.OrderID] = inv
	}
	return out, nil
}

func (r invoices) Update(ctx context.Context, id kernel.InvoiceID, fn func(i *invoice.Invoice) error) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	i, err := r.get(ctx, string(id), true)
	if err != nil {
		return err
	}
	if err := fn(i); err != nil {
		return err
	}
	row, err := r.toRow(i)
	if err != nil {
		return err
	}
	row.Version = i.Version + 1
	res, err := r.t.idb.NewUpdate().Model(row).Column("status", "number", "issued_at", "pdf_key", "attempts", "failure_reason", "updated_at", "version",
		"requested_by", "title_type", "title", "tax_id", "email_enc", "red_letter_required").
		Where("id = ? AND version = ?", row.ID, i.Version).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return kernel.Conflict("concurrent-update", "the invoice was changed concurrently; try again")
	}
	i.Version++
	r.t.record(i)
	return nil
}
