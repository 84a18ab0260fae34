package contract

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/shuxinqian/server/adapters/consumer"
	"github.com/shuxinqian/server/adapters/crypto"
	"github.com/shuxinqian/server/adapters/natsq"
	"github.com/shuxinqian/server/adapters/sms"
	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/adapters/sqlstore/wmsql"
	"github.com/shuxinqian/server/adapters/system"
	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/testdb"
)

// handled is one completed handler run, seen by a router middleware.
type handled struct {
	handler string
	msg     *message.Message
	err     error
}

// pipeline is the real event path: outbox table → forwarder (fan-out) → each handler's durable
// queue (the SQL delivery queue, or NATS JetStream) → router → handlers.
type pipeline struct {
	store  *sqlstore.Store
	app    *application.App
	sms    *sms.Sandbox
	pub    message.Publisher // the delivery broker (what the forwarder publishes to)
	prefix string
	runs   chan handled
	stop   func()
}

// broker names the delivery broker of a pipeline: "sql" or "nats".
type broker string

func startPipeline(t *testing.T, db *sqlstore.DB, cfg consumer.Config, handlers func(*application.App) []consumer.Handler) *pipeline {
	t.Helper()
	return startPipelineOn(t, db, "sql", cfg, handlers)
}

func startPipelineB(b *testing.B, db *sqlstore.DB, handlers func(*application.App) []consumer.Handler) *pipeline {
	b.Helper()
	return startPipelineOn(b, db, "sql", consumer.DefaultConfig, handlers)
}

func startPipelineOn(t testing.TB, db *sqlstore.DB, br broker, cfg consumer.Config, handlers func(*application.App) []consumer.Handler) *pipeline {
	t.Helper()
	store := testdb.Store(t, db)
	box := sms.NewSandbox(system.Clock{})
	k := testdb.Keys(t)
	app := application.New(application.Deps{UoW: store, Clock: system.Clock{}, IDs: system.NewIDs(), Random: crypto.Random{},
		Passwords: crypto.Argon2id{}, Secrets: k, SMS: box})
	return startPipelineApp(t, store, app, box, br, cfg, handlers(app))
}

func startPipelineApp(t testing.TB, store *sqlstore.Store, app *application.App, box *sms.Sandbox, br broker, cfg consumer.Config, hs []consumer.Handler) *pipeline {
	t.Helper()
	logger := watermill.NopLogger{}
	var pub message.Publisher
	var sub message.Subscriber
	var closeBroker func()
	switch br {
	case "nats":
		url := testdb.NATSURL(t)
		if cfg.TopicPrefix == "" {
			cfg.TopicPrefix = testdb.UniquePrefix()
		}
		var topics []string
		for _, h := range hs {
			topics = append(topics, consumer.ConsumerTopic(cfg.TopicPrefix, h.HandlerName()))
		}
		b, err := natsq.Open(natsq.Config{URL: url, AckWait: 5 * time.Second}, topics, logger)
		if err != nil {
			t.Fatal(err)
		}
		pub, sub = b.Pub, b.Sub
		closeBroker = func() { _ = b.Close() }
		t.Cleanup(func() { // the test's streams go with it
			if b2, err := natsq.Open(natsq.Config{URL: url}, nil, logger); err == nil {
				b2.DeleteStreams(topics)
				_ = b2.Close()
			}
		})
	default:
		q := store.NewDeliveryQueue(sqlstore.DeliveryOptions{PollInterval: 20 * time.Millisecond, Lease: 5 * time.Second})
		pub, sub, closeBroker = q, q, func() { _ = q.Close() }
	}
	poison, err := store.NewPoisonPublisher()
	if err != nil {
		t.Fatal(err)
	}
	router, err := consumer.NewRouter(cfg, sub, poison, hs, logger)
	if err != nil {
		t.Fatal(err)
	}
	p := &pipeline{store: store, app: app, sms: box, pub: pub, prefix: cfg.TopicPrefix, runs: make(chan handled, 100)}
	router.AddMiddleware(func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			out, err := h(msg)
			select {
			case p.runs <- handled{handler: message.HandlerNameFromCtx(msg.Context()), msg: msg, err: err}:
			default: // benchmarks do not read runs
			}
			return out, err
		}
	})
	fan := consumer.NewFanOut(consumer.RoutesOf(hs), pub, cfg.TopicPrefix, logger)
	fwd, err := store.NewForwarder(fan, wmsql.SubscriberOptions{PollInterval: 20 * time.Millisecond, DeleteOnAck: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = router.Run(ctx) }()
	<-router.Running()
	go func() { defer wg.Done(); _ = fwd.Run(ctx) }()
	<-fwd.Running()
	var once sync.Once
	p.stop = func() {
		once.Do(func() {
			cancel()
			_ = fwd.Close()
			_ = router.Close()
			wg.Wait()
			closeBroker()
		})
	}
	t.Cleanup(p.stop)
	return p
}

// redeliver publishes msg again to handler's queue, as a broker does after a lost ack.
func (p *pipeline) redeliver(t *testing.T, handler string, orig *message.Message) {
	t.Helper()
	dup := message.NewMessage(orig.UUID, orig.Payload)
	for k, v := range orig.Metadata {
		dup.Metadata.Set(k, v)
	}
	if err := p.pub.Publish(consumer.ConsumerTopic(p.prefix, handler), dup); err != nil {
		t.Fatal(err)
	}
}

