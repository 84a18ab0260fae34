// Package refunds holds the refund use cases (issue 16): an operator refunds all or part of a
// paid order through WeChat Pay's refund service; the refunds of an order never exceed what was
// paid; the package the order granted is reduced in proportion (never below what the enterprise
// already used); WeChat Pay's refund notifications (and, for refunds that got none, queries)
// settle them; an invoice already requested for the order is marked for a red-letter invoice.
//
// Each refund is identified by its refund number (WeChat Pay's out_refund_no). It is stored,
// with the order's refunding amount and the quota reduction, in one transaction under the order's
// row lock BEFORE WeChat Pay is called; the call runs outside any transaction; a retry, a restart
// or the reconciler sends the same out_refund_no again, and WeChat Pay refunds it once.
package refunds

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/order"
	"github.com/shuxinqian/server/ports"
)

// Reconciler figures.
const (
	// ReconcileAfter: refunds in flight older than this get sent again or queried.
	ReconcileAfter = time.Minute
	// ReconcileRecheck: a refund still in flight after a check is due again this long after.
	ReconcileRecheck = 2 * time.Minute
	// ReconcileBatch is the page the reconciler claims at a time.
	ReconcileBatch = 100
)

// Config is what the refund use cases need to know about this deployment.
type Config struct {
	// NotifyURL is where WeChat Pay sends refund notifications (…/api/v1/callbacks/wechat-pay/refunds).
	NotifyURL string
}

// Deps are the ports the refund use cases need.
type Deps struct {
	UoW     ports.UnitOfWork
	Clock   ports.Clock
	IDs     ports.IDs
	Gateway ports.RefundGateway
	Config  Config
	Logger  *slog.Logger
}

// Service runs the refund use cases.
type Service struct {
	uow     ports.UnitOfWork
	clock   ports.Clock
	ids     ports.IDs
	gateway ports.RefundGateway
	cfg     Config
	log     *slog.Logger
}

// New builds the service.
func New(d Deps) *Service {
	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Service{uow: d.UoW, clock: d.Clock, ids: d.IDs, gateway: d.Gateway, cfg: d.Config, log: log}
}

// Request is an operator's refund.
type Request struct {
	OrderID string
	Amount  kernel.Money
	Reason  string
	// RefundNo is the refund number (out_refund_no); "" makes one. The same number again is the
	// same refund: its current state is answered and, if WeChat Pay has not taken it yet, it is
	// sent again.
	RefundNo string
	// By is who asks (the operator's id), kept with the refund.
	By string
	// Audit, when set, records the new refund in the transaction that stores it (the operator
	// audit log): before is the order's refund state before, after the refund and the order's.
	Audit func(ctx context.Context, tx ports.Tx, before, after AuditState) error
}

// AuditState is what the audit log keeps of an order's refunds (no personal data).
type AuditState struct {
	OrderID      string `json:"order_id"`
	OrderStatus  string `json:"order_status"`
	TotalFen     int64  `json:"total_fen"`
	RefundedFen  int64  `json:"refunded_fen"`
	RefundingFen int64  `json:"refunding_fen"`
	RefundNo     string `json:"refund_no,omitempty"`
	AmountFen    int64  `json:"amount_fen,omitempty"`
	Reason       string `json:"reason,omitempty"`
	// Reductions is what the refund takes back from the granted package.
	Reductions []order.Reduction `json:"quota_reductions,omitempty"`
}

func auditState(o *order.Order, rf *order.Refund) AuditState {
	st := AuditState{OrderID: string(o.ID), OrderStatus: string(o.Status), TotalFen: o.Total.Fen(), RefundedFen: o.Refunded.Fen(),
		RefundingFen: o.Refunding.Fen()}
	if rf != nil {
		st.RefundNo, st.AmountFen, st.Reason, st.Reductions = rf.OutRefundNo(), rf.Amount().Fen(), rf.Reason(), rf.Reductions()
	}
	return st
}

// View is a refund with its order after the request or the notification.
type View struct {
	Refund *order.Refund
	Order  *order.Order
}

// errNoChange rolls a unit of work back on purpose.
var errNoChange = errors.New("no change")

// ErrRefundNoReused: the refund number was used for another refund.
var ErrRefundNoReused = kernel.Invalid("refund-no-reused", "this refund number was used for another refund")

// Refund opens (or, for a known refund number, resumes) a refund and sends it to WeChat Pay.
func (s *Service) Refund(ctx context.Context, req Request) (View, error) {
	if req.RefundNo != "" {
		if err := order.ValidRefundNo(req.RefundNo); err != nil {
			return View{}, err
		}
		if v, ok, err := s.existing(ctx, req); ok || err != nil {
			return v, err
		}
	} else {
		req.RefundNo = "R" + s.ids.NewID()
	}
	now := s.clock.Now()
	var v View
	err := s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		return tx.Orders().Update(ctx, kernel.OrderID(req.OrderID), func(o *order.Order) error {
			before := auditState(o, nil)
			if !o.WasPaid() {
				return kernel.Precondition("order-not-refundable", "only a paid order can be refunded").WithDetail("status", string(o.Status))
			}
			if err := tx.QuotaUsage().LockEnterprise(ctx, o.EnterpriseID); err != nil {
				return err
			}
			granted, err := tx.QuotaUsage().Granted(ctx, o.ID)
			if err != nil {
				return err
			}
			if !granted {
				return kernel.Conflict("refund-grant-pending", "the order's package is still being granted; try again in a moment")
			}
			prior, err := tx.Refunds().Reduced(ctx, o.ID)
			if err != nil {
				return err
			}
			reds := o.Reductions(req.Amount, prior)
			rf, err := o.RequestRefund(s.ids.NewID(), req.RefundNo, req.Amount, req.Reason, req.By, reds, now)
			if err != nil {
				return err
			}
			if err := checkUnused(ctx, tx, o.EnterpriseID, reds); err != nil {
				return err
			}
			if err := tx.Refunds().Add(ctx, rf); err != nil {
				return err
			}
			if req.Audit != nil {
				if err := req.Audit(ctx, tx, before, auditState(o, rf)); err != nil {
					return err
				}
			}
			v = View{Refund: rf, Order: o}
			return nil
		})
	})
	if kernel.CodeOf(err) == "refund-no-taken" { // the same number at the same time: one refund
		if ev, ok, eerr := s.existing(ctx, req); ok || eerr != nil {
			return ev, eerr
		}
	}
	if err != nil {
		return View{}, err
	}
	return s.send(ctx, v)
}

