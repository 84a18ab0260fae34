package invoice

import (
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// Rerequest asks again for an invoice that failed for good: the new request (validated by New)
// replaces the type, title, tax id, email and requester, and the invoice is requested again. Only a
// failed invoice can be requested again; any other answers "invoice-exists".
func (i *Invoice) Rerequest(fresh *Invoice, now time.Time) error {
	if i.Status != StatusFailed {
		return kernel.Conflict("invoice-exists", "this order already has an invoice")
	}
	if fresh == nil || fresh.OrderID != i.OrderID {
		return kernel.Invalid("invoice-request-invalid", "the new request is for another order")
	}
	now = kernel.OccurredAt(now)
	i.RequestedBy, i.Type, i.TitleType, i.Title, i.TaxID, i.Email = fresh.RequestedBy, fresh.Type, fresh.TitleType, fresh.Title, fresh.TaxID, fresh.Email
	i.Status, i.FailureReason, i.Attempts, i.UpdatedAt = StatusRequested, "", 0, now
	i.Record(Requested{InvoiceID: i.ID, OrderID: i.OrderID, At: now})
	return nil
}
