package ports

import (
	"context"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/order"
)

// RefundRepository stores refunds; one per out_refund_no.
type RefundRepository interface {
	// Add inserts a refund with its reductions of the enterprise's quota (in the same
	// transaction); a taken out_refund_no is the conflict "refund-no-taken".
	Add(ctx context.Context, r *order.Refund) error
	// GetByOutRefundNo loads a refund; missing → not-found "refund-not-found".
	GetByOutRefundNo(ctx context.Context, outRefundNo string) (*order.Refund, error)
	// ListByOrder returns an order's refunds, oldest first.
	ListByOrder(ctx context.Context, id kernel.OrderID) ([]*order.Refund, error)
	// Update loads under a row lock, applies fn and saves. A refund that became closed has its
	// quota reductions removed (the enterprise gets the units back) in the same transaction.
	Update(ctx context.Context, outRefundNo string, fn func(r *order.Refund) error) error
	// ClaimDue claims, for the reconciler, up to limit refunds in flight (submitting or
	// processing) created before createdBefore whose next check is due at now; claiming moves
	// their next check to recheckAt (concurrent claimers skip each other's rows).
	ClaimDue(ctx context.Context, now, createdBefore, recheckAt time.Time, limit int) ([]*order.Refund, error)
	// Reduced sums, per SKU, the quota reductions of the order's refunds that are not closed.
	Reduced(ctx context.Context, id kernel.OrderID) (map[string]order.Reduction, error)
}

// QuotaUse is quota an enterprise used up (e.g. a signature made).
type QuotaUse struct {
	ID               string
	EnterpriseID     kernel.EnterpriseID
	Signatures       int
	CertificateYears int
	Reason           string
	At               time.Time
}

// QuotaUsage records the quota enterprises used. A refund never takes back units already used.
type QuotaUsage interface {
	// Use records a use; the same ID twice records it once.
	Use(ctx context.Context, u QuotaUse) error
	// Used sums what an enterprise used.
	Used(ctx context.Context, eid kernel.EnterpriseID) (Quota, error)
	// LockEnterprise serialises quota changes of one enterprise until the transaction ends
	// (a refund's check of the unused quota against a concurrent use). It is the same lock a
	// signing's reservation of a signature takes (SignFlowRepository.TakeTurn).
	LockEnterprise(ctx context.Context, eid kernel.EnterpriseID) error
	// Granted reports whether the order's grants were recorded.
	Granted(ctx context.Context, id kernel.OrderID) (bool, error)
}

// Refund states as WeChat Pay names them.
const (
	RefundStateSuccess    = "SUCCESS"
	RefundStateClosed     = "CLOSED"
	RefundStateProcessing = "PROCESSING"
	RefundStateAbnormal   = "ABNORMAL"
)

// RefundRequest asks WeChat Pay to refund (part of) a paid transaction.
type RefundRequest struct {
	OutTradeNo  string
	OutRefundNo string
	Reason      string
	Refund      kernel.Money // amount.refund
	Total       kernel.Money // amount.total: the original payment
	NotifyURL   string
}

// RefundTransaction is WeChat Pay's view of a refund (from the create answer, a query or a
// notification).
type RefundTransaction struct {
	MchID         string // notifications only
	OutTradeNo    string
	OutRefundNo   string
	RefundID      string
	TransactionID string
	Status        string // SUCCESS | CLOSED | PROCESSING | ABNORMAL
	Refund        kernel.Money
	Total         kernel.Money
	SuccessTime   time.Time
	// NotificationID is the notification's id (empty otherwise).
	NotificationID string
}

// RefundGateway is WeChat Pay's refund service.
type RefundGateway interface {
	// Refund asks for a refund; the same out_refund_no again is the same refund (WeChat Pay
	// refunds it once). A request WeChat Pay refuses for good is kernel invalid or conflict
	// "refund-refused" (with WeChat's code as detail); an outage is kernel unavailable.
	Refund(ctx context.Context, req RefundRequest) (RefundTransaction, error)
	// QueryRefund returns the refund of an out_refund_no; unknown → kernel not-found "refund-not-found".
	QueryRefund(ctx context.Context, outRefundNo string) (RefundTransaction, error)
	// ParseRefundNotification verifies and decrypts a refund notification exactly as
	// PaymentGateway.ParseNotification does for payments.
	ParseRefundNotification(ctx context.Context, n PaymentNotification) (RefundTransaction, error)
	MchID() string
}
