package wmsql_test

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/schema"

	"github.com/shuxinqian/server/adapters/sqlstore/wmsql"
)

const (
	testPoll = 10 * time.Millisecond
	// quiet is how long we watch for unwanted (re)deliveries: many poll intervals.
	quiet = 300 * time.Millisecond
)

func fastOptions() wmsql.SubscriberOptions {
	return wmsql.SubscriberOptions{
		PollInterval:   testPoll,
		ResendInterval: testPoll,
		RetryInterval:  50 * time.Millisecond,
	}
}

// forEachDialect runs fn as a parallel subtest per dialect, on a fresh
// database (SQLite file) or a fresh topic prefix (Postgres), and drops the
// test's tables afterwards.
func forEachDialect(t *testing.T, fn func(t *testing.T, d wmsql.Dialect, db *stdsql.DB, prefix string)) {
	for _, dc := range dialects {
		t.Run(dc.name, func(t *testing.T) {
			t.Parallel()
			db := dc.open(t)
			prefix := topicPrefix(t)
			t.Cleanup(func() { dropTopicTables(t, db, dc.dialect, prefix) })
			fn(t, dc.dialect, db, prefix)
		})
	}
}

func mustInit(t *testing.T, db *stdsql.DB, d wmsql.Dialect, topic string) {
	t.Helper()
	if err := wmsql.InitSchema(context.Background(), db, d, topic); err != nil {
		t.Fatal(err)
	}
}

