package wmsql

import (
	"context"
	stdsql "database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
)

// Dialect selects the SQL flavour of the adapters.
type Dialect int

const (
	// DialectSQLite is SQLite (modernc.org/sqlite via bun's sqliteshim), "?" placeholders.
	DialectSQLite Dialect = iota + 1
	// DialectPostgres is Postgres through bun's pgdriver, "$n" placeholders.
	DialectPostgres
)

func (d Dialect) String() string {
	switch d {
	case DialectSQLite:
		return "sqlite"
	case DialectPostgres:
		return "postgres"
	default:
		return "Dialect(" + strconv.Itoa(int(d)) + ")"
	}
}

func (d Dialect) validate() error {
	switch d {
	case DialectSQLite, DialectPostgres:
		return nil
	default:
		return fmt.Errorf("wmsql: unknown dialect %v", d)
	}
}

// TablePrefix is prepended to the topic to form the messages table name.
const TablePrefix = "watermill_"

// MaxTopicLength is the longest accepted topic (42). Postgres truncates
// identifiers to 63 bytes (NAMEDATALEN-1), and BIGSERIAL creates an implicit
// sequence "<table>_offset_seq": beyond 42 characters its name gets truncated,
// topics sharing a long common prefix then compete for one sequence name and
// concurrent CREATE TABLEs fail with a pg_class unique violation. The same
// limit is applied on SQLite so that topics are portable.
const MaxTopicLength = 63 - len(TablePrefix) - len("_offset_seq")

var topicRe = regexp.MustCompile(`^[a-z0-9_]+$`)

// ErrInvalidTopic is returned (wrapped) for topics that are not plain identifiers.
var ErrInvalidTopic = errors.New("wmsql: invalid topic")

// ValidateTopic checks that topic matches ^[a-z0-9_]+$ and is at most MaxTopicLength long.
func ValidateTopic(topic string) error {
	if !topicRe.MatchString(topic) {
		return fmt.Errorf("%w %q: must match %s", ErrInvalidTopic, topic, topicRe)
	}
	if len(topic) > MaxTopicLength {
		return fmt.Errorf("%w %q: longer than %d characters", ErrInvalidTopic, topic, MaxTopicLength)
	}
	return nil
}

// TableName returns the messages table of topic ("watermill_" + topic).
// The result needs no quoting on either dialect.
func TableName(topic string) (string, error) {
	if err := ValidateTopic(topic); err != nil {
		return "", err
	}
	return TablePrefix + topic, nil
}

// SQLiteDDL returns the CREATE TABLE statement for topic on SQLite.
func SQLiteDDL(topic string) (string, error) {
	table, err := TableName(topic)
	if err != nil {
		return "", err
	}
	return `CREATE TABLE IF NOT EXISTS ` + table + ` (
  "offset" INTEGER PRIMARY KEY AUTOINCREMENT,
  uuid TEXT NOT NULL,
  payload BLOB,
  metadata TEXT,
  acked INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);`, nil
}

// PostgresDDL returns the CREATE TABLE statement for topic on Postgres.
func PostgresDDL(topic string) (string, error) {
	table, err := TableName(topic)
	if err != nil {
		return "", err
	}
	return `CREATE TABLE IF NOT EXISTS ` + table + ` (
  "offset" BIGSERIAL PRIMARY KEY,
  uuid VARCHAR(36) NOT NULL,
  payload BYTEA,
  metadata JSONB,
  acked BOOLEAN NOT NULL DEFAULT FALSE,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);`, nil
}

// DDL returns SQLiteDDL or PostgresDDL depending on dialect.
func DDL(dialect Dialect, topic string) (string, error) {
	switch dialect {
	case DialectSQLite:
		return SQLiteDDL(topic)
	case DialectPostgres:
		return PostgresDDL(topic)
	default:
		return "", dialect.validate()
	}
}

