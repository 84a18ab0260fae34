package contract

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/components/cqrs"

	"github.com/shuxinqian/server/adapters/consumer"
	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/testdb"
)

// BenchmarkUnitOfWorkWithEvent: one transaction that updates a user and writes its event to the
// outbox table.
func BenchmarkUnitOfWorkWithEvent(b *testing.B) {
	for _, be := range testdb.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			db := be.Open(b)
			uow := testdb.Store(b, db)
			u, _ := user.Register("u1", "13800138000", time.Now())
			ctx := context.Background()
			if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error { return tx.Users().Add(ctx, u) }); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
					return tx.Users().Update(ctx, "u1", func(u *user.User) error { u.LoggedIn("sms", time.Now()); return nil })
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOutboxDelivery: events committed, forwarded from the outbox table and handled by a
// consumer, end to end; reported as events per second.
func BenchmarkOutboxDelivery(b *testing.B) {
	for _, be := range testdb.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			db := be.Open(b)
			handled := make(chan struct{}, 1024)
			counter := func(*application.App) []consumer.Handler {
				return []consumer.Handler{cqrs.NewEventHandler("count", func(context.Context, *user.LoggedIn) error {
					handled <- struct{}{}
					return nil
				})}
			}
			p := startPipelineB(b, db, counter)
			ctx := context.Background()
			u, _ := user.Register("u1", "13800138000", time.Now())
			if err := p.store.Do(ctx, func(ctx context.Context, tx ports.Tx) error { return tx.Users().Add(ctx, u) }); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			go func() {
				for i := 0; i < b.N; i++ {
					_ = p.store.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
						return tx.Users().Update(ctx, kernel.UserID("u1"), func(u *user.User) error {
							u.LoggedIn(fmt.Sprint(i), time.Now())
							return nil
						})
					})
				}
			}()
			for i := 0; i < b.N; i++ {
				select {
				case <-handled:
				case <-time.After(30 * time.Second):
					b.Fatalf("delivered %d of %d", i, b.N)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}
