package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Queue is the backlog of one message table: rows not acked yet and the age of the oldest.
type Queue struct {
	Table            string
	Pending          int64
	OldestAgeSeconds float64
}

// DatabaseSource answers the database measurements at scrape time.
type DatabaseSource struct {
	// Queues measures every message table (the outbox, per-handler queues, the poison queue).
	Queues func(ctx context.Context) ([]Queue, error)
	// DeadLetterTables are the tables among Queues that hold dead letters (the poison queue).
	DeadLetterTables []string
	// PaymentAnomalies counts the recorded payment anomalies by kind.
	PaymentAnomalies func(ctx context.Context) (map[string]int64, error)
	// Timeout bounds the queries of one scrape (2s when zero).
	Timeout time.Duration
	Log     *slog.Logger
}

// databaseCollector queries the database when scraped.
type databaseCollector struct {
	src                       DatabaseSource
	backlog, age, dead, anoms *prometheus.Desc
	up                        *prometheus.Desc
}

// RegisterDatabase registers the collector of src.
func (m *Metrics) RegisterDatabase(src DatabaseSource) error {
	if src.Timeout <= 0 {
		src.Timeout = 2 * time.Second
	}
	return m.Registry.Register(&databaseCollector{
		src: src,
		backlog: prometheus.NewDesc(Namespace+"_outbox_backlog_messages",
			"Messages written and not yet delivered (not acked), by message table (watermill_outbox and any per-handler queue).",
			[]string{"table"}, nil),
		age: prometheus.NewDesc(Namespace+"_outbox_oldest_message_age_seconds",
			"Age of the oldest message not yet delivered, by message table (0 when the table is drained).", []string{"table"}, nil),
		dead: prometheus.NewDesc(Namespace+"_dead_letter_messages",
			"Messages that exhausted their retries and wait in the poison queue, by table.", []string{"table"}, nil),
		anoms: prometheus.NewDesc(Namespace+"_payment_anomalies",
			"Payment notifications recorded as anomalies (verified but not applicable), by kind.", []string{"kind"}, nil),
		up: prometheus.NewDesc(Namespace+"_database_scrape_success",
			"1 when the database measurements of this scrape succeeded, 0 when they failed or timed out.", nil, nil),
	})
}

func (c *databaseCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.backlog
	ch <- c.age
	ch <- c.dead
	ch <- c.anoms
	ch <- c.up
}

func (c *databaseCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.src.Timeout)
	defer cancel()
	ok := 1.0
	fail := func(what string, err error) {
		ok = 0
		if c.src.Log != nil {
			c.src.Log.Warn("metrics: database scrape", "what", what, "err", err)
		}
	}
	if c.src.Queues != nil {
		queues, err := c.src.Queues(ctx)
		if err != nil {
			fail("queues", err)
		}
		dead := map[string]bool{}
		for _, t := range c.src.DeadLetterTables {
			dead[t] = true
		}
		for _, q := range queues {
			if dead[q.Table] {
				ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, float64(q.Pending), q.Table)
				continue
			}
			ch <- prometheus.MustNewConstMetric(c.backlog, prometheus.GaugeValue, float64(q.Pending), q.Table)
			ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, q.OldestAgeSeconds, q.Table)
		}
	}
	if c.src.PaymentAnomalies != nil {
		counts, err := c.src.PaymentAnomalies(ctx)
		if err != nil {
			fail("payment anomalies", err)
		}
		for kind, n := range counts {
			ch <- prometheus.MustNewConstMetric(c.anoms, prometheus.GaugeValue, float64(n), kind)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, ok)
}
