package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
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

// WALSizeLimit is the most an SQLite WAL holds before the checkpointer has the next writer start
// it over (restartWAL), and the largest its file is left once the database is idle. A burst of
// writes (a bulk import, a batch's events fanned out to the consumers) grows the file; SQLite
// then reuses it from its start but never shrinks it (166 MB after the load harness's seed).
//
// SQLite's own journal_size_limit cuts the file back in the commit that starts the WAL over: in
// the load harness that was the first request after every 1,000-request approval's events, and
// its ftruncate made it 5-6 ms slower (one single approval in five, one batch in three). The
// checkpointer does it instead, and only when no commit came since its previous pass
// (truncateIdleWAL).
const WALSizeLimit = 64 << 20

// checkpointer runs PASSIVE checkpoints every interval until stop, on a connection of its own;
// it has the next writer start the WAL over when the WAL holds more than its limit, and
// truncates the WAL file when the database is idle and the file past its limit.
type checkpointer struct {
	db    *sql.DB // one connection, not the requests' pool
	wal   string  // the WAL file's path
	limit int64   // WALSizeLimit; a test's own
	gated func(context.Context, func() error) error
	// frames is the WAL's size in frames at the previous pass: the same size, all of it
	// checkpointed, means no commit since.
	frames   int
	page     int64 // the page size, once read
	stop     context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
}

// startCheckpoints runs the checkpoints on sqldb: a one-connection *sql.DB of the same file,
// opened without the pool's driver wrapper. The pass then never waits for (or holds) one of the
// requests' connections, and whatever observes the pool's statements (a statement counter, a
// tracer) sees the requests' work only, not a PRAGMA at a random place between two of them.
func (d *DB) startCheckpoints(sqldb *sql.DB, wal string, interval time.Duration) {
	sqldb.SetMaxOpenConns(1)
	sqldb.SetMaxIdleConns(1)
	sqldb.SetConnMaxLifetime(0)
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{db: sqldb, wal: wal, limit: WALSizeLimit, gated: d.gated, frames: -1, stop: cancel, done: make(chan struct{})}
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
				_, _ = c.pass(ctx) // a failure (busy, closing) is retried at the next tick
			}
		}
	}()
}

// pass is one PASSIVE checkpoint; then, when the database is idle, the WAL file's truncation if
// it is due, else, when the WAL holds more than the limit, a RESTART checkpoint so that the next
// writer starts it over (restartWAL). It reports whether the WAL file was truncated.
func (c *checkpointer) pass(ctx context.Context) (truncated bool, err error) {
	_, frames, done, err := walCheckpoint(ctx, c.db, "PASSIVE")
	if err != nil {
		return false, err
	}
	idle := frames == done && frames == c.frames
	c.frames = frames
	maxFrames := int(c.limit / c.pageSize(ctx))
	switch {
	case idle:
		return c.truncateIdleWAL(ctx)
	case frames > maxFrames:
		return false, c.restartWAL(ctx, maxFrames)
	}
	return false, nil
}

// restartWAL makes the next writer start the WAL over from its beginning: a RESTART checkpoint,
// which copies what the PASSIVE pass before it could not (the frames committed meanwhile) while
// the process's writers wait at the write gate, and succeeds once no reader is still on a
// snapshot in the WAL; the next write transaction then begins with the whole WAL in the
// database file and starts it over.
//
// A writer starts the WAL over by itself only when its transaction begins with every frame
// already copied. Under writes that never pause, the frames of the commit before it are always
// still there (the checkpointer runs every CheckpointInterval, off the commits), so the WAL grew
// without end: 7.6 GB, with a 14 MB wal-index mapped into the process, after the load harness's
// 100,000 order creations in two minutes.
//
// The readers still on a snapshot in the WAL (reads are short) are waited for up to
// restartReaderWait, the process's writers waiting at the gate meanwhile; past it, or with
// another process's writer in, the pass gives up and the next one tries again.
func (c *checkpointer) restartWAL(ctx context.Context, maxFrames int) error {
	// The checkpointer's one connection, held until the end: its busy_timeout is this call's,
	// then 0 again (nothing else may use c.db meanwhile).
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	return c.gated(ctx, func() error {
		// The frames committed since the pass; none if a writer started the WAL over meanwhile.
		if _, frames, _, err := walCheckpoint(ctx, conn, "PASSIVE"); err != nil || frames <= maxFrames {
			return err
		}
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", restartReaderWait.Milliseconds())); err != nil {
			return err
		}
		_, _, _, err := walCheckpoint(ctx, conn, "RESTART")
		if _, rerr := conn.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err == nil {
			err = rerr
		}
		return err
	})
}

// restartReaderWait bounds restartWAL's wait for the readers on a snapshot in the WAL.
const restartReaderWait = 100 * time.Millisecond

// pageSize is the database's page size, a WAL frame's content (read once).
func (c *checkpointer) pageSize(ctx context.Context) int64 {
	if c.page == 0 {
		var n int64
		if err := c.db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&n); err != nil || n <= 0 {
			return 4096
		}
		c.page = n
	}
	return c.page
}

// truncateIdleWAL empties the WAL file when it is larger than the limit: a TRUNCATE checkpoint,
// which takes the database's write lock and resets the WAL to zero bytes. The process's writers
// wait for it at the write gate (writegate.go), not in SQLite's busy handler; the checkpointer's
// connection does not wait (busy_timeout 0), so a reader still on an old snapshot, or another
// process's writer, makes it give up until a later idle pass.
func (c *checkpointer) truncateIdleWAL(ctx context.Context) (bool, error) {
	st, err := os.Stat(c.wal)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // the last connection closed: SQLite removed it
	}
	if err != nil || st.Size() <= c.limit {
		return false, err
	}
	var busy bool
	err = c.gated(ctx, func() (err error) {
		busy, _, _, err = walCheckpoint(ctx, c.db, "TRUNCATE")
		return err
	})
	if err != nil || busy {
		return false, err
	}
	c.frames = 0
	return true, nil
}

// walCheckpoint runs a checkpoint of mode (PASSIVE, RESTART, TRUNCATE) on db, a *sql.DB or a
// *sql.Conn, and returns whether it could not complete (another connection held it off), the
// WAL's frames and how many of them are now in the database file.
func walCheckpoint(ctx context.Context, db interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}, mode string) (busy bool, walFrames, checkpointed int, err error) {
	var b int
	err = db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&b, &walFrames, &checkpointed)
	return b != 0, walFrames, checkpointed, err
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
