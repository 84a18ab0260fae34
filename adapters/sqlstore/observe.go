package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/shuxinqian/server/adapters/sqlstore/wmsql"
)

// QueueBacklog is what waits in one watermill_* message table: the rows not acked yet and the age
// in seconds of the oldest of them (0 when none waits).
type QueueBacklog struct {
	Table            string
	Pending          int64
	OldestAgeSeconds float64
}

// QueueTables lists the watermill_* message tables (those with an acked column) of the current
// database or schema, whatever created them: the outbox, the poison queue and any per-handler queue.
func (d *DB) QueueTables(ctx context.Context) ([]string, error) {
	var q string
	if d.IsPostgres() {
		// The catalog itself, not information_schema.columns: that view joins and filters every
		// column of the database for privileges first (9-30 ms a scrape under the load harness,
		// against under 1 ms here).
		q = `SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
WHERE c.relnamespace = (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = current_schema())
AND c.relkind IN ('r', 'p') AND a.attname = 'acked' AND NOT a.attisdropped AND c.relname LIKE 'watermill\_%' ESCAPE '\'
ORDER BY c.relname`
	} else {
		q = `SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) p
WHERE m.type = 'table' AND p.name = 'acked' AND m.name LIKE 'watermill\_%' ESCAPE '\'
ORDER BY m.name`
	}
	rows, err := d.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list queue tables: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		// Only plain identifiers are ever interpolated below.
		if wmsql.ValidateTopic(strings.TrimPrefix(name, wmsql.TablePrefix)) == nil {
			out = append(out, name)
		}
	}
	return out, rows.Err()
}

// QueueBacklogs measures every queue table (see QueueTables), one aggregate query per table.
func (d *DB) QueueBacklogs(ctx context.Context) ([]QueueBacklog, error) {
	tables, err := d.QueueTables(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]QueueBacklog, 0, len(tables))
	for _, table := range tables {
		var q string
		if d.IsPostgres() {
			q = `SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 FROM ` + table + ` WHERE acked = FALSE`
		} else {
			q = `SELECT count(*), COALESCE((julianday('now') - julianday(min(created_at))) * 86400.0, 0.0) FROM ` + table + ` WHERE acked = 0`
		}
		b := QueueBacklog{Table: table}
		if err := d.QueryRowContext(ctx, q).Scan(&b.Pending, &b.OldestAgeSeconds); err != nil {
			return nil, fmt.Errorf("sqlstore: backlog of %s: %w", table, err)
		}
		if b.OldestAgeSeconds < 0 { // clock skew between the writer and the database
			b.OldestAgeSeconds = 0
		}
		out = append(out, b)
	}
	deliveries, err := d.deliveryBacklogs(ctx)
	if err != nil {
		return nil, err
	}
	return append(out, deliveries...), nil
}

// deliveryBacklogs measures the per-consumer delivery queue (event_deliveries, EVENTS_BROKER=sql):
// one entry per consumer with waiting copies, named "event_deliveries/<consumer>" (consumers are
// the handlers' topics, a fixed set). created_at is unix milliseconds.
func (d *DB) deliveryBacklogs(ctx context.Context) ([]QueueBacklog, error) {
	rows, err := d.QueryContext(ctx, `SELECT consumer, count(*), min(created_at) FROM event_deliveries GROUP BY consumer ORDER BY consumer`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: backlog of event_deliveries: %w", err)
	}
	defer func() { _ = rows.Close() }()
	now := time.Now().UnixMilli()
	var out []QueueBacklog
	for rows.Next() {
		var consumer string
		var oldest int64
		b := QueueBacklog{}
		if err := rows.Scan(&consumer, &b.Pending, &oldest); err != nil {
			return nil, err
		}
		b.Table = "event_deliveries/" + consumer
		if age := float64(now-oldest) / 1000; age > 0 {
			b.OldestAgeSeconds = age
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// PaymentAnomalyCounts counts the recorded payment anomalies by kind.
func (d *DB) PaymentAnomalyCounts(ctx context.Context) (map[string]int64, error) {
	rows, err := d.QueryContext(ctx, `SELECT kind, count(*) FROM payment_anomalies GROUP BY kind`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: count payment anomalies: %w", err)
	}
	defer func() { _ = rows.Close() }()
	out := map[string]int64{}
	for rows.Next() {
		var kind string
		var n int64
		if err := rows.Scan(&kind, &n); err != nil {
			return nil, err
		}
		out[kind] = n
	}
	return out, rows.Err()
}
