package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"strconv"
	"strings"
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
	return scanInto(ctx, d, rows, dest)
}

// scanInto scans rows into dest (a pointer to a struct: one row, sql.ErrNoRows when there is
// none; or to a slice) and closes them.
func scanInto(ctx context.Context, d *DB, rows *sql.Rows, dest any) error {
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

// bindPG is the Postgres placeholder of a statement run through pgx's statement cache: $1, $2, …
// in the order the values are given.
func bindPG(args *[]any) placeholder {
	return func(v any) any {
		*args = append(*args, v)
		return bun.Safe("$" + strconv.Itoa(len(*args)))
	}
}

// updateReturning runs an UPDATE … RETURNING built the way selectInto builds a SELECT, and scans
// the rows it returns into dest, a pointer to a slice. Its text is built once per key with
// placeholders, whatever the number of values behind them (a batch's ids are one array).
//
// On SQLite it runs in the transaction as a statement prepared once per pooled connection, and it
// is UPDATE OR FAIL: an UPDATE of many rows that may abort keeps a statement journal of every
// page it changes, to undo itself alone; with FAIL a constraint error leaves the rows changed
// before it as they are, and the error rolls the whole transaction back anyway. On Postgres it
// runs with "$n" placeholders through pgx's statement cache (DB.CachedStatement), so that
// Postgres neither parses nor plans the statement on every call, and the values, arrays
// included, travel apart from the text.
func (t *txn) updateReturning(ctx context.Context, key string, dest any, build func(q *bun.UpdateQuery, arg placeholder) *bun.UpdateQuery) error {
	d := t.store.db
	btx, ok := t.idb.(bun.Tx)
	if !ok {
		return errors.New("sqlstore: an UPDATE of many rows outside a transaction")
	}
	var args []any
	var rows *sql.Rows
	var err error
	if d.IsPostgres() {
		q := build(t.idb.NewUpdate(), bindPG(&args))
		rows, err = d.QueryTx(ctx, btx.Tx, d.text(key, q), args...)
	} else {
		q := build(t.idb.NewUpdate(), bindTo(&args))
		rows, err = d.queryPrepared(ctx, t.idb, d.text(key, orFail{q}), args...)
	}
	if err != nil {
		return err
	}
	return scanInto(ctx, d, rows, dest)
}

// orFail is an UPDATE's text as UPDATE OR FAIL (SQLite); one that starts otherwise (a WITH
// clause) is left as it is.
type orFail struct{ q *bun.UpdateQuery }

func (o orFail) String() string {
	text := o.q.String()
	if rest, ok := strings.CutPrefix(text, "UPDATE "); ok {
		return "UPDATE OR FAIL " + rest
	}
	return text
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

// sqliteChunk is how many of n rows the next outbox INSERT writes on SQLite: a power of two up to
// 64, so that the INSERTs use a handful of texts, each prepared once per connection by the
// statement cache, instead of one text per row count. (A batch's events no longer come here: they
// are one bundle row, bundle.go. Before that, one INSERT of 1,000 rows cost more than its rows:
// modernc.org/sqlite matches each of its 3,000 parameters to its value by a linear scan.)
func sqliteChunk(n int) int {
	c := 64
	for c > n {
		c /= 2
	}
	return c
}
