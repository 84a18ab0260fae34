package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCacheSize bounds the statements kept prepared (each one once per pooled connection): the
// hot paths use a handful of fixed texts; texts past the bound run unprepared.
const stmtCacheSize = 64

// stmtCacheMaxText leaves long texts unprepared: a long multi-row INSERT (one text per row count,
// its compiled program growing with the rows) would hold memory on every connection for a
// statement that seldom repeats.
const stmtCacheMaxText = 1024

// stmtCache keeps database/sql statements prepared on the pool by their text. database/sql keeps
// each one prepared per connection once used there, and modernc's SQLite driver keeps the parsed
// sqlite3_stmt of a single statement, so a repeated statement is not parsed again.
//
// A statement is prepared in the background the first time it is asked for, and runs unprepared
// until then: preparing on the pool needs a free connection, and the caller is inside a
// transaction that holds SQLite's write lock, while the pool's other connections may all be
// waiting for that lock: waiting there would stall every writer for the busy timeout.
type stmtCache struct {
	mu      sync.Mutex
	m       map[string]*sql.Stmt
	pending map[string]bool
	wg      sync.WaitGroup // the background preparations (tests wait on it)
}

func (c *stmtCache) get(db *sql.DB, query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[query]; ok {
		return st
	}
	if len(c.m)+len(c.pending) >= stmtCacheSize || len(query) > stmtCacheMaxText || c.pending[query] {
		return nil
	}
	if c.pending == nil {
		c.pending, c.m = map[string]bool{}, map[string]*sql.Stmt{}
	}
	c.pending[query] = true
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		st, err := db.PrepareContext(context.Background(), query) //nolint:sqlclosecheck // kept for the database's life; its connections' statements close with them
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.pending, query)
		if err == nil { // a failure (a closed database, say) is tried again on a later use
			c.m[query] = st
		}
	}()
	return nil
}

// WaitPrepared waits for the statement cache's background preparations to finish (tests).
func (d *DB) WaitPrepared() {
	if d.stmts != nil {
		d.stmts.wg.Wait()
	}
}

// Prepared runs query with args in tx as a statement prepared once per connection (SQLite: bun
// writes its values into the SQL text, so each of its statements is parsed afresh; the few that
// run on every payment or event are sent through here instead). On Postgres it is the pgx
// statement cache of CachedStatement. Past the cache's bound, and until its
// background preparation is done, the statement runs unprepared.
func (d *DB) prepared(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	if d.IsPostgres() || d.stmts == nil {
		return nil, nil
	}
	st := d.stmts.get(d.DB.DB, query)
	if st == nil {
		return nil, nil
	}
	return tx.StmtContext(ctx, st), nil
}

// ExecTx executes query in tx, prepared where the dialect benefits (see prepared).
func (d *DB) ExecTx(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st, err := d.prepared(ctx, tx, query) //nolint:sqlclosecheck // a transaction's statement: database/sql closes it with the transaction
	if err != nil {
		return nil, err
	}
	if st == nil {
		return tx.ExecContext(ctx, query, d.CachedStatement(args...)...)
	}
	return st.ExecContext(ctx, args...)
}

// QueryTx queries in tx, prepared where the dialect benefits (see prepared).
func (d *DB) QueryTx(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	st, err := d.prepared(ctx, tx, query) //nolint:sqlclosecheck // a transaction's statement: database/sql closes it with the transaction
	if err != nil {
		return nil, err
	}
	if st == nil {
		return tx.QueryContext(ctx, query, d.CachedStatement(args...)...)
	}
	return st.QueryContext(ctx, args...)
}
