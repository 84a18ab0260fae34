package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/components/forwarder"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/uptrace/bun"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/shuxinqian/server/adapters/sqlstore/wmsql"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// Outbox topics (tables watermill_outbox and watermill_poison, created by the migrations).
const (
	OutboxTopic = "outbox"
	PoisonTopic = "poison"
)

// EventTopic is the delivery topic of an event: "events.<event name>".
func EventTopic(name string) string { return "events." + name }

// Store implements ports.UnitOfWork.
type Store struct {
	db      *DB
	cipher  ports.Cipher
	secrets ports.Secrets
	logger  watermill.LoggerAdapter
	// channelCache keeps platform settings and channels for ChannelCacheTTL (channels_cache.go).
	channelCache *channelCache
}

// NewStore builds the unit of work over db. Personal data is sealed with cipher and looked up by
// digests from secrets.
func NewStore(db *DB, cipher ports.Cipher, secrets ports.Secrets, logger watermill.LoggerAdapter) *Store {
	if logger == nil {
		logger = watermill.NopLogger{}
	}
	return &Store{db: db, cipher: cipher, secrets: secrets, logger: logger, channelCache: newChannelCache(ChannelCacheTTL)}
}

var _ ports.UnitOfWork = (*Store)(nil)

// Do runs fn in a transaction and writes the events of the saved aggregates to the outbox in the
// same transaction. The commit's error is returned.
func (s *Store) Do(ctx context.Context, fn func(ctx context.Context, tx ports.Tx) error) error {
	var committed []func()
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, btx bun.Tx) error {
		t := &txn{store: s, idb: btx, writable: true}
		if err := fn(ctx, t); err != nil {
			return err
		}
		committed = t.onCommit
		return t.flush(ctx, btx)
	})
	for _, f := range committed { // also after a failed commit: they only empty caches
		f()
	}
	return err
}

// errEventsOutsideTx: events can only reach the outbox in a transaction.
var errEventsOutsideTx = errors.New("sqlstore: domain events recorded in an autocommit unit of work")

// Autocommit runs fn on the database without a transaction of its own: each statement commits by
// itself. For single-statement writes that record no events: events recorded by fn are an error
// (a programming error: its statements have run, the events are not written).
func (s *Store) Autocommit(ctx context.Context, fn func(ctx context.Context, tx ports.Tx) error) error {
	t := &txn{store: s, idb: s.db.DB, writable: true}
	if err := s.db.gated(ctx, func() error { return fn(ctx, t) }); err != nil {
		return err
	}
	if len(t.events) > 0 {
		return kernel.Internal(errEventsOutsideTx)
	}
	return nil
}

// Read runs fn on the database without a transaction.
func (s *Store) Read(ctx context.Context, fn func(ctx context.Context, tx ports.Tx) error) error {
	return fn(ctx, &txn{store: s, idb: s.db.DB})
}

// txn is one unit of work: repositories bound to a transaction and the events they collected.
type txn struct {
	store    *Store
	idb      bun.IDB
	writable bool
	events   []kernel.Event
	// onCommit runs after the transaction ends (cache invalidation: a read that raced the
	// write before its commit cannot keep the old value cached).
	onCommit []func()
}

var errReadOnly = errors.New("sqlstore: write through a read-only unit of work")

func (t *txn) mustWrite() error {
	if !t.writable {
		return kernel.Internal(errReadOnly)
	}
	return nil
}

func (t *txn) record(src kernel.EventSource) { t.events = append(t.events, src.PullEvents()...) }

// flush writes the collected events to the outbox inside the transaction, enveloped for the
// forwarder, which moves them to the delivery pub/sub after the commit: one row per event, in
// the transaction's order, or bundles for a batch (bundle.go).
func (t *txn) flush(ctx context.Context, btx bun.Tx) error {
	if len(t.events) == 0 {
		return nil
	}
	events := t.events
	t.events = nil
	var msgs []*message.Message
	var topics []string
	if len(events) >= bundleFrom { // a batch: its events in bundles of up to bundleMax
		trace := map[string]string{}
		otel.GetTextMapPropagator().Inject(ctx, propagation.MapCarrier(trace)) // the handlers' spans continue this trace
		for start := 0; start < len(events); start += bundleMax {
			b, err := bundle(events[start:min(start+bundleMax, len(events))], trace)
			if err != nil {
				return err
			}
			msgs, topics = append(msgs, b), append(topics, EventTopic(BundleEvent))
		}
	} else {
		for _, ev := range events {
			msg, err := EventMessage(ev)
			if err != nil {
				return err
			}
			otel.GetTextMapPropagator().Inject(ctx, propagation.MapCarrier(msg.Metadata)) // the handler's span continues this trace
			msgs, topics = append(msgs, msg), append(topics, EventTopic(ev.EventName()))
		}
	}
	return t.store.db.writeOutbox(ctx, btx.Tx, topics, msgs)
}

