package bootstrap

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// EventsConfig is how events reach their consumers and how stuck work is driven on.
type EventsConfig struct {
	// Broker is "sql" (the per-consumer queue table in the database) or "nats" (JetStream).
	Broker string
	// NATSURL is the NATS server of the nats broker.
	NATSURL string
	// TopicPrefix prefixes the NATS streams/subjects of the consumers (several deployments, or
	// tests, on one NATS server).
	TopicPrefix string
	// DeliveryLease is how long a consumer may handle a message before another process may
	// take it over (SQL queue lease, JetStream AckWait).
	DeliveryLease time.Duration
	// MaxDeliver is JetStream's maximum number of deliveries of one message.
	MaxDeliver int
	// SweepInterval is how often the sweeper looks for stuck work (0: never); SweepAfter is
	// how long work may stay in an intermediate state before it is driven on again.
	SweepInterval, SweepAfter time.Duration
}

func (e *EventsConfig) load(get func(key, def string) string) []error {
	var errs []error
	e.Broker = get("EVENTS_BROKER", "sql")
	e.NATSURL = get("NATS_URL", "")
	e.TopicPrefix = get("EVENTS_TOPIC_PREFIX", "sxq")
	switch e.Broker {
	case "sql":
	case "nats":
		if e.NATSURL == "" {
			errs = append(errs, errors.New("EVENTS_BROKER=nats needs NATS_URL (nats://host:4222)"))
		}
	default:
		errs = append(errs, fmt.Errorf("EVENTS_BROKER must be sql or nats, not %q", e.Broker))
	}
	var err error
	if e.DeliveryLease, err = time.ParseDuration(get("DELIVERY_LEASE", "60s")); err != nil || e.DeliveryLease < time.Second {
		errs = append(errs, errors.New("DELIVERY_LEASE must be a duration of at least 1s such as 60s"))
	}
	if e.MaxDeliver, err = strconv.Atoi(get("NATS_MAX_DELIVER", "20")); err != nil || e.MaxDeliver < 1 {
		errs = append(errs, errors.New("NATS_MAX_DELIVER must be a positive number"))
	}
	if e.SweepInterval, err = time.ParseDuration(get("SWEEP_INTERVAL", "1m")); err != nil || e.SweepInterval < 0 {
		errs = append(errs, errors.New("SWEEP_INTERVAL must be a duration such as 1m (0 disables)"))
	}
	if e.SweepAfter, err = time.ParseDuration(get("SWEEP_AFTER", "5m")); err != nil || e.SweepAfter <= 0 {
		errs = append(errs, errors.New("SWEEP_AFTER must be a positive duration such as 5m"))
	}
	return errs
}
