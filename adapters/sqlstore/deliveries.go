package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/uptrace/bun"
)

// DeliveryOptions tunes a DeliveryQueue. Zero values take the defaults.
type DeliveryOptions struct {
	// PollInterval is how often the queue looks for due messages of the consumers that found
	// nothing to claim (default 200ms): messages published by another process, or made visible
	// again by a nack's delay or an expired lease. A Publish in the same process wakes the
	// subscribers of its topic at once.
	PollInterval time.Duration
	// Lease is how long a claimed message stays invisible to other consumers (default 60s): a
	// process killed while handling it leaves it to be claimed again after the lease. It must
	// be longer than a handler with all its retries takes.
	Lease time.Duration
	// Batch is how many messages one claim takes (default 10).
	Batch int
	// ResendAfter is how long a nacked message waits before it is delivered again (default 1s).
	ResendAfter time.Duration
	// StopGrace is how long a handler still running when the queue stops may take to finish
	// (default 5s); then its context is cancelled (a retry backoff or a query ends), it nacks and
	// its message is released for another delivery.
	StopGrace time.Duration
}

func (o *DeliveryOptions) defaults() {
	if o.PollInterval <= 0 {
		o.PollInterval = 200 * time.Millisecond
	}
	if o.Lease <= 0 {
		o.Lease = 60 * time.Second
	}
	if o.Batch <= 0 {
		o.Batch = 10
	}
	if o.ResendAfter <= 0 {
		o.ResendAfter = time.Second
	}
	if o.StopGrace <= 0 {
		o.StopGrace = 5 * time.Second
	}
}

// DeliveryQueue is the durable per-consumer queue of the embedded broker (EVENTS_BROKER=sql):
// a watermill Publisher and Subscriber over the table event_deliveries, where the topic is the
// consumer. A subscriber claims a batch of its consumer's rows by moving their lease forward
// (Postgres: FOR UPDATE SKIP LOCKED, so several processes share one consumer's work; SQLite:
// the single writer makes the claim atomic), hands the messages to the handler one by one and
// deletes a row only when the handler acked it, that is after the handler's transaction
// committed. No transaction is held while a handler runs. A nacked message is released for a
// later delivery; a message of a process that died is delivered again when its lease expires.
type DeliveryQueue struct {
	db     *DB
	opts   DeliveryOptions
	logger watermill.LoggerAdapter

	mu      sync.Mutex
	closed  bool
	closing chan struct{}
	wg      sync.WaitGroup
	wake    map[string]chan struct{}
	// idle counts, per consumer, the subscribers waiting for work; the prober (started with the
	// first subscription) looks for due messages of these consumers only.
	idle    map[string]int
	probing bool
}

// NewDeliveryQueue builds the queue over the store's database.
func (s *Store) NewDeliveryQueue(opts DeliveryOptions) *DeliveryQueue {
	opts.defaults()
	return &DeliveryQueue{db: s.db, opts: opts, logger: s.logger, closing: make(chan struct{}), wake: map[string]chan struct{}{},
		idle: map[string]int{}}
}

var (
	_ message.Publisher  = (*DeliveryQueue)(nil)
	_ message.Subscriber = (*DeliveryQueue)(nil)
)

type deliveryRow struct {
	bun.BaseModel `bun:"table:event_deliveries"`

	ID          int64  `bun:"id,pk,autoincrement"`
	Consumer    string `bun:"consumer"`
	UUID        string `bun:"uuid"`
	Payload     []byte `bun:"payload"`
	Metadata    string `bun:"metadata"`
	Attempts    int    `bun:"attempts"`
	AvailableAt int64  `bun:"available_at"`
	CreatedAt   int64  `bun:"created_at"`
}

func nowMillis() int64 { return time.Now().UnixMilli() }

// Publish stores msgs for the consumer topic.
func (q *DeliveryQueue) Publish(topic string, msgs ...*message.Message) error {
	if topic == "" {
		return errors.New("sqlstore: delivery topic is empty")
	}
	if len(msgs) == 0 {
		return nil
	}
	ctx := context.Background()
	return q.db.gated(ctx, func() error { return q.insert(ctx, q.db.DB, topic, msgs) })
}

