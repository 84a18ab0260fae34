package contract

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/adapters/system"
	"github.com/shuxinqian/server/application/refunds"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/order"
	"github.com/shuxinqian/server/domain/signflow"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/fakes"
)

// unreachableRefunds is a WeChat Pay that never answers: a refund stays submitting, and its
// quota reductions count from the moment it is stored.
type unreachableRefunds struct{ ports.RefundGateway }

func (unreachableRefunds) Refund(context.Context, ports.RefundRequest) (ports.RefundTransaction, error) {
	return ports.RefundTransaction{}, kernel.Unavailable("payment-unavailable", "WeChat Pay is unavailable", nil)
}

// grantTestOrder places order id (100 signatures, 1 certificate year), marks it paid and grants it.
func grantTestOrder(t *testing.T, uow ports.UnitOfWork, id string) *order.Order {
	t.Helper()
	o := placeTestOrder(t, uow, id, t0)
	if err := uow.Do(context.Background(), func(ctx context.Context, tx ports.Tx) error {
		if err := tx.Orders().Update(ctx, o.ID, func(cur *order.Order) error {
			_, err := cur.MarkPaid("4200"+id, cur.Total, t0, t0)
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

// freeSignatures is what the enterprise has left: granted − taken back by refunds − reserved or
// used by signings − other recorded uses. The invariant is that it never drops below zero.
func freeSignatures(t *testing.T, uow ports.UnitOfWork) int {
	t.Helper()
	var free int
	if err := uow.Read(context.Background(), func(ctx context.Context, tx ports.Tx) error {
		q, err := tx.Quota().Totals(ctx, "e-bench")
		if err != nil {
			return err
		}
		used, err := tx.QuotaUsage().Used(ctx, "e-bench")
		free = q.Signatures - used.Signatures
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return free
}

// TestQuotaRefundRacesSignings: a refund that takes a whole package back and signings that
// consume the same enterprise's signatures serialise on one quota lock, so they cannot both
// pass their checks against the same free count. Each round grants a package (100 signatures),
// brings the free count to just above 100, then starts the full refund of that package and
// more signings than the slack at once; afterwards used ≤ granted − reduced must hold.
func TestQuotaRefundRacesSignings(t *testing.T) {
	const rounds, slack, signers = 8, 2, 6
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		eid, _ := seedPending(t, uow, 0)
		flow := newTestFlow(t, "flow-q", "u-admin", eid, "13900000001")
		if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error { return tx.SignFlows().Add(ctx, flow) }); err != nil {
			t.Fatal(err)
		}
		clock := fakes.NewClock(t0)
		svc := refunds.New(refunds.Deps{UoW: uow, Clock: clock, IDs: system.NewIDs(), Gateway: unreachableRefunds{},
			Config: refunds.Config{NotifyURL: "https://example.com/refunds"}})
		seq := 0
		turn := func(ctx context.Context, tx ports.Tx) error {
			seq++
			return tx.SignFlows().TakeTurn(ctx, ports.SigningTurn{FlowID: "flow-q", SignerID: signflow.SignerID(fmt.Sprintf("s-%05d", seq)),
				UserID: "u-admin", EnterpriseID: kernel.EnterpriseID(eid), Until: t0.Add(time.Hour)}, t0)
		}
		refunded, refused, exhausted := 0, 0, 0
		for round := range rounds {
			o := grantTestOrder(t, uow, fmt.Sprintf("q%02d", round))
			// Use signatures until exactly 100 + slack are free (never fewer than 100: the round's package).
			if extra := freeSignatures(t, uow) - (100 + slack); extra > 0 {
				if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
					for range extra {
						if err := turn(ctx, tx); err != nil {
							return err
						}
					}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			start := make(chan struct{})
			var refundErr error
			signErrs := make([]error, signers)
			ids := make([]string, signers)
			for i := range signers {
				seq++
				ids[i] = fmt.Sprintf("s-%05d", seq)
			}
			wg.Add(1 + signers)
			go func() {
				defer wg.Done()
				<-start
				_, refundErr = svc.Refund(ctx, refunds.Request{OrderID: string(o.ID), Amount: o.Total, Reason: "全额退款", By: "op"})
			}()
			for i := range signers {
				go func() {
					defer wg.Done()
					<-start
					signErrs[i] = uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
						return tx.SignFlows().TakeTurn(ctx, ports.SigningTurn{FlowID: "flow-q", SignerID: signflow.SignerID(ids[i]),
							UserID: "u-admin", EnterpriseID: kernel.EnterpriseID(eid), Until: t0.Add(time.Hour)}, t0)
					})
				}()
			}
			close(start)
			wg.Wait()
			switch kernel.CodeOf(refundErr) {
			case "":
				refunded++
			case "refund-exceeds-unused":
				refused++
			default:
				t.Fatalf("round %d: refund: %v", round, refundErr)
			}
			for _, err := range signErrs {
				switch kernel.CodeOf(err) {
				case "":
				case "quota-exhausted":
					exhausted++
				default:
					t.Fatalf("round %d: signing: %v", round, err)
				}
			}
			if free := freeSignatures(t, uow); free < 0 {
				t.Fatalf("round %d: used exceeds granted − reduced by %d (refund err %v, signings %v)", round, -free, refundErr, signErrs)
			}
		}
		if refunded+refused != rounds {
			t.Fatalf("refunds %d + refused %d != %d", refunded, refused, rounds)
		}
		t.Logf("%d rounds: %d refunds passed (then %d signings found no quota), %d refused", rounds, refunded, exhausted, refused)
	})
}
