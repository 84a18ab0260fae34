package application

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/shuxinqian/server/domain/channel"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
)

// ChannelSearchLimit caps a channel search.
const ChannelSearchLimit = 20

// SearchChannels finds channels by name (contains) or by code (exact). Exactly one is given.
func (a *App) SearchChannels(ctx context.Context, name, code string) ([]*channel.Channel, error) {
	name, code = strings.TrimSpace(name), strings.ToLower(strings.TrimSpace(code))
	switch {
	case (name == "") == (code == ""):
		return nil, kernel.Invalid("channel-query-invalid", "give either q (part of the name) or code")
	case utf8.RuneCountInString(name) > 64 || len(code) > 32:
		return nil, kernel.Invalid("channel-query-invalid", "the query is too long")
	}
	var out []*channel.Channel
	err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		if code != "" {
			c, err := tx.Channels().GetByCode(ctx, code)
			if kernel.KindOf(err) == kernel.KindNotFound {
				return nil
			}
			if err != nil {
				return err
			}
			if c.Active() {
				out = append(out, c)
			}
			return nil
		}
		var err error
		out, err = tx.Channels().Search(ctx, name, ChannelSearchLimit)
		return err
	})
	return out, err
}

// Channel returns one channel with its catalog. Inactive channels are not shown.
func (a *App) Channel(ctx context.Context, code string) (*channel.Channel, error) {
	var c *channel.Channel
	err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		c, err = tx.Channels().GetByCode(ctx, strings.ToLower(strings.TrimSpace(code)))
		return err
	})
	if err != nil {
		return nil, err
	}
	if !c.Active() {
		return nil, kernel.NotFound("channel-not-found", "no such channel")
	}
	return c, nil
}

// ChannelQR draws the channel's join QR code.
func (a *App) ChannelQR(ctx context.Context, code string) ([]byte, error) {
	c, err := a.Channel(ctx, code)
	if err != nil {
		return nil, err
	}
	png, err := a.qr.PNG(c.JoinURL(a.settings.PublicBaseURL), 512)
	if err != nil {
		return nil, kernel.Internal(err)
	}
	return png, nil
}

// QRCode draws any text (a signing link) as a QR PNG.
func (a *App) QRCode(text string) ([]byte, error) {
	png, err := a.qr.PNG(text, 512)
	if err != nil {
		return nil, kernel.Internal(err)
	}
	return png, nil
}

// ChannelJoinURL is the text of a channel's QR code.
func (a *App) ChannelJoinURL(c *channel.Channel) string { return c.JoinURL(a.settings.PublicBaseURL) }

// SwitchChannel sets the caller's current channel by code or by the text of a scanned QR code.
func (a *App) SwitchChannel(ctx context.Context, actor Actor, code, qr string) (*channel.Channel, error) {
	var token string
	switch {
	case (code == "") == (qr == ""):
		return nil, kernel.Invalid("channel-switch-invalid", "give either code or qr")
	case qr != "":
		var err error
		if code, token, err = channel.ParseQR(qr); err != nil {
			return nil, err
		}
	}
	now := a.clock.Now()
	var c *channel.Channel
	err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		if c, err = tx.Channels().GetByCode(ctx, strings.ToLower(strings.TrimSpace(code))); err != nil {
			return err
		}
		if err := c.CheckJoin(token); err != nil {
			return err
		}
		return tx.Users().Update(ctx, kernel.UserID(actor.UserID), func(u *user.User) error {
			u.SwitchChannel(c.Code(), now)
			return nil
		})
	})
	return c, err
}

// currentChannel loads the user's channel (nil when none or gone) and the platform settings.
func currentChannel(ctx context.Context, tx ports.Tx, u *user.User) (*channel.Channel, channel.Platform, error) {
	p, err := tx.Channels().Platform(ctx)
	if err != nil {
		return nil, p, err
	}
	if u.ChannelCode() == "" {
		return nil, p, nil
	}
	c, err := tx.Channels().GetByCode(ctx, u.ChannelCode())
	if kernel.KindOf(err) == kernel.KindNotFound {
		return nil, p, nil
	}
	return c, p, err
}
