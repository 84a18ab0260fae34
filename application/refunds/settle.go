package refunds

import (
	"context"
	"errors"
	"time"

	"github.com/shuxinqian/server/domain/invoice"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/order"
	"github.com/shuxinqian/server/ports"
)

// Outcome says what a refund notification (or query answer) did.
type Outcome string

// Outcomes.
const (
	OutcomeSettled   Outcome = "settled"   // the refund got its final state
	OutcomeAccepted  Outcome = "accepted"  // WeChat Pay is processing it
	OutcomeDuplicate Outcome = "duplicate" // nothing new (a replayed notification)
	OutcomeAnomaly   Outcome = "anomaly"   // recorded for a person (unknown refund, wrong amount, other merchant)
)

// HandleNotification verifies WeChat Pay's refund notification (signature first), decrypts it and
// applies it. Replays change nothing; anomalies are recorded and acknowledged.
func (s *Service) HandleNotification(ctx context.Context, n ports.PaymentNotification) (Outcome, error) {
	t, err := s.gateway.ParseRefundNotification(ctx, n)
	if err != nil {
		return "", err
	}
	return s.Apply(ctx, t)
}

func statusOf(wechat string) (order.RefundStatus, bool) {
	switch wechat {
	case ports.RefundStateSuccess:
		return order.RefundSuccess, true
	case ports.RefundStateClosed:
		return order.RefundClosed, true
	case ports.RefundStateAbnormal:
		return order.RefundAbnormal, true
	}
	return "", false
}

// Apply is the one path that settles refunds: from a verified notification, the answer to a
// refund request, or a query. Under the order's and the refund's row locks it moves the refund
// and the order; a success marks the order's invoice for a red-letter invoice.
func (s *Service) Apply(ctx context.Context, t ports.RefundTransaction) (Outcome, error) {
	now := s.clock.Now()
	anomaly := func(kind string, oid kernel.OrderID) (Outcome, error) {
		s.log.WarnContext(ctx, "refund anomaly", "kind", kind, "out_refund_no", t.OutRefundNo)
		txid := t.RefundID
		if txid == "" {
			txid = t.OutRefundNo
		}
		rec := ports.PaymentAnomaly{ID: s.ids.NewID(), Kind: kind, OutTradeNo: t.OutTradeNo, OrderID: oid, TransactionID: txid,
			Amount: t.Refund, NotificationID: t.NotificationID, At: now}
		return OutcomeAnomaly, s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error { return tx.Anomalies().Record(ctx, rec) })
	}
	if t.MchID != "" && t.MchID != s.gateway.MchID() {
		return anomaly("refund_merchant_mismatch", "")
	}
	var rf *order.Refund
	if err := s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		rf, err = tx.Refunds().GetByOutRefundNo(ctx, t.OutRefundNo)
		return err
	}); err != nil {
		if kernel.KindOf(err) == kernel.KindNotFound {
			return anomaly("unknown_refund", "")
		}
		return "", err
	}
	final, isFinal := statusOf(t.Status)
	if !isFinal {
		if t.Status != ports.RefundStateProcessing {
			return OutcomeDuplicate, nil
		}
		if rf.Status() != order.RefundSubmitting {
			return OutcomeDuplicate, nil
		}
		err := s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			return tx.Refunds().Update(ctx, t.OutRefundNo, func(cur *order.Refund) error {
				if cur.Status() != order.RefundSubmitting {
					return errNoChange
				}
				cur.Accepted(t.RefundID, now)
				return nil
			})
		})
		if errors.Is(err, errNoChange) {
			return OutcomeDuplicate, nil
		}
		return OutcomeAccepted, err
	}
	var outcome Outcome
	var kind string
	err := s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		var settled bool
		err := tx.Orders().Update(ctx, rf.OrderID(), func(o *order.Order) error {
			return tx.Refunds().Update(ctx, t.OutRefundNo, func(cur *order.Refund) error {
				dup, err := cur.Settle(o, final, t.RefundID, t.Refund, t.SuccessTime, now)
				switch {
				case errors.Is(err, order.ErrRefundAmountMismatch):
					kind = "refund_amount_mismatch"
					return errNoChange
				case kernel.CodeOf(err) == "refund-already-final":
					kind = "refund_state_conflict"
					return errNoChange
				case err != nil:
					return err
				case dup:
					outcome = OutcomeDuplicate
					return errNoChange
				}
				settled = true
				return nil
			})
		})
		if err != nil || !settled {
			return err
		}
		outcome = OutcomeSettled
		if final == order.RefundSuccess {
			return markRedLetter(ctx, tx, rf.OrderID(), now)
		}
		return nil
	})
	if err != nil && !errors.Is(err, errNoChange) {
		return "", err
	}
	if kind != "" {
		return anomaly(kind, rf.OrderID())
	}
	if outcome == OutcomeSettled && final == order.RefundAbnormal {
		// WeChat Pay could not return the money: a person resolves it on the merchant platform.
		if _, err := anomaly("refund_abnormal", rf.OrderID()); err != nil {
			return "", err
		}
	}
	return outcome, nil
}

