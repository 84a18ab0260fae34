package wmsql_test

import (
	"context"
	stdsql "database/sql"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"

	"github.com/shuxinqian/server/adapters/sqlstore/wmsql"
)

// The universal suite names topics "topic-<uuid>" and derives more topics by
// appending "-1", "-2", … . Our topics must be plain identifiers, so the
// suite's names are generated as <prefix>n<number> and every remaining '-'
// is mapped to '_' by these thin wrappers.
func suiteTopic(topic string) string { return strings.ReplaceAll(topic, "-", "_") }

type topicMappingPublisher struct{ message.Publisher }

func (p topicMappingPublisher) Publish(topic string, msgs ...*message.Message) error {
	return p.Publisher.Publish(suiteTopic(topic), msgs...)
}

type topicMappingSubscriber struct{ message.Subscriber }

func (s topicMappingSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	return s.Subscriber.Subscribe(ctx, suiteTopic(topic))
}

func (s topicMappingSubscriber) SubscribeInitialize(topic string) error {
	return s.Subscriber.(message.SubscribeInitializer).SubscribeInitialize(suiteTopic(topic))
}

// suiteFeatures are the honest features of a queue table without consumer groups:
//   - no consumer groups, no replay for new subscribers;
//   - at-least-once only (a crash or failed ack redelivers);
//   - order is guaranteed for a single subscriber; with several subscribers
//     Postgres hands out batches in parallel (SKIP LOCKED) and SQLite
//     subscribers race on the same rows, so order across them is not kept.
func suiteFeatures(prefix string) tests.Features {
	return tests.Features{
		ConsumerGroups:                      false,
		ExactlyOnceDelivery:                 false,
		GuaranteedOrder:                     true,
		GuaranteedOrderWithSingleSubscriber: true,
		Persistent:                          true,
		NewSubscriberReceivesOldMessages:    false,
		// Full-size runs (5000-10000 messages per test) take minutes under
		// -race on 2 cores; set WMSQL_SUITE_FULL=1 to run them.
		ForceShort: os.Getenv("WMSQL_SUITE_FULL") == "",
		GenerateTopicFunc: func(tctx tests.TestContext) string {
			// TestIDs are UUIDs; a short per-test number keeps the topic far
			// below wmsql.MaxTopicLength even with the suite's "-N" suffixes.
			n, _ := topicNumbers.LoadOrStore(tctx.TestID, topicCounter.Add(1))
			return fmt.Sprintf("%sn%d", prefix, n)
		},
	}
}

var (
	topicNumbers sync.Map
	topicCounter atomic.Int64
)

func runSuite(t *testing.T, dialect wmsql.Dialect, db *stdsql.DB, opts wmsql.SubscriberOptions) {
	prefix := topicPrefix(t)
	t.Cleanup(func() { dropTopicTables(t, db, dialect, prefix) })
	logger := testLogger()

	// Some suite tests leave subscribers running (TestPublishSubscribeInOrder
	// does `defer require.NoError(t, sub.Close())`, which closes its
	// multiplier before subscribing); close everything before the DB goes.
	var mu sync.Mutex
	var subs []message.Subscriber
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range subs {
			_ = s.Close()
		}
	})

	constructor := func(t *testing.T) (message.Publisher, message.Subscriber) {
		pub, err := wmsql.NewPublisher(wsql.BeginnerFromStdSQL(db), dialect, logger)
		if err != nil {
			t.Fatal(err)
		}
		sub, err := wmsql.NewSubscriber(db, dialect, opts, logger)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		subs = append(subs, sub)
		mu.Unlock()
		return topicMappingPublisher{pub}, topicMappingSubscriber{sub}
	}

	tests.TestPubSub(t, suiteFeatures(prefix), constructor, nil)
}

func suiteOptions() wmsql.SubscriberOptions {
	return wmsql.SubscriberOptions{
		PollInterval:   10 * time.Millisecond,
		ResendInterval: 10 * time.Millisecond,
		RetryInterval:  50 * time.Millisecond,
	}
}

func TestPubSubSQLite(t *testing.T) {
	t.Parallel()
	runSuite(t, wmsql.DialectSQLite, openSQLite(t), suiteOptions())
}

func TestPubSubPostgres(t *testing.T) {
	t.Parallel()
	runSuite(t, wmsql.DialectPostgres, openPostgres(t), suiteOptions())
}
