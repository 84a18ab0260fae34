package contract

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/tests/testdb"
)

// retentionRows inserts, for each table the pruner covers, one row per given age (time before
// now of the column the pruner reads), named by its index.
func retentionRows(t *testing.T, db *sqlstore.DB, now time.Time, table string, ages ...time.Duration) {
	t.Helper()
	ctx := context.Background()
	for i, age := range ages {
		at := now.Add(-age).UTC()
		id := fmt.Sprintf("%s-%d", table, i)
		var err error
		switch table {
		case "sms_codes": // age is since expiry; codes live 5 minutes
			_, err = db.NewRaw(`INSERT INTO sms_codes (id, phone_idx, purpose, code_hash, ip_idx, created_at, expires_at) VALUES (?, 'p', 'login', 'h', 'ip', ?, ?)`,
				id, at.Add(-5*time.Minute), at).Exec(ctx)
		case "inbox":
			_, err = db.NewRaw(`INSERT INTO inbox (consumer, message_id, processed_at) VALUES ('c', ?, ?)`, id, at).Exec(ctx)
		case "idempotency_keys": // age is since creation
			_, err = db.NewRaw(`INSERT INTO idempotency_keys (scope, key, request_hash, created_at) VALUES ('s', ?, 'h', ?)`, id, at).Exec(ctx)
		case "audit_log":
			_, err = db.NewRaw(`INSERT INTO audit_log (id, message_id, user_id, action, at) VALUES (?, ?, 'u', 'login', ?)`, id, id, at).Exec(ctx)
		}
		if err != nil {
			t.Fatalf("insert %s: %v", id, err)
		}
	}
}

func remaining(t *testing.T, db *sqlstore.DB, table string) int {
	t.Helper()
	n, err := db.NewSelect().Table(table).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

func TestRetentionPrune(t *testing.T) {
	for _, b := range testdb.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			db := b.Open(t)
			now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
			const day = 24 * time.Hour
			// Older than the window go, newer stay (defaults: codes 1 day after expiry, inbox 30
			// days, idempotency keys at expiry = 24h after creation, audit 365 days).
			retentionRows(t, db, now, "sms_codes", 2*day, day+time.Minute, day-time.Minute, time.Hour, -4*time.Minute)
			retentionRows(t, db, now, "inbox", 31*day, 30*day+time.Minute, 29*day, time.Minute)
			retentionRows(t, db, now, "idempotency_keys", 3*day, day+time.Minute, day-time.Minute, 0)
			retentionRows(t, db, now, "audit_log", 400*day, 366*day, 364*day, day)

			rep, err := db.Prune(ctx, now, sqlstore.DefaultRetention)
			if err != nil {
				t.Fatal(err)
			}
			if rep != (sqlstore.PruneReport{Codes: 2, Inbox: 2, Idempotency: 2, Audit: 2}) {
				t.Fatalf("report %+v", rep)
			}
			for table, want := range map[string]int{"sms_codes": 3, "inbox": 2, "idempotency_keys": 2, "audit_log": 2} {
				if n := remaining(t, db, table); n != want {
					t.Errorf("%s: %d rows left, want %d", table, n, want)
				}
			}
			// The survivors are the young ones.
			var ids []string
			if err := db.NewSelect().Table("audit_log").Column("id").Order("id").Scan(ctx, &ids); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(ids) != "[audit_log-2 audit_log-3]" {
				t.Fatalf("audit rows left: %v", ids)
			}
			// Nothing more to do: a second run deletes nothing.
			if rep, err := db.Prune(ctx, now, sqlstore.DefaultRetention); err != nil || rep.Total() != 0 {
				t.Fatalf("second run %+v %v", rep, err)
			}
		})
	}
}

func TestRetentionPruneInBoundedBatches(t *testing.T) {
	for _, b := range testdb.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			db := b.Open(t)
			now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
			ages := make([]time.Duration, 7)
			for i := range ages {
				ages[i] = time.Duration(40+i) * 24 * time.Hour
			}
			retentionRows(t, db, now, "inbox", append(ages, time.Hour)...)
			r := sqlstore.DefaultRetention
			r.Batch, r.MaxBatches = 2, 2 // at most 2 statements of 2 rows per run
			rep, err := db.Prune(ctx, now, r)
			if err != nil || rep.Inbox != 4 {
				t.Fatalf("first run deleted %d (%v), want 4", rep.Inbox, err)
			}
			rep, err = db.Prune(ctx, now, r)
			if err != nil || rep.Inbox != 3 {
				t.Fatalf("second run deleted %d (%v), want the 3 left", rep.Inbox, err)
			}
			if n := remaining(t, db, "inbox"); n != 1 {
				t.Fatalf("%d inbox rows left, want the young one", n)
			}
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if _, err := db.Prune(cctx, now, r); err == nil {
				t.Fatal("a cancelled prune reported success")
			}
		})
	}
}

type benchInboxRow struct {
	bun.BaseModel `bun:"table:inbox"`
	Consumer      string    `bun:"consumer"`
	MessageID     string    `bun:"message_id"`
	ProcessedAt   time.Time `bun:"processed_at"`
}

// BenchmarkPruneInbox deletes 5,000 expired inbox records in batches of 500 per run (SQLite;
// Postgres too with TEST_DATABASE_URL).
func BenchmarkPruneInbox(b *testing.B) {
	for _, be := range testdb.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			db := be.Open(b)
			ctx := context.Background()
			now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
			old := now.Add(-40 * 24 * time.Hour)
			for b.Loop() {
				b.StopTimer()
				for i := 0; i < 5000; i += 500 {
					rows := make([]benchInboxRow, 0, 500)
					for j := i; j < i+500; j++ {
						rows = append(rows, benchInboxRow{Consumer: "c", MessageID: fmt.Sprintf("m%06d", j), ProcessedAt: old})
					}
					if _, err := db.NewInsert().Model(&rows).Exec(ctx); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				r := sqlstore.DefaultRetention
				r.MaxBatches = 100
				rep, err := db.Prune(ctx, now, r)
				if err != nil || rep.Inbox != 5000 {
					b.Fatalf("%+v %v", rep, err)
				}
			}
		})
	}
}
