package sqlstore

import (
	"context"
	"time"
)

type attempts struct{ t *txn }

// Hit is one statement (an upsert that restarts an expired window), atomic on both databases.
func (r attempts) Hit(ctx context.Context, key string, window time.Duration, now time.Time) (int, time.Time, error) {
	if err := r.t.mustWrite(); err != nil {
		return 0, time.Time{}, err
	}
	nowMS, expired := now.UnixMilli(), now.Add(-window).UnixMilli()
	var count int
	var start int64
	err := r.t.idb.NewRaw(`INSERT INTO attempt_counters (key, window_start, count) VALUES (?, ?, 1)
ON CONFLICT (key) DO UPDATE SET
  count = CASE WHEN attempt_counters.window_start <= ? THEN 1 ELSE attempt_counters.count + 1 END,
  window_start = CASE WHEN attempt_counters.window_start <= ? THEN excluded.window_start ELSE attempt_counters.window_start END
RETURNING count, window_start`, key, nowMS, expired, expired).Scan(ctx, &count, &start)
	if err != nil {
		return 0, time.Time{}, err
	}
	return count, time.UnixMilli(start).Add(window).UTC(), nil
}
