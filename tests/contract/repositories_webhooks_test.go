package contract

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/webhook"
	"github.com/shuxinqian/server/ports"
)

func TestWebhookRepository(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		eid, _ := seedPending(t, uow, 1)
		e := kernel.EnterpriseID(eid)
		do := func(fn func(ctx context.Context, tx ports.Tx) error) error { return uow.Do(ctx, fn) }
		secret := "whsec_" + strings.Repeat("s", 43)
		ep, err := webhook.NewEndpoint("w-1", e, "https://example.com/h", []string{"order.paid"}, secret, "u-admin", true, t0)
		if err != nil {
			t.Fatal(err)
		}
		all, _ := webhook.NewEndpoint("w-2", e, "https://example.com/all", []string{"*"}, secret+"2", "u-admin", true, t0)
		if err := do(func(ctx context.Context, tx ports.Tx) error {
			if err := tx.Webhooks().AddEndpoint(ctx, ep); err != nil {
				return err
			}
			return tx.Webhooks().AddEndpoint(ctx, all)
		}); err != nil {
			t.Fatal(err)
		}
		// The secret is stored encrypted.
		var enc []byte
		if err := db.NewSelect().Table("webhook_endpoints").Column("secret_enc").Where("id = 'w-1'").Scan(ctx, &enc); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(enc), "whsec_") {
			t.Fatal("secret stored in clear")
		}
		var subs []*webhook.Endpoint
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			if got, err := tx.Webhooks().GetEndpoint(ctx, e, "w-1"); err != nil || got.Secret() != secret || got.URL() != "https://example.com/h" {
				t.Fatalf("get %v %v", got, err)
			}
			if _, err := tx.Webhooks().GetEndpoint(ctx, "other", "w-1"); kernel.CodeOf(err) != "webhook-not-found" {
				t.Fatalf("another enterprise's endpoint: %v", err)
			}
			if n, err := tx.Webhooks().CountEndpoints(ctx, e); n != 2 || err != nil {
				t.Fatalf("count %d %v", n, err)
			}
			subs, err = tx.Webhooks().Subscribers(ctx, e, webhook.OrderPaid)
			if len(subs) != 2 {
				t.Fatalf("order.paid subscribers %d", len(subs))
			}
			if only, _ := tx.Webhooks().Subscribers(ctx, e, webhook.MemberJoined); len(only) != 1 || only[0].ID() != "w-2" {
				t.Fatalf("member.joined subscribers %v", only)
			}
			return err
		})

		// Deliveries are unique by event and endpoint: a redelivered event adds nothing.
		mk := func(ev string) []*webhook.Delivery {
			var ds []*webhook.Delivery
			for _, s := range subs {
				d, err := webhook.NewDelivery(webhook.DeliveryID("d-"+ev+"-"+string(s.ID())), s, ev, webhook.OrderPaid, []byte(`{"id":"`+ev+`"}`), t0)
				if err != nil {
					t.Fatal(err)
				}
				ds = append(ds, d)
			}
			return ds
		}
		add := func(ds []*webhook.Delivery) int {
			var n int
			if err := do(func(ctx context.Context, tx ports.Tx) error {
				var err error
				n, err = tx.Webhooks().AddDeliveries(ctx, ds)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := add(mk("ev-1")); n != 2 {
			t.Fatalf("added %d", n)
		}
		again := mk("ev-1")
		for i := range again { // other ids, the same event
			again[i] = webhook.DeliveryFromSnapshot(func(s webhook.DeliverySnapshot) webhook.DeliverySnapshot { s.ID += "-again"; return s }(again[i].Snapshot()))
		}
		if n := add(again); n != 0 {
			t.Fatalf("a redelivered event added %d deliveries", n)
		}
		for i := 2; i <= 10; i++ {
			add(mk(fmt.Sprintf("ev-%d", i)))
		}

		// Concurrent claims never hand one delivery to two runs while its lease runs.
		claim := func(token string, now time.Time, limit int) []ports.ClaimedDelivery {
			var out []ports.ClaimedDelivery
			if err := do(func(ctx context.Context, tx ports.Tx) error {
				var err error
				out, err = tx.Webhooks().ClaimDue(ctx, now, time.Minute, token, limit)
				return err
			}); err != nil {
				t.Errorf("claim %s: %v", token, err)
			}
			return out
		}
		var mu sync.Mutex
		seen := map[webhook.DeliveryID]string{}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 3 {
					tok := fmt.Sprintf("run-%d", w)
					for _, c := range claim(tok, t0.Add(time.Second), 3) {
						mu.Lock()
						if prev, dup := seen[c.Delivery.ID()]; dup {
							t.Errorf("%s claimed by %s and %s", c.Delivery.ID(), prev, tok)
						}
						seen[c.Delivery.ID()] = tok
						mu.Unlock()
						if c.Secret == "" || c.URL == "" || c.Lease != tok {
							t.Errorf("claim %+v", c)
						}
					}
				}
			}()
		}
		wg.Wait()
		if len(seen) != 20 {
			t.Fatalf("%d deliveries claimed, want 20", len(seen))
		}
		if got := claim("late", t0.Add(30*time.Second), 100); len(got) != 0 {
			t.Fatalf("claimed under a running lease: %d", len(got))
		}
		// After the lease, another run takes over; the first run's record is refused.
		taken := claim("takeover", t0.Add(2*time.Minute), 1)
		if len(taken) != 1 {
			t.Fatalf("takeover %d", len(taken))
		}
		id := taken[0].Delivery.ID()
		record := func(token string, status int, at time.Time) error {
			return do(func(ctx context.Context, tx ports.Tx) error {
				return tx.Webhooks().RecordAttempt(ctx, id, token, func(d *webhook.Delivery) webhook.Attempt {
					return d.Record(webhook.Attempt{At: at, StatusCode: status, Duration: 15 * time.Millisecond, Response: "nope"}, 20)
				})
			})
		}
		if err := record(seen[id], 200, t0.Add(2*time.Minute)); kernel.CodeOf(err) != "webhook-lease-lost" {
			t.Fatalf("stale run recorded: %v", err)
		}
		if err := record("takeover", 500, t0.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := record("takeover", 200, t0.Add(2*time.Minute)); kernel.CodeOf(err) != "webhook-lease-lost" {
			t.Fatalf("a finished claim recorded twice: %v", err)
		}
		// The failed attempt is logged and the delivery waits for its retry (30s ± 20%).
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			ds, log, err := tx.Webhooks().ListDeliveries(ctx, e, taken[0].Delivery.EndpointID(), "", 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				if d.ID() != id {
					continue
				}
				if d.Status() != webhook.StatusPending || d.Attempts() != 1 || d.NextAttemptAt() != t0.Add(2*time.Minute+30*time.Second) ||
					len(log[id]) != 1 || log[id][0].StatusCode != 500 || log[id][0].Response != "nope" || log[id][0].Duration != 15*time.Millisecond {
					t.Fatalf("after a failure %+v %+v", d.Snapshot(), log[id])
				}
				return nil
			}
			t.Fatal("delivery not listed")
			return nil
		})
		early := claim("early", t0.Add(2*time.Minute+29*time.Second), 100) // the other 19 leases ran out
		for _, c := range early {
			if c.Delivery.ID() == id {
				t.Fatal("claimed before its retry was due")
			}
		}
		if len(early) != 19 {
			t.Fatalf("after the leases %d claimed, want 19", len(early))
		}

		// Deleting an endpoint cancels its pending deliveries.
		if err := do(func(ctx context.Context, tx ports.Tx) error { return tx.Webhooks().DeleteEndpoint(ctx, e, "w-1", t0) }); err != nil {
			t.Fatal(err)
		}
		if got := claim("after-delete", t0.Add(time.Hour), 100); len(got) != 10 {
			t.Fatalf("after delete %d due, want the other endpoint's 10", len(got))
		}
		if err := do(func(ctx context.Context, tx ports.Tx) error { return tx.Webhooks().DeleteEndpoint(ctx, e, "w-1", t0) }); kernel.CodeOf(err) != "webhook-not-found" {
			t.Fatalf("second delete: %v", err)
		}

		// Sign-flow enterprises.
		if err := do(func(ctx context.Context, tx ports.Tx) error {
			if err := tx.Webhooks().RememberFlow(ctx, "f-1", e); err != nil {
				return err
			}
			return tx.Webhooks().RememberFlow(ctx, "f-1", e)
		}); err != nil {
			t.Fatal(err)
		}
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			if got, err := tx.Webhooks().FlowEnterprise(ctx, "f-1"); got != e || err != nil {
				t.Fatalf("flow %v %v", got, err)
			}
			if _, err := tx.Webhooks().FlowEnterprise(ctx, "f-2"); kernel.CodeOf(err) != "webhook-flow-unknown" {
				t.Fatalf("unknown flow %v", err)
			}
			return nil
		})
	})
}