// await collects completed handler runs until want has been seen for every handler named.
func (p *pipeline) await(t *testing.T, want map[string]int) []handled {
	t.Helper()
	var got []handled
	count := map[string]int{}
	deadline := time.After(20 * time.Second)
	for {
		done := true
		for h, n := range want {
			if count[h] < n {
				done = false
			}
		}
		if done {
			return got
		}
		select {
		case r := <-p.runs:
			got = append(got, r)
			count[r.handler]++
		case <-deadline:
			t.Fatalf("timed out waiting for handler runs %v, saw %v", want, count)
		}
	}
}

func registerUser(t *testing.T, uow ports.UnitOfWork, id string, phone kernel.Phone) {
	t.Helper()
	u, err := user.Register(kernel.UserID(id), phone, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := uow.Do(context.Background(), func(ctx context.Context, tx ports.Tx) error { return tx.Users().Add(ctx, u) }); err != nil {
		t.Fatal(err)
	}
}

func auditCount(t *testing.T, p *pipeline, uid kernel.UserID) int {
	t.Helper()
	var n int
	_ = p.store.Read(context.Background(), func(ctx context.Context, tx ports.Tx) error {
		es, err := tx.Audit().ListByUser(ctx, uid, 100)
		if err != nil {
			t.Fatal(err)
		}
		n = len(es)
		return nil
	})
	return n
}

func TestOutboxDeliversCommittedEventsExactlyOncePerConsumer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ ports.UnitOfWork) {
		p := startPipeline(t, db, consumer.DefaultConfig, consumer.Handlers)
		registerUser(t, p.store, "u1", "13800138000")

		runs := p.await(t, map[string]int{"audit.user_registered": 1, "welcome_sms": 1})
		for _, r := range runs {
			if r.err != nil {
				t.Fatalf("%s failed: %v", r.handler, r.err)
			}
		}
		if n := auditCount(t, p, "u1"); n != 1 {
			t.Fatalf("audit entries %d", n)
		}
		if n := len(p.sms.List("13800138000")); n != 1 {
			t.Fatalf("welcome SMS sent %d times", n)
		}

		// Deliver the very same message again, as a broker would after a lost ack.
		orig := runs[0].msg
		p.redeliver(t, "audit.user_registered", orig)
		p.redeliver(t, "welcome_sms", orig)
		for _, r := range p.await(t, map[string]int{"audit.user_registered": 1, "welcome_sms": 1}) {
			if r.err != nil || r.msg.UUID != orig.UUID {
				t.Fatalf("redelivery: %s %v %s", r.handler, r.err, r.msg.UUID)
			}
		}
		if n := auditCount(t, p, "u1"); n != 1 {
			t.Fatalf("redelivery added audit entries: %d", n)
		}
		if n := len(p.sms.List("13800138000")); n != 1 {
			t.Fatalf("redelivery re-sent the welcome SMS: %d", n)
		}
		// The forwarder acks the outbox row after it handed the event to the delivery queue, and
		// the handlers may have run before that ack commits.
		waitFor(t, "the outbox to be drained", func() bool {
			pending, err := p.store.OutboxPending(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return pending == 0
		})
	})
}

func TestOutboxRolledBackEventIsNeverDelivered(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ ports.UnitOfWork) {
		p := startPipeline(t, db, consumer.DefaultConfig, consumer.Handlers)
		u, _ := user.Register("ghost", "13900139000", time.Now())
		err := p.store.Do(context.Background(), func(ctx context.Context, tx ports.Tx) error {
			if err := tx.Users().Add(ctx, u); err != nil {
				return err
			}
			return errors.New("fail after the write")
		})
		if err == nil {
			t.Fatal("expected the unit of work to fail")
		}
		// A committed event after it is a barrier: the forwarder delivers in order, so once the
		// later one is handled the rolled-back one would have been seen first.
		registerUser(t, p.store, "u2", "13700137000")
		for _, r := range p.await(t, map[string]int{"audit.user_registered": 1}) {
			if r.handler == "audit.user_registered" && auditCount(t, p, "ghost") != 0 {
				t.Fatal("the rolled-back registration was delivered")
			}
		}
		if auditCount(t, p, "ghost") != 0 || auditCount(t, p, "u2") != 1 {
			t.Fatal("wrong deliveries")
		}
	})
}

func TestConsumerParksPoisonMessages(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ ports.UnitOfWork) {
		cfg := consumer.Config{MaxRetries: 2, RetryInitial: time.Millisecond, RetryMax: 5 * time.Millisecond, PoisonTopic: sqlstore.PoisonTopic}
		failing := func(*application.App) []consumer.Handler {
			return []consumer.Handler{cqrs.NewEventHandler("always_fails", func(context.Context, *user.Registered) error {
				return errors.New("downstream is broken")
			})}
		}
		p := startPipeline(t, db, cfg, failing)
		registerUser(t, p.store, "u1", "13800138000")
		p.await(t, map[string]int{"always_fails": 1}) // the poison middleware wraps the retries
		deadline := time.Now().Add(10 * time.Second)
		for {
			n, err := p.store.PoisonCount(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if n == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("poison queue has %d messages, want 1", n)
			}
			time.Sleep(10 * time.Millisecond) // polling a condition, not waiting for a guess
		}
	})
}
