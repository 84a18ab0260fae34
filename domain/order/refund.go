package order

import (
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shuxinqian/server/domain/kernel"
)

// Refund limits.
const (
	MaxRefundReason = 80 // WeChat Pay's reason is at most 80 characters
)

// RefundStatus is where a refund is.
type RefundStatus string

// Refund statuses. submitting → processing → success | closed | abnormal; submitting → closed when
// WeChat Pay refuses the request for good. submitting and processing are "in flight".
const (
	// RefundSubmitting: stored with its out_refund_no, not yet accepted by WeChat Pay (a retry or
	// the reconciler sends it again with the same out_refund_no).
	RefundSubmitting RefundStatus = "submitting"
	RefundProcessing RefundStatus = "processing" // accepted by WeChat Pay (退款处理中)
	RefundSuccess    RefundStatus = "success"    // the money is back with the payer
	RefundClosed     RefundStatus = "closed"     // did not happen (退款关闭, or refused): nothing returned
	// RefundAbnormal: WeChat Pay could not return the money (退款异常, e.g. the card was closed);
	// a person handles it on the merchant platform. The amount stays reserved.
	RefundAbnormal RefundStatus = "abnormal"
)

// InFlight reports a refund without a final state.
func (s RefundStatus) InFlight() bool { return s == RefundSubmitting || s == RefundProcessing }

// Reduction is what a refund takes back from the order's grants, per SKU.
type Reduction struct {
	SKU              string `json:"sku"`
	Signatures       int    `json:"signatures"`
	CertificateYears int    `json:"certificate_years"`
}

// RefundNumber is a refund's out_refund_no: 1–64 of [0-9A-Za-z_-|*@].
var refundNoRe = regexp.MustCompile(`^[0-9A-Za-z_\-|*@]{1,64}$`)

// ValidRefundNo checks an out_refund_no.
func ValidRefundNo(no string) error {
	if !refundNoRe.MatchString(no) {
		return kernel.Invalid("refund-no-invalid", "refund_no is 1 to 64 characters of 0-9 A-Z a-z _ - | * @")
	}
	return nil
}

// Refund is one refund of (part of) a paid order through WeChat Pay, identified by its
// out_refund_no: asking again with the same number is the same refund.
type Refund struct {
	kernel.Events

	id           string
	orderID      kernel.OrderID
	enterpriseID kernel.EnterpriseID
	outRefundNo  string
	amount       kernel.Money
	reason       string
	requestedBy  string
	status       RefundStatus
	refundID     string // WeChat Pay's refund_id
	reductions   []Reduction
	failure      string
	createdAt    time.Time
	settledAt    time.Time
	updatedAt    time.Time
	version      int64
}

// RefundSnapshot is a Refund's state, for the store.
type RefundSnapshot struct {
	ID           string
	OrderID      kernel.OrderID
	EnterpriseID kernel.EnterpriseID
	OutRefundNo  string
	Amount       kernel.Money
	Reason       string
	RequestedBy  string
	Status       RefundStatus
	RefundID     string
	Reductions   []Reduction
	Failure      string
	CreatedAt    time.Time
	SettledAt    time.Time
	UpdatedAt    time.Time
	Version      int64
}

// Snapshot returns the state.
func (r *Refund) Snapshot() RefundSnapshot {
	return RefundSnapshot{ID: r.id, OrderID: r.orderID, EnterpriseID: r.enterpriseID, OutRefundNo: r.outRefundNo, Amount: r.amount,
		Reason: r.reason, RequestedBy: r.requestedBy, Status: r.status, RefundID: r.refundID,
		Reductions: append([]Reduction(nil), r.reductions...), Failure: r.failure, CreatedAt: r.createdAt, SettledAt: r.settledAt,
		UpdatedAt: r.updatedAt, Version: r.version}
}

// RefundFromSnapshot rebuilds a stored refund.
func RefundFromSnapshot(s RefundSnapshot) *Refund {
	return &Refund{id: s.ID, orderID: s.OrderID, enterpriseID: s.EnterpriseID, outRefundNo: s.OutRefundNo, amount: s.Amount,
		reason: s.Reason, requestedBy: s.RequestedBy, status: s.Status, refundID: s.RefundID,
		reductions: append([]Reduction(nil), s.Reductions...), failure: s.Failure, createdAt: s.CreatedAt, settledAt: s.SettledAt,
		updatedAt: s.UpdatedAt, version: s.Version}
}