// InitSchema creates the table of topic (CREATE TABLE IF NOT EXISTS). Meant
// for tests; production tables come from migrations.
func InitSchema(ctx context.Context, db *stdsql.DB, dialect Dialect, topic string) error {
	ddl, err := DDL(dialect, topic)
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, ddl); err != nil {
		return fmt.Errorf("wmsql: create table for topic %q: %w", topic, err)
	}
	return nil
}

// SchemaAdapter returns the schema adapter for dialect.
func SchemaAdapter(dialect Dialect, batchSize int) (wsql.SchemaAdapter, error) {
	switch dialect {
	case DialectSQLite:
		return SQLiteQueueSchema{SubscribeBatchSize: batchSize}, nil
	case DialectPostgres:
		return PostgresQueueSchema{SubscribeBatchSize: batchSize}, nil
	default:
		return nil, dialect.validate()
	}
}

// OffsetsAdapter returns the offsets adapter for dialect.
func OffsetsAdapter(dialect Dialect, deleteOnAck bool) (wsql.OffsetsAdapter, error) {
	switch dialect {
	case DialectSQLite:
		return SQLiteQueueOffsetsAdapter{DeleteOnAck: deleteOnAck}, nil
	case DialectPostgres:
		return PostgresQueueOffsetsAdapter{DeleteOnAck: deleteOnAck}, nil
	default:
		return nil, dialect.validate()
	}
}

// ---- helpers shared by both dialects ----

const defaultBatchSize = 100

func batchSize(n int) int {
	if n <= 0 {
		return defaultBatchSize
	}
	return n
}

// insertArgs returns (uuid, payload, metadata) per message. Metadata is a JSON
// *string* (pgdriver turns []byte into a bytea literal, which JSONB rejects);
// nil metadata is stored as NULL so that reading it back keeps the non-nil map
// created by message.NewMessage.
func insertArgs(msgs message.Messages) ([]any, error) {
	args := make([]any, 0, 3*len(msgs))
	for _, msg := range msgs {
		if msg == nil {
			return nil, errors.New("wmsql: nil message")
		}
		var metadata any
		if msg.Metadata != nil {
			b, err := json.Marshal(msg.Metadata)
			if err != nil {
				return nil, fmt.Errorf("wmsql: marshal metadata of message %s: %w", msg.UUID, err)
			}
			metadata = string(b)
		}
		payload := []byte(msg.Payload)
		args = append(args, msg.UUID, payload, metadata)
	}
	return args, nil
}

func unmarshalRow(params wsql.UnmarshalMessageParams) (wsql.Row, error) {
	var r wsql.Row
	if err := params.Row.Scan(&r.Offset, &r.UUID, &r.Payload, &r.Metadata); err != nil {
		return wsql.Row{}, fmt.Errorf("wmsql: scan message row: %w", err)
	}
	msg := message.NewMessage(string(r.UUID), r.Payload)
	if len(r.Metadata) > 0 {
		var md message.Metadata
		if err := json.Unmarshal(r.Metadata, &md); err != nil {
			return wsql.Row{}, fmt.Errorf("wmsql: unmarshal metadata of message %s (offset %d): %w", msg.UUID, r.Offset, err)
		}
		for k, v := range md { // keep msg.Metadata non-nil even for a stored JSON null
			msg.Metadata.Set(k, v)
		}
	}
	r.Msg = msg
	return r, nil
}

// ackedOffsets returns the offsets that the subscriber really delivered and
// got acked. watermill-sql's Subscriber passes ALL rows of the batch in
// params.Rows even when it stopped early (subscriber closing, context
// canceled, ack deadline exceeded) — see subscriber.go query(): it breaks out
// of the loop on the first un-acked message but still calls AckMessageQuery
// with Rows: messageRows. Acking all of them would silently drop the
// undelivered tail of the batch, so only rows up to LastRow (the last acked
// one; rows are in ascending offset order) are acked.
func ackedOffsets(params wsql.AckMessageQueryParams) []int64 {
	last := params.LastRow.Offset
	offsets := make([]int64, 0, len(params.Rows))
	for _, row := range params.Rows {
		if row.Offset <= last {
			offsets = append(offsets, row.Offset)
		}
	}
	if len(offsets) == 0 && last > 0 {
		offsets = append(offsets, last)
	}
	return offsets
}

