// Package channel holds sales/partner channels (渠道) and their catalogs, and the platform-level
// settings that decide how real-name verification and charging work.
package channel

import (
	"crypto/subtle"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shuxinqian/server/domain/kernel"
)

// RealNameMethod is how a channel's users prove their identity.
type RealNameMethod string

// Real-name methods.
const (
	MethodID2  RealNameMethod = "id2"  // name + ID number against the authority's database
	MethodID3  RealNameMethod = "id3"  // + the phone's carrier record
	MethodFace RealNameMethod = "face" // ID check + face liveness
)

// ParseMethod validates a real-name method.
func ParseMethod(s string) (RealNameMethod, error) {
	switch m := RealNameMethod(s); m {
	case MethodID2, MethodID3, MethodFace:
		return m, nil
	}
	return "", kernel.Invalid("real-name-method-invalid", "real-name method must be id2, id3 or face")
}

// ItemKind tells packages from services.
type ItemKind string

// Item kinds.
const (
	KindPackage ItemKind = "package"
	KindService ItemKind = "service"
)

// Grants is what buying one unit of an item gives the enterprise.
type Grants struct {
	Signatures       int `json:"signatures,omitempty"`
	CertificateYears int `json:"certificate_years,omitempty"`
}

// Item is one catalog entry.
type Item struct {
	SKU         string
	Name        string
	Description string
	Kind        ItemKind
	UnitPrice   kernel.Money
	Grants      Grants
	// Tax is how the item is invoiced (数电普票): classification code, short name and rate.
	Tax Tax
	// Unit and Spec are printed in the invoice's 单位 and 规格型号 columns (Spec may be empty).
	Unit string
	Spec string
}

// Tax is the invoicing classification of a catalog item.
type Tax struct {
	Code     string         // 税收分类编码: 19 digits, e.g. 3040201000000000000
	Category string         // its short name printed as *信息技术服务*项目名称
	Rate     kernel.TaxRate // 税率/征收率 in basis points
}

// DefaultTax is the classification of items without one (information technology services, 6 %).
var DefaultTax = Tax{Code: kernel.DefaultTaxCode, Category: kernel.DefaultTaxCategory, Rate: kernel.DefaultTaxRate}

// DefaultUnit is the 单位 of items without one.
const DefaultUnit = "项"

// normalizeItem fills the defaults of an item stored before it carried its tax classification
// and validates the classification, unit and specification.
func normalizeItem(it *Item) error {
	if it.Tax.Code == "" && it.Tax.Category == "" && it.Tax.Rate == 0 {
		it.Tax = DefaultTax
	}
	it.Tax.Category = strings.TrimSpace(it.Tax.Category)
	it.Unit, it.Spec = strings.TrimSpace(it.Unit), strings.TrimSpace(it.Spec)
	if it.Unit == "" {
		it.Unit = DefaultUnit
	}
	if _, err := kernel.ParseTaxCode(it.Tax.Code); err != nil {
		return err
	}
	if _, err := kernel.ParseTaxRate(int(it.Tax.Rate)); err != nil {
		return err
	}
	switch {
	case it.Tax.Category == "" || utf8.RuneCountInString(it.Tax.Category) > 16 || strings.ContainsRune(it.Tax.Category, '*'):
		return kernel.Invalid("catalog-tax-category-invalid", "the tax category short name is 1-16 characters without *")
	case utf8.RuneCountInString(it.Unit) > 8:
		return kernel.Invalid("catalog-unit-invalid", "the unit is at most 8 characters")
	case utf8.RuneCountInString(it.Spec) > 40:
		return kernel.Invalid("catalog-spec-invalid", "the specification is at most 40 characters")
	}
	return nil
}

var (
	codeRe = regexp.MustCompile(`^[a-z0-9]{2,32}$`)
	skuRe  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)
)

// Channel is a sales channel with its catalog.
type Channel struct {
	id                  kernel.ChannelID
	code                string
	name                string
	qrToken             string
	active              bool
	personalCertService bool
	chargingDisabled    bool
	method              RealNameMethod
	catalog             []Item
	createdAt           time.Time

	kernel.Events
}

// Snapshot is the persisted form.
type Snapshot struct {
	ID                  kernel.ChannelID
	Code                string
	Name                string
	QRToken             string
	Active              bool
	PersonalCertService bool
	// ChargingDisabled: the channel's services are free even with the platform's charging on
	// (zero: charging follows the platform, as for channels created before the switch).
	ChargingDisabled bool
	Method           RealNameMethod
	Catalog          []Item
	CreatedAt        time.Time
}

