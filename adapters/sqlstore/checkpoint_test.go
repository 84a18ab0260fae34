package sqlstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
	frames, done, err := checkpoint(ctx, d.DB.DB)
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

// Every connection carries WALSizeLimit as its journal_size_limit; the writer that starts a
// checkpointed WAL over cuts the file back to the limit, where without one the file keeps the
// size of the largest burst. Shown with a 1 MiB limit on one connection against none.
func TestWALSizeLimit(t *testing.T) {
	ctx := context.Background()
	walAfterBurst := func(limit int) int64 {
		path := filepath.Join(t.TempDir(), "wal.db")
		d, err := OpenSQLite(path)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = d.Close() }()
		d.ckpt.stop() // the passes are the test's
		<-d.ckpt.done
		var got int
		if err := d.QueryRowContext(ctx, "PRAGMA journal_size_limit").Scan(&got); err != nil || got != WALSizeLimit {
			t.Fatalf("journal_size_limit %d (%v), want %d", got, err, WALSizeLimit)
		}
		conn, err := d.DB.DB.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close() }()
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := conn.ExecContext(ctx, q, args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		exec(fmt.Sprintf("PRAGMA journal_size_limit = %d", limit))
		exec("CREATE TABLE burst (v TEXT NOT NULL)")
		exec("BEGIN IMMEDIATE")
		for range 1000 {
			exec("INSERT INTO burst (v) VALUES (?)", strings.Repeat("b", 3900))
		}
		exec("COMMIT")
		var busy, frames, done int
		if err := conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &done); err != nil || frames != done {
			t.Fatalf("checkpoint %d/%d (%v)", done, frames, err)
		}
		exec("INSERT INTO burst (v) VALUES ('after')") // starts the WAL over
		st, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	if size := walAfterBurst(-1); size < 3<<20 {
		t.Fatalf("without a limit the WAL file holds %d bytes after a 4 MB burst, want it kept", size)
	}
	if size := walAfterBurst(1 << 20); size > 1<<20 {
		t.Fatalf("with a 1 MiB limit the WAL file holds %d bytes after starting over", size)
	}
}
