// Package natsq is the NATS JetStream broker of the event delivery (EVENTS_BROKER=nats), through
// watermill-nats: one work-queue stream per consumer topic, one durable queue-group consumer per
// topic shared by every process (each message goes to one of them), explicit acks sent only
// after the handler returned (its transaction committed), and a finite number of deliveries.
package natsq

import (
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
)

// Config of the broker.
type Config struct {
	URL string
	// AckWait is how long JetStream waits for an ack before it delivers the message again
	// (default 60s; longer than a handler with its retries).
	AckWait time.Duration
	// MaxDeliver is how often JetStream delivers one message at most (default 20). The router
	// parks a message that keeps failing in the poison table long before (it retries in
	// process and acks once the message is parked); deliveries beyond the first come from
	// processes that died or stopped while handling it.
	MaxDeliver int
	// Replicas of each stream (default 1).
	Replicas int
}

func (c *Config) defaults() {
	if c.AckWait <= 0 {
		c.AckWait = 60 * time.Second
	}
	if c.MaxDeliver <= 0 {
		c.MaxDeliver = 20
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
}

// Broker is the publisher and the subscriber.
type Broker struct {
	conn *nats.Conn
	js   nats.JetStreamContext
	Pub  message.Publisher
	Sub  message.Subscriber
}

// Open connects to NATS, creates (or updates) the stream of each topic and returns the broker.
func Open(cfg Config, topics []string, logger watermill.LoggerAdapter) (*Broker, error) {
	cfg.defaults()
	if cfg.URL == "" {
		return nil, errors.New("natsq: NATS_URL is empty")
	}
	opts := []nats.Option{nats.Name("shuxinqian"), nats.MaxReconnects(-1), nats.ReconnectWait(time.Second)}
	conn, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("natsq: connect %s: %w", cfg.URL, err)
	}
	js, err := conn.JetStream()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("natsq: jetstream: %w", err)
	}
	for _, t := range topics {
		if err := ensureStream(js, t, cfg.Replicas); err != nil {
			conn.Close()
			return nil, err
		}
	}
	subjects := func(_ string, topic string) *wmnats.SubjectDetail {
		return &wmnats.SubjectDetail{Primary: topic, QueueGroup: topic}
	}
	js1 := wmnats.JetStreamConfig{
		PublishOptions: []nats.PubOpt{nats.AckWait(10 * time.Second)},
		SubscribeOptions: []nats.SubOpt{nats.ManualAck(), nats.AckExplicit(), nats.DeliverAll(),
			nats.MaxDeliver(cfg.MaxDeliver), nats.AckWait(cfg.AckWait), nats.MaxAckPending(256)},
		DurableCalculator: func(_, topic string) string { return topic },
	}
	pub, err := wmnats.NewPublisherWithNatsConn(conn, wmnats.PublisherPublishConfig{
		Marshaler: &wmnats.NATSMarshaler{}, SubjectCalculator: subjects, JetStream: js1}, logger)
	if err != nil {
		conn.Close()
		return nil, err
	}
	sub, err := wmnats.NewSubscriberWithNatsConn(conn, wmnats.SubscriberSubscriptionConfig{
		Unmarshaler: &wmnats.NATSMarshaler{}, SubjectCalculator: subjects, JetStream: js1,
		AckWaitTimeout: cfg.AckWait, CloseTimeout: 30 * time.Second, SubscribersCount: 1,
	}, logger)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &Broker{conn: conn, js: js, Pub: pub, Sub: sub}, nil
}

// ensureStream creates the work-queue stream of topic (subject = topic): a message is removed
// once its consumer acked it.
func ensureStream(js nats.JetStreamContext, topic string, replicas int) error {
	sc := &nats.StreamConfig{Name: topic, Subjects: []string{topic}, Retention: nats.WorkQueuePolicy,
		Storage: nats.FileStorage, Replicas: replicas}
	if _, err := js.StreamInfo(topic); err == nil {
		return nil
	} else if !errors.Is(err, nats.ErrStreamNotFound) {
		return fmt.Errorf("natsq: stream %s: %w", topic, err)
	}
	if _, err := js.AddStream(sc); err != nil && !errors.Is(err, nats.ErrStreamNameAlreadyInUse) {
		return fmt.Errorf("natsq: create stream %s: %w", topic, err)
	}
	return nil
}

// Pending is the number of messages not acked yet in topic's stream.
func (b *Broker) Pending(topic string) (uint64, error) {
	si, err := b.js.StreamInfo(topic)
	if err != nil {
		return 0, err
	}
	return si.State.Msgs, nil
}

// DeleteStreams removes the streams of topics (tests clean up their unique prefixes).
func (b *Broker) DeleteStreams(topics []string) {
	for _, t := range topics {
		_ = b.js.DeleteStream(t)
	}
}

// Close closes the subscriber (waiting for in-flight messages), then the connection.
func (b *Broker) Close() error {
	err := b.Sub.Close() // drains the connection
	_ = b.Pub.Close()
	b.conn.Close()
	return err
}
