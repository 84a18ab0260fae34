package contract

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/components/cqrs"

	"github.com/shuxinqian/server/adapters/consumer"
	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/adapters/system"
	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/invoice"
	"github.com/shuxinqian/server/domain/order"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/testdb"
)

// A message that exhausted its retries is listed, and a replay delivers it again to that one
// handler, durably (through the outbox), with the same message id; the dead letter is gone.
func TestDeadLettersAreListedAndReplayed(t *testing.T) {
	forEachBroker(t, func(t *testing.T, db *sqlstore.DB, br broker) {
		ctx := context.Background()
		cfg := consumer.Config{MaxRetries: 1, RetryInitial: time.Millisecond, RetryMax: time.Millisecond, PoisonTopic: sqlstore.PoisonTopic}
		if br == "nats" {
			cfg.TopicPrefix = testdb.UniquePrefix()
		}
		var other atomic.Int32
		handlers := func(fail bool, seen *atomic.Int32) func(*application.App) []consumer.Handler {
			return func(*application.App) []consumer.Handler {
				return []consumer.Handler{
					cqrs.NewEventHandler("flaky", func(context.Context, *user.Registered) error {
						if fail {
							return errors.New("downstream is broken")
						}
						seen.Add(1)
						return nil
					}),
					cqrs.NewEventHandler("other", func(context.Context, *user.Registered) error { other.Add(1); return nil }),
				}
			}
		}
		p1 := startPipelineOn(t, db, br, cfg, handlers(true, nil))
		registerUser(t, p1.store, "u1", "13800138000")
		var letters []sqlstore.DeadLetter
		waitFor(t, "the dead letter", func() bool {
			var err error
			letters, err = p1.store.DeadLetters(ctx, 0, 10)
			return err == nil && len(letters) == 1
		})
		// The healthy handler got its own copy meanwhile (before the stop: a copy leased by a
		// stopped process would come back only after its lease).
		waitFor(t, "the other handler's copy", func() bool { return other.Load() >= 1 })
		p1.stop()
		l := letters[0]
		if l.Event != "user.registered" || l.Handler != "flaky" || l.Reason == "" || l.MessageID == "" {
			t.Fatalf("dead letter %+v", l)
		}

		var seen atomic.Int32
		p2 := startPipelineOn(t, db, br, cfg, handlers(false, &seen))
		if _, err := p2.store.ReplayDeadLetter(ctx, l.ID+1000); err == nil {
			t.Fatal("replayed an unknown dead letter")
		}
		got, err := p2.store.ReplayDeadLetter(ctx, l.ID)
		if err != nil || got.MessageID != l.MessageID {
			t.Fatalf("replay: %+v %v", got, err)
		}
		// At least once: on NATS a copy of the original whose ack p1 did not get to JetStream before
		// it stopped (a slow poison write past AckWait on a loaded machine) is redelivered to p2
		// too, with the same message id, and can land in the same poll as the replay.
		waitFor(t, "the replay forwarded", func() bool { n, err := p2.store.OutboxPending(ctx); return err == nil && n == 0 })
		waitFor(t, "the replayed message handled", func() bool { return seen.Load() >= 1 })
		if rest, _ := p2.store.DeadLetters(ctx, 0, 10); len(rest) != 0 {
			t.Fatalf("dead letters after the replay: %d", len(rest))
		}
		if _, err := p2.store.ReplayDeadLetter(ctx, l.ID); err == nil {
			t.Fatal("a dead letter was replayed twice")
		}
		p2.stop()
		// That the replay is addressed to the one handler is FanOut's rule (adapters/consumer
		// tests); here "other" may see a redelivery of the original from p1's shutdown.
	})
}

// The sweeper re-publishes, through the outbox, the events of work stuck past the deadline (a
// paid order without its grant, an invoice still requested), once per deadline.
func TestSweeperDrivesOnStuckWork(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		store := testdb.Store(t, db)
		seedPending(t, uow, 0)
		o := placeTestOrder(t, uow, "01swp", time.Now())
		if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			return tx.Orders().Update(ctx, o.ID, func(o *order.Order) error {
				_, err := o.MarkPaid("4200swp", o.Total, time.Now(), time.Now())
				return err
			})
		}); err != nil {
			t.Fatal(err)
		}
		app := application.New(application.Deps{UoW: uow, Clock: system.Clock{}, IDs: system.NewIDs()})
		if _, err := app.RequestInvoice(ctx, application.Actor{UserID: "u-admin"}, string(o.ID),
			invoice.Request{TitleType: invoice.TitleEnterprise, Title: "基准企业", TaxID: "91350100M000100Y43"}); err != nil {
			t.Fatal(err)
		}
		before, _ := store.OutboxPending(ctx)
		targets := sqlstore.SweepTargets{IssueInvoice: "issue_invoice", GrantOrder: "grant_order", RemitTransfer: "remit_bank_transfer",
			IssueOrgCertificate: "issue_org_certificate"}
		if rep, err := store.Sweep(ctx, time.Now(), 5*time.Minute, targets); err != nil || rep.Total() != 0 {
			t.Fatalf("fresh work was swept: %+v %v", rep, err)
		}
		later := time.Now().Add(time.Hour)
		rep, err := store.Sweep(ctx, later, 5*time.Minute, targets)
		if err != nil || rep.Invoices != 1 || rep.Grants != 1 {
			t.Fatalf("sweep: %+v %v", rep, err)
		}
		// seedPending's enterprise has no organisation certificate either: it is nudged too.
		if rep.Certificates != 1 {
			t.Fatalf("sweep: %+v", rep)
		}
		if after, _ := store.OutboxPending(ctx); after != before+rep.Total() {
			t.Fatalf("outbox %d → %d", before, after)
		}
		if rep, err := store.Sweep(ctx, later.Add(time.Minute), 5*time.Minute, targets); err != nil || rep.Total() != 0 {
			t.Fatalf("a second sweep within the deadline nudged again: %+v %v", rep, err)
		}
		if again, err := store.Sweep(ctx, later.Add(6*time.Minute), 5*time.Minute, targets); err != nil || again != rep {
			t.Fatalf("a sweep after the deadline did not nudge again: %+v %v", again, err)
		}
	})
}