// outboxChunk is how many of n messages (fewer than bundleFrom: more are bundled) the next outbox
// INSERT writes: on Postgres all in one statement; on SQLite a power of two (sqliteChunk).
func (d *DB) outboxChunk(n int) int {
	if d.IsPostgres() {
		return min(n, 2000)
	}
	return sqliteChunk(n)
}

// EventMessage encodes a domain event as a watermill message the way cqrs.JSONMarshaler reads
// it: JSON payload, metadata "name" = the event name.
func EventMessage(ev kernel.Event) (*message.Message, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: encode %s: %w", ev.EventName(), err)
	}
	msg := message.NewMessage(watermill.NewULID(), b)
	msg.Metadata.Set("name", ev.EventName())
	return msg, nil
}

func (t *txn) Users() ports.UserRepository       { return users{t} }
func (t *txn) Codes() ports.CodeRepository       { return codes{t} }
func (t *txn) Sessions() ports.SessionRepository { return sessions{t} }
func (t *txn) Audit() ports.AuditLog             { return audit{t} }
func (t *txn) Inbox() ports.Inbox                { return inbox{t} }
func (t *txn) Channels() ports.ChannelRepository { return t.cachedChannels() }
func (t *txn) Files() ports.FileRepository       { return files{t} }
func (t *txn) Signatures() ports.SignatureRepository {
	return signatures{t}
}
func (t *txn) Consents() ports.ConsentLog { return consents{t} }
func (t *txn) Verifications() ports.VerificationRepository {
	return verifications{t}
}
func (t *txn) Enterprises() ports.EnterpriseRepository { return enterprises{t} }
func (t *txn) Memberships() ports.MembershipRepository { return memberships{t} }
func (t *txn) Orders() ports.OrderRepository           { return orders{t} }
func (t *txn) Quota() ports.QuotaLedger                { return quota{t} }
func (t *txn) Anomalies() ports.PaymentAnomalies       { return anomalies{t} }
func (t *txn) Idempotency() ports.IdempotencyKeys      { return idempotency{t} }
func (t *txn) Invoices() ports.InvoiceRepository       { return invoices{t} }
func (t *txn) Seals() ports.SealRepository             { return seals{t} }
func (t *txn) Effects() ports.EffectLog                { return effects{t} }
func (t *txn) Attempts() ports.AttemptCounter          { return attempts{t} }
func (t *txn) Operators() ports.OperatorRepository     { return operators{t} }
func (t *txn) OperatorAudit() ports.OperatorAuditLog   { return operatorAudit{t} }
func (t *txn) Banners() ports.BannerRepository         { return banners{t} }
func (t *txn) DeadLetters() ports.DeadLetterQueue      { return deadLetters{t} }
func (t *txn) ChannelAdmin() ports.ChannelAdmin        { return t.cachedChannels() }
func (t *txn) Console() ports.ConsoleDirectory         { return console{t} }

// forUpdate adds FOR UPDATE on Postgres. SQLite has no row locks: its write transactions begin
// IMMEDIATE, which serialises writers for the whole database.
func (t *txn) forUpdate(q *bun.SelectQuery) *bun.SelectQuery {
	if t.store.db.IsPostgres() && t.writable {
		return q.For("UPDATE")
	}
	return q
}

// isUnique reports a unique-constraint violation on either database.
func isUnique(err error) bool {
	if err == nil {
		return false
	}
	var pgErr interface{ SQLState() string } // pgx's *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.SQLState() == "23505" {
		return true
	}
	return strings.Contains(err.Error(), "UNIQUE constraint failed")
}

func notFound(err error, code, msg string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return kernel.NotFound(code, msg)
	}
	return err
}

// NewForwarder moves events from the outbox table to pub (the delivery pub/sub).
func (s *Store) NewForwarder(pub message.Publisher, opts wmsql.SubscriberOptions) (*forwarder.Forwarder, error) {
	sub, err := wmsql.NewSubscriber(s.db.DB.DB, s.db.Dialect, opts, s.logger)
	if err != nil {
		return nil, err
	}
	return forwarder.NewForwarder(sub, unbundler{pub}, s.logger, forwarder.Config{ForwarderTopic: OutboxTopic})
}

// NewPoisonPublisher stores messages that exhausted their retries in watermill_poison.
func (s *Store) NewPoisonPublisher() (message.Publisher, error) {
	return wmsql.NewPublisher(wsql.BeginnerFromStdSQL(s.db.DB.DB), s.db.Dialect, s.logger)
}

// PoisonCount counts the parked messages (for metrics and tests).
func (s *Store) PoisonCount(ctx context.Context) (int, error) {
	n, err := s.db.NewSelect().Table("watermill_poison").Count(ctx)
	return int(n), err
}

// OutboxPending counts events not forwarded yet.
func (s *Store) OutboxPending(ctx context.Context) (int, error) {
	q := s.db.NewSelect().Table("watermill_outbox")
	if s.db.IsPostgres() {
		q = q.Where("acked = FALSE")
	} else {
		q = q.Where("acked = 0")
	}
	n, err := q.Count(ctx)
	return int(n), err
}