func countRows(t *testing.T, db *stdsql.DB, topic, where string) int {
	t.Helper()
	table, err := wmsql.TableName(topic)
	if err != nil {
		t.Fatal(err)
	}
	q := `SELECT count(*) FROM ` + table
	if where != "" {
		q += ` WHERE ` + where
	}
	var n int
	if err := db.QueryRowContext(context.Background(), q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func unacked(d wmsql.Dialect) string {
	if d == wmsql.DialectPostgres {
		return "acked = FALSE"
	}
	return "acked = 0"
}

func subscribe(t *testing.T, db *stdsql.DB, d wmsql.Dialect, opts wmsql.SubscriberOptions, topic string) (message.Subscriber, <-chan *message.Message) {
	t.Helper()
	sub, err := wmsql.NewSubscriber(db, d, opts, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	ch, err := sub.Subscribe(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	return sub, ch
}

func receive(t *testing.T, ch <-chan *message.Message, timeout time.Duration) *message.Message {
	t.Helper()
	select {
	case msg, ok := <-ch:
		if !ok {
			t.Fatal("messages channel closed")
		}
		return msg
	case <-time.After(timeout):
		t.Fatal("no message received within", timeout)
		return nil
	}
}

func expectNothing(t *testing.T, ch <-chan *message.Message, d time.Duration) {
	t.Helper()
	select {
	case msg, ok := <-ch:
		if ok {
			t.Fatalf("unexpected delivery of %s (payload %q)", msg.UUID, msg.Payload)
		}
	case <-time.After(d):
	}
}

func bunDB(db *stdsql.DB, d wmsql.Dialect) *bun.DB {
	var dialect schema.Dialect
	if d == wmsql.DialectPostgres {
		dialect = pgdialect.New()
	} else {
		dialect = sqlitedialect.New()
	}
	return bun.NewDB(db, dialect)
}

// publishInTx publishes msg with a tx-bound publisher inside a bun
// transaction, the way the application's outbox does, then commits or rolls back.
func publishInTx(t *testing.T, bdb *bun.DB, d wmsql.Dialect, topic string, commit bool, msgs ...*message.Message) {
	t.Helper()
	ctx := context.Background()
	tx, err := bdb.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := wmsql.NewTxPublisher(wsql.TxFromStdSQL(tx.Tx), d, testLogger())
	if err != nil {
		_ = tx.Rollback()
		t.Fatal(err)
	}
	if err := pub.Publish(topic, msgs...); err != nil {
		_ = tx.Rollback()
		t.Fatal(err)
	}
	if commit {
		err = tx.Commit()
	} else {
		err = tx.Rollback()
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestTxPublisherRollbackAndCommit(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d wmsql.Dialect, db *stdsql.DB, prefix string) {
		topic := prefix + "outbox"
		mustInit(t, db, d, topic)
		bdb := bunDB(db, d)

		rolledBack := message.NewMessage(watermill.NewUUID(), []byte("rolled back"))
		publishInTx(t, bdb, d, topic, false, rolledBack)
		if n := countRows(t, db, topic, ""); n != 0 {
			t.Fatalf("rolled back publish left %d rows", n)
		}

		_, ch := subscribe(t, db, d, fastOptions(), topic)

		// A transaction that is still open is invisible to the subscriber and
		// does not block it.
		ctx := context.Background()
		tx, err := bdb.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := wmsql.NewTxPublisher(wsql.TxFromStdSQL(tx.Tx), d, testLogger())
		if err != nil {
			t.Fatal(err)
		}
		committed := message.NewMessage(watermill.NewUUID(), []byte("committed"))
		committed.Metadata.Set("k", "v")
		if err := pub.Publish(topic, committed); err != nil {
			t.Fatal(err)
		}
		expectNothing(t, ch, quiet)
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}

		got := receive(t, ch, 5*time.Second)
		if got.UUID != committed.UUID || string(got.Payload) != "committed" || got.Metadata.Get("k") != "v" {
			t.Fatalf("got %s %q %v, want %s", got.UUID, got.Payload, got.Metadata, committed.UUID)
		}
		got.Ack()
		expectNothing(t, ch, quiet) // exactly once: no redelivery after ack

		if n := countRows(t, db, topic, unacked(d)); n != 0 {
			t.Fatalf("%d unacked rows left", n)
		}
		if n := countRows(t, db, topic, ""); n != 1 {
			t.Fatalf("want exactly the committed row, have %d rows", n)
		}
	})
}

// watermill-sql's Subscriber hands the offsets adapter the whole fetched
// batch even when it stopped delivering part-way (subscriber.go, query():
// `Rows: messageRows` after breaking out of the loop). The adapters must ack
// only what was delivered and acked, otherwise closing a subscriber loses the
// rest of its batch.
func TestCloseMidBatchLosesNothing(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d wmsql.Dialect, db *stdsql.DB, prefix string) {
		topic := prefix + "outbox"
		mustInit(t, db, d, topic)
		pub, err := wmsql.NewPublisher(wsql.BeginnerFromStdSQL(db), d, testLogger())
		if err != nil {
			t.Fatal(err)
		}
		var msgs message.Messages
		for i := 0; i < 3; i++ {
			msgs = append(msgs, message.NewMessage(watermill.NewUUID(), []byte(fmt.Sprint(i))))
		}
		if err := pub.Publish(topic, msgs...); err != nil {
			t.Fatal(err)
		}

		opts := fastOptions()
		opts.BatchSize = 10
		sub, ch := subscribe(t, db, d, opts, topic)
		m0 := receive(t, ch, 5*time.Second)
		m0.Ack()
		m1 := receive(t, ch, 5*time.Second)
		if m0.UUID != msgs[0].UUID || m1.UUID != msgs[1].UUID {
			t.Fatalf("order: got %s, %s", m0.UUID, m1.UUID)
		}
		// m1 is never acked.
		if err := sub.Close(); err != nil {
			t.Fatal(err)
		}

		_, ch2 := subscribe(t, db, d, opts, topic)
		for _, want := range msgs[1:] {
			got := receive(t, ch2, 5*time.Second)
			if got.UUID != want.UUID {
				t.Fatalf("got %s, want %s", got.UUID, want.UUID)
			}
			got.Ack()
		}
		expectNothing(t, ch2, quiet)
	})
}

func TestRoundTripAndDeleteOnAck(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d wmsql.Dialect, db *stdsql.DB, prefix string) {
		topic := prefix + "rt"
		mustInit(t, db, d, topic)
		pub, err := wmsql.NewPublisher(wsql.BeginnerFromStdSQL(db), d, testLogger())
		if err != nil {
			t.Fatal(err)
		}

		binary := []byte{0, 1, 2, 0xff, 0xfe, '\'', '\\', '$', '1', '?'}
		tricky := `it's a "quote" \ backslash $1 ? ?1 :name 'x'' ü 日本 😀`
		m1 := message.NewMessage(watermill.NewUUID(), binary)
		m1.Metadata.Set("tricky", tricky)
		m1.Metadata.Set("json", `{"a":[1,2]}`)
		m2 := message.NewMessage(watermill.NewUUID(), nil)                       // NULL payload
		m3 := &message.Message{UUID: watermill.NewULID(), Payload: []byte("{}")} // nil Metadata map
		m4 := message.NewMessage(watermill.NewUUID(), []byte{})                  // empty payload
		if err := pub.Publish(topic, m1, m2, m3, m4); err != nil {
			t.Fatal(err)
		}
		if err := pub.Publish(topic); err != nil { // publishing nothing is a no-op
			t.Fatal(err)
		}

		opts := fastOptions()
		opts.DeleteOnAck = true
		_, ch := subscribe(t, db, d, opts, topic)

		g1 := receive(t, ch, 5*time.Second)
		if g1.UUID != m1.UUID || string(g1.Payload) != string(binary) ||
			g1.Metadata.Get("tricky") != tricky || g1.Metadata.Get("json") != `{"a":[1,2]}` {
			t.Fatalf("m1 mangled: %q %v", g1.Payload, g1.Metadata)
		}
		g1.Ack()
		g2 := receive(t, ch, 5*time.Second)
		if g2.UUID != m2.UUID || len(g2.Payload) != 0 {
			t.Fatalf("m2: %s %q", g2.UUID, g2.Payload)
		}
		g2.Ack()
		g3 := receive(t, ch, 5*time.Second)
		if g3.UUID != m3.UUID || string(g3.Payload) != "{}" || g3.Metadata == nil {
			t.Fatalf("m3: %s %q metadata=%#v", g3.UUID, g3.Payload, g3.Metadata)
		}
		g3.Metadata.Set("writable", "yes") // must not panic on a nil map
		g3.Ack()
		g4 := receive(t, ch, 5*time.Second)
		if g4.UUID != m4.UUID || len(g4.Payload) != 0 {
			t.Fatalf("m4: %s %q", g4.UUID, g4.Payload)
		}
		g4.Ack()
		expectNothing(t, ch, quiet)

		if n := countRows(t, db, topic, ""); n != 0 {
			t.Fatalf("DeleteOnAck left %d rows", n)
		}
	})
}

