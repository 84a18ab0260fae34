package contract

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/components/cqrs"

	"github.com/shuxinqian/server/adapters/consumer"
	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/testdb"
)

// BenchmarkDeliveryHeapFlat: b.N events through the real delivery path (outbox → forwarder →
// the handler's durable queue → router → handler); the live heap after 10,000 events and after
// all of them are reported (heap-10k-B, heap-end-B). Nothing accumulates in memory, so with
// -benchtime=100000x the second is within 20% of the first (checked):
//
//	go test ./tests/contract/ -run '^$' -bench BenchmarkDeliveryHeapFlat -benchtime=100000x
func BenchmarkDeliveryHeapFlat(b *testing.B) {
	for _, be := range testdb.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			db := be.Open(b)
			var handled atomic.Int64
			counter := func(*application.App) []consumer.Handler {
				return []consumer.Handler{cqrs.NewEventHandler("count", func(context.Context, *user.LoggedIn) error {
					handled.Add(1)
					return nil
				})}
			}
			p := startPipelineB(b, db, counter)
			ctx := context.Background()
			u, _ := user.Register("u1", "13800138000", time.Now())
			if err := p.store.Do(ctx, func(ctx context.Context, tx ports.Tx) error { return tx.Users().Add(ctx, u) }); err != nil {
				b.Fatal(err)
			}
			heap := func() uint64 {
				runtime.GC()
				runtime.GC()
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				return m.HeapAlloc
			}
			waitHandled := func(n int64) {
				deadline := time.Now().Add(5 * time.Minute)
				for handled.Load() < n {
					if time.Now().After(deadline) {
						b.Fatalf("handled %d of %d", handled.Load(), n)
					}
					time.Sleep(5 * time.Millisecond) // polling the consumer with a deadline
				}
			}
			const batch = 100 // events per transaction
			emit := func(from, to int) {
				for i := from; i < to; i += batch {
					n := min(batch, to-i)
					if err := p.store.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
						for j := range n {
							if err := tx.Users().Update(ctx, "u1", func(u *user.User) error { u.LoggedIn(fmt.Sprint(i+j), time.Now()); return nil }); err != nil {
								return err
							}
						}
						return nil
					}); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ResetTimer()
			start := time.Now()
			first := min(b.N, 10000)
			emit(0, first)
			waitHandled(int64(first))
			h10k := heap()
			emit(first, b.N)
			waitHandled(int64(b.N))
			hEnd := heap()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
			b.ReportMetric(float64(h10k), "heap-10k-B")
			b.ReportMetric(float64(hEnd), "heap-end-B")
			b.Logf("%d events: live heap after 10,000 = %d B, after %d = %d B (%.1f%%)", b.N, h10k, b.N, hEnd, 100*float64(hEnd)/float64(h10k))
			if b.N >= 100000 && float64(hEnd) > 1.2*float64(h10k) {
				b.Fatalf("the heap grew from %d to %d B", h10k, hEnd)
			}
			if n, _ := p.store.DeliveriesPending(ctx, ""); n != 0 {
				b.Fatalf("%d deliveries left", n)
			}
		})
	}
}
