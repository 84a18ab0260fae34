package ports

import (
	"context"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/order"
)

// OrderFilter selects orders for order management.
type OrderFilter struct {
	UserID       kernel.UserID
	EnterpriseID kernel.EnterpriseID // optional
	Status       order.Status        // optional
	Before       kernel.OrderID      // optional cursor: orders older than this one
	Limit        int
}

// OrderRepository stores orders.
type OrderRepository interface {
	Add(ctx context.Context, o *order.Order) error
	// Get loads an order; missing → not-found "order-not-found".
	Get(ctx context.Context, id kernel.OrderID) (*order.Order, error)
	// GetByOutTradeNo loads the order of a WeChat Pay out_trade_no; missing → "order-not-found".
	GetByOutTradeNo(ctx context.Context, outTradeNo string) (*order.Order, error)
	// Update loads under a row lock, applies fn and saves with the events.
	Update(ctx context.Context, id kernel.OrderID, fn func(o *order.Order) error) error
	// PayPending is the fast path of a payment: in one conditional statement it moves the order of
	// outTradeNo to paid by p if the order is pending payment and its total equals p.Amount, and
	// records its Paid event (order.RecordPaid). It returns (nil, nil) when no order matched
	// (unknown, already paid, closed, another amount): the caller then loads the order under
	// Update and lets MarkPaid tell which. Needs a read-write unit of work.
	PayPending(ctx context.Context, outTradeNo string, p order.Payment) (*order.Order, error)
	// List returns orders newest first.
	List(ctx context.Context, f OrderFilter) ([]*order.Order, error)
	// ClaimDue claims, for the reconciler, up to limit unpaid orders due for a check with WeChat
	// Pay, most overdue first: created before createdBefore, never claimed or last claimed with a
	// next check at or before now, and without a recorded payment anomaly. Claiming moves each
	// one's next check to next(order) (order.NextCheck), so neither the next page nor another
	// instance takes it again before then; concurrent claimers skip each other's rows (needs a
	// read-write unit of work).
	ClaimDue(ctx context.Context, now, createdBefore time.Time, next func(*order.Order) time.Time, limit int) ([]*order.Order, error)
}

// Grant is one ledger entry: what a paid order line gave an enterprise.
type Grant struct {
	OrderID          kernel.OrderID
	EnterpriseID     kernel.EnterpriseID
	SKU              string
	Signatures       int
	CertificateYears int
	At               time.Time
}

// Quota is an enterprise's totals: Signatures is what is left (bought minus used by signings).
type Quota struct {
	Signatures       int
	CertificateYears int
}

// QuotaLedger records what enterprises bought.
type QuotaLedger interface {
	// Grant inserts the entries; an entry already granted (same order and SKU) is skipped, so a
	// redelivered OrderPaid grants nothing twice. It returns how many were new.
	Grant(ctx context.Context, gs []Grant) (int, error)
	Totals(ctx context.Context, eid kernel.EnterpriseID) (Quota, error)
}

// PaymentAnomaly is a verified notification that could not be applied (wrong amount, closed
// order, unknown out_trade_no, another merchant): kept for a person to handle (refunds).
type PaymentAnomaly struct {
	ID             string
	Kind           string // amount_mismatch | paid_after_close | unknown_order | merchant_mismatch | paid_twice
	OutTradeNo     string
	OrderID        kernel.OrderID
	TransactionID  string
	Amount         kernel.Money
	NotificationID string
	At             time.Time
}

// PaymentAnomalies keeps anomalies; one per (transaction, kind).
type PaymentAnomalies interface {
	Record(ctx context.Context, a PaymentAnomaly) error
	List(ctx context.Context, limit int) ([]PaymentAnomaly, error)
}

// IdempotentResponse is the first answer to a request with an Idempotency-Key.
type IdempotentResponse struct {
	RequestHash string
	Status      int
	Body        []byte
	Done        bool // false while the first request is still running
}

// IdempotencyClaimTTL is how long an unfinished claim holds its key. The application claims, acts
// and stores the answer in one transaction, so no unfinished claim is ever committed by it; a row
// left unfinished by an earlier version is taken over after this long.
const IdempotencyClaimTTL = time.Minute

// IdempotencyKeys stores answers by (scope, key) for at least 24 hours.
type IdempotencyKeys interface {
	// Claim reserves the key for a request; when it exists it returns the stored entry and false.
	// An unfinished claim older than IdempotencyClaimTTL is taken over (fresh).
	Claim(ctx context.Context, scope, key, requestHash string, now time.Time) (IdempotentResponse, bool, error)
	// Complete stores the answer of a claimed key. A claim is released by rolling back the
	// transaction that made it.
	Complete(ctx context.Context, scope, key string, status int, body []byte) error
}