// Accessors.
func (r *Refund) ID() string                        { return r.id }
func (r *Refund) OrderID() kernel.OrderID           { return r.orderID }
func (r *Refund) OutRefundNo() string               { return r.outRefundNo }
func (r *Refund) Amount() kernel.Money              { return r.amount }
func (r *Refund) Reason() string                    { return r.reason }
func (r *Refund) Status() RefundStatus              { return r.status }
func (r *Refund) RefundID() string                  { return r.refundID }
func (r *Refund) Reductions() []Reduction           { return append([]Reduction(nil), r.reductions...) }
func (r *Refund) EnterpriseID() kernel.EnterpriseID { return r.enterpriseID }

// Version is the stored version (optimistic check of the store).
func (r *Refund) Version() int64 { return r.version }

// SetVersion is for the store after a write.
func (r *Refund) SetVersion(v int64) { r.version = v }

// Reductions computes what a refund of amount takes back from the order's grants: per line, the
// units granted times the share of the total refunded so far including this refund, rounded UP
// (so the enterprise never keeps more than it paid for), minus what earlier refunds in flight or
// done already took (prior, per SKU). A full refund takes everything back.
func (o *Order) Reductions(amount kernel.Money, prior map[string]Reduction) []Reduction {
	after := int64(o.Refunded + o.Refunding + amount)
	total := int64(o.Total)
	ceil := func(units int) int {
		if total <= 0 {
			return units
		}
		return int((int64(units)*after + total - 1) / total)
	}
	var out []Reduction
	for _, it := range o.Items {
		p := prior[it.SKU]
		r := Reduction{SKU: it.SKU,
			Signatures:       max(0, ceil(it.Grants.Signatures*it.Quantity)-p.Signatures),
			CertificateYears: max(0, ceil(it.Grants.CertificateYears*it.Quantity)-p.CertificateYears)}
		if r.Signatures > 0 || r.CertificateYears > 0 {
			out = append(out, r)
		}
	}
	return out
}

// Refundable is what can still be refunded: the total less what was refunded or is in flight.
func (o *Order) Refundable() kernel.Money { return o.Total - o.Refunded - o.Refunding }

// RequestRefund opens a refund of amount on a paid order (under the order's row lock): amount is
// positive and at most what is still refundable; the order is refunding until WeChat Pay reports
// the refund's final state. reductions are from o.Reductions and checked by the caller against
// what the enterprise has not used.
func (o *Order) RequestRefund(id, outRefundNo string, amount kernel.Money, reason, by string, reductions []Reduction, now time.Time) (*Refund, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case !o.WasPaid():
		return nil, kernel.Precondition("order-not-refundable", "only a paid order can be refunded").WithDetail("status", string(o.Status))
	case id == "" || by == "":
		return nil, kernel.Invalid("refund-incomplete", "a refund needs an id and who asked for it")
	case amount <= 0:
		return nil, kernel.Invalid("refund-amount-invalid", "amount_fen is a positive number of fen")
	case amount > o.Refundable():
		return nil, kernel.Invalid("refund-exceeds-paid", "the refunds would exceed the paid amount").
			WithDetail("refundable_fen", o.Refundable().Fen())
	case reason == "" || utf8.RuneCountInString(reason) > MaxRefundReason ||
		strings.IndexFunc(reason, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		return nil, kernel.Invalid("refund-reason-invalid", "reason is 1 to 80 characters without control characters")
	}
	if err := ValidRefundNo(outRefundNo); err != nil {
		return nil, err
	}
	now = kernel.OccurredAt(now)
	o.Refunding += amount
	o.Status, o.UpdatedAt = StatusRefunding, now
	r := &Refund{id: id, orderID: o.ID, enterpriseID: o.EnterpriseID, outRefundNo: outRefundNo, amount: amount, reason: reason,
		requestedBy: by, status: RefundSubmitting, reductions: append([]Reduction(nil), reductions...), createdAt: now, updatedAt: now}
	o.Record(RefundRequested{OrderID: o.ID, EnterpriseID: o.EnterpriseID, OutRefundNo: outRefundNo, Amount: amount.Fen(), At: now})
	return r, nil
}

// Accepted records that WeChat Pay took the refund (status PROCESSING) with its refund_id.
// A refund already further along stays as it is.
func (r *Refund) Accepted(refundID string, now time.Time) {
	if r.status != RefundSubmitting {
		if r.refundID == "" {
			r.refundID = refundID
		}
		return
	}
	r.status, r.refundID, r.updatedAt = RefundProcessing, refundID, kernel.OccurredAt(now)
}