// Several Postgres subscribers on one topic split the work (FOR UPDATE SKIP
// LOCKED, READ COMMITTED) and never deliver a message twice.
func TestPostgresConcurrentSubscribersNoDuplicates(t *testing.T) {
	t.Parallel()
	db := openPostgres(t)
	d := wmsql.DialectPostgres
	prefix := topicPrefix(t)
	t.Cleanup(func() { dropTopicTables(t, db, d, prefix) })
	topic := prefix + "outbox"
	mustInit(t, db, d, topic)

	const total = 300
	pub, err := wmsql.NewPublisher(wsql.BeginnerFromStdSQL(db), d, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	var batch message.Messages
	for i := 0; i < total; i++ {
		m := message.NewMessage(watermill.NewUUID(), []byte("x"))
		want[m.UUID] = true
		batch = append(batch, m)
	}
	if err := pub.Publish(topic, batch...); err != nil {
		t.Fatal(err)
	}

	opts := fastOptions()
	opts.BatchSize = 7
	var mu sync.Mutex
	seen := map[string]int{}
	perSub := make([]int, 3)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := range perSub {
		_, ch := subscribe(t, db, d, opts, topic)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case msg := <-ch:
					time.Sleep(200 * time.Microsecond) // let the others grab batches
					mu.Lock()
					seen[msg.UUID]++
					perSub[i]++
					mu.Unlock()
					msg.Ack()
				case <-done:
					return
				}
			}
		}()
	}

	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n == total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("received %d of %d", n, total)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(quiet)
	close(done)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	for id, c := range seen {
		if !want[id] {
			t.Errorf("unexpected message %s", id)
		}
		if c != 1 {
			t.Errorf("message %s delivered %d times", id, c)
		}
	}
	t.Logf("deliveries per subscriber: %v", perSub)
	if n := countRows(t, db, topic, unacked(d)); n != 0 {
		t.Fatalf("%d unacked rows left", n)
	}
}

