package operators

import (
	"context"

	"github.com/shuxinqian/server/domain/channel"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/operator"
	"github.com/shuxinqian/server/ports"
)

// PageSize is the default and largest page of the console's lists.
const PageSize = 100

func pageOf(limit int) int {
	if limit <= 0 || limit > PageSize {
		return PageSize
	}
	return limit
}

// channelAudit is what the audit log keeps of a channel (without the catalog; catalog changes
// are audited per item).
type channelAudit struct {
	Code                string `json:"code"`
	Name                string `json:"name"`
	Active              bool   `json:"active"`
	RealNameMethod      string `json:"real_name_method"`
	ChargingEnabled     bool   `json:"charging_enabled"`
	PersonalCertService bool   `json:"personal_cert_service"`
}

func auditChannel(c *channel.Channel) channelAudit {
	return channelAudit{Code: c.Code(), Name: c.Name(), Active: c.Active(), RealNameMethod: string(c.Method()),
		ChargingEnabled: c.ChargingEnabled(), PersonalCertService: c.PersonalCertService()}
}

type itemAudit struct {
	SKU          string         `json:"sku"`
	Name         string         `json:"name"`
	Description  string         `json:"description"`
	Kind         string         `json:"kind"`
	UnitPriceFen int64          `json:"unit_price_fen"`
	Grants       channel.Grants `json:"grants"`
	TaxCode      string         `json:"tax_code"`
	TaxCategory  string         `json:"tax_category"`
	TaxRateBP    int            `json:"tax_rate_bp"`
}

func auditItem(it channel.Item) itemAudit {
	return itemAudit{SKU: it.SKU, Name: it.Name, Description: it.Description, Kind: string(it.Kind), UnitPriceFen: it.UnitPrice.Fen(),
		Grants: it.Grants, TaxCode: it.Tax.Code, TaxCategory: it.Tax.Category, TaxRateBP: it.Tax.Rate.BasisPoints()}
}

// Channels lists every channel (active or not) by code after the cursor (a code).
func (s *Service) Channels(ctx context.Context, a Actor, after string, limit int) (out []*channel.Channel, next string, err error) {
	if err := a.Require(operator.PermRead); err != nil {
		return nil, "", err
	}
	limit = pageOf(limit)
	err = s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		page, err := tx.ChannelAdmin().ListAll(ctx, after, limit+1)
		if err != nil {
			return err
		}
		if len(page) > limit {
			page = page[:limit]
			next = page[limit-1].Code()
		}
		out = page
		return nil
	})
	return out, next, err
}

// Channel returns one channel with its catalog.
func (s *Service) Channel(ctx context.Context, a Actor, code string) (*channel.Channel, error) {
	if err := a.Require(operator.PermRead); err != nil {
		return nil, err
	}
	var c *channel.Channel
	err := s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		c, err = tx.Channels().GetByCode(ctx, code)
		return err
	})
	return c, err
}

// NewChannel is a channel to create.
type NewChannel struct {
	Code                string
	Name                string
	RealNameMethod      string
	ChargingEnabled     bool
	PersonalCertService bool
}

// CreateChannel creates an active channel with an empty catalog and a fresh QR token.
func (s *Service) CreateChannel(ctx context.Context, a Actor, in NewChannel) (*channel.Channel, error) {
	if err := a.Require(operator.PermChannels); err != nil {
		return nil, err
	}
	token, err := s.random.Token(16)
	if err != nil {
		return nil, kernel.Internal(err)
	}
	c, err := channel.New(channel.Snapshot{ID: kernel.ChannelID(s.ids.NewID()), Code: in.Code, Name: in.Name, QRToken: token, Active: true,
		PersonalCertService: in.PersonalCertService, ChargingDisabled: !in.ChargingEnabled, Method: channel.RealNameMethod(in.RealNameMethod),
		CreatedAt: s.clock.Now()})
	if err != nil {
		return nil, err
	}
	c.Record(channel.Changed{Code: c.Code(), What: "created", At: kernel.OccurredAt(s.clock.Now())})
	err = s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		if err := tx.Channels().Add(ctx, c); err != nil {
			return err
		}
		return s.Record(ctx, tx, a, "channel.create", "channel", c.Code(), nil, auditChannel(c))
	})
	return c, err
}

