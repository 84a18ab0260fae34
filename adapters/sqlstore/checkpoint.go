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

// checkpointer runs PASSIVE checkpoints of d every interval until stop.
type checkpointer struct {
	stop     context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
}

func (d *DB) startCheckpoints(interval time.Duration) {
	// The pool, not d.DB: a caller may replace d.DB by a clone with query hooks (same pool).
	sqldb := d.DB.DB
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{stop: cancel, done: make(chan struct{})}
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

// Close stops the checkpoints (SQLite) and closes the database.
func (d *DB) Close() error {
	if c := d.ckpt; c != nil {
		c.stopOnce.Do(func() {
			c.stop()
			<-c.done
		})
	}
	return d.DB.Close()
}
