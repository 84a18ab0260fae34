package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"
)

// writeGateWait bounds the wait for the write gate: SQLite's busy timeout (busy_timeout(10000) in
// openSQLite), so a writer gives up after as long as it did when it queued on SQLite's lock. A
// variable for the tests.
var writeGateWait = 10 * time.Second

// errWriteGateTimeout is a write transaction that waited writeGateWait for the one before it.
var errWriteGateTimeout = errors.New("sqlstore: database is locked (waited 10 s for the write transaction before)")

// RunInTx is bun's RunInTx. On SQLite a write transaction (every one but ReadOnly) first takes the
// database's write gate, a one-slot queue of this process's write transactions.
//
// SQLite has one writer at a time. Without the gate, a transaction that finds another holding the
// lock sleeps in SQLite's busy handler for 1, then 2, 5, 10, 15 ms… and retries: a collision with
// a 2 ms transaction costs the second writer 3 ms, one with a 6 ms transaction 8 ms, and a sleeping
// writer holds one of the pool's connections meanwhile. With the gate the next writer starts as
// soon as the previous one ends, and waits without a connection. This process's writes outside
// transactions take the same gate (gated); writers of other processes on the same file, and
// watermill's subscriber on the outbox, still meet on SQLite's lock and its busy handler.
//
// A transaction started inside another one on the same goroutine waited for SQLite's lock
// before (the outer one holds it from its BEGIN IMMEDIATE); it waits for the gate now, and fails
// after the same 10 s.
func (d *DB) RunInTx(ctx context.Context, opts *sql.TxOptions, fn func(ctx context.Context, tx bun.Tx) error) error {
	if opts != nil && opts.ReadOnly {
		return d.DB.RunInTx(ctx, opts, fn)
	}
	return d.gated(ctx, func() error { return d.DB.RunInTx(ctx, opts, fn) })
}

// gated runs write on SQLite once it holds the write gate (see RunInTx); on Postgres at once.
// The writes outside transactions of this process go through it too (an audit line, the
// delivery queues' claims, acks and releases): each takes SQLite's lock like a transaction.
func (d *DB) gated(ctx context.Context, write func() error) error {
	if d.wgate == nil {
		return write()
	}
	t := time.NewTimer(writeGateWait)
	defer t.Stop()
	select {
	case d.wgate <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errWriteGateTimeout
	}
	defer func() { <-d.wgate }()
	return write()
}
