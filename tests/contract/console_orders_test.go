package contract

import (
	"context"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/order"
	"github.com/shuxinqian/server/ports"
)

// The console finds any user's order by state, enterprise or out_trade_no, newest first, with
// its enterprise's name, page by page.
func TestConsoleOrders(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		seedPending(t, uow, 0) // the enterprise e-bench (基准企业) and the user u-admin
		a := placeTestOrder(t, uow, "01a", t0)
		placeTestOrder(t, uow, "01b", t0.Add(time.Minute))
		placeTestOrder(t, uow, "01c", t0.Add(2*time.Minute))
		if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			return tx.Orders().Update(ctx, "01b", func(o *order.Order) error {
				_, err := o.MarkPaid("4200console", kernel.Fen(36000), t0, t0)
				return err
			})
		}); err != nil {
			t.Fatal(err)
		}
		ids := func(os []ports.ConsoleOrder) (out []string) {
			for _, o := range os {
				out = append(out, string(o.Order.ID))
			}
			return out
		}
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			for _, c := range []struct {
				name string
				f    ports.ConsoleOrderFilter
				want []string
			}{
				{"all, newest first", ports.ConsoleOrderFilter{Limit: 10}, []string{"01c", "01b", "01a"}},
				{"by status", ports.ConsoleOrderFilter{Status: order.StatusPaid, Limit: 10}, []string{"01b"}},
				{"pending", ports.ConsoleOrderFilter{Status: order.StatusPendingPayment, Limit: 10}, []string{"01c", "01a"}},
				{"by enterprise", ports.ConsoleOrderFilter{EnterpriseID: "e-bench", Limit: 10}, []string{"01c", "01b", "01a"}},
				{"another enterprise", ports.ConsoleOrderFilter{EnterpriseID: "e-other", Limit: 10}, nil},
				{"by out_trade_no", ports.ConsoleOrderFilter{OutTradeNo: a.OutTradeNo, Limit: 10}, []string{"01a"}},
				{"cursor and limit", ports.ConsoleOrderFilter{Before: "01c", Limit: 1}, []string{"01b"}},
				{"combined", ports.ConsoleOrderFilter{Status: order.StatusPaid, EnterpriseID: "e-bench", Before: "01b", Limit: 10}, nil},
			} {
				got, err := tx.Console().Orders(ctx, c.f)
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				if g := ids(got); len(g) != len(c.want) || (len(g) > 0 && !equalStrings(g, c.want)) {
					t.Errorf("%s: got %v, want %v", c.name, g, c.want)
				}
				for _, o := range got {
					if o.EnterpriseName != "基准企业" || o.Order.Total != kernel.Fen(36000) || len(o.Order.Items) != 2 {
						t.Errorf("%s: %s has enterprise %q total %v items %d", c.name, o.Order.ID, o.EnterpriseName, o.Order.Total, len(o.Order.Items))
					}
				}
			}
			one, err := tx.Console().Order(ctx, "01b")
			if err != nil || one.EnterpriseName != "基准企业" || one.Order.Status != order.StatusPaid || one.Order.TransactionID != "4200console" {
				t.Fatalf("one order: %+v %v", one, err)
			}
			if _, err := tx.Console().Order(ctx, "nope"); kernel.CodeOf(err) != "order-not-found" {
				t.Fatalf("missing order: %v", err)
			}
			return nil
		})
	})
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
