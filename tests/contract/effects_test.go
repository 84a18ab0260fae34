package contract

import (
	"context"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/ports"
)

func TestEffectLog(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		claim := func(key string, now time.Time) ports.EffectClaim {
			t.Helper()
			var c ports.EffectClaim
			if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
				var err error
				c, err = tx.Effects().Claim(ctx, key, now, time.Minute)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return c
		}
		do := func(fn func(ctx context.Context, tx ports.Tx) error) {
			t.Helper()
			if err := uow.Do(ctx, fn); err != nil {
				t.Fatal(err)
			}
		}
		if c := claim("sms/m1", t0); c != ports.EffectNew {
			t.Fatalf("first claim %v", c)
		}
		if c := claim("sms/m1", t0.Add(30*time.Second)); c != ports.EffectBusy {
			t.Fatalf("claim held by a live run: %v", c)
		}
		if c := claim("sms/m1", t0.Add(2*time.Minute)); c != ports.EffectRetry {
			t.Fatalf("stale claim: %v", c)
		}
		do(func(ctx context.Context, tx ports.Tx) error {
			return tx.Effects().Done(ctx, "sms/m1", t0.Add(2*time.Minute))
		})
		if c := claim("sms/m1", t0.Add(time.Hour)); c != ports.EffectDone {
			t.Fatalf("done effect: %v", c)
		}
		do(func(ctx context.Context, tx ports.Tx) error { return tx.Effects().Release(ctx, "sms/m1") }) // a done effect stays done
		if c := claim("sms/m1", t0.Add(time.Hour)); c != ports.EffectDone {
			t.Fatalf("released done effect: %v", c)
		}
		claim("sms/m2", t0)
		do(func(ctx context.Context, tx ports.Tx) error { return tx.Effects().Release(ctx, "sms/m2") })
		if c := claim("sms/m2", t0.Add(time.Second)); c != ports.EffectNew {
			t.Fatalf("released claim: %v", c)
		}
	})
}