// With the default SQLite mode no lock is held while the handler runs, so a
// handler may write to the same database (e.g. publish to a poison topic
// through a non-transactional publisher) without waiting for busy_timeout.
func TestSQLiteHandlerCanWriteSameDatabase(t *testing.T) {
	t.Parallel()
	db := openSQLite(t)
	d := wmsql.DialectSQLite
	mustInit(t, db, d, "outbox")
	mustInit(t, db, d, "poison")
	pub, err := wmsql.NewPublisher(wsql.BeginnerFromStdSQL(db), d, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish("outbox", message.NewMessage(watermill.NewUUID(), []byte("x"))); err != nil {
		t.Fatal(err)
	}
	_, ch := subscribe(t, db, d, fastOptions(), "outbox")
	msg := receive(t, ch, 5*time.Second)

	start := time.Now()
	if err := pub.Publish("poison", message.NewMessage(watermill.NewUUID(), msg.Payload)); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("write from the handler waited %s", el)
	}
	msg.Ack()
	expectNothing(t, ch, quiet)
	if n := countRows(t, db, "poison", ""); n != 1 {
		t.Fatalf("poison rows: %d", n)
	}
	if n := countRows(t, db, "outbox", unacked(d)); n != 0 {
		t.Fatalf("outbox unacked rows: %d", n)
	}
}

