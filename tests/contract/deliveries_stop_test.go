package contract

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/testdb"
)

// A handler still running when the SQL delivery queue stops gets StopGrace to finish, then its
// context is cancelled; Close returns only once the handler has answered, and the message it did
// not ack is released: the next process gets it at once (not after its lease), with the same id.
func TestDeliveryQueueStopCancelsARunningHandlerAndReleasesItsMessage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ ports.UnitOfWork) {
		store := testdb.Store(t, db)
		opts := sqlstore.DeliveryOptions{PollInterval: 10 * time.Millisecond, Lease: time.Hour, StopGrace: 50 * time.Millisecond}
		q1 := store.NewDeliveryQueue(opts)
		msgs, err := q1.Subscribe(context.Background(), "stop-test")
		if err != nil {
			t.Fatal(err)
		}
		want := message.NewMessage("01stoptestmessage000000000", []byte(`{"n":1}`))
		if err := q1.Publish("stop-test", want); err != nil {
			t.Fatal(err)
		}
		var got *message.Message
		select {
		case got = <-msgs:
		case <-time.After(30 * time.Second):
			t.Fatal("the message was not delivered")
		}
		if got.UUID != want.UUID {
			t.Fatalf("delivered %s", got.UUID)
		}
		// The handler waits for its context, as a retry backoff does, then nacks.
		answered := make(chan struct{})
		go func() {
			<-got.Context().Done()
			got.Nack()
			close(answered)
		}()
		if err := q1.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-answered:
		default:
			t.Fatal("Close returned before the running handler answered")
		}
		if _, ok := <-msgs; ok {
			t.Fatal("the subscription channel is open after Close")
		}

		// The lease is an hour: only the release makes the message visible again now.
		q2 := store.NewDeliveryQueue(opts)
		t.Cleanup(func() { _ = q2.Close() })
		msgs2, err := q2.Subscribe(context.Background(), "stop-test")
		if err != nil {
			t.Fatal(err)
		}
		var again *message.Message
		select {
		case again = <-msgs2:
		case <-time.After(30 * time.Second):
			t.Fatal("the released message was not delivered again")
		}
		if again.UUID != want.UUID || string(again.Payload) != `{"n":1}` {
			t.Fatalf("redelivered %s %s", again.UUID, again.Payload)
		}
		again.Ack()
		waitFor(t, "the acked row deleted", func() bool {
			n, err := store.DeliveriesPending(context.Background(), "stop-test")
			return err == nil && n == 0
		})
	})
}
