package contract

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/adapters/system"
	"github.com/shuxinqian/server/adapters/wechatpay"
	"github.com/shuxinqian/server/application/refunds"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/order"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/fakes"
)

// paidTestOrder places 01a (2 × pkg-sign-50 + 1 × svc-cert: 360.00 yuan, 100 signatures, 1
// certificate year), marks it paid and grants it.
func paidTestOrder(t *testing.T, uow ports.UnitOfWork) *order.Order {
	t.Helper()
	o := placeTestOrder(t, uow, "01a", t0)
	if err := uow.Do(context.Background(), func(ctx context.Context, tx ports.Tx) error {
		if err := tx.Orders().Update(ctx, o.ID, func(cur *order.Order) error {
			_, err := cur.MarkPaid("4200tx", cur.Total, t0, t0)
			o = cur
			return err
		}); err != nil {
			return err
		}
		var gs []ports.Grant
		for _, it := range o.Items {
			gs = append(gs, ports.Grant{OrderID: o.ID, EnterpriseID: o.EnterpriseID, SKU: it.SKU, Signatures: it.Grants.Signatures * it.Quantity,
				CertificateYears: it.Grants.CertificateYears * it.Quantity, At: t0})
		}
		_, err := tx.Quota().Grant(ctx, gs)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return o
}

func totals(t *testing.T, uow ports.UnitOfWork) ports.Quota {
	t.Helper()
	var q ports.Quota
	if err := uow.Read(context.Background(), func(ctx context.Context, tx ports.Tx) error {
		var err error
		q, err = tx.Quota().Totals(ctx, "e-bench")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return q
}

// The refund repository: stored with its quota reductions (the totals drop), one per refund
// number, reductions summed per order, a closed refund gives its units back, claims skip
// refunds with a final state.
func TestRefundRepository(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		seedPending(t, uow, 0)
		o := paidTestOrder(t, uow)
		if q := totals(t, uow); q.Signatures != 100 || q.CertificateYears != 1 {
			t.Fatalf("granted %+v", q)
		}
		add := func(id, no string, fen int64) error {
			return uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
				return tx.Orders().Update(ctx, o.ID, func(cur *order.Order) error {
					prior, err := tx.Refunds().Reduced(ctx, cur.ID)
					if err != nil {
						return err
					}
					rf, err := cur.RequestRefund(id, no, kernel.Fen(fen), "退", "op", cur.Reductions(kernel.Fen(fen), prior), t0)
					if err != nil {
						return err
					}
					return tx.Refunds().Add(ctx, rf)
				})
			})
		}
		if err := add("r1", "RN1", 18000); err != nil { // half: 50 signatures, 1 year (rounded up)
			t.Fatal(err)
		}
		if err := add("r2", "RN1", 100); kernel.CodeOf(err) != "refund-no-taken" {
			t.Fatalf("a refund number twice: %v", err)
		}
		if q := totals(t, uow); q.Signatures != 50 || q.CertificateYears != 0 {
			t.Fatalf("after the half refund %+v", q)
		}
		if err := add("r3", "RN3", 3600); err != nil { // 60%: 60 signatures in all, 10 more
			t.Fatal(err)
		}
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			red, err := tx.Refunds().Reduced(ctx, o.ID)
			if err != nil || red["pkg-sign-50"].Signatures != 60 || red["svc-cert"].CertificateYears != 1 {
				t.Fatalf("reduced %+v %v", red, err)
			}
			list, err := tx.Refunds().ListByOrder(ctx, o.ID)
			if err != nil || len(list) != 2 || list[0].OutRefundNo() != "RN1" || list[1].Amount() != kernel.Fen(3600) {
				t.Fatalf("list %v %v", list, err)
			}
			cur, _ := tx.Orders().Get(ctx, o.ID)
			if cur.Status != order.StatusRefunding || cur.Refunding != kernel.Fen(21600) {
				t.Fatalf("order %s %v", cur.Status, cur.Refunding)
			}
			return nil
		})
		// RN3 closed: its 10 signatures come back; RN1 succeeds.
		settle := func(no string, st order.RefundStatus) {
			if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
				return tx.Orders().Update(ctx, o.ID, func(cur *order.Order) error {
					return tx.Refunds().Update(ctx, no, func(rf *order.Refund) error {
						_, err := rf.Settle(cur, st, "", 0, t0, t0)
						return err
					})
				})
			}); err != nil {
				t.Fatal(err)
			}
		}
		settle("RN3", order.RefundClosed)
		settle("RN1", order.RefundSuccess)
		if q := totals(t, uow); q.Signatures != 50 || q.CertificateYears != 0 {
			t.Fatalf("after closed and success %+v", q)
		}
		if err := add("r4", "RN4", 1000); err != nil {
			t.Fatal(err)
		}
		var claimed []*order.Refund
		if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			var err error
			claimed, err = tx.Refunds().ClaimDue(ctx, t0.Add(time.Hour), t0.Add(time.Hour), t0.Add(2*time.Hour), 10)
			return err
		}); err != nil || len(claimed) != 1 || claimed[0].OutRefundNo() != "RN4" {
			t.Fatalf("claimed %v %v", claimed, err)
		}
		if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			again, err := tx.Refunds().ClaimDue(ctx, t0.Add(time.Hour), t0.Add(time.Hour), t0.Add(2*time.Hour), 10)
			if len(again) != 0 {
				t.Fatalf("claimed twice: %v", again)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		// Quota used is summed per enterprise; the same use id counts once.
		_ = uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			for range 2 {
				if err := tx.QuotaUsage().Use(ctx, ports.QuotaUse{ID: "u1", EnterpriseID: "e-bench", Signatures: 3, At: t0}); err != nil {
					t.Fatal(err)
				}
			}
			if err := tx.QuotaUsage().LockEnterprise(ctx, "e-bench"); err != nil {
				t.Fatal(err)
			}
			used, err := tx.QuotaUsage().Used(ctx, "e-bench")
			if err != nil || used.Signatures != 3 {
				t.Fatalf("used %+v %v", used, err)
			}
			if ok, err := tx.QuotaUsage().Granted(ctx, o.ID); err != nil || !ok {
				t.Fatalf("granted %v %v", ok, err)
			}
			return nil
		})
	})
}

