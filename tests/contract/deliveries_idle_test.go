package contract

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/tests/testdb"
)

// pollingQueue is a delivery queue polling every 5 ms on a database opened by open, whose
// statements are counted from the queue's start on.
func pollingQueue(t *testing.T, open func(testing.TB) (*sqlstore.DB, *testdb.Statements)) (*sqlstore.Store, *sqlstore.DeliveryQueue, *testdb.Statements) {
	db, stmts := open(t)
	store := testdb.Store(t, db)
	q := store.NewDeliveryQueue(sqlstore.DeliveryOptions{PollInterval: 5 * time.Millisecond})
	t.Cleanup(func() { _ = q.Close() })
	stmts.Reset(true)
	return store, q, stmts
}

// An idle subscriber of the SQL delivery queue polls with a read: on SQLite an UPDATE takes the
// database's single write lock even when it changes nothing, and the idle claims of every
// consumer made request writers wait. Once a message is due, the claim (an UPDATE) runs and
// delivers it.
func TestDeliveryQueueIdlePollsOnlyRead(t *testing.T) {
	for _, be := range testdb.CountingBackends() {
		t.Run(be.Name, func(t *testing.T) {
			_, q, stmts := pollingQueue(t, be.Open)
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

// The idle subscribers of many consumers are probed together: one read per PollInterval finds
// which of them have a due message, instead of a read per consumer (~40 consumers made an idle
// server run ~200 reads a second). A message published by another process (a queue of its own
// on the same database, whose Publish cannot wake this one's subscribers) is found by that probe
// and delivered to its consumer only.
func TestDeliveryQueueProbesIdleConsumersTogether(t *testing.T) {
	for _, be := range testdb.CountingBackends() {
		t.Run(be.Name, func(t *testing.T) {
			store, q, stmts := pollingQueue(t, be.Open)
			other := store.NewDeliveryQueue(sqlstore.DeliveryOptions{})
			t.Cleanup(func() { _ = other.Close() })
			const consumers = 20
			subs := make([]<-chan *message.Message, consumers)
			for i := range subs {
				var err error
				if subs[i], err = q.Subscribe(context.Background(), fmt.Sprintf("probe-%02d", i)); err != nil {
					t.Fatal(err)
				}
			}
			// reads sorts the reads of event_deliveries: one consumer's (a subscriber's own
			// check before a claim) and the probes of several.
			reads := func() (single, probes int) {
				for _, s := range stmts.Full() {
					s = strings.TrimSpace(s)
					switch {
					case !strings.HasPrefix(s, "SELECT") || !strings.Contains(s, "event_deliveries"):
					case strings.Contains(s, "json_each") || strings.Contains(s, "unnest"):
						probes++
					default:
						single++
					}
				}
				return single, probes
			}
			// Each subscriber reads its own consumer once, when it starts (the first claim); every
			// read after that is a probe of all of them. Once the 20 first reads are seen, ten
			// more probes add no read of one consumer.
			deadline := time.Now().Add(30 * time.Second)
			wait := func(what string, done func(single, probes int) bool) (int, int) {
				for {
					s, p := reads()
					if done(s, p) {
						return s, p
					}
					if time.Now().After(deadline) {
						t.Fatalf("%s: %d reads of one consumer, %d probes in 30 s", what, s, p)
					}
					time.Sleep(time.Millisecond) // polling the statement log, with a deadline
				}
			}
			_, first := wait("the subscribers' first reads", func(s, _ int) bool { return s >= consumers })
			if s, p := wait("ten probes", func(_, p int) bool { return p >= first+10 }); s != consumers {
				t.Fatalf("%d reads of one consumer and %d probes: want %d of one consumer (one per subscriber)", s, p, consumers)
			}
			want := message.NewMessage("01probetestmessage00000000", []byte(`{"n":1}`))
			if err := other.Publish("probe-07", want); err != nil {
				t.Fatal(err)
			}
			select {
			case got := <-subs[7]:
				if got.UUID != want.UUID {
					t.Fatalf("delivered %s", got.UUID)
				}
				got.Ack()
			case <-time.After(30 * time.Second):
				t.Fatal("the message published by the other queue was not delivered")
			}
			for i, sub := range subs {
				select {
				case m := <-sub:
					t.Fatalf("consumer %d got %s", i, m.UUID)
				default:
				}
			}
		})
	}
}