// Documents the trade-off of SQLiteTxPerBatch with _txlock=immediate: the
// batch transaction holds the write lock while the handler runs, so the same
// write as above fails with SQLITE_BUSY once busy_timeout expires (200 ms here
// instead of the project's 10 s). TxFromContext, on the other hand, is a real
// transaction: writes through it commit atomically with the ack.
func TestSQLiteTxPerBatchHoldsWriteLock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "wm.db")
	dsn := strings.Replace(sqliteDSN(path), "busy_timeout(10000)", "busy_timeout(200)", 1)
	db, err := stdsql.Open("sqliteshim", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	d := wmsql.DialectSQLite
	mustInit(t, db, d, "outbox")
	mustInit(t, db, d, "poison")
	pub, err := wmsql.NewPublisher(wsql.BeginnerFromStdSQL(db), d, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := pub.Publish("outbox", message.NewMessage(watermill.NewUUID(), []byte("x"))); err != nil {
			t.Fatal(err)
		}
	}
	opts := fastOptions()
	opts.SQLiteTxPerBatch = true
	opts.BatchSize = 1
	_, ch := subscribe(t, db, d, opts, "outbox")

	msg := receive(t, ch, 5*time.Second)
	err = pub.Publish("poison", message.NewMessage(watermill.NewUUID(), msg.Payload))
	if err == nil || !strings.Contains(err.Error(), "SQLITE_BUSY") {
		t.Fatalf("expected SQLITE_BUSY while the batch tx holds the lock, got %v", err)
	}
	msg.Ack()

	msg = receive(t, ch, 5*time.Second)
	tx, ok := wsql.TxFromContext(msg.Context())
	if !ok {
		t.Fatal("no tx in message context")
	}
	txPub, err := wmsql.NewTxPublisher(tx, d, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := txPub.Publish("poison", message.NewMessage(watermill.NewUUID(), msg.Payload)); err != nil {
		t.Fatal(err)
	}
	msg.Ack()
	expectNothing(t, ch, quiet)
	if n := countRows(t, db, "poison", ""); n != 1 {
		t.Fatalf("poison rows: %d", n)
	}
}

func TestValidationAndDDL(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"outbox", "poison", "a", "t_1", strings.Repeat("x", wmsql.MaxTopicLength)} {
		if err := wmsql.ValidateTopic(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Outbox", "out-box", "out.box", "a b", `x";drop`, "é", strings.Repeat("x", wmsql.MaxTopicLength+1)} {
		if err := wmsql.ValidateTopic(bad); !errors.Is(err, wmsql.ErrInvalidTopic) {
			t.Errorf("%q: want ErrInvalidTopic, got %v", bad, err)
		}
		if _, err := wmsql.SQLiteDDL(bad); err == nil {
			t.Errorf("SQLiteDDL(%q) accepted", bad)
		}
		if _, err := wmsql.PostgresDDL(bad); err == nil {
			t.Errorf("PostgresDDL(%q) accepted", bad)
		}
	}

	sqliteWant := `CREATE TABLE IF NOT EXISTS watermill_outbox (
  "offset" INTEGER PRIMARY KEY AUTOINCREMENT,
  uuid TEXT NOT NULL,
  payload BLOB,
  metadata TEXT,
  acked INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);`
	pgWant := `CREATE TABLE IF NOT EXISTS watermill_outbox (
  "offset" BIGSERIAL PRIMARY KEY,
  uuid VARCHAR(36) NOT NULL,
  payload BYTEA,
  metadata JSONB,
  acked BOOLEAN NOT NULL DEFAULT FALSE,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);`
	if got, err := wmsql.SQLiteDDL("outbox"); err != nil || got != sqliteWant {
		t.Errorf("SQLiteDDL:\n%s\n%v", got, err)
	}
	if got, err := wmsql.PostgresDDL("outbox"); err != nil || got != pgWant {
		t.Errorf("PostgresDDL:\n%s\n%v", got, err)
	}

	if _, err := wmsql.NewTxPublisher(wsql.BeginnerFromStdSQL(&stdsql.DB{}), wmsql.DialectSQLite, nil); err == nil {
		t.Error("NewTxPublisher accepted a non-transaction")
	}
	if _, err := wmsql.NewPublisher(wsql.BeginnerFromStdSQL(&stdsql.DB{}), wmsql.Dialect(0), nil); err == nil {
		t.Error("NewPublisher accepted an unknown dialect")
	}

	forEachDialect(t, func(t *testing.T, d wmsql.Dialect, db *stdsql.DB, prefix string) {
		topic := prefix + "ddl"
		mustInit(t, db, d, topic)
		mustInit(t, db, d, topic) // idempotent
		if n := countRows(t, db, topic, ""); n != 0 {
			t.Fatal(n)
		}
		// created_at default is filled in
		pub, err := wmsql.NewPublisher(wsql.BeginnerFromStdSQL(db), d, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := pub.Publish(topic, message.NewMessage(watermill.NewUUID(), nil)); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, db, topic, "created_at IS NOT NULL"); n != 1 {
			t.Fatalf("created_at not defaulted (%d)", n)
		}
		if err := pub.Publish("bad-topic", message.NewMessage(watermill.NewUUID(), nil)); !errors.Is(err, wmsql.ErrInvalidTopic) {
			t.Fatalf("publish to invalid topic: %v", err)
		}

		sub, err := wmsql.NewSubscriber(db, d, fastOptions(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = sub.Close() }()
		if _, err := sub.Subscribe(context.Background(), "bad-topic"); !errors.Is(err, wmsql.ErrInvalidTopic) {
			t.Fatalf("subscribe to invalid topic: %v", err)
		}
		if err := sub.(message.SubscribeInitializer).SubscribeInitialize(prefix + "init"); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, db, prefix+"init", ""); n != 0 {
			t.Fatal(n)
		}
	})
}

// Close must return only after the subscription channels are closed
// (watermill-sql alone closes them slightly after its Close returns).
func TestCloseClosesChannels(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d wmsql.Dialect, db *stdsql.DB, prefix string) {
		topic := prefix + "close"
		mustInit(t, db, d, topic)
		for i := 0; i < 20; i++ {
			sub, err := wmsql.NewSubscriber(db, d, fastOptions(), testLogger())
			if err != nil {
				t.Fatal(err)
			}
			ch1, err := sub.Subscribe(context.Background(), topic)
			if err != nil {
				t.Fatal(err)
			}
			ch2, err := sub.Subscribe(context.Background(), topic)
			if err != nil {
				t.Fatal(err)
			}
			if err := sub.Close(); err != nil {
				t.Fatal(err)
			}
			for _, ch := range []<-chan *message.Message{ch1, ch2} {
				select {
				case _, open := <-ch:
					if open {
						t.Fatal("message after Close")
					}
				default:
					t.Fatalf("iteration %d: channel still open after Close returned", i)
				}
			}
			if _, err := sub.Subscribe(context.Background(), topic); err == nil {
				t.Fatal("Subscribe after Close succeeded")
			}
		}
	})
}
