package contract

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/ports"
)

// The attempt counter is atomic across concurrent transactions (40 parallel hits count 1..40
// exactly once each) and restarts its window when the window is over.
func TestAttemptCounter(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		t0 := t0.Truncate(time.Millisecond) // windows are kept in milliseconds
		hit := func(key string, now time.Time) (int, time.Time) {
			var n int
			var reset time.Time
			if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
				var err error
				n, reset, err = tx.Attempts().Hit(ctx, key, time.Minute, now)
				return err
			}); err != nil {
				t.Error(err)
			}
			return n, reset
		}
		var mu sync.Mutex
		var got []int
		var wg sync.WaitGroup
		for range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, _ := hit("k", t0)
				mu.Lock()
				got = append(got, n)
				mu.Unlock()
			}()
		}
		wg.Wait()
		sort.Ints(got)
		for i, n := range got {
			if n != i+1 {
				t.Fatalf("counts %v", got)
			}
		}
		if n, reset := hit("k", t0.Add(59*time.Second)); n != 41 || !reset.Equal(t0.Add(time.Minute)) {
			t.Fatalf("same window: %d %v", n, reset)
		}
		if n, reset := hit("k", t0.Add(time.Minute)); n != 1 || !reset.Equal(t0.Add(2*time.Minute)) {
			t.Fatalf("next window: %d %v", n, reset)
		}
		if n, _ := hit("other", t0); n != 1 {
			t.Fatalf("keys are separate: %d", n)
		}
	})
}
