package application

import (
	"context"

	"github.com/shuxinqian/server/ports"
)

// Idempotent exposes idempotent to the external tests (PlaceOrderOnce and RequestInvoiceOnce run
// their use case through it).
func (a *App) Idempotent(ctx context.Context, o Once, fn func(ctx context.Context, tx ports.Tx) (int, []byte, error)) (int, []byte, error) {
	return a.idempotent(ctx, o, fn)
}
