package application

import (
	"context"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
)

// reserveSigningTry counts a signing-password try under the user's row lock before the key is
// opened (issue 11 item 9): parallel guesses cannot outrun the lockout. It returns the
// reservation and the certificate whose key the try may open.
func (a *App) reserveSigningTry(ctx context.Context, uid kernel.UserID, now time.Time) (user.SigningTry, *user.Certificate, error) {
	var try user.SigningTry
	var cert *user.Certificate
	err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		return tx.Users().Update(ctx, uid, func(u *user.User) error {
			var err error
			if try, err = u.ReserveSigningTry(now); err != nil {
				return err
			}
			cert = u.Certificate()
			return nil
		})
	})
	return try, cert, err
}

// signingTryWrong answers a reserved try that was wrong: it is counted already; the last one
// allowed answers with the lock it set.
func signingTryWrong(try user.SigningTry) error {
	if try.Left == 0 {
		return kernel.RateLimited("signing-locked", "too many wrong signing passwords; signing is locked", user.SigningLockout)
	}
	return kernel.Invalid("signing-password-wrong", "the signing password is wrong").WithDetail("attempts_left", try.Left)
}

// signingTryRight gives a right try's reservation back.
func (a *App) signingTryRight(ctx context.Context, uid kernel.UserID, try user.SigningTry, now time.Time) error {
	return a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		return tx.Users().Update(ctx, uid, func(u *user.User) error { u.SigningTryAccepted(try, now); return nil })
	})
}