// EditChannel changes a channel's name, active flag, real-name method and switches.
func (s *Service) EditChannel(ctx context.Context, a Actor, code string, e channel.Edit) (*channel.Channel, error) {
	if err := a.Require(operator.PermChannels); err != nil {
		return nil, err
	}
	var out *channel.Channel
	err := s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		var before channelAudit
		if err := tx.ChannelAdmin().Update(ctx, code, func(c *channel.Channel) error {
			before = auditChannel(c)
			out = c
			return c.Apply(e, s.clock.Now())
		}); err != nil {
			return err
		}
		return s.Record(ctx, tx, a, "channel.update", "channel", code, before, auditChannel(out))
	})
	return out, err
}

// PutCatalogItem adds or replaces a catalog item (orders already placed keep the price they
// copied). created tells a new SKU from a replaced one.
func (s *Service) PutCatalogItem(ctx context.Context, a Actor, code string, it channel.Item) (item channel.Item, created bool, err error) {
	if err := a.Require(operator.PermChannels); err != nil {
		return channel.Item{}, false, err
	}
	err = s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		var before any
		if err := tx.ChannelAdmin().Update(ctx, code, func(c *channel.Channel) error {
			if old, ok := c.Item(it.SKU); ok {
				before = auditItem(old)
			}
			var err error
			if created, err = c.PutItem(it, s.clock.Now()); err != nil {
				return err
			}
			item, _ = c.Item(it.SKU)
			return nil
		}); err != nil {
			return err
		}
		return s.Record(ctx, tx, a, "catalog.put", "catalog_item", code+"/"+it.SKU, before, auditItem(item))
	})
	return item, created, err
}

// DeleteCatalogItem takes an item off a channel's catalog.
func (s *Service) DeleteCatalogItem(ctx context.Context, a Actor, code, sku string) error {
	if err := a.Require(operator.PermChannels); err != nil {
		return err
	}
	return s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		var before itemAudit
		if err := tx.ChannelAdmin().Update(ctx, code, func(c *channel.Channel) error {
			if old, ok := c.Item(sku); ok {
				before = auditItem(old)
			}
			return c.RemoveItem(sku, s.clock.Now())
		}); err != nil {
			return err
		}
		return s.Record(ctx, tx, a, "catalog.delete", "catalog_item", code+"/"+sku, before, nil)
	})
}

// Settings returns the platform settings.
func (s *Service) Settings(ctx context.Context, a Actor) (channel.Platform, error) {
	if err := a.Require(operator.PermRead); err != nil {
		return channel.Platform{}, err
	}
	var p channel.Platform
	err := s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		p, err = tx.Channels().Platform(ctx)
		return err
	})
	return p, err
}

// SettingsEdit changes platform settings; nil fields stay.
type SettingsEdit struct {
	ChargingEnabled       *bool
	DefaultRealNameMethod *string
}

type settingsAudit struct {
	ChargingEnabled       bool   `json:"charging_enabled"`
	DefaultRealNameMethod string `json:"default_real_name_method"`
}

// PutSettings changes the platform settings.
func (s *Service) PutSettings(ctx context.Context, a Actor, e SettingsEdit) (channel.Platform, error) {
	if err := a.Require(operator.PermSettings); err != nil {
		return channel.Platform{}, err
	}
	var out channel.Platform
	err := s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		p, err := tx.Channels().Platform(ctx)
		if err != nil {
			return err
		}
		before := settingsAudit{p.ChargingEnabled, string(p.DefaultMethod)}
		if e.ChargingEnabled != nil {
			p.ChargingEnabled = *e.ChargingEnabled
		}
		if e.DefaultRealNameMethod != nil {
			m, err := channel.ParseMethod(*e.DefaultRealNameMethod)
			if err != nil {
				return err
			}
			p.DefaultMethod = m
		}
		if err := tx.Channels().SavePlatform(ctx, p); err != nil {
			return err
		}
		out = p
		return s.Record(ctx, tx, a, "settings.update", "platform_settings", "platform", before, settingsAudit{p.ChargingEnabled, string(p.DefaultMethod)})
	})
	return out, err
}
