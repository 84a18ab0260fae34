package contract

import (
	"context"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/system"
	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/tests/testdb"
)

// BenchmarkApproveRatio is issue 14's "time to approve 1,000 join requests / time to approve 1"
// (goal ≤ 10×) as a Go benchmark: each iteration approves one request, then 1,000, on the same
// database (the requests put back to pending outside the timings), and reports both times and
// their ratio over all iterations.
func BenchmarkApproveRatio(b *testing.B) {
	for _, be := range testdb.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			db := be.Open(b)
			store := testdb.Store(b, db)
			ctx := context.Background()
			app := application.New(application.Deps{UoW: store, Clock: system.Clock{}, IDs: system.NewIDs()})
			eid, ids := seedPending(b, store, 1001)
			reset := func() {
				if _, err := db.NewUpdate().Table("memberships").Set("status = 'pending'").Set("cert_authorized = FALSE").
					Where("enterprise_id = ? AND id <> 'm-admin'", eid).Exec(ctx); err != nil {
					b.Fatal(err)
				}
				if _, err := db.NewDelete().Table("watermill_outbox").Where("1 = 1").Exec(ctx); err != nil {
					b.Fatal(err)
				}
			}
			approve := func(ids []string) time.Duration {
				start := time.Now()
				res, err := app.DecideBatch(ctx, application.Actor{UserID: "u-admin"}, eid, ids, application.Approve)
				d := time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range res {
					if r.Err != nil {
						b.Fatalf("item %s: %v", r.ID, r.Err)
					}
				}
				return d
			}
			var one, thousand time.Duration
			for b.Loop() {
				b.StopTimer()
				reset()
				b.StartTimer()
				one += approve(ids[:1])
				b.StopTimer()
				reset()
				b.StartTimer()
				thousand += approve(ids[1:])
			}
			b.ReportMetric(float64(one.Microseconds())/float64(b.N), "µs/approve1")
			b.ReportMetric(float64(thousand.Microseconds())/float64(b.N), "µs/approve1000")
			b.ReportMetric(float64(thousand)/float64(one), "ratio")
		})
	}
}
