package wmsql

import (
	"context"
	stdsql "database/sql"
	"errors"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
)

// NewPublisher returns a publisher that inserts into watermill_<topic> through
// db (typically wsql.BeginnerFromStdSQL(sqlDB)). It never creates tables
// (AutoInitializeSchema is false): they come from migrations, or InitSchema in
// tests. Use NewTxPublisher to publish inside a transaction (outbox).
func NewPublisher(db wsql.ContextExecutor, dialect Dialect, logger watermill.LoggerAdapter) (message.Publisher, error) {
	return newPublisher(db, dialect, logger)
}

// NewTxPublisher returns a publisher bound to an ongoing transaction, e.g.
//
//	pub, err := wmsql.NewTxPublisher(sql.TxFromStdSQL(bunTx.Tx), dialect, logger)
//
// The messages become visible to subscribers only if the transaction commits.
// tx must look like a transaction (have Commit and Rollback), otherwise an
// error is returned, so a plain DB handle cannot be passed by mistake.
//
// Note that watermill's Publisher runs the INSERT with the context of the
// first message (msg.Context(), Background by default), not a caller context.
func NewTxPublisher(tx wsql.ContextExecutor, dialect Dialect, logger watermill.LoggerAdapter) (message.Publisher, error) {
	if tx == nil {
		return nil, errors.New("wmsql: tx is nil")
	}
	if _, ok := tx.(interface {
		Commit() error
		Rollback() error
	}); !ok {
		return nil, errors.New("wmsql: NewTxPublisher needs a transaction (e.g. sql.TxFromStdSQL(tx)), got a non-transactional executor")
	}
	return newPublisher(tx, dialect, logger)
}

func newPublisher(db wsql.ContextExecutor, dialect Dialect, logger watermill.LoggerAdapter) (message.Publisher, error) {
	if db == nil {
		return nil, errors.New("wmsql: db is nil")
	}
	schema, err := SchemaAdapter(dialect, 0)
	if err != nil {
		return nil, err
	}
	pub, err := wsql.NewPublisher(db, wsql.PublisherConfig{
		SchemaAdapter:        schema,
		AutoInitializeSchema: false,
	}, logger)
	if err != nil {
		return nil, err // not a typed-nil *wsql.Publisher inside the interface
	}
	return pub, nil
}

// SubscriberOptions configures NewSubscriber. Zero values mean watermill-sql's
// defaults unless stated otherwise.
type SubscriberOptions struct {
	// PollInterval is the wait after a poll that found nothing. 0 means 1s.
	PollInterval time.Duration
	// ResendInterval is the wait before redelivering a nacked message. 0 means 1s.
	ResendInterval time.Duration
	// RetryInterval is the wait after a failed poll/ack. 0 means 1s.
	RetryInterval time.Duration
	// AckDeadline is how long one delivered message may stay un-acked before
	// it is considered nacked (and redelivered by a later poll).
	// 0 means 30s; a negative value disables the deadline.
	AckDeadline time.Duration
	// BatchSize is the number of rows fetched per poll. 0 means 100.
	// On Postgres the whole batch stays locked (FOR UPDATE) and is acked in
	// one statement at the end of the batch; a crash mid-batch redelivers the
	// already-handled part of it.
	BatchSize int
	// DeleteOnAck deletes rows when acked instead of setting acked. Without
	// it the table grows and each poll has to skip all acked rows (there is no
	// index on acked in the DDL) unless you prune them.
	DeleteOnAck bool
	// InitializeSchema makes Subscribe run the DDL (CREATE TABLE IF NOT
	// EXISTS). Off by default: tables come from migrations.
	InitializeSchema bool

	// SQLiteTxPerBatch (SQLite only) runs each poll — SELECT, delivery of the
	// batch to the handler, ack UPDATE — in one database transaction, the way
	// watermill-sql does on MySQL/Postgres. sql.TxFromContext(msg.Context())
	// then returns that transaction. The price: with _txlock=immediate the
	// database write lock is held while the handler runs, so any other write
	// to the same database (including a handler publishing through a
	// non-transactional publisher on it) waits for busy_timeout and fails;
	// with a deferred BEGIN the ack fails with SQLITE_BUSY(_SNAPSHOT) whenever
	// something else wrote meanwhile, and the batch is redelivered. It also
	// serialises all subscribers of the database: while one topic's message
	// waits to be consumed, the subscribers of every other topic cannot begin
	// their transaction (watermill's universal TestTopic fails in this mode
	// for that reason).
	//
	// By default (false) the SELECT and the ack are separate autocommit
	// statements and no lock is held while the handler runs. That is safe for
	// the intended single consumer per topic (a crash between handling and ack
	// only causes a redelivery), but two concurrent subscribers of one topic
	// would both receive the same rows, and sql.TxFromContext(msg.Context())
	// returns a non-transactional executor.
	SQLiteTxPerBatch bool
}

