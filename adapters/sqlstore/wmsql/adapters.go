package wmsql

import (
	stdsql "database/sql"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
)

// maxSQLiteBatch keeps the ack statement's "IN (?,?,…)" list far below
// SQLite's SQLITE_MAX_VARIABLE_NUMBER (32766 since SQLite 3.32).
const maxSQLiteBatch = 10000

// SQLiteQueueSchema is a watermill-sql SchemaAdapter for the SQLite queue
// table (see SQLiteDDL). It does not support consumer groups.
type SQLiteQueueSchema struct {
	// SubscribeBatchSize is the number of rows fetched per poll.
	// 0 means 100; values above 10000 are capped to 10000.
	SubscribeBatchSize int
}

var _ wsql.SchemaAdapter = SQLiteQueueSchema{}

func (s SQLiteQueueSchema) InsertQuery(params wsql.InsertQueryParams) (wsql.Query, error) {
	return insertQuery(DialectSQLite, params)
}

// SelectQuery selects the oldest unacked rows. There is no FOR UPDATE in
// SQLite; mutual exclusion, if any, comes from the transaction the subscriber
// runs the query in (see SubscriberOptions.SQLiteTxPerBatch).
func (s SQLiteQueueSchema) SelectQuery(params wsql.SelectQueryParams) (wsql.Query, error) {
	return selectQuery(DialectSQLite, params, min(batchSize(s.SubscribeBatchSize), maxSQLiteBatch))
}

func (s SQLiteQueueSchema) UnmarshalMessage(params wsql.UnmarshalMessageParams) (wsql.Row, error) {
	return unmarshalRow(params)
}

func (s SQLiteQueueSchema) SchemaInitializingQueries(params wsql.SchemaInitializingQueriesParams) ([]wsql.Query, error) {
	return schemaInitQueries(DialectSQLite, params.Topic)
}

// SubscribeIsolationLevel returns LevelSerializable, which is what SQLite
// transactions are. modernc.org/sqlite ignores TxOptions.Isolation altogether
// (conn.BeginTx -> newTx only looks at ReadOnly and the DSN's _txlock), and
// database/sql does not check it for drivers implementing ConnBeginTx, so any
// level is accepted; mattn/go-sqlite3 ignores it as well.
func (s SQLiteQueueSchema) SubscribeIsolationLevel() stdsql.IsolationLevel {
	return stdsql.LevelSerializable
}

// SQLiteQueueOffsetsAdapter is a watermill-sql OffsetsAdapter for SQLiteQueueSchema.
type SQLiteQueueOffsetsAdapter struct {
	// DeleteOnAck deletes acked rows instead of setting acked = 1.
	DeleteOnAck bool
}

var _ wsql.OffsetsAdapter = SQLiteQueueOffsetsAdapter{}

// AckMessageQuery marks (or deletes) the delivered rows with "offset" IN (?,?,…).
// Only rows up to params.LastRow are acked, see ackedOffsets.
func (a SQLiteQueueOffsetsAdapter) AckMessageQuery(params wsql.AckMessageQueryParams) (wsql.Query, error) {
	return ackQuery(DialectSQLite, a.DeleteOnAck, params)
}

func (a SQLiteQueueOffsetsAdapter) ConsumedMessageQuery(wsql.ConsumedMessageQueryParams) (wsql.Query, error) {
	return wsql.Query{}, nil
}

func (a SQLiteQueueOffsetsAdapter) NextOffsetQuery(wsql.NextOffsetQueryParams) (wsql.Query, error) {
	return wsql.Query{}, nil
}

func (a SQLiteQueueOffsetsAdapter) SchemaInitializingQueries(wsql.OffsetsSchemaInitializingQueriesParams) ([]wsql.Query, error) {
	return nil, nil
}

func (a SQLiteQueueOffsetsAdapter) BeforeSubscribingQueries(wsql.BeforeSubscribingQueriesParams) ([]wsql.Query, error) {
	return nil, nil
}

// PostgresQueueSchema is a watermill-sql SchemaAdapter for the Postgres queue
// table (see PostgresDDL) that works through bun's pgdriver. It is
// watermill-sql's PostgreSQLQueueSchema with these differences: metadata is
// sent as a JSON string (pgdriver would turn []byte into a bytea literal,
// which JSONB rejects), the select uses FOR UPDATE SKIP LOCKED so several
// subscribers can work on one table, and the isolation level is READ COMMITTED.
type PostgresQueueSchema struct {
	// SubscribeBatchSize is the number of rows fetched (and locked) per poll. 0 means 100.
	SubscribeBatchSize int
}

var _ wsql.SchemaAdapter = PostgresQueueSchema{}

func (s PostgresQueueSchema) InsertQuery(params wsql.InsertQueryParams) (wsql.Query, error) {
	return insertQuery(DialectPostgres, params)
}

func (s PostgresQueueSchema) SelectQuery(params wsql.SelectQueryParams) (wsql.Query, error) {
	return selectQuery(DialectPostgres, params, s.SubscribeBatchSize)
}

func (s PostgresQueueSchema) UnmarshalMessage(params wsql.UnmarshalMessageParams) (wsql.Row, error) {
	return unmarshalRow(params)
}

func (s PostgresQueueSchema) SchemaInitializingQueries(params wsql.SchemaInitializingQueriesParams) ([]wsql.Query, error) {
	return schemaInitQueries(DialectPostgres, params.Topic)
}

// SubscribeIsolationLevel returns READ COMMITTED. With FOR UPDATE SKIP LOCKED,
// READ COMMITTED re-evaluates "acked = FALSE" on rows another subscriber acked
// after our snapshot and skips them; REPEATABLE READ (watermill-sql's
// PostgreSQLQueueSchema) fails such a query with "could not serialize access
// due to concurrent update" instead.
func (s PostgresQueueSchema) SubscribeIsolationLevel() stdsql.IsolationLevel {
	return stdsql.LevelReadCommitted
}

// PostgresQueueOffsetsAdapter is a watermill-sql OffsetsAdapter for PostgresQueueSchema.
type PostgresQueueOffsetsAdapter struct {
	// DeleteOnAck deletes acked rows instead of setting acked = TRUE.
	DeleteOnAck bool
}

var _ wsql.OffsetsAdapter = PostgresQueueOffsetsAdapter{}

// AckMessageQuery marks (or deletes) the delivered rows with
// "offset" = ANY($1::bigint[]) and $1 = '{1,2,3}' (a plain string argument,
// which pgdriver interpolates as a quoted literal). Only rows up to
// params.LastRow are acked, see ackedOffsets.
func (a PostgresQueueOffsetsAdapter) AckMessageQuery(params wsql.AckMessageQueryParams) (wsql.Query, error) {
	return ackQuery(DialectPostgres, a.DeleteOnAck, params)
}

func (a PostgresQueueOffsetsAdapter) ConsumedMessageQuery(wsql.ConsumedMessageQueryParams) (wsql.Query, error) {
	return wsql.Query{}, nil
}

func (a PostgresQueueOffsetsAdapter) NextOffsetQuery(wsql.NextOffsetQueryParams) (wsql.Query, error) {
	return wsql.Query{}, nil
}

func (a PostgresQueueOffsetsAdapter) SchemaInitializingQueries(wsql.OffsetsSchemaInitializingQueriesParams) ([]wsql.Query, error) {
	return nil, nil
}

func (a PostgresQueueOffsetsAdapter) BeforeSubscribingQueries(wsql.BeforeSubscribingQueriesParams) ([]wsql.Query, error) {
	return nil, nil
}
