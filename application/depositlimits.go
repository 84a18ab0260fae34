package application

import (
	"context"
	"time"

	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// Micro-deposit limits beyond each verification's own (issue 11 item 5): the amount has only 99
// possible values, so guesses are counted per credit code and per initiator across every
// verification, in durable day windows:
//   - transfers: DepositTransfersPerDay per credit code and per initiator;
//   - amount tries (right or wrong): DepositTriesPerDay per credit code and per initiator.
//
// Together with one open verification per initiator and credit code, at most 5 of the 99
// amounts can be tried a day for one enterprise.
const (
	DepositWindow          = 24 * time.Hour
	DepositTransfersPerDay = enterprise.TransfersPerDay
	DepositTriesPerDay     = 5
)

// countDeposit counts one transfer or one amount try for the verification's credit code and
// initiator in tx, refusing beyond limit.
func countDeposit(ctx context.Context, tx ports.Tx, what string, code kernel.CreditCode, uid kernel.UserID, limit int, now time.Time) error {
	for _, key := range []string{what + "-cc:" + string(code), what + "-user:" + string(uid)} {
		n, reset, err := tx.Attempts().Hit(ctx, key, DepositWindow, now)
		if err != nil {
			return err
		}
		if n > limit {
			if what == "deposit-transfer" {
				return kernel.RateLimited("transfer-daily-limit", "at most 3 transfers a day for this enterprise and for you; try again tomorrow", reset.Sub(now))
			}
			return kernel.RateLimited("transfer-tries-daily-limit", "at most 5 amount tries a day for this enterprise and for you; try again tomorrow", reset.Sub(now))
		}
	}
	return nil
}
