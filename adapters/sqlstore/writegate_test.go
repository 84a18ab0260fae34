package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"
)

func openGateDB(t testing.TB) *DB {
	t.Helper()
	d, err := OpenSQLite(filepath.Join(t.TempDir(), "gate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if _, err := d.ExecContext(context.Background(), "CREATE TABLE w (n INTEGER NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	return d
}

// A write transaction waits for the one before it at the gate, holding none of the pool's
// connections; a read-only transaction and a read outside transactions pass; the waiter gives up
// with its context, or after writeGateWait (then as SQLite's busy timeout did, with an error).
func TestWriteGate(t *testing.T) {
	ctx := context.Background()
	d := openGateDB(t)
	inside, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- d.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if _, err := tx.ExecContext(ctx, "INSERT INTO w (n) VALUES (1)"); err != nil {
				return err
			}
			close(inside)
			<-release
			return nil
		})
	}()
	<-inside
	if got := d.DB.DB.Stats().InUse; got != 1 {
		t.Fatalf("%d connections in use with one write transaction open", got)
	}

	// A second writer gives up with its context, having taken no connection.
	cctx, cancel := context.WithCancel(ctx)
	second := make(chan error, 1)
	go func() {
		second <- d.RunInTx(cctx, nil, func(context.Context, bun.Tx) error { return errors.New("ran while the first held the gate") })
	}()
	cancel()
	if err := <-second; !errors.Is(err, context.Canceled) {
		t.Fatalf("a canceled writer: %v", err)
	}

	// Reads are not gated: a read-only transaction and a plain read see the committed state.
	var n int
	if err := d.RunInTx(ctx, &sql.TxOptions{ReadOnly: true}, func(ctx context.Context, tx bun.Tx) error {
		return tx.QueryRowContext(ctx, "SELECT count(*) FROM w").Scan(&n)
	}); err != nil || n != 0 {
		t.Fatalf("read-only transaction: %d %v", n, err)
	}

	// A writer that waits longer than writeGateWait fails like SQLite's busy timeout.
	old := writeGateWait
	writeGateWait = 20 * time.Millisecond
	err := d.RunInTx(ctx, nil, func(context.Context, bun.Tx) error { return errors.New("ran while the first held the gate") })
	writeGateWait = old
	if !errors.Is(err, errWriteGateTimeout) {
		t.Fatalf("a writer past the wait: %v", err)
	}

	// The next writer runs as soon as the first commits, and sees its row.
	third := make(chan error, 1)
	go func() {
		third <- d.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM w").Scan(&n); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "INSERT INTO w (n) VALUES (2)")
			return err
		})
	}()
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-third; err != nil || n != 1 {
		t.Fatalf("the writer after: saw %d rows, %v", n, err)
	}
}

// Concurrent writers all commit, one at a time, whatever their number against the pool's 8
// connections.
func TestWriteGateConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	d := openGateDB(t)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- d.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				_, err := tx.ExecContext(ctx, "INSERT INTO w (n) VALUES (?)", i)
				return err
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := d.QueryRowContext(ctx, "SELECT count(*) FROM w").Scan(&n); err != nil || n != 32 {
		t.Fatalf("%d rows, %v", n, err)
	}
}

// BenchmarkContendedWrites: 4 goroutines committing short write transactions (an INSERT each) on
// one SQLite database, queued by the write gate or by SQLite's busy handler (its 1, 2, 5, 10 ms
// sleeps); reports the p50/p99/p99.9/max time of a transaction from its start to its commit.
func BenchmarkContendedWrites(b *testing.B) {
	for _, gate := range []bool{true, false} {
		name := "gate"
		if !gate {
			name = "busy-handler"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			d := openGateDB(b)
			if !gate {
				d.wgate = nil
			}
			var mu sync.Mutex
			var lat []time.Duration
			b.SetParallelism(2) // 2 × GOMAXPROCS goroutines
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					start := time.Now()
					if err := d.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
						_, err := tx.ExecContext(ctx, "INSERT INTO w (n) VALUES (1)")
						return err
					}); err != nil {
						b.Error(err)
						return
					}
					el := time.Since(start)
					mu.Lock()
					lat = append(lat, el)
					mu.Unlock()
				}
			})
			b.StopTimer()
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
				b.ReportMetric(float64(lat[len(lat)*999/1000].Microseconds()), "p99.9-µs")
				b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
			}
		})
	}
}