// ErrRefundAmountMismatch: WeChat Pay reports another amount for this out_refund_no.
var ErrRefundAmountMismatch = kernel.Conflict("refund-amount-mismatch", "WeChat Pay reports another amount for this refund")

// Settle applies a final state (success, closed or abnormal) to the refund and to its order
// (both under their row locks). A repeated final state changes nothing (duplicate=true); a
// different final state after success is refused (a success is never undone). Abnormal can still
// become success or closed (a person resolved it on the merchant platform).
func (r *Refund) Settle(o *Order, st RefundStatus, refundID string, amount kernel.Money, at, now time.Time) (duplicate bool, err error) {
	switch {
	case o.ID != r.orderID:
		return false, kernel.Invalid("refund-order-mismatch", "the refund is of another order")
	case amount != 0 && amount != r.amount:
		return false, ErrRefundAmountMismatch
	case st != RefundSuccess && st != RefundClosed && st != RefundAbnormal:
		return false, kernel.Invalid("refund-status-invalid", "a final refund state is success, closed or abnormal")
	case r.status == st:
		return true, nil
	case r.status == RefundSuccess || r.status == RefundClosed:
		return false, kernel.Conflict("refund-already-final", "the refund already has its final state").WithDetail("status", string(r.status))
	}
	now = kernel.OccurredAt(now)
	if at.IsZero() {
		at = now
	}
	if refundID != "" {
		r.refundID = refundID
	}
	prev := r.status
	r.status, r.updatedAt = st, now
	if st == RefundAbnormal {
		r.failure = "abnormal"
		o.Record(RefundSettled{OrderID: o.ID, EnterpriseID: o.EnterpriseID, OutRefundNo: r.outRefundNo, Amount: r.amount.Fen(),
			Status: string(st), At: now})
		return false, nil // the amount stays reserved; the order stays refunding
	}
	_ = prev
	r.settledAt = kernel.OccurredAt(at)
	o.Refunding -= r.amount
	if st == RefundSuccess {
		o.Refunded += r.amount
	}
	switch {
	case o.Refunding > 0:
		o.Status = StatusRefunding
	case o.Refunded >= o.Total:
		o.Status = StatusRefunded
	case o.Refunded > 0:
		o.Status = StatusPartiallyRefunded
	default:
		o.Status = StatusPaid
	}
	o.UpdatedAt = now
	o.Record(RefundSettled{OrderID: o.ID, EnterpriseID: o.EnterpriseID, OutRefundNo: r.outRefundNo, Amount: r.amount.Fen(),
		Status: string(st), OrderStatus: string(o.Status), At: now})
	return false, nil
}

// Refused closes a refund WeChat Pay refused for good before accepting it (the same as closed).
func (r *Refund) Refused(o *Order, why string, now time.Time) error {
	if r.status != RefundSubmitting {
		return kernel.Conflict("refund-already-accepted", "WeChat Pay already accepted the refund")
	}
	if _, err := r.Settle(o, RefundClosed, "", 0, now, now); err != nil {
		return err
	}
	r.failure = why
	return nil
}

// Failure is why a refund did not happen ("" otherwise).
func (r *Refund) Failure() string { return r.failure }

// CreatedAt and SettledAt are when it was asked for and got its final state.
func (r *Refund) CreatedAt() time.Time { return r.createdAt }
func (r *Refund) SettledAt() time.Time { return r.settledAt }

// RefundRequested: a refund of an order was opened.
type RefundRequested struct {
	OrderID      kernel.OrderID      `json:"order_id"`
	EnterpriseID kernel.EnterpriseID `json:"enterprise_id"`
	OutRefundNo  string              `json:"out_refund_no"`
	Amount       int64               `json:"amount_fen"`
	At           time.Time           `json:"at"`
}

// EventName implements kernel.Event.
func (RefundRequested) EventName() string { return "order.refund_requested" }

// RefundSettled: a refund got its final state.
type RefundSettled struct {
	OrderID      kernel.OrderID      `json:"order_id"`
	EnterpriseID kernel.EnterpriseID `json:"enterprise_id"`
	OutRefundNo  string              `json:"out_refund_no"`
	Amount       int64               `json:"amount_fen"`
	Status       string              `json:"status"`
	OrderStatus  string              `json:"order_status,omitempty"`
	At           time.Time           `json:"at"`
}

// EventName implements kernel.Event.
func (RefundSettled) EventName() string { return "order.refund_settled" }