// New validates and creates a channel.
func New(s Snapshot) (*Channel, error) {
	s.Code = strings.ToLower(strings.TrimSpace(s.Code))
	s.Name = strings.TrimSpace(s.Name)
	switch {
	case s.ID == "":
		return nil, kernel.Invalid("channel-id-missing", "channel id is required")
	case !codeRe.MatchString(s.Code):
		return nil, kernel.Invalid("channel-code-invalid", "channel code is 2-32 lower-case letters or digits")
	case s.Name == "" || utf8.RuneCountInString(s.Name) > 64:
		return nil, kernel.Invalid("channel-name-invalid", "channel name is 1-64 characters")
	case len(s.QRToken) < 16 || len(s.QRToken) > 128:
		return nil, kernel.Invalid("channel-qr-token-invalid", "channel QR token is 16 to 128 characters")
	}
	if _, err := ParseMethod(string(s.Method)); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	s.Catalog = append([]Item(nil), s.Catalog...)
	for n := range s.Catalog {
		if err := normalizeItem(&s.Catalog[n]); err != nil {
			return nil, err
		}
		switch sku := s.Catalog[n].SKU; {
		case !skuRe.MatchString(sku):
			return nil, kernel.Invalid("catalog-sku-invalid", "SKU is 1-40 lower-case letters, digits or hyphens")
		case seen[sku]:
			return nil, kernel.Invalid("catalog-sku-duplicate", "SKUs are unique within a channel")
		}
		seen[s.Catalog[n].SKU] = true
		if err := ValidateItem(&s.Catalog[n]); err != nil {
			return nil, err
		}
	}
	s.CreatedAt = kernel.OccurredAt(s.CreatedAt)
	return FromSnapshot(s), nil
}

// ValidateItem normalises and validates one catalog item.
func ValidateItem(it *Item) error {
	it.Name = strings.TrimSpace(it.Name)
	it.Description = strings.TrimSpace(it.Description)
	if err := normalizeItem(it); err != nil {
		return err
	}
	switch {
	case !skuRe.MatchString(it.SKU):
		return kernel.Invalid("catalog-sku-invalid", "SKU is 1-40 lower-case letters, digits or hyphens")
	case it.Name == "" || utf8.RuneCountInString(it.Name) > 64:
		return kernel.Invalid("catalog-name-invalid", "item name is 1-64 characters")
	case utf8.RuneCountInString(it.Description) > 500:
		return kernel.Invalid("catalog-description-invalid", "item description is at most 500 characters")
	case it.UnitPrice <= 0:
		return kernel.Invalid("catalog-price-invalid", "unit price must be positive")
	case it.Kind != KindPackage && it.Kind != KindService:
		return kernel.Invalid("catalog-kind-invalid", "item kind is package or service")
	case it.Grants.Signatures < 0 || it.Grants.CertificateYears < 0 || it.Grants.Signatures > 1_000_000 || it.Grants.CertificateYears > 10:
		return kernel.Invalid("catalog-grants-invalid", "grants are 0-1000000 signatures and 0-10 certificate years")
	}
	return nil
}

// FromSnapshot rehydrates a channel (adapters only).
func FromSnapshot(s Snapshot) *Channel {
	return &Channel{id: s.ID, code: s.Code, name: s.Name, qrToken: s.QRToken, active: s.Active,
		personalCertService: s.PersonalCertService, chargingDisabled: s.ChargingDisabled, method: s.Method,
		catalog: append([]Item(nil), s.Catalog...), createdAt: s.CreatedAt}
}

// Snapshot returns the persisted form.
func (c *Channel) Snapshot() Snapshot {
	return Snapshot{ID: c.id, Code: c.code, Name: c.name, QRToken: c.qrToken, Active: c.active,
		PersonalCertService: c.personalCertService, ChargingDisabled: c.chargingDisabled, Method: c.method,
		Catalog: append([]Item(nil), c.catalog...), CreatedAt: c.createdAt}
}

// ID returns the id.
func (c *Channel) ID() kernel.ChannelID { return c.id }

// Code returns the channel number (渠道号), e.g. q86804.
func (c *Channel) Code() string { return c.code }

// Name returns the display name.
func (c *Channel) Name() string { return c.name }

// Active reports whether users may join it.
func (c *Channel) Active() bool { return c.active }

// PersonalCertService reports whether the channel offers the personal certificate.
func (c *Channel) PersonalCertService() bool { return c.personalCertService }

// ChargingEnabled reports whether the channel's services are paid for.
func (c *Channel) ChargingEnabled() bool { return !c.chargingDisabled }

// Method is the channel's real-name method.
func (c *Channel) Method() RealNameMethod { return c.method }

// Catalog returns the items.
func (c *Channel) Catalog() []Item { return append([]Item(nil), c.catalog...) }

// Item finds a catalog item by SKU.
func (c *Channel) Item(sku string) (Item, bool) {
	for _, it := range c.catalog {
		if it.SKU == sku {
			return it, true
		}
	}
	return Item{}, false
}

// JoinURL is the text of the channel's QR code: a join link carrying the code and a token.
func (c *Channel) JoinURL(base string) string {
	q := url.Values{"channel": {c.code}, "t": {c.qrToken}}
	return strings.TrimRight(base, "/") + "/join?" + q.Encode()
}

// ErrQRInvalid is the answer to a scanned text that is not a valid channel QR code.
var ErrQRInvalid = kernel.Invalid("channel-qr-invalid", "the scanned code is not a 数信签 channel QR code")

