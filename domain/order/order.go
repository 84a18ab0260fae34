// Package order holds orders of packages and services (manual §6): priced from the catalog on
// the server, paid only through WeChat Pay, closed when unpaid after 30 minutes.
package order

import (
	"regexp"
	"time"

	"github.com/shuxinqian/server/domain/channel"
	"github.com/shuxinqian/server/domain/kernel"
)

// Figures of DESIGN.md §3.
const (
	TTL         = 30 * time.Minute
	MaxQuantity = 999
	MaxItems    = 20
)

// Status of an order.
type Status string

// Statuses.
const (
	StatusPendingPayment Status = "pending_payment"
	StatusPaid           Status = "paid"
	StatusClosed         Status = "closed"
	// StatusRefunding: a refund was sent to WeChat Pay and has no final state yet.
	StatusRefunding Status = "refunding"
	// StatusPartiallyRefunded: part of the paid amount came back to the payer.
	StatusPartiallyRefunded Status = "partially_refunded"
	// StatusRefunded: the whole paid amount came back to the payer.
	StatusRefunded Status = "refunded"
)

// ParseStatus validates a status filter.
func ParseStatus(s string) (Status, error) {
	switch st := Status(s); st {
	case StatusPendingPayment, StatusPaid, StatusClosed, StatusRefunding, StatusPartiallyRefunded, StatusRefunded:
		return st, nil
	}
	return "", kernel.Invalid("order-status-invalid", "status is pending_payment, paid, closed, refunding, partially_refunded or refunded")
}

// Line is what the buyer asked for: a SKU and a quantity.
type Line struct {
	SKU      string
	Quantity int
}

// Item is a priced line.
type Item struct {
	SKU       string
	Name      string
	Kind      channel.ItemKind
	UnitPrice kernel.Money
	Quantity  int
	Subtotal  kernel.Money
	Grants    channel.Grants
	// Tax, Unit and Spec are copied from the catalog when the order is placed: a later change of
	// the catalog's price or tax never alters a placed order.
	Tax  channel.Tax
	Unit string
	Spec string
}

// Split is the line's subtotal split into the amount before tax and the tax (kernel.SplitTax).
func (it Item) Split() (net, tax kernel.Money, err error) {
	return kernel.SplitTax(it.Subtotal, it.Tax.Rate)
}

// OutTradeNo is the WeChat Pay out_trade_no of an order: fixed at creation, reused when paying again.
func OutTradeNo(id kernel.OrderID) string { return "SXQ" + string(id) }

var outTradeNoRe = regexp.MustCompile(`^[0-9A-Za-z_\-|*]{6,32}$`)

// ValidOutTradeNo reports whether s is a well-formed WeChat Pay out_trade_no (6-32 characters of
// [0-9A-Za-z_-|*]).
func ValidOutTradeNo(s string) bool { return outTradeNoRe.MatchString(s) }

// Order is one purchase in an enterprise space.
type Order struct {
	kernel.Events

	ID            kernel.OrderID
	EnterpriseID  kernel.EnterpriseID
	UserID        kernel.UserID
	ChannelCode   string
	Items         []Item
	Total         kernel.Money
	Status        Status
	OutTradeNo    string
	TradeType     string
	PaidAt        time.Time
	TransactionID string
	ClosedAt      time.Time
	CloseReason   string
	// RefundedFen is what came back to the payer (refunds WeChat Pay reported SUCCESS);
	// RefundingFen what is on its way (refunds sent, no final state yet). Their sum never exceeds
	// Total.
	Refunded  kernel.Money
	Refunding kernel.Money
	CreatedAt time.Time
	ExpiresAt time.Time
	UpdatedAt time.Time
	Version   int64
}

