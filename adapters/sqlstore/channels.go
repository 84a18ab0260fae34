package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/shuxinqian/server/domain/channel"
	"github.com/shuxinqian/server/domain/kernel"
)

type channelRow struct {
	bun.BaseModel `bun:"table:channels"`

	ID                  string    `bun:"id,pk"`
	Code                string    `bun:"code"`
	Name                string    `bun:"name"`
	QRToken             string    `bun:"qr_token"`
	Active              bool      `bun:"active"`
	PersonalCertService bool      `bun:"personal_cert_service"`
	ChargingEnabled     bool      `bun:"charging_enabled"`
	RealNameMethod      string    `bun:"real_name_method"`
	Catalog             string    `bun:"catalog"` // JSON: the catalog is read and written with its channel
	CreatedAt           time.Time `bun:"created_at"`
}

type catalogItem struct {
	SKU         string         `json:"sku"`
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Kind        string         `json:"kind"`
	UnitPrice   int64          `json:"unit_price_fen"`
	Grants      channel.Grants `json:"grants"`
	// Since migration 20261204080001 (items stored before read as channel.DefaultTax).
	TaxCode     string `json:"tax_code,omitempty"`
	TaxCategory string `json:"tax_category,omitempty"`
	TaxRateBP   *int   `json:"tax_rate_bp,omitempty"`
	Unit        string `json:"unit,omitempty"`
	Spec        string `json:"spec,omitempty"`
}

type platformRow struct {
	bun.BaseModel `bun:"table:platform_settings"`

	ID              int    `bun:"id,pk"`
	ChargingEnabled bool   `bun:"charging_enabled"`
	DefaultMethod   string `bun:"default_real_name_method"`
}

type channels struct{ t *txn }

func channelToRow(c *channel.Channel) (*channelRow, error) {
	s := c.Snapshot()
	items := make([]catalogItem, len(s.Catalog))
	for i, it := range s.Catalog {
		items[i] = catalogItem{SKU: it.SKU, Name: it.Name, Description: it.Description, Kind: string(it.Kind),
			UnitPrice: it.UnitPrice.Fen(), Grants: it.Grants, TaxCode: it.Tax.Code, TaxCategory: it.Tax.Category,
			TaxRateBP: new(it.Tax.Rate.BasisPoints()), Unit: it.Unit, Spec: it.Spec}
	}
	cat, err := json.Marshal(items)
	if err != nil {
		return nil, err
	}
	return &channelRow{ID: string(s.ID), Code: s.Code, Name: s.Name, QRToken: s.QRToken,
		Active: s.Active, PersonalCertService: s.PersonalCertService, ChargingEnabled: !s.ChargingDisabled, RealNameMethod: string(s.Method),
		Catalog: string(cat), CreatedAt: s.CreatedAt.UTC()}, nil
}

func (r channels) Add(ctx context.Context, c *channel.Channel) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	row, err := channelToRow(c)
	if err != nil {
		return err
	}
	_, err = r.t.idb.NewInsert().Model(row).Exec(ctx)
	if isUnique(err) {
		return kernel.Conflict("channel-code-taken", "a channel with this code exists")
	}
	if err == nil {
		r.t.record(c)
	}
	return err
}

// ListAll returns every channel (active or not) by code after the code `after`.
func (r channels) ListAll(ctx context.Context, after string, limit int) ([]*channel.Channel, error) {
	var rows []channelRow
	if err := r.t.idb.NewSelect().Model(&rows).Where("code > ?", after).Order("code").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]*channel.Channel, 0, len(rows))
	for i := range rows {
		c, err := channelFromRow(&rows[i])
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Update loads the channel under a row lock, applies fn and saves it with its events.
func (r channels) Update(ctx context.Context, code string, fn func(c *channel.Channel) error) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	row := new(channelRow)
	if err := r.t.forUpdate(r.t.idb.NewSelect().Model(row).Where("code = ?", code)).Scan(ctx); err != nil {
		return notFound(err, "channel-not-found", "no such channel")
	}
	c, err := channelFromRow(row)
	if err != nil {
		return err
	}
	if err := fn(c); err != nil {
		return err
	}
	nrow, err := channelToRow(c)
	if err != nil {
		return err
	}
	if _, err := r.t.idb.NewUpdate().Model(nrow).Column("name", "active", "personal_cert_service", "charging_enabled", "real_name_method", "catalog").
		WherePK().Exec(ctx); err != nil {
		return err
	}
	r.t.record(c)
	return nil
}

