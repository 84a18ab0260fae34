package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCacheSize bounds the statements kept prepared (each one once per pooled connection): the
// hot paths use a handful of fixed texts; texts past the bound run unprepared.
const stmtCacheSize = 64

// stmtCacheMaxText leaves long texts unprepared: a multi-row outbox INSERT of a batch (one text
// per row count, its compiled program growing with the rows) would hold memory on every
// connection for a statement that seldom repeats.
const stmtCacheMaxText = 1024

// stmtCache keeps database/sql statements prepared on the pool by their text. database/sql keeps
// each one prepared per connection once used there, and modernc's SQLite driver keeps the parsed
// sqlite3_stmt of a single statement, so a repeated statement is not parsed again.
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func (c *stmtCache) get(ctx context.Context, db *sql.DB, query string) (*sql.Stmt, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[query]; ok {
		return st, true, nil
	}
	if len(c.m) >= stmtCacheSize || len(query) > stmtCacheMaxText {
		return nil, false, nil
	}
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil, false, err
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[query] = st
	return st, true, nil
}

// Prepared runs query with args in tx as a statement prepared once per connection (SQLite: bun
// writes its values into the SQL text, so each of its statements is parsed afresh; the few that
// run on every payment or event are sent through here instead). On Postgres it is the pgx
// statement cache of CachedStatement. Past the cache's bound the statement runs unprepared.
func (d *DB) prepared(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	if d.IsPostgres() || d.stmts == nil {
		return nil, nil
	}
	st, ok, err := d.stmts.get(ctx, d.DB.DB, query)
	if err != nil || !ok {
		return nil, err
	}
	return tx.StmtContext(ctx, st), nil
}

// ExecTx executes query in tx, prepared where the dialect benefits (see prepared).
func (d *DB) ExecTx(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st, err := d.prepared(ctx, tx, query)
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
	st, err := d.prepared(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return tx.QueryContext(ctx, query, d.CachedStatement(args...)...)
	}
	return st.QueryContext(ctx, args...)
}