// checkUnused refuses reductions above what the enterprise has left unused: a refund never takes
// back what was already used.
func checkUnused(ctx context.Context, tx ports.Tx, eid kernel.EnterpriseID, reds []order.Reduction) error {
	var sig, years int
	for _, r := range reds {
		sig += r.Signatures
		years += r.CertificateYears
	}
	if sig == 0 && years == 0 {
		return nil
	}
	totals, err := tx.Quota().Totals(ctx, eid)
	if err != nil {
		return err
	}
	used, err := tx.QuotaUsage().Used(ctx, eid)
	if err != nil {
		return err
	}
	freeSig, freeYears := totals.Signatures-used.Signatures, totals.CertificateYears-used.CertificateYears
	if sig > freeSig || years > freeYears {
		return kernel.Invalid("refund-exceeds-unused", "the refund would take back more of the package than the enterprise has left unused").
			WithDetail("signatures_to_take_back", sig).WithDetail("signatures_unused", max(0, freeSig)).
			WithDetail("certificate_years_to_take_back", years).WithDetail("certificate_years_unused", max(0, freeYears))
	}
	return nil
}

// existing answers a known refund number: the same order and amount is the same refund (sent
// again if WeChat Pay has not taken it yet); anything else is refused.
func (s *Service) existing(ctx context.Context, req Request) (View, bool, error) {
	var v View
	err := s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		rf, err := tx.Refunds().GetByOutRefundNo(ctx, req.RefundNo)
		if err != nil {
			return err
		}
		o, err := tx.Orders().Get(ctx, rf.OrderID())
		if err != nil {
			return err
		}
		v = View{Refund: rf, Order: o}
		return nil
	})
	switch {
	case kernel.KindOf(err) == kernel.KindNotFound:
		return View{}, false, nil
	case err != nil:
		return View{}, false, err
	case string(v.Refund.OrderID()) != req.OrderID || v.Refund.Amount() != req.Amount:
		return View{}, true, ErrRefundNoReused
	case v.Refund.Status() == order.RefundSubmitting:
		v, err = s.send(ctx, v)
		return v, true, err
	}
	return v, true, nil
}

// send asks WeChat Pay for the refund (outside any transaction) and records its answer. An
// outage leaves the refund submitting: the answer says so and the reconciler sends it again.
func (s *Service) send(ctx context.Context, v View) (View, error) {
	rf, o := v.Refund, v.Order
	t, err := s.gateway.Refund(ctx, ports.RefundRequest{OutTradeNo: o.OutTradeNo, OutRefundNo: rf.OutRefundNo(), Reason: rf.Reason(),
		Refund: rf.Amount(), Total: o.Total, NotifyURL: s.cfg.NotifyURL})
	switch {
	case kernel.CodeOf(err) == "refund-refused":
		s.log.WarnContext(ctx, "refund refused by WeChat Pay", "out_refund_no", rf.OutRefundNo(), "err", err)
		nv, rerr := s.refused(ctx, rf.OutRefundNo(), kernel.CodeOf(err))
		if rerr != nil {
			return View{}, rerr
		}
		return nv, err
	case err != nil:
		s.log.WarnContext(ctx, "refund not sent; the reconciler sends it again", "out_refund_no", rf.OutRefundNo(), "err", err)
		return v, nil
	}
	if _, err := s.Apply(ctx, t); err != nil {
		return View{}, err
	}
	return s.View(ctx, rf.OutRefundNo())
}

// refused closes a refund WeChat Pay refused: the order's amount and the units come back.
func (s *Service) refused(ctx context.Context, no, why string) (View, error) {
	now := s.clock.Now()
	var v View
	err := s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		rf, err := tx.Refunds().GetByOutRefundNo(ctx, no)
		if err != nil {
			return err
		}
		return tx.Orders().Update(ctx, rf.OrderID(), func(o *order.Order) error {
			return tx.Refunds().Update(ctx, no, func(cur *order.Refund) error {
				v = View{Refund: cur, Order: o}
				if cur.Status() != order.RefundSubmitting {
					return nil
				}
				return cur.Refused(o, why, now)
			})
		})
	})
	return v, err
}

// View loads a refund with its order.
func (s *Service) View(ctx context.Context, no string) (View, error) {
	var v View
	err := s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		rf, err := tx.Refunds().GetByOutRefundNo(ctx, no)
		if err != nil {
			return err
		}
		o, err := tx.Orders().Get(ctx, rf.OrderID())
		if err != nil {
			return err
		}
		v = View{Refund: rf, Order: o}
		return nil
	})
	return v, err
}

// OrderRefunds lists an order's refunds, oldest first.
func (s *Service) OrderRefunds(ctx context.Context, oid string) ([]*order.Refund, error) {
	var out []*order.Refund
	err := s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		out, err = tx.Refunds().ListByOrder(ctx, kernel.OrderID(oid))
		return err
	})
	return out, err
}
