package sqlstore

import (
	"context"
	"database/sql"
	"reflect"
	"time"

	"github.com/uptrace/bun"
)

// placeholder hands a value to a SELECT built by selectInto: on SQLite it becomes a "?" of the
// statement and the value its argument; elsewhere bun writes the value into the text.
type placeholder func(v any) any

// selectInto runs a SELECT that the read paths of every request share (the session, the user and
// its certificate, the caller's enterprises) and scans it into dest: a pointer to a struct (one
// row; sql.ErrNoRows when there is none) or to a slice.
//
// On SQLite, bun writes every value into the SQL text, so each request's text is new and SQLite
// parses and plans it again: for GET /me that was a third of the server's CPU, with the
// allocator's map/unmap of each compiled program. Here the text is built once per key with "?"
// placeholders and runs as a statement prepared once per pooled connection (the stmtCache), the
// values bound. On Postgres the query runs as bun builds it (pgx's simple protocol, as
// everywhere else).
//
// key names the query's shape: build must give the same text for one key on every call.
func (t *txn) selectInto(ctx context.Context, key string, dest any, build func(q *bun.SelectQuery, arg placeholder) *bun.SelectQuery) error {
	d := t.store.db
	if d.IsPostgres() || d.stmts == nil {
		return build(t.idb.NewSelect(), func(v any) any { return v }).Scan(ctx, dest)
	}
	var args []any
	q := build(t.idb.NewSelect(), bindTo(&args))
	rows, err := d.queryPrepared(ctx, t.idb, d.text(key, q), args...)
	if err != nil {
		return err
	}
	defer func() { _ = rows.Close() }()
	if reflect.TypeOf(dest).Elem().Kind() == reflect.Slice {
		return d.ScanRows(ctx, rows, dest)
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := d.ScanRow(ctx, rows, dest); err != nil {
		return err
	}
	for rows.Next() { // one row is asked for; SQLite reports some errors on the next step
	}
	return rows.Err()
}

// queryPrepared runs query on SQLite as a prepared statement of the pool (in idb's transaction
// when it is one), or unprepared until the statement cache has prepared it.
func (d *DB) queryPrepared(ctx context.Context, idb bun.IDB, query string, args ...any) (*sql.Rows, error) {
	var tx *sql.Tx
	if btx, ok := idb.(bun.Tx); ok {
		tx = btx.Tx
	}
	st := d.stmts.get(d.DB.DB, query) //nolint:sqlclosecheck // kept for the database's life (stmtCache)
	switch {
	case st == nil && tx != nil:
		return tx.QueryContext(ctx, query, args...)
	case st == nil:
		return d.DB.DB.QueryContext(ctx, query, args...)
	case tx != nil:
		return tx.StmtContext(ctx, st).QueryContext(ctx, args...) //nolint:sqlclosecheck // closed with its transaction
	default:
		return st.QueryContext(ctx, args...)
	}
}

// bindTo is the SQLite placeholder: the value is appended to args (a time as bun writes it, so
// that bound and interpolated times compare alike) and "?" goes into the text.
func bindTo(args *[]any) placeholder {
	return func(v any) any {
		if tm, ok := v.(time.Time); ok {
			v = sqliteTime(tm)
		}
		*args = append(*args, v)
		return bun.Safe("?")
	}
}

// text is key's SQL text, built by q the first time.
func (d *DB) text(key string, q interface{ String() string }) string {
	if text, ok := d.texts.Load(key); ok {
		return text.(string)
	}
	text, _ := d.texts.LoadOrStore(key, q.String())
	return text.(string)
}

// sqliteChunk is how many of n rows the next outbox INSERT of a batch writes on SQLite: a power of
// two up to 64, so that a batch's INSERTs use at most seven texts, each prepared once per
// connection by the statement cache. One INSERT of 1,000 rows cost more than its rows: its 3,000
// parameters are matched to their values by a quadratic scan in the driver (modernc.org/sqlite's
// bind), its text is parsed afresh, and its text and program, above 16 KiB, are mapped and
// unmapped by modernc's allocator on every run.
func sqliteChunk(n int) int {
	c := 64
	for c > n {
		c /= 2
	}
	return c
}