// flakyRefunds fails the first n refund requests as WeChat Pay being unreachable and records the
// out_refund_no of every request.
type flakyRefunds struct {
	ports.RefundGateway
	mu   sync.Mutex
	fail int
	sent []string
}

func (f *flakyRefunds) Refund(ctx context.Context, req ports.RefundRequest) (ports.RefundTransaction, error) {
	f.mu.Lock()
	f.sent = append(f.sent, req.OutRefundNo)
	fail := f.fail > 0
	f.fail--
	f.mu.Unlock()
	if fail {
		return ports.RefundTransaction{}, kernel.Unavailable("payment-unavailable", "WeChat Pay is unavailable", nil)
	}
	return f.RefundGateway.Refund(ctx, req)
}

// A refund whose request did not reach WeChat Pay is stored (submitting) before the call; a new
// service (a restart) sends the same out_refund_no again from the reconciler; a refund whose
// notification was lost is settled by a query. All through wechatpay-go against the simulator.
func TestRefundServiceRetriesWithTheSameRefundNumber(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		seedPending(t, uow, 0)
		o := paidTestOrder(t, uow)
		keys := payKeys(t)
		sim, err := wechatpay.NewSimulator(keys.SimConfig("1900000109", "wxd678efh567hg6787", "", nil, nil))
		if err != nil {
			t.Fatal(err)
		}
		gc := keys.GatewayConfig("1900000109", "wxd678efh567hg6787", "")
		gc.Transport = sim.Transport()
		g, err := wechatpay.New(gc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.Prepay(ctx, ports.PrepayRequest{TradeType: ports.TradeApp, OutTradeNo: o.OutTradeNo, Description: "套餐",
			Amount: o.Total, NotifyURL: "https://example.com/notify"}); err != nil {
			t.Fatal(err)
		}
		if err := sim.MarkPaid(o.OutTradeNo); err != nil {
			t.Fatal(err)
		}
		clock := fakes.NewClock(time.Now())
		flaky := &flakyRefunds{RefundGateway: g, fail: 1}
		cfg := refunds.Config{NotifyURL: "https://example.com/refunds"}
		svc := refunds.New(refunds.Deps{UoW: uow, Clock: clock, IDs: system.NewIDs(), Gateway: flaky, Config: cfg})
		v, err := svc.Refund(ctx, refunds.Request{OrderID: string(o.ID), Amount: kernel.Fen(18000), Reason: "退一半", By: "op"})
		if err != nil || v.Refund.Status() != order.RefundSubmitting || v.Order.Status != order.StatusRefunding {
			t.Fatalf("first try %v %v", v, err)
		}
		no := v.Refund.OutRefundNo()
		if _, _, err := sim.RefundNotification(no, nil); err == nil {
			t.Fatal("the failed request reached the simulator")
		}
		// "Restart": another service on the same store; the reconciler sends it again.
		svc2 := refunds.New(refunds.Deps{UoW: uow, Clock: clock, IDs: system.NewIDs(), Gateway: flaky, Config: cfg})
		if rep, err := svc2.Reconcile(ctx); err != nil || rep.Resent != 0 {
			t.Fatalf("reconciled too early %+v %v", rep, err)
		}
		clock.Advance(refunds.ReconcileAfter + time.Second)
		rep, err := svc2.Reconcile(ctx)
		if err != nil || rep.Resent != 1 || rep.Failed != 0 {
			t.Fatalf("reconcile %+v %v", rep, err)
		}
		if len(flaky.sent) != 2 || flaky.sent[0] != no || flaky.sent[1] != no {
			t.Fatalf("sent %v, want %s twice", flaky.sent, no)
		}
		v, err = svc2.View(ctx, no)
		if err != nil || v.Refund.Status() != order.RefundProcessing || v.Refund.RefundID() == "" {
			t.Fatalf("after resend %v %v", v.Refund.Status(), err)
		}
		// WeChat Pay refunded it but the notification was lost: the next pass queries.
		if _, err := sim.MarkRefund(no, ports.RefundStateSuccess); err != nil {
			t.Fatal(err)
		}
		clock.Advance(refunds.ReconcileRecheck + time.Second)
		if rep, err := svc2.Reconcile(ctx); err != nil || rep.Queried != 1 || rep.Settled != 1 {
			t.Fatalf("query pass %+v %v", rep, err)
		}
		v, _ = svc2.View(ctx, no)
		if v.Refund.Status() != order.RefundSuccess || v.Order.Status != order.StatusPartiallyRefunded || v.Order.Refunded != kernel.Fen(18000) {
			t.Fatalf("settled %s %s %v", v.Refund.Status(), v.Order.Status, v.Order.Refunded)
		}
		// The same refund number again answers the same refund; nothing is sent.
		again, err := svc2.Refund(ctx, refunds.Request{OrderID: string(o.ID), Amount: kernel.Fen(18000), Reason: "退一半", RefundNo: no, By: "op"})
		if err != nil || again.Refund.OutRefundNo() != no || len(flaky.sent) != 2 {
			t.Fatalf("again %v %v sent %v", again, err, flaky.sent)
		}
	})
}