// Place prices the lines from the channel's catalog (never from the client) and opens the order.
func Place(id kernel.OrderID, eid kernel.EnterpriseID, uid kernel.UserID, ch *channel.Channel, lines []Line, now time.Time) (*Order, error) {
	switch {
	case id == "" || eid == "" || uid == "":
		return nil, kernel.Invalid("order-incomplete", "order needs an id, an enterprise and a buyer")
	case ch == nil || !ch.Active():
		return nil, kernel.Precondition("channel-required", "switch to a channel to buy its packages and services")
	case len(lines) == 0 || len(lines) > MaxItems:
		return nil, kernel.Invalid("order-items-invalid", "an order has 1 to 20 items").WithDetail("max", MaxItems)
	}
	seen := map[string]bool{}
	o := &Order{ID: id, EnterpriseID: eid, UserID: uid, ChannelCode: ch.Code(), Status: StatusPendingPayment,
		OutTradeNo: OutTradeNo(id)}
	for _, l := range lines {
		if seen[l.SKU] {
			return nil, kernel.Invalid("order-sku-duplicate", "list each SKU once").WithDetail("sku", l.SKU)
		}
		seen[l.SKU] = true
		if l.Quantity < 1 || l.Quantity > MaxQuantity {
			return nil, kernel.Invalid("order-quantity-invalid", "quantity is 1 to 999").WithDetail("sku", l.SKU)
		}
		it, ok := ch.Item(l.SKU)
		if !ok {
			return nil, kernel.Invalid("order-sku-unknown", "this SKU is not in your channel's catalog").WithDetail("sku", l.SKU)
		}
		sub, err := it.UnitPrice.Mul(int64(l.Quantity))
		if err != nil {
			return nil, err
		}
		if o.Total, err = o.Total.Add(sub); err != nil {
			return nil, err
		}
		o.Items = append(o.Items, Item{SKU: it.SKU, Name: it.Name, Kind: it.Kind, UnitPrice: it.UnitPrice, Quantity: l.Quantity,
			Subtotal: sub, Grants: it.Grants, Tax: it.Tax, Unit: it.Unit, Spec: it.Spec})
	}
	if !outTradeNoRe.MatchString(o.OutTradeNo) {
		return nil, kernel.Invalid("order-id-invalid", "the order id does not make a valid out_trade_no")
	}
	now = kernel.OccurredAt(now)
	o.CreatedAt, o.UpdatedAt, o.ExpiresAt = now, now, now.Add(TTL)
	o.Record(Placed{OrderID: o.ID, EnterpriseID: eid, Total: o.Total.Fen(), At: now})
	return o, nil
}

// WasPaid reports whether the order was paid (whatever was refunded since).
func (o *Order) WasPaid() bool {
	switch o.Status {
	case StatusPaid, StatusRefunding, StatusPartiallyRefunded, StatusRefunded:
		return true
	}
	return false
}

// CanPay checks that the order can still be paid.
func (o *Order) CanPay(now time.Time) error {
	switch {
	case o.Status == StatusPaid:
		return kernel.Conflict("order-already-paid", "the order is paid")
	case o.Status != StatusPendingPayment:
		return kernel.Precondition("order-not-payable", "the order is closed; place a new one")
	case !now.Before(o.ExpiresAt):
		return kernel.Precondition("order-expired", "the order expired (30 minutes); place a new one")
	}
	return nil
}

// PayingWith records the trade type the client chose.
func (o *Order) PayingWith(tradeType string, now time.Time) error {
	if err := o.CanPay(now); err != nil {
		return err
	}
	o.TradeType, o.UpdatedAt = tradeType, kernel.OccurredAt(now)
	return nil
}

// ErrPaidAfterClose: WeChat says paid, but the order was closed meanwhile: a refund case.
var ErrPaidAfterClose = kernel.Conflict("order-paid-after-close", "the payment arrived after the order was closed")

// MarkPaid records a verified payment. A repeated notification of the same transaction changes
// nothing (duplicate=true). amount must equal the total (the caller checks mchid and appid).
func (o *Order) MarkPaid(transactionID string, amount kernel.Money, at time.Time, now time.Time) (duplicate bool, err error) {
	switch {
	case amount != o.Total:
		return false, kernel.Invalid("payment-amount-mismatch", "the paid amount differs from the order's total")
	case o.WasPaid() && o.TransactionID == transactionID:
		return true, nil
	case o.WasPaid():
		return false, kernel.Conflict("order-paid-twice", "the order was paid by another transaction")
	case o.Status != StatusPendingPayment:
		return false, ErrPaidAfterClose
	case transactionID == "":
		return false, kernel.Invalid("payment-incomplete", "a payment needs its transaction id")
	}
	now = kernel.OccurredAt(now)
	if at.IsZero() {
		at = now
	}
	o.Status, o.TransactionID, o.PaidAt, o.UpdatedAt = StatusPaid, transactionID, kernel.OccurredAt(at), now
	o.Record(Paid{OrderID: o.ID, EnterpriseID: o.EnterpriseID, TransactionID: transactionID, Total: o.Total.Fen(), At: o.PaidAt})
	return false, nil
}