// ParseQR extracts the channel code and token from a scanned join URL.
func ParseQR(text string) (code, token string, err error) {
	text = strings.TrimSpace(text)
	if len(text) > 512 {
		return "", "", ErrQRInvalid
	}
	u, perr := url.Parse(text)
	if perr != nil || !strings.HasSuffix(u.Path, "/join") {
		return "", "", ErrQRInvalid
	}
	code, token = strings.ToLower(u.Query().Get("channel")), u.Query().Get("t")
	if !codeRe.MatchString(code) || token == "" {
		return "", "", ErrQRInvalid
	}
	return code, token, nil
}

// CheckJoin decides whether a user may switch to this channel, with the QR token when scanned.
func (c *Channel) CheckJoin(scannedToken string) error {
	if !c.active {
		return kernel.Precondition("channel-inactive", "this channel is not open for joining")
	}
	if scannedToken != "" && subtle.ConstantTimeCompare([]byte(scannedToken), []byte(c.qrToken)) != 1 {
		return ErrQRInvalid
	}
	return nil
}

// Platform holds the platform-wide settings.
type Platform struct {
	// ChargingEnabled: services are paid for. When on, the personal certificate (and so the
	// signing password) needs a channel that offers the personal certificate service.
	ChargingEnabled bool
	// DefaultMethod is the real-name method of users without a channel.
	DefaultMethod RealNameMethod
}

// DefaultPlatform is the platform before any setting is stored.
var DefaultPlatform = Platform{ChargingEnabled: false, DefaultMethod: MethodID2}

// Edit is a console change of a channel's settings; nil fields stay.
type Edit struct {
	Name                *string
	Active              *bool
	Method              *RealNameMethod
	ChargingEnabled     *bool
	PersonalCertService *bool
}

// Apply changes the channel's name, switches and real-name method (checked first).
func (c *Channel) Apply(e Edit, now time.Time) error {
	name := c.name
	if e.Name != nil {
		name = strings.TrimSpace(*e.Name)
		if name == "" || utf8.RuneCountInString(name) > 64 {
			return kernel.Invalid("channel-name-invalid", "channel name is 1-64 characters")
		}
	}
	method := c.method
	if e.Method != nil {
		m, err := ParseMethod(string(*e.Method))
		if err != nil {
			return err
		}
		method = m
	}
	c.name, c.method = name, method
	if e.Active != nil {
		c.active = *e.Active
	}
	if e.ChargingEnabled != nil {
		c.chargingDisabled = !*e.ChargingEnabled
	}
	if e.PersonalCertService != nil {
		c.personalCertService = *e.PersonalCertService
	}
	c.Record(Changed{Code: c.code, What: "settings", At: kernel.OccurredAt(now)})
	return nil
}

// MaxUnitPrice bounds a price set from the console (1,000,000 yuan).
const MaxUnitPrice = kernel.Money(100_000_000)

// MaxCatalogItems bounds a channel's catalog.
const MaxCatalogItems = 200

// PutItem adds the item or replaces the one with its SKU. Orders copy their items' prices when
// placed, so a new price never alters a placed order. It reports whether the SKU was new.
func (c *Channel) PutItem(it Item, now time.Time) (bool, error) {
	if err := ValidateItem(&it); err != nil {
		return false, err
	}
	if it.UnitPrice > MaxUnitPrice {
		return false, kernel.Invalid("catalog-price-invalid", "unit price is at most 1,000,000 yuan")
	}
	for i := range c.catalog {
		if c.catalog[i].SKU == it.SKU {
			c.catalog[i] = it
			c.Record(Changed{Code: c.code, What: "catalog", SKU: it.SKU, At: kernel.OccurredAt(now)})
			return false, nil
		}
	}
	if len(c.catalog) >= MaxCatalogItems {
		return false, kernel.Precondition("catalog-full", "a channel has at most 200 catalog items")
	}
	c.catalog = append(c.catalog, it)
	c.Record(Changed{Code: c.code, What: "catalog", SKU: it.SKU, At: kernel.OccurredAt(now)})
	return true, nil
}

// RemoveItem takes an item off the catalog (placed orders keep their copy).
func (c *Channel) RemoveItem(sku string, now time.Time) error {
	for i := range c.catalog {
		if c.catalog[i].SKU == sku {
			c.catalog = append(c.catalog[:i:i], c.catalog[i+1:]...)
			c.Record(Changed{Code: c.code, What: "catalog", SKU: sku, At: kernel.OccurredAt(now)})
			return nil
		}
	}
	return kernel.NotFound("catalog-item-not-found", "no such catalog item in this channel")
}

// Changed: a channel's settings or catalog changed (the caches of channels are emptied).
type Changed struct {
	Code string    `json:"code"`
	What string    `json:"what"` // settings | catalog
	SKU  string    `json:"sku,omitempty"`
	At   time.Time `json:"at"`
}

// EventName implements kernel.Event.
func (Changed) EventName() string { return "channel.changed" }