func placeholders(dialect Dialect, start, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		if dialect == DialectPostgres {
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(start + i))
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}

func insertQuery(dialect Dialect, params wsql.InsertQueryParams) (wsql.Query, error) {
	table, err := TableName(params.Topic)
	if err != nil {
		return wsql.Query{}, err
	}
	if len(params.Msgs) == 0 {
		// watermill's Publisher executes whatever we return; an INSERT with an
		// empty VALUES list is a syntax error, so publish-nothing is a no-op query.
		return wsql.Query{Query: `SELECT 1 WHERE 1 = 0`}, nil
	}
	args, err := insertArgs(params.Msgs)
	if err != nil {
		return wsql.Query{}, err
	}
	return wsql.Query{Query: InsertText(dialect, table, len(params.Msgs)), Args: args}, nil
}

// InsertText is the INSERT of n messages into a message table (uuid, payload, metadata: three
// placeholders a row, in the dialect's style), as the publisher writes them.
func InsertText(dialect Dialect, table string, n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO ` + table + ` (uuid, payload, metadata) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		b.WriteString(placeholders(dialect, 3*i+1, 3))
		b.WriteByte(')')
	}
	return b.String()
}

func selectQuery(dialect Dialect, params wsql.SelectQueryParams, batch int) (wsql.Query, error) {
	if params.ConsumerGroup != "" {
		return wsql.Query{}, errors.New("wmsql: consumer groups are not supported by queue tables")
	}
	table, err := TableName(params.Topic)
	if err != nil {
		return wsql.Query{}, err
	}
	q := `SELECT "offset", uuid, payload, metadata FROM ` + table
	if dialect == DialectPostgres {
		q += ` WHERE acked = FALSE`
	} else {
		q += ` WHERE acked = 0`
	}
	q += ` ORDER BY "offset" ASC LIMIT ` + strconv.Itoa(batchSize(batch))
	if dialect == DialectPostgres {
		q += ` FOR UPDATE SKIP LOCKED`
	}
	return wsql.Query{Query: q}, nil
}

func ackQuery(dialect Dialect, deleteOnAck bool, params wsql.AckMessageQueryParams) (wsql.Query, error) {
	if params.ConsumerGroup != "" {
		return wsql.Query{}, errors.New("wmsql: consumer groups are not supported by queue tables")
	}
	table, err := TableName(params.Topic)
	if err != nil {
		return wsql.Query{}, err
	}
	offsets := ackedOffsets(params)
	if len(offsets) == 0 {
		return wsql.Query{}, errors.New("wmsql: ack without rows")
	}

	var q string
	if deleteOnAck {
		q = `DELETE FROM ` + table
	} else if dialect == DialectPostgres {
		q = `UPDATE ` + table + ` SET acked = TRUE`
	} else {
		q = `UPDATE ` + table + ` SET acked = 1`
	}

	if dialect == DialectPostgres {
		// One text parameter holding an array literal: pgdriver interpolates it
		// as '{1,2,3}' and the cast makes it bigint[]; works the same with
		// lib/pq or pgx. (pq.Array would also end up as a string through
		// database/sql's driver.Valuer handling, but we avoid relying on it.)
		var b strings.Builder
		b.WriteByte('{')
		for i, o := range offsets {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatInt(o, 10))
		}
		b.WriteByte('}')
		return wsql.Query{
			Query: q + ` WHERE "offset" = ANY($1::bigint[])`,
			Args:  []any{b.String()},
		}, nil
	}

	args := make([]any, len(offsets))
	for i, o := range offsets {
		args[i] = o
	}
	return wsql.Query{
		Query: q + ` WHERE "offset" IN (` + placeholders(dialect, 1, len(offsets)) + `)`,
		Args:  args,
	}, nil
}

func schemaInitQueries(dialect Dialect, topic string) ([]wsql.Query, error) {
	ddl, err := DDL(dialect, topic)
	if err != nil {
		return nil, err
	}
	return []wsql.Query{{Query: ddl}}, nil
}
