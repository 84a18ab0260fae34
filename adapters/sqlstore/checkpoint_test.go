package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"
)

// Commits never checkpoint (wal_autocheckpoint is 0 on every connection): 2,000 pages written
// in four transactions are all still in the WAL, where SQLite's default would have copied them
// back in the commit that passed 1,000 pages and started the WAL over. One pass of the
// database's checkpointer then copies every frame; Close stops it and closes the database.
func TestCheckpointsRunOffTheCommits(t *testing.T) {
	ctx := context.Background()
	d, err := OpenSQLite(filepath.Join(t.TempDir(), "ckpt.db"))
	if err != nil {
		t.Fatal(err)
	}
	d.ckpt.stop() // this test drives the passes itself, on the pool
	<-d.ckpt.done
	var auto int
	if err := d.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&auto); err != nil || auto != 0 {
		t.Fatalf("wal_autocheckpoint %d (%v), want 0", auto, err)
	}
	if _, err := d.ExecContext(ctx, "CREATE TABLE big (v TEXT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	page := strings.Repeat("x", 3900) // one row per 4 KiB page
	for tx := 0; tx < 4; tx++ {
		if err := d.RunInTx(ctx, nil, func(ctx context.Context, btx bun.Tx) error {
			for range 500 {
				if _, err := btx.ExecContext(ctx, "INSERT INTO big (v) VALUES (?)", page); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	_, frames, done, err := walCheckpoint(ctx, d.DB.DB, "PASSIVE")
	if err != nil {
		t.Fatal(err)
	}
	if frames < 2000 {
		t.Fatalf("the WAL holds %d frames after 2,000 pages: a commit checkpointed", frames)
	}
	if done != frames {
		t.Fatalf("a pass copied %d of %d frames", done, frames)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	_ = d.Close() // the checkpointer is stopped once: a second Close does not block
}

// The database's own goroutine checkpoints: the pages of a committed write reach the database
// file (which no commit writes any more) without anything else touching the database. Observed
// through the file's size, at the goroutine's own interval.
func TestCheckpointerCopiesTheWAL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ckpt.db")
	d, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d.Close() }()
	if _, err := d.ExecContext(ctx, "CREATE TABLE t (v TEXT)"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ExecContext(ctx, "INSERT INTO t (v) VALUES (?)", strings.Repeat("y", 64<<10)); err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(CheckpointInterval)
	defer tick.Stop()
	for i := 0; ; i++ {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() >= 64<<10 {
			return
		}
		if i > 40 {
			t.Fatalf("after %d intervals the database file holds %d bytes of a 64 KiB row", i, st.Size())
		}
		<-tick.C
	}
}

// passesOfTheTest opens an SQLite database whose checkpointer is stopped, its passes left to the
// test, with a 1 MiB WAL limit; it returns the database file's path.
func passesOfTheTest(t *testing.T) (string, *DB, *checkpointer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wal.db")
	d, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	c := d.ckpt
	c.stop()
	<-c.done
	c.limit = 1 << 20
	return path, d, c
}

// Commits never truncate the WAL file (the pool's connections carry no journal_size_limit): a
// burst leaves it at its size through a checkpoint and the WAL starting over, as SQLite reuses
// the file. The checkpointer's pass empties it once a pass finds no commit since the previous
// one and the file is past the limit; a reader still on a snapshot in the WAL makes it give up
// (without waiting) until a later idle pass.
func TestIdleWALTruncation(t *testing.T) {
	ctx := context.Background()
	path, d, c := passesOfTheTest(t)
	var limit int
	if err := d.QueryRowContext(ctx, "PRAGMA journal_size_limit").Scan(&limit); err != nil || limit != -1 {
		t.Fatalf("journal_size_limit %d (%v), want -1 (no commit truncates)", limit, err)
	}
	if _, err := d.ExecContext(ctx, "CREATE TABLE burst (v TEXT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	burst := func() {
		t.Helper()
		if err := d.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			for range 1000 {
				if _, err := tx.ExecContext(ctx, "INSERT INTO burst (v) VALUES (?)", strings.Repeat("b", 3900)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	walSize := func() int64 {
		t.Helper()
		st, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	pass := func(want bool) {
		t.Helper()
		got, err := c.pass(ctx)
		if err != nil || got != want {
			t.Fatalf("pass truncated %t (%v), want %t; WAL file %d bytes", got, err, want, walSize())
		}
	}

	burst()
	pass(false)                                                                             // commits since the previous pass
	if _, err := d.ExecContext(ctx, "INSERT INTO burst (v) VALUES ('after')"); err != nil { // starts the WAL over
		t.Fatal(err)
	}
	if size := walSize(); size < 3<<20 {
		t.Fatalf("the WAL file holds %d bytes after a 4 MB burst and a commit: a commit truncated it", size)
	}
	pass(false) // the commit
	pass(true)  // idle
	if size := walSize(); size != 0 {
		t.Fatalf("the WAL file holds %d bytes after the idle pass", size)
	}
	pass(false) // idle, and small

	burst()
	reader, err := d.DB.DB.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := reader.QueryRowContext(ctx, "SELECT count(*) FROM burst").Scan(&n); err != nil { // a snapshot in the WAL
		t.Fatal(err)
	}
	pass(false)
	pass(false) // idle, but the reader's snapshot is in the WAL
	if size := walSize(); size < 3<<20 {
		t.Fatalf("the WAL file holds %d bytes under a reader", size)
	}
	if err := reader.Rollback(); err != nil {
		t.Fatal(err)
	}
	pass(true)
	if size := walSize(); size != 0 {
		t.Fatalf("the WAL file holds %d bytes after the reader left", size)
	}
}

// Under writes that never pause the WAL still starts over once it holds the limit: a writer
// starts it over only when its transaction begins with every frame copied, which passes running
// beside the writes never leave it, so the pass has the next writer start it over (a RESTART
// checkpoint). 24 MB written in one-page transactions, a reader reading one row at a time all
// along (as requests read), and a pass every 2 ms (the writes' pace, not a wait): the WAL file
// stays well under half of it (2.4-4.2 MB here with a 1 MiB limit); it grew to 19-24 MB before,
// and to 7.6 GB under the load harness.
func TestWALStartsOverUnderContinuousWrites(t *testing.T) {
	ctx := context.Background()
	path, d, c := passesOfTheTest(t)
	if _, err := d.ExecContext(ctx, "CREATE TABLE w (v TEXT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	const writes = 6000 // one 3,900-byte row, a page, each
	stop := make(chan struct{})
	errs := make(chan error, 2)
	var wrote atomic.Int64
	go func() {
		for i := 0; i < writes; i++ {
			if err := d.gated(ctx, func() error { // as the process's writes are (writegate.go)
				_, err := d.ExecContext(ctx, "INSERT INTO w (v) VALUES (?)", strings.Repeat("w", 3900))
				return err
			}); err != nil {
				errs <- err
				return
			}
			wrote.Add(1)
		}
		errs <- nil
	}()
	go func() {
		for {
			select {
			case <-stop:
				errs <- nil
				return
			default:
			}
			var n int // a request's read: a few pages
			if err := d.QueryRowContext(ctx, "SELECT length(v) FROM w WHERE rowid = ?", max(wrote.Load(), 1)).Scan(&n); err != nil &&
				!errors.Is(err, sql.ErrNoRows) {
				errs <- err
				return
			}
		}
	}()
	var largest int64
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for wrote.Load() < writes {
		<-tick.C
		if _, err := c.pass(ctx); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(path + "-wal"); err == nil {
			largest = max(largest, st.Size())
		}
	}
	close(stop)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if largest > 12<<20 {
		t.Fatalf("the WAL file reached %d bytes under 24 MB of writes with a 1 MiB limit", largest)
	}
	t.Logf("largest WAL file %d bytes", largest)
}
