package contract

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/order"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/testdb"
)

// ClaimDue hands out the due unpaid orders in pages, most overdue first, to concurrent claimers
// without overlap, skips orders not yet due, paid ones and those with an anomaly, and gives an
// order out again only once its next check is due.
func TestOrderClaimDue(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		seedPending(t, uow, 0) // the enterprise e-bench and the user u-admin
		now := t0.Add(24 * time.Hour)
		const due = 250
		var os []*order.Order
		for i := 0; i < due; i++ { // created one minute apart, the oldest first
			o, err := order.Place(kernel.OrderID(fmt.Sprintf("01due%04d", i)), "e-bench", "u-admin", demoChannel(t),
				[]order.Line{{SKU: "pkg-sign-50", Quantity: 1}}, now.Add(-time.Duration(due-i)*time.Minute-time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			os = append(os, o)
		}
		fresh, _ := order.Place("01fresh", "e-bench", "u-admin", demoChannel(t), []order.Line{{SKU: "pkg-sign-50", Quantity: 1}}, now.Add(-time.Minute))
		paid, _ := order.Place("01paid", "e-bench", "u-admin", demoChannel(t), []order.Line{{SKU: "pkg-sign-50", Quantity: 1}}, now.Add(-10*time.Hour))
		paid.Status, paid.PaidAt, paid.TransactionID = order.StatusPaid, now.Add(-9*time.Hour), "tx-paid"
		odd, _ := order.Place("01odd", "e-bench", "u-admin", demoChannel(t), []order.Line{{SKU: "pkg-sign-50", Quantity: 1}}, now.Add(-10*time.Hour))
		if err := uow.(*sqlstore.Store).Seed(ctx, sqlstore.BulkSeed{Orders: append(os, fresh, paid, odd)}); err != nil {
			t.Fatal(err)
		}
		if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			return tx.Anomalies().Record(ctx, ports.PaymentAnomaly{ID: "an1", Kind: "amount_mismatch", OutTradeNo: odd.OutTradeNo,
				OrderID: odd.ID, TransactionID: "tx-odd", Amount: 1, At: now})
		}); err != nil {
			t.Fatal(err)
		}
		claim := func(at time.Time, limit int) []kernel.OrderID {
			var ids []kernel.OrderID
			if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
				page, err := tx.Orders().ClaimDue(ctx, at, at.Add(-2*time.Minute), func(o *order.Order) time.Time {
					return o.NextCheck(at, 2*time.Minute)
				}, limit)
				for _, o := range page {
					if o.Status != order.StatusPendingPayment || o.OutTradeNo == "" {
						t.Errorf("claimed %+v", o)
					}
					ids = append(ids, o.ID)
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return ids
		}
		// Two instances claim at once: disjoint pages, each oldest first.
		var wg sync.WaitGroup
		pages := make([][]kernel.OrderID, 2)
		for i := range pages {
			wg.Add(1)
			go func() { defer wg.Done(); pages[i] = claim(now, 100) }()
		}
		wg.Wait()
		seen := map[kernel.OrderID]bool{}
		for _, p := range pages {
			if len(p) != 100 {
				t.Fatalf("page of %d, want 100", len(p))
			}
			if !sort.SliceIsSorted(p, func(i, j int) bool { return p[i] < p[j] }) {
				t.Fatalf("page not oldest first: %v", p)
			}
			for _, id := range p {
				if seen[id] {
					t.Fatalf("%s claimed twice", id)
				}
				seen[id] = true
			}
		}
		if !seen["01due0000"] || !seen["01due0199"] {
			t.Fatal("the two pages are not the 200 most overdue")
		}
		rest := claim(now, 100)
		if len(rest) != due-200 || rest[0] != "01due0200" || rest[len(rest)-1] != "01due0249" {
			t.Fatalf("last page %d: %v", len(rest), rest)
		}
		if again := claim(now.Add(time.Minute), 100); len(again) != 0 {
			t.Fatalf("claimed before their next check: %v", again)
		}
		// Once their next check is due they come back, and the fresh order has become due too.
		var all []kernel.OrderID
		for at := now.Add(3 * time.Minute); ; {
			p := claim(at, 100)
			all = append(all, p...)
			if len(p) < 100 {
				break
			}
		}
		// The fresh order, due since created_at + 2 min, is more overdue than the rechecked ones.
		if len(all) != due+1 || all[0] != "01fresh" || all[1] != "01due0000" {
			t.Fatalf("second round claimed %d (first %v)", len(all), all[:2])
		}
	})
}

