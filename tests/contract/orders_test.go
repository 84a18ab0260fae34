package contract

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/domain/channel"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/order"
	"github.com/shuxinqian/server/ports"
)

func demoChannel(t testing.TB) *channel.Channel {
	t.Helper()
	c, err := channel.New(channel.Snapshot{ID: "c1", Code: "q86804", Name: "东莞交易专家评标项目", QRToken: "0123456789abcdef", Active: true,
		Method: channel.MethodID2, Catalog: []channel.Item{
			{SKU: "pkg-sign-50", Name: "签署套餐", Kind: channel.KindPackage, UnitPrice: kernel.Fen(15000), Grants: channel.Grants{Signatures: 50}},
			{SKU: "svc-cert", Name: "证书", Kind: channel.KindService, UnitPrice: kernel.Fen(6000), Grants: channel.Grants{CertificateYears: 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func placeTestOrder(t testing.TB, uow ports.UnitOfWork, id string, at time.Time) *order.Order {
	t.Helper()
	o, err := order.Place(kernel.OrderID(id), "e-bench", "u-admin", demoChannel(t), []order.Line{{SKU: "pkg-sign-50", Quantity: 2}, {SKU: "svc-cert", Quantity: 1}}, at)
	if err != nil {
		t.Fatal(err)
	}
	if err := uow.Do(context.Background(), func(ctx context.Context, tx ports.Tx) error { return tx.Orders().Add(ctx, o) }); err != nil {
		t.Fatal(err)
	}
	return o
}

func TestOrderRepositoryAndLedger(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		seedPending(t, uow, 0) // the enterprise e-bench and the user u-admin
		a := placeTestOrder(t, uow, "01a", t0)
		placeTestOrder(t, uow, "01b", t0.Add(time.Minute))
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			got, err := tx.Orders().GetByOutTradeNo(ctx, a.OutTradeNo)
			if err != nil || got.Total != kernel.Fen(36000) || len(got.Items) != 2 || got.Items[0].Grants.Signatures != 50 || !got.ExpiresAt.Equal(t0.Add(order.TTL)) {
				t.Fatalf("round trip %+v %v", got, err)
			}
			list, _ := tx.Orders().List(ctx, ports.OrderFilter{UserID: "u-admin", Limit: 10})
			if len(list) != 2 || list[0].ID != "01b" {
				t.Fatalf("newest first: %+v", list)
			}
			page, _ := tx.Orders().List(ctx, ports.OrderFilter{UserID: "u-admin", Before: "01b", Limit: 10})
			if len(page) != 1 || page[0].ID != "01a" {
				t.Fatalf("cursor: %+v", page)
			}
			if _, err := tx.Orders().Get(ctx, "nope"); kernel.CodeOf(err) != "order-not-found" {
				t.Fatalf("missing: %v", err)
			}
			return nil
		})
		// Concurrent MarkPaid of one order: one change, the others are duplicates.
		var wg sync.WaitGroup
		var mu sync.Mutex
		paid, dups := 0, 0
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
					return tx.Orders().Update(ctx, "01a", func(o *order.Order) error {
						dup, err := o.MarkPaid("4200tx", kernel.Fen(36000), t0, t0)
						mu.Lock()
						defer mu.Unlock()
						if dup {
							dups++
						} else if err == nil {
							paid++
						}
						return err
					})
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if paid != 1 || dups != 7 {
			t.Fatalf("paid %d duplicates %d", paid, dups)
		}
		// The ledger grants an order once.
		g := []ports.Grant{{OrderID: "01a", EnterpriseID: "e-bench", SKU: "pkg-sign-50", Signatures: 100, At: t0},
			{OrderID: "01a", EnterpriseID: "e-bench", SKU: "svc-cert", CertificateYears: 1, At: t0}}
		for i, want := range []int{2, 0} {
			var n int
			if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
				var err error
				n, err = tx.Quota().Grant(ctx, g)
				return err
			}); err != nil || n != want {
				t.Fatalf("grant %d: %d new, %v", i, n, err)
			}
		}
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			q, err := tx.Quota().Totals(ctx, "e-bench")
			if err != nil || q.Signatures != 100 || q.CertificateYears != 1 {
				t.Fatalf("totals %+v %v", q, err)
			}
			return nil
		})
		// Anomalies are kept once per transaction and kind.
		for range 2 {
			if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
				return tx.Anomalies().Record(ctx, ports.PaymentAnomaly{ID: fmt.Sprint(time.Now().UnixNano()), Kind: "amount_mismatch",
					OutTradeNo: "SXQ01b", TransactionID: "4200x", Amount: kernel.Fen(1), At: t0})
			}); err != nil {
				t.Fatal(err)
			}
		}
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			if as, _ := tx.Anomalies().List(ctx, 10); len(as) != 1 {
				t.Fatalf("anomalies %+v", as)
			}
			return nil
		})
	})
}