func channelFromRow(row *channelRow) (*channel.Channel, error) {
	var items []catalogItem
	if err := json.Unmarshal([]byte(row.Catalog), &items); err != nil {
		return nil, err
	}
	cat := make([]channel.Item, len(items))
	for i, it := range items {
		cat[i] = channel.Item{SKU: it.SKU, Name: it.Name, Description: it.Description, Kind: channel.ItemKind(it.Kind),
			UnitPrice: kernel.Fen(it.UnitPrice), Grants: it.Grants, Unit: it.Unit, Spec: it.Spec,
			Tax: channel.Tax{Code: it.TaxCode, Category: it.TaxCategory}}
		if it.TaxRateBP != nil {
			cat[i].Tax.Rate = kernel.TaxRate(*it.TaxRateBP)
		}
		if it.TaxCode == "" { // stored before items carried their tax classification
			cat[i].Tax = channel.DefaultTax
		}
		if it.Unit == "" {
			cat[i].Unit = channel.DefaultUnit
		}
	}
	return channel.FromSnapshot(channel.Snapshot{ID: kernel.ChannelID(row.ID), Code: row.Code, Name: row.Name, QRToken: row.QRToken,
		Active: row.Active, PersonalCertService: row.PersonalCertService, ChargingDisabled: !row.ChargingEnabled, Method: channel.RealNameMethod(row.RealNameMethod),
		Catalog: cat, CreatedAt: row.CreatedAt.UTC()}), nil
}

func (r channels) GetByCode(ctx context.Context, code string) (*channel.Channel, error) {
	row := new(channelRow)
	if err := r.t.idb.NewSelect().Model(row).Where("code = ?", code).Scan(ctx); err != nil {
		return nil, notFound(err, "channel-not-found", "no such channel")
	}
	return channelFromRow(row)
}

// likeEscape escapes LIKE wildcards so a user's query matches literally.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func (r channels) Search(ctx context.Context, q string, limit int) ([]*channel.Channel, error) {
	var rows []channelRow
	pattern := "%" + strings.ToLower(likeEscape(q)) + "%"
	if err := r.t.idb.NewSelect().Model(&rows).Where("active").Where(`LOWER(name) LIKE ? ESCAPE '\'`, pattern).
		Order("name", "code").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]*channel.Channel, 0, len(rows))
	for i := range rows {
		c, err := channelFromRow(&rows[i])
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func (r channels) Platform(ctx context.Context) (channel.Platform, error) {
	row := new(platformRow)
	err := r.t.idb.NewSelect().Model(row).Where("id = 1").Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return channel.DefaultPlatform, nil
	}
	if err != nil {
		return channel.Platform{}, err
	}
	return channel.Platform{ChargingEnabled: row.ChargingEnabled, DefaultMethod: channel.RealNameMethod(row.DefaultMethod)}, nil
}

func (r channels) SavePlatform(ctx context.Context, p channel.Platform) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	_, err := r.t.idb.NewInsert().Model(&platformRow{ID: 1, ChargingEnabled: p.ChargingEnabled, DefaultMethod: string(p.DefaultMethod)}).
		On("CONFLICT (id) DO UPDATE").Set("charging_enabled = EXCLUDED.charging_enabled").
		Set("default_real_name_method = EXCLUDED.default_real_name_method").Exec(ctx)
	return err
}