// PublishTx stores msgs for the consumer topic inside the transaction idb.
func (q *DeliveryQueue) insert(ctx context.Context, idb bun.IDB, topic string, msgs []*message.Message) error {
	rows, err := deliveryRows(topic, msgs)
	if err != nil {
		return err
	}
	if _, err := idb.NewInsert().Model(&rows).Exec(ctx); err != nil {
		return fmt.Errorf("sqlstore: enqueue for %s: %w", topic, err)
	}
	q.notify(topic)
	return nil
}

func deliveryRows(topic string, msgs []*message.Message) ([]deliveryRow, error) {
	now := nowMillis()
	rows := make([]deliveryRow, 0, len(msgs))
	for _, m := range msgs {
		md, err := json.Marshal(m.Metadata)
		if err != nil {
			return nil, err
		}
		rows = append(rows, deliveryRow{Consumer: topic, UUID: m.UUID, Payload: m.Payload, Metadata: string(md), AvailableAt: now, CreatedAt: now})
	}
	return rows, nil
}

func (q *DeliveryQueue) notify(topic string) {
	q.mu.Lock()
	ch := q.wake[topic]
	q.mu.Unlock()
	if ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Subscribe delivers the consumer topic's messages until ctx ends or the queue is closed.
func (q *DeliveryQueue) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, errors.New("sqlstore: delivery queue closed")
	}
	wake, ok := q.wake[topic]
	if !ok {
		wake = make(chan struct{}, 1)
		q.wake[topic] = wake
	}
	if !q.probing {
		q.probing = true
		q.wg.Add(1)
		go func() {
			defer q.wg.Done()
			q.probe()
		}()
	}
	out := make(chan *message.Message)
	q.wg.Add(1)
	go func() {
		defer q.wg.Done()
		defer close(out)
		q.consume(ctx, topic, out, wake)
	}()
	return out, nil
}

func (q *DeliveryQueue) consume(ctx context.Context, topic string, out chan<- *message.Message, wake <-chan struct{}) {
	for {
		if ctx.Err() != nil || q.isClosing() {
			return
		}
		rows, err := q.claim(ctx, topic)
		if err != nil {
			if ctx.Err() == nil && !q.isClosing() {
				q.logger.Error("delivery queue: claim", err, watermill.LogFields{"consumer": topic})
			}
			rows = nil
		}
		if len(rows) == 0 {
			// Nothing to claim: wait for a Publish of this process or for the prober, which
			// finds the due messages of every idle consumer in one query each PollInterval.
			q.setIdle(topic, 1)
			select {
			case <-wake:
			case <-ctx.Done():
			case <-q.closing:
			}
			q.setIdle(topic, -1)
			continue
		}
		for i, r := range rows {
			if next, settled := q.deliver(ctx, topic, r, out); !next {
				// The rest of the batch (and this row, unless it was settled) is visible again now.
				if settled {
					i++
				}
				q.release(rows[i:], 0)
				break
			}
		}
	}
}

// deliver hands one message to the handler and settles its row. next false means stop the batch;
// settled tells whether the row was dealt with (acked, or released for a later resend after a
// nack) or is still to be released.
func (q *DeliveryQueue) deliver(ctx context.Context, topic string, r deliveryRow, out chan<- *message.Message) (next, settled bool) {
	msg := message.NewMessage(r.UUID, r.Payload)
	if r.Metadata != "" {
		var md message.Metadata
		if err := json.Unmarshal([]byte(r.Metadata), &md); err == nil {
			for k, v := range md {
				msg.Metadata.Set(k, v)
			}
		}
	}
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msg.SetContext(mctx)
	select {
	case out <- msg:
	case <-ctx.Done():
		return false, false
	case <-q.closing:
		return false, false
	}
	select {
	case <-msg.Acked():
		q.ack(topic, r.ID)
		return true, true
	case <-msg.Nacked():
		q.release([]deliveryRow{r}, q.opts.ResendAfter)
		return false, true
	case <-ctx.Done():
	case <-q.closing:
	}
	// Stopping: a running handler may finish within StopGrace; then its context is cancelled, so
	// a handler waiting (a retry backoff, a query) ends and nacks. Settle its message if it acks,
	// else leave it to be released (delivered again). Nothing of the handler outlives Close by
	// more than these bounds, so the database is not closed under it.
	grace := time.NewTimer(q.opts.StopGrace)
	defer grace.Stop()
	select {
	case <-msg.Acked():
		q.ack(topic, r.ID)
		return false, true
	case <-msg.Nacked():
		return false, false
	case <-grace.C:
	}
	cancel()
	t := time.NewTimer(q.opts.Lease / 2)
	defer t.Stop()
	select {
	case <-msg.Acked():
		q.ack(topic, r.ID)
		return false, true
	case <-msg.Nacked():
	case <-t.C:
	}
	return false, false
}