// Payment is a verified payment for the fast path of a notification: the store moves a pending
// order whose total equals Amount to paid in one conditional statement (the guards of MarkPaid:
// pending payment, the amount equal to the total, a transaction id), then RecordPaid records the
// event. Whatever does not match (unknown, paid, closed, another amount) goes through MarkPaid.
type Payment struct {
	TransactionID string
	Amount        kernel.Money
	PaidAt        time.Time // the payment's success time (now when WeChat Pay gives none)
	At            time.Time // when the server applied it
}

// NewPayment normalises the times as MarkPaid does; a payment without a transaction id is refused.
func NewPayment(transactionID string, amount kernel.Money, at, now time.Time) (Payment, error) {
	if transactionID == "" {
		return Payment{}, kernel.Invalid("payment-incomplete", "a payment needs its transaction id")
	}
	now = kernel.OccurredAt(now)
	if at.IsZero() {
		at = now
	}
	return Payment{TransactionID: transactionID, Amount: amount, PaidAt: kernel.OccurredAt(at), At: now}, nil
}

// RecordPaid records the Paid event of an order the store has just moved to paid by p (o is the
// order as stored after that statement). It refuses an order that p did not pay.
func (o *Order) RecordPaid(p Payment) error {
	if o.Status != StatusPaid || o.TransactionID != p.TransactionID || o.Total != p.Amount {
		return kernel.Conflict("order-not-paid-by", "the order was not paid by this payment")
	}
	o.Record(Paid{OrderID: o.ID, EnterpriseID: o.EnterpriseID, TransactionID: p.TransactionID, Total: o.Total.Fen(), At: o.PaidAt})
	return nil
}

// Close ends an unpaid order (expired, or cancelled by the buyer).
func (o *Order) Close(reason string, now time.Time) error {
	switch o.Status {
	case StatusClosed:
		return nil
	case StatusPendingPayment:
	default:
		return kernel.Conflict("order-not-cancellable", "only an unpaid order can be closed")
	}
	now = kernel.OccurredAt(now)
	o.Status, o.ClosedAt, o.CloseReason, o.UpdatedAt = StatusClosed, now, reason, now
	o.Record(Closed{OrderID: o.ID, Reason: reason, At: now})
	return nil
}

// Expired reports whether an unpaid order is past its 30 minutes.
func (o *Order) Expired(now time.Time) bool {
	return o.Status == StatusPendingPayment && !now.Before(o.ExpiresAt)
}

// FirstCheckAfter is how long an unpaid order waits for WeChat Pay's notification before the
// reconciler asks about it.
const FirstCheckAfter = 2 * time.Minute

// FirstCheck is when a newly placed order is first due for a check with WeChat Pay.
func (o *Order) FirstCheck() time.Time { return o.CreatedAt.Add(FirstCheckAfter) }

// NextCheck is when an order still unpaid after a check with WeChat Pay at now is due for the
// next: once its age has doubled (never sooner than minGap), and at its expiry at the latest, when
// the check is followed by the close. So a 30-minute order is asked about some five times (at 2,
// 4, 8, 16 and 30 minutes) rather than every minGap, and the queries of many pending orders stay
// proportional to the orders placed, not to how long they wait. Past expiry (a close that failed)
// it is minGap later.
func (o *Order) NextCheck(now time.Time, minGap time.Duration) time.Time {
	if !now.Before(o.ExpiresAt) {
		return now.Add(minGap)
	}
	next := now.Add(max(minGap, now.Sub(o.CreatedAt)))
	if next.After(o.ExpiresAt) {
		return o.ExpiresAt
	}
	return next
}

// Placed: an order was placed.
type Placed struct {
	OrderID      kernel.OrderID      `json:"order_id"`
	EnterpriseID kernel.EnterpriseID `json:"enterprise_id"`
	Total        int64               `json:"total_fen"`
	At           time.Time           `json:"at"`
}

// EventName implements kernel.Event.
func (Placed) EventName() string { return "order.placed" }

// Paid: an order was paid (verified by WeChat Pay).
type Paid struct {
	OrderID       kernel.OrderID      `json:"order_id"`
	EnterpriseID  kernel.EnterpriseID `json:"enterprise_id"`
	TransactionID string              `json:"transaction_id"`
	Total         int64               `json:"total_fen"`
	At            time.Time           `json:"at"`
}

// EventName implements kernel.Event.
func (Paid) EventName() string { return "order.paid" }

// Closed: an unpaid order was closed.
type Closed struct {
	OrderID kernel.OrderID `json:"order_id"`
	Reason  string         `json:"reason"`
	At      time.Time      `json:"at"`
}

// EventName implements kernel.Event.
func (Closed) EventName() string { return "order.closed" }
