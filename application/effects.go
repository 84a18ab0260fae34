package application

import (
	"context"
	"time"

	"github.com/shuxinqian/server/ports"
)

// EffectLease is how long a claimed external effect belongs to the run that claimed it; after
// it, a run that died is taken over. It is shorter than the delivery lease (DELIVERY_LEASE), so
// the redelivery of a message whose process died finds the claim stale.
const EffectLease = 30 * time.Second

// once performs the external effect key at most once per successful run across restarts and
// instances: the claim is committed in one transaction, fn runs outside any transaction (no
// database lock is held while a provider answers), and the effect is recorded done in another.
// A failed fn releases the claim and returns its error (the consumer retries). A claim held by a
// live run elsewhere makes this run do nothing: that run is responsible. A claim of a run that
// died (older than EffectLease, not done) is performed again with the same idempotency key.
func (a *App) once(ctx context.Context, key string, fn func(ctx context.Context) error) error {
	var claim ports.EffectClaim
	if err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		lease := a.settings.EffectLease
		if lease <= 0 {
			lease = EffectLease
		}
		claim, err = tx.Effects().Claim(ctx, key, a.clock.Now(), lease)
		return err
	}); err != nil {
		return err
	}
	if claim == ports.EffectDone || claim == ports.EffectBusy {
		return nil
	}
	if err := fn(ctx); err != nil {
		_ = a.uow.Do(context.WithoutCancel(ctx), func(ctx context.Context, tx ports.Tx) error { return tx.Effects().Release(ctx, key) })
		return err
	}
	return a.uow.Do(context.WithoutCancel(ctx), func(ctx context.Context, tx ports.Tx) error {
		return tx.Effects().Done(ctx, key, a.clock.Now())
	})
}
