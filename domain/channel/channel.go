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
	method              RealNameMethod
	catalog             []Item
	createdAt           time.Time
}

// Snapshot is the persisted form.
type Snapshot struct {
	ID                  kernel.ChannelID
	Code                string
	Name                string
	QRToken             string
	Active              bool
	PersonalCertService bool
	Method              RealNameMethod
	Catalog             []Item
	CreatedAt           time.Time
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
		it := s.Catalog[n]
		switch {
		case !skuRe.MatchString(it.SKU):
			return nil, kernel.Invalid("catalog-sku-invalid", "SKU is 1-40 lower-case letters, digits or hyphens")
		case seen[it.SKU]:
			return nil, kernel.Invalid("catalog-sku-duplicate", "SKUs are unique within a channel")
		case strings.TrimSpace(it.Name) == "" || utf8.RuneCountInString(it.Name) > 64:
			return nil, kernel.Invalid("catalog-name-invalid", "item name is 1-64 characters")
		case it.UnitPrice <= 0:
			return nil, kernel.Invalid("catalog-price-invalid", "unit price must be positive")
		case it.Kind != KindPackage && it.Kind != KindService:
			return nil, kernel.Invalid("catalog-kind-invalid", "item kind is package or service")
		case it.Grants.Signatures < 0 || it.Grants.CertificateYears < 0:
			return nil, kernel.Invalid("catalog-grants-invalid", "grants cannot be negative")
		}
		seen[it.SKU] = true
	}
	s.CreatedAt = kernel.OccurredAt(s.CreatedAt)
	return FromSnapshot(s), nil
}

// FromSnapshot rehydrates a channel (adapters only).
func FromSnapshot(s Snapshot) *Channel {
	return &Channel{id: s.ID, code: s.Code, name: s.Name, qrToken: s.QRToken, active: s.Active,
		personalCertService: s.PersonalCertService, method: s.Method, catalog: append([]Item(nil), s.Catalog...), createdAt: s.CreatedAt}
}

// Snapshot returns the persisted form.
func (c *Channel) Snapshot() Snapshot {
	return Snapshot{ID: c.id, Code: c.code, Name: c.name, QRToken: c.qrToken, Active: c.active,
		PersonalCertService: c.personalCertService, Method: c.method, Catalog: append([]Item(nil), c.catalog...), CreatedAt: c.createdAt}
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