func (q *DeliveryQueue) claim(ctx context.Context, topic string) ([]deliveryRow, error) {
	now := nowMillis()
	if due, err := q.due(ctx, topic, now); err != nil || !due {
		return nil, err
	}
	inner := q.db.NewSelect().Model((*deliveryRow)(nil)).Column("id").
		Where("consumer = ?", topic).Where("available_at <= ?", now).OrderExpr("id ASC").Limit(int64(q.opts.Batch))
	if q.db.IsPostgres() {
		inner = inner.For("UPDATE SKIP LOCKED")
	}
	var rows []deliveryRow
	err := q.db.gated(ctx, func() error {
		_, err := q.db.NewUpdate().Model(&rows).
			Set("available_at = ?", now+q.opts.Lease.Milliseconds()).Set("attempts = attempts + 1").
			Where("id IN (?)", inner).Returning("id, consumer, uuid, payload, metadata, attempts").Exec(ctx, &rows)
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(rows, func(a, b deliveryRow) int { return int(a.ID - b.ID) })
	return rows, nil
}

// dueSQL finds one message of a consumer that can be claimed now (the event_deliveries_claim index).
const dueSQL = `SELECT 1 FROM event_deliveries WHERE consumer = ? AND available_at <= ? LIMIT 1`

// due reports whether topic has a message to claim now. A subscriber is woken by a Publish of
// its topic or by the prober, and a wake may be stale (its message claimed by another
// subscriber or process); the claim is an UPDATE, which on SQLite takes the database's single
// write lock even when it changes nothing, so idle claims made the writers of requests wait on
// SQLite's busy handler. This read takes no lock; on SQLite it is prepared once per connection.
func (q *DeliveryQueue) due(ctx context.Context, topic string, now int64) (bool, error) {
	var rows *sql.Rows
	var err error
	if q.db.IsPostgres() {
		rows, err = q.db.QueryContext(ctx, dueSQL, topic, now) // bun writes the values into the text
	} else {
		rows, err = q.db.queryPrepared(ctx, q.db.DB, dueSQL, topic, now)
	}
	if err != nil {
		return false, err
	}
	defer func() { _ = rows.Close() }()
	found := rows.Next()
	return found, rows.Err()
}

func (q *DeliveryQueue) ack(topic string, id int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.db.gated(ctx, func() error {
		_, err := q.db.NewDelete().Model((*deliveryRow)(nil)).Where("id = ?", id).Exec(ctx)
		return err
	}); err != nil {
		// The handler committed: the row comes back after its lease and the handler's
		// idempotency makes the redelivery change nothing.
		q.logger.Error("delivery queue: ack", err, watermill.LogFields{"consumer": topic, "id": id})
	}
}

// release makes rows visible again after delay.
func (q *DeliveryQueue) release(rows []deliveryRow, delay time.Duration) {
	if len(rows) == 0 {
		return
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.db.gated(ctx, func() error {
		_, err := q.db.NewUpdate().Model((*deliveryRow)(nil)).Set("available_at = ?", nowMillis()+delay.Milliseconds()).
			Where("id IN (?)", bun.List(ids)).Exec(ctx)
		return err
	}); err != nil {
		q.logger.Error("delivery queue: release", err, nil) // they come back after the lease
	}
}

func (q *DeliveryQueue) isClosing() bool {
	select {
	case <-q.closing:
		return true
	default:
		return false
	}
}

// Close stops every subscription and waits until their channels are closed. Messages being
// handled are released (delivered again, to this or another process).
func (q *DeliveryQueue) Close() error {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.closing)
	}
	q.mu.Unlock()
	q.wg.Wait()
	return nil
}

// DeliveriesPending counts the messages waiting in a consumer's queue (every consumer's when
// consumer is empty).
func (s *Store) DeliveriesPending(ctx context.Context, consumer string) (int, error) {
	q := s.db.NewSelect().Model((*deliveryRow)(nil))
	if consumer != "" {
		q = q.Where("consumer = ?", consumer)
	}
	n, err := q.Count(ctx)
	return int(n), err
}
