package contract

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/tests/testdb"
)

// An idle subscriber of the SQL delivery queue polls with a read: on SQLite an UPDATE takes the
// database's single write lock even when it changes nothing, and the idle claims of every
// consumer made request writers wait. Once a message is due, the claim (an UPDATE) runs and
// delivers it.
func TestDeliveryQueueIdlePollsOnlyRead(t *testing.T) {
	for _, be := range testdb.CountingBackends() {
		t.Run(be.Name, func(t *testing.T) {
			db, stmts := be.Open(t)
			store := testdb.Store(t, db)
			q := store.NewDeliveryQueue(sqlstore.DeliveryOptions{PollInterval: 5 * time.Millisecond})
			t.Cleanup(func() { _ = q.Close() })
			stmts.Reset(true)
			msgs, err := q.Subscribe(context.Background(), "idle-test")
			if err != nil {
				t.Fatal(err)
			}
			polls := func() (reads, writes int) {
				for _, s := range stmts.Full() {
					switch {
					case !strings.Contains(s, "event_deliveries"):
					case strings.HasPrefix(strings.TrimSpace(s), "SELECT"):
						reads++
					default:
						writes++
					}
				}
				return reads, writes
			}
			deadline := time.Now().Add(30 * time.Second)
			for r, _ := polls(); r < 5; r, _ = polls() { // five idle polls, observed in the statement log
				if time.Now().After(deadline) {
					t.Fatalf("%d polls in 30 s", r)
				}
				time.Sleep(time.Millisecond)
			}
			if _, w := polls(); w != 0 {
				t.Fatalf("%d writes to event_deliveries while the queue was empty", w)
			}
			want := message.NewMessage("01idletestmessage000000000", []byte(`{"n":1}`))
			if err := q.Publish("idle-test", want); err != nil {
				t.Fatal(err)
			}
			select {
			case got := <-msgs:
				if got.UUID != want.UUID {
					t.Fatalf("delivered %s", got.UUID)
				}
				got.Ack()
			case <-time.After(30 * time.Second):
				t.Fatal("the message was not delivered")
			}
		})
	}
}
