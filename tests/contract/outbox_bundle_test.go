package contract

import (
	"context"
	"fmt"
	"testing"

	"github.com/shuxinqian/server/adapters/consumer"
	"github.com/shuxinqian/server/adapters/system"
	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/testdb"
)

type outboxRow struct {
	UUID     string `bun:"uuid"`
	Payload  []byte `bun:"payload"`
	Metadata string `bun:"metadata"`
}

// TestOutboxBundleDeliversEveryEventOnce: a batch approval's 40 events are written as one
// outbox bundle; the forwarder expands it, and each applicant's handler runs once with the
// event's own message id and texts them once. The same bundle forwarded again (a crash after
// the delivery, before the outbox row was acked) delivers the same 40 ids, and nobody is texted
// twice.
func TestOutboxBundleDeliversEveryEventOnce(t *testing.T) {
	for _, br := range []broker{"sql", "nats"} {
		for _, be := range testdb.Backends() {
			if br == "nats" && be.Name != "sqlite" {
				continue // the broker is what differs; one database is enough for it
			}
			t.Run(be.Name+"/"+string(br), func(t *testing.T) {
				db := be.Open(t)
				ctx := context.Background()
				seedStore := testdb.Store(t, db)
				eid, ids := seedPending(t, seedStore, 40)
				if _, err := db.NewDelete().Table("watermill_outbox").Where("1 = 1").Exec(ctx); err != nil {
					t.Fatal(err) // the seed's events: not what this test is about
				}
				app := application.New(application.Deps{UoW: seedStore, Clock: system.Clock{}, IDs: system.NewIDs()})
				if _, err := app.DecideBatch(ctx, application.Actor{UserID: "u-admin"}, eid, ids, application.Approve); err != nil {
					t.Fatal(err)
				}
				var rows []outboxRow
				if err := db.NewSelect().Table("watermill_outbox").Column("uuid", "payload", "metadata").Scan(ctx, &rows); err != nil {
					t.Fatal(err)
				}
				if len(rows) != 1 {
					t.Fatalf("%d outbox rows for a batch of 40, want one bundle", len(rows))
				}

				only := func(app *application.App) []consumer.Handler {
					for _, h := range consumer.Handlers(app) {
						if h.HandlerName() == "notify_join_approved" {
							return []consumer.Handler{h}
						}
					}
					t.Fatal("no notify_join_approved handler")
					return nil
				}
				p := startPipelineOn(t, db, br, consumer.DefaultConfig, func(app *application.App) []consumer.Handler { return only(app) })
				first := map[string]bool{}
				for _, r := range p.await(t, map[string]int{"notify_join_approved": 40}) {
					if r.err != nil {
						t.Fatalf("handler failed: %v", r.err)
					}
					first[r.msg.UUID] = true
				}
				if len(first) != 40 {
					t.Fatalf("40 deliveries with %d distinct message ids", len(first))
				}
				texted := func() {
					t.Helper()
					for i := range ids {
						if n := len(p.sms.List(kernel.Phone(fmt.Sprintf("137%08d", i)))); n != 1 {
							t.Fatalf("applicant %d texted %d times, want once", i, n)
						}
					}
				}
				texted()
				if n, err := p.store.OutboxPending(ctx); err != nil || n != 0 {
					t.Fatalf("outbox not drained: %d %v", n, err)
				}

				// The bundle again, as after a crash between its delivery and its ack.
				if _, err := db.NewInsert().Model(&rows[0]).ModelTableExpr("watermill_outbox").Exec(ctx); err != nil {
					t.Fatal(err)
				}
				for _, r := range p.await(t, map[string]int{"notify_join_approved": 40}) {
					if r.err != nil || !first[r.msg.UUID] {
						t.Fatalf("redelivery: %v, id %s (new: %t)", r.err, r.msg.UUID, !first[r.msg.UUID])
					}
				}
				texted()
				_ = p.store.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
					m, err := tx.Memberships().GetByID(ctx, kernel.EnterpriseID(eid), kernel.MembershipID(ids[0]))
					if err != nil || m.Status != "active" {
						t.Fatalf("member %+v %v", m, err)
					}
					return nil
				})
			})
		}
	}
}
