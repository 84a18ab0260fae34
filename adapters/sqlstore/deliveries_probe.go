package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// The due messages of the idle consumers, one query for all of them: each consumer is one
// lookup in event_deliveries_claim (consumer, available_at, id), however many messages wait.
const (
	dueAmongSQLite   = `SELECT value FROM json_each(?) WHERE EXISTS (SELECT 1 FROM event_deliveries WHERE consumer = value AND available_at <= ?)`
	dueAmongPostgres = `SELECT t FROM unnest(?::text[]) AS t WHERE EXISTS (SELECT 1 FROM event_deliveries WHERE consumer = t AND available_at <= ?)`
)

// setIdle counts a subscriber of topic in (+1) or out (-1) of waiting for work.
func (q *DeliveryQueue) setIdle(topic string, d int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.idle[topic] += d; q.idle[topic] <= 0 {
		delete(q.idle, topic)
	}
}

// idleTopics are the consumers with a subscriber waiting for work, sorted.
func (q *DeliveryQueue) idleTopics() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	topics := make([]string, 0, len(q.idle))
	for t := range q.idle {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	return topics
}

// probe wakes, every PollInterval until the queue closes, the idle subscribers whose consumer
// has a message to claim. Each subscriber used to poll its own consumer: with the server's ~40
// consumers that was ~200 reads a second on an idle server, competing with the requests for the
// CPU and the database's connections.
func (q *DeliveryQueue) probe() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-q.closing
		cancel()
	}()
	t := time.NewTicker(q.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-q.closing:
			return
		case <-t.C:
		}
		topics := q.idleTopics()
		if len(topics) == 0 {
			continue
		}
		due, err := q.dueAmong(ctx, topics, nowMillis())
		if err != nil {
			if !q.isClosing() {
				q.logger.Error("delivery queue: probe", err, watermill.LogFields{"consumers": len(topics)})
			}
			continue
		}
		for _, topic := range due {
			q.notify(topic)
		}
	}
}

// dueAmong returns the topics among topics that have a message to claim at now.
func (q *DeliveryQueue) dueAmong(ctx context.Context, topics []string, now int64) ([]string, error) {
	var rows *sql.Rows
	var err error
	if q.db.IsPostgres() {
		rows, err = q.db.QueryContext(ctx, dueAmongPostgres, pgdialect.Array(topics), now)
	} else {
		js, _ := json.Marshal(topics) // strings: cannot fail
		rows, err = q.db.queryPrepared(ctx, q.db.DB, dueAmongSQLite, string(js), now)
	}
	if err != nil {
		return nil, err
	}
	var due []string
	err = scanInto(ctx, q.db, rows, &due)
	return due, err
}