// Each claimed order gets its own next check (order.NextCheck): younger orders come back sooner,
// an order near its expiry comes back at its expiry.
func TestOrderClaimDueSchedulesEachOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		seedPending(t, uow, 0)
		now := t0.Add(24 * time.Hour)
		place := func(id kernel.OrderID, age time.Duration) *order.Order {
			o, err := order.Place(id, "e-bench", "u-admin", demoChannel(t), []order.Line{{SKU: "pkg-sign-50", Quantity: 1}}, now.Add(-age))
			if err != nil {
				t.Fatal(err)
			}
			return o
		}
		young, older, late := place("01young", 3*time.Minute), place("01older", 10*time.Minute), place("01late", 25*time.Minute)
		if err := uow.(*sqlstore.Store).Seed(ctx, sqlstore.BulkSeed{Orders: []*order.Order{young, older, late}}); err != nil {
			t.Fatal(err)
		}
		claim := func(at time.Time) []kernel.OrderID {
			var ids []kernel.OrderID
			if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
				page, err := tx.Orders().ClaimDue(ctx, at, at.Add(-2*time.Minute), func(o *order.Order) time.Time {
					return o.NextCheck(at, 2*time.Minute)
				}, 100)
				for _, o := range page {
					ids = append(ids, o.ID)
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
			sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
			return ids
		}
		if got := claim(now); len(got) != 3 {
			t.Fatalf("first claim %v", got)
		}
		// Next checks: young at now+3m, older at now+10m, late at its expiry (now+5m); once expired
		// (its close failing, here never tried) every two minutes.
		for _, step := range []struct {
			at   time.Duration
			want string
		}{{2 * time.Minute, "[]"}, {3 * time.Minute, "[01young]"}, {4 * time.Minute, "[]"}, {5 * time.Minute, "[01late]"}, {9 * time.Minute, "[01late 01young]"}, {10 * time.Minute, "[01older]"}} {
			if got := fmt.Sprint(claim(now.Add(step.at))); got != step.want {
				t.Fatalf("claim at now+%s: %s, want %s", step.at, got, step.want)
			}
		}
	})
}

// The claim's SELECT walks orders_due in next_check_at order and stops after the page: no scan of
// every pending order, no sort, and anomalies looked up by order (read from the planner: EXPLAIN QUERY PLAN on SQLite; EXPLAIN on
// Postgres with sequential scans and sorts priced out, as a table of a few rows would otherwise be
// scanned whatever its indexes).
func TestOrderClaimDueWalksItsIndex(t *testing.T) {
	for _, be := range testdb.CountingBackends() {
		t.Run(be.Name, func(t *testing.T) {
			db, stmts := be.Open(t)
			store := testdb.Store(t, db)
			ctx := context.Background()
			seedPending(t, store, 0)
			now := t0.Add(24 * time.Hour)
			o, err := order.Place("01due", "e-bench", "u-admin", demoChannel(t), []order.Line{{SKU: "pkg-sign-50", Quantity: 1}}, now.Add(-time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if err := store.Seed(ctx, sqlstore.BulkSeed{Orders: []*order.Order{o}}); err != nil {
				t.Fatal(err)
			}
			stmts.Reset(true)
			var got int
			if err := store.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
				page, err := tx.Orders().ClaimDue(ctx, now, now.Add(-2*time.Minute), func(o *order.Order) time.Time { return now.Add(time.Hour) }, 100)
				got = len(page)
				return err
			}); err != nil || got != 1 {
				t.Fatalf("claimed %d: %v", got, err)
			}
			var query string
			for _, q := range stmts.Full() {
				if strings.HasPrefix(q, "SELECT") && strings.Contains(q, "next_check_at") {
					query = q
				}
			}
			if query == "" {
				t.Fatalf("no claim SELECT among %q", stmts.Text())
			}
			var plan []string
			if db.IsPostgres() {
				err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					for _, set := range []string{"SET LOCAL enable_seqscan = off", "SET LOCAL enable_sort = off", "SET LOCAL enable_bitmapscan = off"} {
						if _, err := tx.ExecContext(ctx, set); err != nil {
							return err
						}
					}
					return tx.NewRaw("EXPLAIN "+query).Scan(ctx, &plan)
				})
			} else {
				var rows []struct {
					ID      int    `bun:"id"`
					Parent  int    `bun:"parent"`
					NotUsed int    `bun:"notused"`
					Detail  string `bun:"detail"`
				}
				err = db.NewRaw("EXPLAIN QUERY PLAN "+query).Scan(ctx, &rows)
				for _, r := range rows {
					plan = append(plan, r.Detail)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			text := strings.Join(plan, "\n")
			t.Logf("plan:\n%s", text)
			if !strings.Contains(text, "orders_due") || strings.Contains(text, "TEMP B-TREE FOR ORDER BY") || strings.Contains(text, "Sort") ||
				strings.Contains(text, "SCAN pa") || strings.Contains(text, "Seq Scan") {
				t.Fatalf("the claim does not walk orders_due in order:\n%s\n%s", query, text)
			}
		})
	}
}
