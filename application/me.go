package application

import (
	"context"
	"time"

	"github.com/shuxinqian/server/domain/channel"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
)

// MeView is the caller's own account, masked for display.
type MeView struct {
	ID             string
	PhoneMasked    string
	RealNameStatus string
	HasPassword    bool
	CreatedAt      time.Time
	RealName       RealNameView
	Channel        *channel.Channel
	Certificate    *user.Certificate
}

// Me returns the caller's account.
func (a *App) Me(ctx context.Context, actor Actor) (MeView, error) {
	var v MeView
	err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		u, err := tx.Users().Get(ctx, kernel.UserID(actor.UserID))
		if err != nil {
			return err
		}
		v = MeView{ID: string(u.ID()), PhoneMasked: u.Phone().Masked(), RealNameStatus: string(u.RealNameStatus()),
			HasPassword: u.HasPassword(), CreatedAt: u.CreatedAt(), RealName: realNameView(u, a.clock.Now()),
			Certificate: u.Certificate()}
		c, _, err := currentChannel(ctx, tx, u)
		v.Channel = c
		return err
	})
	return v, err
}

// ActivityLimit caps one page of account activity.
const ActivityLimit = 100

// Activity lists the caller's recent account events (written by the audit consumer).
func (a *App) Activity(ctx context.Context, actor Actor, limit int) ([]ports.AuditEntry, error) {
	if limit <= 0 || limit > ActivityLimit {
		limit = ActivityLimit
	}
	var out []ports.AuditEntry
	err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		out, err = tx.Audit().ListByUser(ctx, kernel.UserID(actor.UserID), limit)
		return err
	})
	return out, err
}

// loadUser reads one user in a read-only unit of work.
func (a *App) loadUser(ctx context.Context, id kernel.UserID) (*user.User, error) {
	var u *user.User
	err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		u, err = tx.Users().Get(ctx, id)
		return err
	})
	return u, err
}