// markRedLetter marks the order's invoice, if one was requested, for a red-letter invoice (红冲).
func markRedLetter(ctx context.Context, tx ports.Tx, oid kernel.OrderID, now time.Time) error {
	invs, err := tx.Invoices().ByOrders(ctx, []kernel.OrderID{oid})
	if err != nil {
		return err
	}
	inv, ok := invs[oid]
	if !ok || inv.RedLetterRequired {
		return nil
	}
	return tx.Invoices().Update(ctx, inv.ID, func(cur *invoice.Invoice) error {
		cur.RequireRedLetter(now)
		return nil
	})
}

// ReconcileReport counts what a reconciler pass did.
type ReconcileReport struct {
	Resent, Queried, Settled, Failed int
}

// Reconcile works through refunds in flight that got no final state: a refund still submitting
// (WeChat Pay was unreachable, or the process died before it answered) is sent again with the
// same out_refund_no; a processing refund whose notification did not come is queried. Claims are
// short transactions (instances share the work); the WeChat Pay calls run outside any.
func (s *Service) Reconcile(ctx context.Context) (ReconcileReport, error) {
	var rep ReconcileReport
	start := s.clock.Now()
	for {
		now := s.clock.Now()
		var page []*order.Refund
		if err := s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			var err error
			page, err = tx.Refunds().ClaimDue(ctx, now, now.Add(-ReconcileAfter), now.Add(ReconcileRecheck), ReconcileBatch)
			return err
		}); err != nil {
			return rep, err
		}
		for _, rf := range page {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			s.reconcileOne(ctx, rf, &rep)
		}
		if len(page) < ReconcileBatch || s.clock.Now().Sub(start) >= ReconcileRecheck {
			return rep, nil
		}
	}
}

func (s *Service) reconcileOne(ctx context.Context, rf *order.Refund, rep *ReconcileReport) {
	if rf.Status() == order.RefundSubmitting {
		rep.Resent++
		v, err := s.View(ctx, rf.OutRefundNo())
		if err == nil {
			v, err = s.send(ctx, v)
		}
		switch {
		case err != nil && kernel.CodeOf(err) != "refund-refused":
			rep.Failed++
		case err == nil && v.Refund.Status() != order.RefundSubmitting && !v.Refund.Status().InFlight():
			rep.Settled++
		}
		return
	}
	rep.Queried++
	t, err := s.gateway.QueryRefund(ctx, rf.OutRefundNo())
	if err != nil {
		rep.Failed++
		return
	}
	out, err := s.Apply(ctx, t)
	switch {
	case err != nil:
		rep.Failed++
	case out == OutcomeSettled:
		rep.Settled++
	}
}