// NewSubscriber returns a subscriber for queue tables on db. It rejects topics
// that are not valid identifiers (ValidateTopic) in Subscribe and
// SubscribeInitialize.
//
// Postgres: each poll is a READ COMMITTED transaction that selects a batch
// with FOR UPDATE SKIP LOCKED, hands it to the handler message by message and
// acks the handled rows before committing; several subscribers (processes) may
// consume one topic concurrently, each message goes to one of them.
//
// SQLite: see SubscriberOptions.SQLiteTxPerBatch.
func NewSubscriber(db *stdsql.DB, dialect Dialect, opts SubscriberOptions, logger watermill.LoggerAdapter) (message.Subscriber, error) {
	if db == nil {
		return nil, errors.New("wmsql: db is nil")
	}
	schema, err := SchemaAdapter(dialect, opts.BatchSize)
	if err != nil {
		return nil, err
	}
	offsets, err := OffsetsAdapter(dialect, opts.DeleteOnAck)
	if err != nil {
		return nil, err
	}

	beginner := wsql.BeginnerFromStdSQL(db)
	if dialect == DialectSQLite && !opts.SQLiteTxPerBatch {
		beginner = autocommitBeginner{db: db}
	}

	cfg := wsql.SubscriberConfig{
		PollInterval:     opts.PollInterval,
		ResendInterval:   opts.ResendInterval,
		RetryInterval:    opts.RetryInterval,
		SchemaAdapter:    schema,
		OffsetsAdapter:   offsets,
		InitializeSchema: opts.InitializeSchema,
	}
	switch {
	case opts.AckDeadline < 0:
		zero := time.Duration(0)
		cfg.AckDeadline = &zero
	case opts.AckDeadline > 0:
		d := opts.AckDeadline
		cfg.AckDeadline = &d
	}

	sub, err := wsql.NewSubscriber(beginner, cfg, logger)
	if err != nil {
		return nil, err
	}
	return newSubscriberWrapper(sub), nil
}

// subscriber wraps watermill-sql's Subscriber:
//
//   - It validates topics before handing them over; watermill-sql's own check
//     (topic.go) allows '-', '.', ':', '$' and upper case, and with an invalid
//     topic its consume loop would just log the SelectQuery error every
//     RetryInterval forever.
//   - It makes Close wait until every output channel is closed. watermill-sql
//     closes the channel in the Subscribe goroutine only after consume() has
//     already marked its WaitGroup done (subscriber.go: `defer
//     s.subscribeWg.Done()` in consume, `close(out)` after it returns), so its
//     Close can return while channels are still open.
type subscriber struct {
	*wsql.Subscriber

	mu      sync.Mutex
	closed  bool
	closing chan struct{}
	wg      sync.WaitGroup
}

func newSubscriberWrapper(sub *wsql.Subscriber) *subscriber {
	return &subscriber{Subscriber: sub, closing: make(chan struct{})}
}

func (s *subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if err := ValidateTopic(topic); err != nil {
		return nil, err
	}
	in, err := s.Subscriber.Subscribe(ctx, topic)
	if err != nil {
		return nil, err
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		go func() { // closed concurrently: the inner channel closes soon
			for range in {
			}
		}()
		return nil, wsql.ErrSubscriberClosed
	}
	s.wg.Add(1)
	s.mu.Unlock()

	out := make(chan *message.Message)
	go func() {
		defer s.wg.Done()
		defer close(out)
		for msg := range in {
			select {
			case out <- msg:
			case <-s.closing:
				// Not delivered: watermill-sql treats it as un-acked
				// (it stops waiting on Close or ctx cancellation).
			case <-ctx.Done():
			}
		}
	}()
	return out, nil
}

// SubscribeInitialize runs the DDL for topic (used by watermill's test suite
// and the router's SubscribeInitializer support).
func (s *subscriber) SubscribeInitialize(topic string) error {
	if err := ValidateTopic(topic); err != nil {
		return err
	}
	return s.Subscriber.SubscribeInitialize(topic)
}

// Close stops all subscriptions and returns once their channels are closed.
func (s *subscriber) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.closing)
	}
	s.mu.Unlock()
	err := s.Subscriber.Close()
	s.wg.Wait()
	return err
}

// autocommitBeginner hands watermill-sql's Subscriber a "transaction" whose
// statements run in autocommit mode on the pool, so that no SQLite lock is
// held while a message is being handled. See SubscriberOptions.SQLiteTxPerBatch.
type autocommitBeginner struct {
	db *stdsql.DB
}

func (b autocommitBeginner) BeginTx(context.Context, *stdsql.TxOptions) (wsql.Tx, error) {
	return autocommitTx(b), nil
}

func (b autocommitBeginner) ExecContext(ctx context.Context, query string, args ...any) (wsql.Result, error) {
	return b.db.ExecContext(ctx, query, args...)
}

func (b autocommitBeginner) QueryContext(ctx context.Context, query string, args ...any) (wsql.Rows, error) {
	return b.db.QueryContext(ctx, query, args...)
}

type autocommitTx struct {
	db *stdsql.DB
}

func (t autocommitTx) ExecContext(ctx context.Context, query string, args ...any) (wsql.Result, error) {
	return t.db.ExecContext(ctx, query, args...)
}

func (t autocommitTx) QueryContext(ctx context.Context, query string, args ...any) (wsql.Rows, error) {
	return t.db.QueryContext(ctx, query, args...)
}

func (t autocommitTx) Commit() error   { return nil }
func (t autocommitTx) Rollback() error { return nil }