func TestIdempotencyKeys(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		claim := func(key, hash string, at time.Time) (ports.IdempotentResponse, bool) {
			var r ports.IdempotentResponse
			var fresh bool
			if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
				var err error
				r, fresh, err = tx.Idempotency().Claim(ctx, "s", key, hash, at)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return r, fresh
		}
		if _, fresh := claim("k", "h1", t0); !fresh {
			t.Fatal("first claim not fresh")
		}
		if r, fresh := claim("k", "h1", t0); fresh || r.Done {
			t.Fatalf("in progress: %+v %v", r, fresh)
		}
		if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			return tx.Idempotency().Complete(ctx, "s", "k", 201, []byte(`{"id":"x"}`))
		}); err != nil {
			t.Fatal(err)
		}
		if r, fresh := claim("k", "h2", t0.Add(time.Hour)); fresh || !r.Done || r.Status != 201 || string(r.Body) != `{"id":"x"}` || r.RequestHash != "h1" {
			t.Fatalf("replay: %+v %v", r, fresh)
		}
		// Kept 24 hours, then forgotten.
		if _, fresh := claim("k", "h3", t0.Add(24*time.Hour+time.Second)); !fresh {
			t.Fatal("an expired key was not released")
		}
		// A claim rolled back with its transaction (the request failed) leaves the key free.
		errFailed := errors.New("the request failed")
		if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			if _, fresh, err := tx.Idempotency().Claim(ctx, "s", "r", "h", t0); err != nil || !fresh {
				t.Fatalf("claim r: %v %v", fresh, err)
			}
			return errFailed
		}); !errors.Is(err, errFailed) {
			t.Fatal(err)
		}
		if _, fresh := claim("r", "h", t0); !fresh {
			t.Fatal("a rolled-back claim stayed claimed")
		}
		// Claim and answer in one transaction while another claims the same key: the second
		// waits for the first (Postgres: on the key's unique index; SQLite: for the write lock)
		// and replays its answer.
		claimed := make(chan struct{})
		type answer struct {
			r     ports.IdempotentResponse
			fresh bool
			err   error
		}
		second := make(chan answer, 1)
		if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			if _, fresh, err := tx.Idempotency().Claim(ctx, "s", "both", "h", t0); err != nil || !fresh {
				t.Fatalf("claim both: %v %v", fresh, err)
			}
			go func() {
				<-claimed
				var a answer
				a.err = uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
					var err error
					a.r, a.fresh, err = tx.Idempotency().Claim(ctx, "s", "both", "h", t0)
					return err
				})
				second <- a
			}()
			close(claimed)
			return tx.Idempotency().Complete(ctx, "s", "both", 201, []byte("first"))
		}); err != nil {
			t.Fatal(err)
		}
		if a := <-second; a.err != nil || a.fresh || !a.r.Done || string(a.r.Body) != "first" {
			t.Fatalf("the concurrent claim got %+v, want the first answer", a)
		}
		// Issue 11 item 7: a claim whose request never finished (the process died, completion
		// failed) is in progress for a minute, then the key may be claimed again.
		_, _ = claim("dead", "h", t0)
		if r, fresh := claim("dead", "h", t0.Add(ports.IdempotencyClaimTTL-time.Second)); fresh || r.Done {
			t.Fatalf("a fresh unfinished claim was taken over: %+v %v", r, fresh)
		}
		if _, fresh := claim("dead", "h", t0.Add(ports.IdempotencyClaimTTL+time.Second)); !fresh {
			t.Fatal("an unfinished claim older than a minute stayed claimed")
		}
		// (A finished key is replayed an hour later: see "replay" above.)
	})
}
