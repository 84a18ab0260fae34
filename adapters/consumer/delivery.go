package consumer

import (
	"fmt"
	"strings"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
)

// DeliverToKey is the metadata key that sends an outbox message to one consumer only (a
// dead-letter replay, a sweeper's nudge): its value is the handler name.
const DeliverToKey = "deliver_to"

// Routes maps an event name to the names of the handlers that consume it.
type Routes map[string][]string

// RoutesOf lists which handler consumes which event.
func RoutesOf(handlers []Handler) Routes {
	m := Marshaler()
	r := Routes{}
	for _, h := range handlers {
		name := m.Name(h.NewEvent())
		r[name] = append(r[name], h.HandlerName())
	}
	return r
}

// Has reports whether handler consumes event.
func (r Routes) Has(event, handler string) bool {
	for _, h := range r[event] {
		if h == handler {
			return true
		}
	}
	return false
}

// ConsumerTopic is the delivery topic of one handler: its own durable queue (a consumer
// column in the SQL queue, a JetStream stream and durable consumer on NATS). Dots and dashes
// become underscores (NATS stream and durable names allow neither dots nor wildcards).
func ConsumerTopic(prefix, handler string) string {
	t := strings.NewReplacer(".", "_", "-", "_").Replace(handler)
	if prefix != "" {
		t = prefix + "_" + t
	}
	return t
}

// FanOut is the publisher behind the outbox forwarder: it copies each event to the delivery
// topic of every handler of the event (or only to the handler named by DeliverToKey), so that
// each handler acknowledges its own copy after its own commit. The forwarder deletes the outbox
// row only after Publish returned, that is after every copy is durable in the queue/broker.
type FanOut struct {
	routes Routes
	pub    message.Publisher
	prefix string
	logger watermill.LoggerAdapter
}

// NewFanOut publishes to pub the copies of the events of routes; prefix is the topic prefix.
func NewFanOut(routes Routes, pub message.Publisher, prefix string, logger watermill.LoggerAdapter) *FanOut {
	if logger == nil {
		logger = watermill.NopLogger{}
	}
	return &FanOut{routes: routes, pub: pub, prefix: prefix, logger: logger}
}

// Publish copies each message to its handlers' topics (topic, the event topic, is not used: the
// event name is in the metadata).
func (f *FanOut) Publish(_ string, msgs ...*message.Message) error {
	for _, msg := range msgs {
		name := msg.Metadata.Get("name")
		targets := f.routes[name]
		if to := msg.Metadata.Get(DeliverToKey); to != "" {
			if !f.routes.Has(name, to) {
				f.logger.Error("outbox message for an unknown handler dropped", fmt.Errorf("no handler %q of %q", to, name),
					watermill.LogFields{"uuid": msg.UUID})
				continue
			}
			targets = []string{to}
		}
		if len(targets) == 0 {
			f.logger.Debug("event without consumers", watermill.LogFields{"name": name, "uuid": msg.UUID})
			continue
		}
		for _, h := range targets {
			c := msg.Copy()
			delete(c.Metadata, DeliverToKey)
			if err := f.pub.Publish(ConsumerTopic(f.prefix, h), c); err != nil {
				return fmt.Errorf("consumer: deliver %s to %s: %w", msg.UUID, h, err)
			}
		}
	}
	return nil
}

// Close closes nothing: the delivery publisher belongs to its owner.
func (f *FanOut) Close() error { return nil }
