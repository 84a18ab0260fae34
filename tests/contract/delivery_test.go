package contract

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/components/cqrs"

	"github.com/shuxinqian/server/adapters/consumer"
	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/tests/testdb"
)

// forEachBroker runs fn on every database with the SQL delivery queue, and on SQLite with NATS
// JetStream (TEST_NATS_URL; required when CI=true).
func forEachBroker(t *testing.T, fn func(t *testing.T, db *sqlstore.DB, br broker)) {
	for _, b := range testdb.Backends() {
		t.Run(b.Name+"/sql", func(t *testing.T) { fn(t, b.Open(t), "sql") })
		if b.Name == "sqlite" { // the NATS path does not depend on the database
			t.Run(b.Name+"/nats", func(t *testing.T) { fn(t, b.Open(t), "nats") })
		}
	}
}

// A handler that never finishes (its process stopped, or died) must leave its message durable:
// the outbox row is gone once the message is in the handler's queue, and the queue keeps it until
// a handler run acks it. The next process handles it, exactly once.
func TestDeliveryKeepsTheMessageUntilTheHandlerCommitted(t *testing.T) {
	forEachBroker(t, func(t *testing.T, db *sqlstore.DB, br broker) {
		started := make(chan struct{}, 10)
		stuck := func(*application.App) []consumer.Handler {
			return []consumer.Handler{cqrs.NewEventHandler("slow_handler", func(ctx context.Context, _ *user.Registered) error {
				started <- struct{}{}
				<-ctx.Done() // never commits: the process goes away first
				return ctx.Err()
			})}
		}
		cfg := consumer.DefaultConfig
		p1 := startPipelineOn(t, db, br, cfg, stuck)
		registerUser(t, p1.store, "u1", "13800138000")
		select {
		case <-started:
		case <-time.After(20 * time.Second):
			t.Fatal("the handler never started")
		}
		waitFor(t, "the outbox row deleted once forwarded", func() bool {
			n, err := p1.store.OutboxPending(context.Background())
			return err == nil && n == 0
		})
		p1.stop()
		if n, _ := p1.store.PoisonCount(context.Background()); n != 0 {
			t.Fatalf("a message stopped by the shutdown was parked as poison (%d)", n)
		}

		var calls atomic.Int32
		ok := func(*application.App) []consumer.Handler {
			return []consumer.Handler{cqrs.NewEventHandler("slow_handler", func(_ context.Context, ev *user.Registered) error {
				if ev.UserID == "u1" {
					calls.Add(1)
				}
				return nil
			})}
		}
		cfg.TopicPrefix = p1.prefix // the same durable queues
		p2 := startPipelineOn(t, db, br, cfg, ok)
		waitFor(t, "the next process handling the message", func() bool { return calls.Load() > 0 })
		p2.stop()
		if n := calls.Load(); n != 1 {
			t.Fatalf("handled %d times after the restart", n)
		}
		if br == "sql" {
			if n, _ := p2.store.DeliveriesPending(context.Background(), ""); n != 0 {
				t.Fatalf("%d deliveries left after the ack", n)
			}
		}
	})
}

// waitFor polls cond until it holds, failing after 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition with a deadline
	}
}
