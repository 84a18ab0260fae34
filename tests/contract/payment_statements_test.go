package contract

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/adapters/system"
	"github.com/shuxinqian/server/adapters/wechatpay"
	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/order"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/testdb"
)

// notifyRig is the notification path as the callback runs it, on a database whose statements are
// counted below database/sql (testdb.Statements).
type notifyRig struct {
	app   *application.App
	gw    *wechatpay.Gateway
	sim   *wechatpay.Simulator
	store *sqlstore.Store
	stmts *testdb.Statements
	db    *sqlstore.DB
}

func newNotifyRig(t testing.TB, open func(testing.TB) (*sqlstore.DB, *testdb.Statements)) *notifyRig {
	t.Helper()
	db, stmts := open(t)
	store := testdb.Store(t, db)
	keys, err := wechatpay.GenerateSandboxKeys()
	if err != nil {
		t.Fatal(err)
	}
	sim, err := wechatpay.NewSimulator(keys.SimConfig("1900000109", "wxd678efh567hg6787", "", nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	gc := keys.GatewayConfig("1900000109", "wxd678efh567hg6787", "")
	gc.Transport = sim.Transport()
	gw, err := wechatpay.New(gc)
	if err != nil {
		t.Fatal(err)
	}
	app := application.New(application.Deps{UoW: store, Clock: system.Clock{}, IDs: system.NewIDs(), Payments: gw,
		Settings: application.Settings{PublicBaseURL: "http://127.0.0.1:1"}})
	seedPending(t, store, 0)
	return &notifyRig{app: app, gw: gw, sim: sim, store: store, stmts: stmts, db: db}
}

// notification places a paid order at WeChat Pay and returns its signed notification.
func (r *notifyRig) notification(t testing.TB, id string) (*order.Order, ports.PaymentNotification) {
	t.Helper()
	o := placeTestOrder(t, r.store, id, time.Now())
	if _, err := r.gw.Prepay(context.Background(), ports.PrepayRequest{TradeType: ports.TradeApp, OutTradeNo: o.OutTradeNo, Description: "bench",
		Amount: o.Total, TimeExpire: o.ExpiresAt, NotifyURL: "http://127.0.0.1:1/cb"}); err != nil {
		t.Fatal(err)
	}
	if err := r.sim.MarkPaid(o.OutTradeNo); err != nil {
		t.Fatal(err)
	}
	h, body, err := r.sim.Notification(o.OutTradeNo, nil)
	if err != nil {
		t.Fatal(err)
	}
	return o, ports.PaymentNotification{Headers: h, Body: body}
}

// TestPaymentNotificationStatements: a notification of a pending order is the floor's four
// statements (BEGIN, the conditional UPDATE … RETURNING that checks and changes the order, the
// outbox INSERT, COMMIT) on both databases; a repeated one is still answered as a duplicate.
func TestPaymentNotificationStatements(t *testing.T) {
	for _, be := range testdb.CountingBackends() {
		t.Run(be.Name, func(t *testing.T) {
			r := newNotifyRig(t, be.Open)
			ctx := context.Background()
			o, n := r.notification(t, "01stmt1")
			before, _ := r.store.OutboxPending(ctx)
			r.stmts.Reset(true)
			out, err := r.app.HandlePaymentNotification(ctx, n)
			if err != nil || out != application.OutcomePaid {
				t.Fatalf("%s %v", out, err)
			}
			got := r.stmts.Text()
			t.Logf("first notification, %d statements:\n  %s", len(got), strings.Join(got, "\n  "))
			// Postgres: UPDATE … RETURNING. SQLite: the UPDATE, then the row by out_trade_no (RETURNING
			// would open a statement journal there; see orders.PayPending).
			want := []string{"BEGIN", "UPDATE", "INSERT INTO watermill_outbox", "COMMIT"}
			if be.Name == "sqlite" {
				want = []string{"BEGIN", "UPDATE", "SELECT", "INSERT INTO watermill_outbox", "COMMIT"}
			}
			ok := len(got) == len(want)
			for i := 0; ok && i < len(want); i++ {
				ok = strings.HasPrefix(got[i], want[i])
			}
			if !ok {
				t.Fatalf("want %q; got %q", want, got)
			}
			if c := r.stmts.Commits(); c != 1 {
				t.Fatalf("commits %d", c)
			}
			var paid *order.Order
			_ = r.store.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
				paid, err = tx.Orders().Get(ctx, o.ID)
				return err
			})
			if err != nil || paid.Status != order.StatusPaid || paid.TransactionID == "" || paid.Version != o.Version+1 || paid.PaidAt.IsZero() {
				t.Fatalf("stored %+v %v", paid, err)
			}
			if be.Name == "sqlite" {
				// The prepared UPDATE writes its times as bun writes them, so they sort and compare
				// with the rest of the table's.
				var paidAt, createdAt string
				if err := r.db.QueryRowContext(ctx, "SELECT CAST(paid_at AS TEXT), CAST(created_at AS TEXT) FROM orders WHERE id = ?", string(o.ID)).Scan(&paidAt, &createdAt); err != nil {
					t.Fatal(err)
				}
				layout := regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?\+00:00$`)
				if !layout.MatchString(paidAt) || !layout.MatchString(createdAt) {
					t.Fatalf("paid_at %q, created_at %q: want bun's layout", paidAt, createdAt)
				}
			}
			pending, err := r.store.OutboxPending(ctx)
			if err != nil || pending != before+1 { // order.paid
				t.Fatalf("outbox %d %v", pending, err)
			}
			r.stmts.Reset(true)
			out, err = r.app.HandlePaymentNotification(ctx, n)
			if err != nil || out != application.OutcomeDuplicate {
				t.Fatalf("repeat: %s %v", out, err)
			}
			t.Logf("repeated notification, %d statements", r.stmts.Count())
		})
	}
}

// BenchmarkNotificationStatements reports the statements and commits per notification.
func BenchmarkNotificationStatements(b *testing.B) {
	for _, be := range testdb.CountingBackends() {
		b.Run(be.Name, func(b *testing.B) {
			r := newNotifyRig(b, be.Open)
			i := 0
			var stmts, commits int64
			for b.Loop() {
				b.StopTimer()
				i++
				_, n := r.notification(b, fmt.Sprintf("01nst%06d", i))
				r.stmts.Reset(false)
				b.StartTimer()
				if out, err := r.app.HandlePaymentNotification(context.Background(), n); err != nil || out != application.OutcomePaid {
					b.Fatalf("%s %v", out, err)
				}
				stmts, commits = r.stmts.Count(), r.stmts.Commits()
			}
			b.ReportMetric(float64(stmts), "statements/op")
			b.ReportMetric(float64(commits), "commits/op")
		})
	}
}
