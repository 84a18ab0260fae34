package sqlstore

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// CheckpointInterval is how often an SQLite database's WAL is copied back into the database file
// (a PASSIVE checkpoint) by the database's own goroutine.
//
// SQLite's default is to checkpoint in the commit that takes the WAL past 1,000 pages: that commit
// copies the pages and syncs the file before it returns, which made one in four 1,000-request
// approvals of the load harness 10 ms slower (the batch writes ~150 pages, so it is often the one
// to cross the mark; the consumers' writes between requests fill the rest). The connections run
// with wal_autocheckpoint(0) and this goroutine does the work off every request's path. A
// PASSIVE checkpoint waits for no reader or writer; the WAL starts over once a checkpoint has
// copied all of it and no reader still uses it. Between two passes the WAL holds at most an
// interval's writes; when the last connection of a process closes, SQLite checkpoints and
// removes it.
const CheckpointInterval = 250 * time.Millisecond

// WALSizeLimit is the size an SQLite WAL file is cut back to when it starts over (its
// journal_size_limit, on every connection). A burst of writes (a bulk import, a batch's events
// fanned out to the consumers) grows the file; SQLite then reuses it from its start but never
// shrinks it (166 MB after the load harness's seed). Past the limit, the writer that starts the WAL
// over truncates it.
const WALSizeLimit = 64 << 20

// checkpointer runs PASSIVE checkpoints every interval until stop, on a connection of its own.
type checkpointer struct {
	db       *sql.DB // one connection, not the requests' pool
	stop     context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
}

// startCheckpoints runs the checkpoints on sqldb: a one-connection *sql.DB of the same file,
// opened without the pool's driver wrapper. The pass then never waits for (or holds) one of the
// requests' connections, and whatever observes the pool's statements (a statement counter, a
// tracer) sees the requests' work only, not a PRAGMA at a random place between two of them.
func (d *DB) startCheckpoints(sqldb *sql.DB, interval time.Duration) {
	sqldb.SetMaxOpenConns(1)
	sqldb.SetMaxIdleConns(1)
	sqldb.SetConnMaxLifetime(0)
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{db: sqldb, stop: cancel, done: make(chan struct{})}
	d.ckpt = c
	go func() {
		defer close(c.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_, _, _ = checkpoint(ctx, sqldb) // a failure (busy, closing) is retried at the next tick
			}
		}
	}()
}

// checkpoint runs one PASSIVE checkpoint and returns the WAL's frames and how many of them are
// now in the database file.
func checkpoint(ctx context.Context, db *sql.DB) (walFrames, checkpointed int, err error) {
	var busy int
	err = db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &walFrames, &checkpointed)
	return walFrames, checkpointed, err
}

// halt stops the checkpoints and closes their connection (once).
func (c *checkpointer) halt() {
	c.stopOnce.Do(func() {
		c.stop()
		<-c.done
		_ = c.db.Close()
	})
}

// Close stops the checkpoints (SQLite) and closes the database.
func (d *DB) Close() error {
	if c := d.ckpt; c != nil {
		c.halt()
	}
	return d.DB.Close()
}
