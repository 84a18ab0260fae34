package webhook

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// Limits.
const (
	// MaxURLLength bounds an endpoint's URL.
	MaxURLLength = 2048
	// MaxPerEnterprise bounds an enterprise's endpoints (not counting deleted ones).
	MaxPerEnterprise = 10
)

// EndpointID identifies an endpoint.
type EndpointID string

// Errors.
var (
	ErrURLInvalid = kernel.Invalid("webhook-url-invalid",
		"url is an absolute http(s) URL of at most 2048 characters, without user:password@ or #fragment")
	ErrURLNotHTTPS   = kernel.Invalid("webhook-url-not-https", "webhook URLs must use https")
	ErrEndpointLimit = kernel.Conflict("webhook-limit-reached", "an enterprise has at most 10 webhook endpoints")
	ErrNotFound      = kernel.NotFound("webhook-not-found", "no such webhook endpoint of this enterprise")
)

// ParseURL validates an endpoint URL: absolute http or https (https only when requireHTTPS),
// a host, no userinfo, no fragment, plain text. Whether the host may be reached is decided at
// connect time on the resolved address.
func ParseURL(raw string, requireHTTPS bool) (*url.URL, error) {
	if raw == "" || len(raw) > MaxURLLength || !kernel.PlainText(raw) || strings.ContainsAny(raw, " \\") {
		return nil, ErrURLInvalid
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" || u.Hostname() == "" || u.User != nil || u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, ErrURLInvalid
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if requireHTTPS {
			return nil, ErrURLNotHTTPS
		}
	default:
		return nil, ErrURLInvalid
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, ErrURLInvalid
		}
	}
	return u, nil
}

// Endpoint is where an enterprise wants its events: a URL, the types it subscribed to, and the
// secret the deliveries are signed with (shown once, kept encrypted).
type Endpoint struct {
	id           EndpointID
	enterpriseID kernel.EnterpriseID
	url          string
	events       []Type
	secret       string
	createdBy    kernel.UserID
	createdAt    time.Time
	deletedAt    time.Time
}

// NewEndpoint validates and creates an endpoint.
func NewEndpoint(id EndpointID, eid kernel.EnterpriseID, rawURL string, events []string, secret string, by kernel.UserID,
	requireHTTPS bool, now time.Time) (*Endpoint, error) {
	u, err := ParseURL(rawURL, requireHTTPS)
	if err != nil {
		return nil, err
	}
	types, err := ParseEvents(events)
	if err != nil {
		return nil, err
	}
	if id == "" || eid == "" || len(secret) < 32 {
		return nil, kernel.Invalid("webhook-invalid", "an endpoint needs an id, an enterprise and a secret of at least 32 characters")
	}
	return &Endpoint{id: id, enterpriseID: eid, url: u.String(), events: types, secret: secret, createdBy: by,
		createdAt: kernel.OccurredAt(now)}, nil
}

// ID returns the id.
func (e *Endpoint) ID() EndpointID { return e.id }

// EnterpriseID returns the enterprise.
func (e *Endpoint) EnterpriseID() kernel.EnterpriseID { return e.enterpriseID }

// URL returns the target URL.
func (e *Endpoint) URL() string { return e.url }

// Events returns the subscribed types (["*"] for all).
func (e *Endpoint) Events() []Type { return slices.Clone(e.events) }

// Secret returns the signing secret.
func (e *Endpoint) Secret() string { return e.secret }

// CreatedBy returns who registered the endpoint.
func (e *Endpoint) CreatedBy() kernel.UserID { return e.createdBy }

// CreatedAt returns when it was registered.
func (e *Endpoint) CreatedAt() time.Time { return e.createdAt }

// Deleted reports whether the endpoint was deleted.
func (e *Endpoint) Deleted() bool { return !e.deletedAt.IsZero() }

// Wants reports whether the endpoint subscribed to t.
func (e *Endpoint) Wants(t Type) bool {
	return !e.Deleted() && (slices.Contains(e.events, "*") || slices.Contains(e.events, t))
}

// Delete retires the endpoint: nothing more is delivered to it.
func (e *Endpoint) Delete(now time.Time) {
	if e.deletedAt.IsZero() {
		e.deletedAt = kernel.OccurredAt(now)
	}
}

// EndpointSnapshot is the stored form of an endpoint.
type EndpointSnapshot struct {
	ID           EndpointID
	EnterpriseID kernel.EnterpriseID
	URL          string
	Events       []Type
	Secret       string
	CreatedBy    kernel.UserID
	CreatedAt    time.Time
	DeletedAt    time.Time
}

// Snapshot returns the stored form.
func (e *Endpoint) Snapshot() EndpointSnapshot {
	return EndpointSnapshot{ID: e.id, EnterpriseID: e.enterpriseID, URL: e.url, Events: slices.Clone(e.events), Secret: e.secret,
		CreatedBy: e.createdBy, CreatedAt: e.createdAt, DeletedAt: e.deletedAt}
}

// EndpointFromSnapshot rebuilds an endpoint from storage.
func EndpointFromSnapshot(s EndpointSnapshot) *Endpoint {
	return &Endpoint{id: s.ID, enterpriseID: s.EnterpriseID, url: s.URL, events: slices.Clone(s.Events), secret: s.Secret,
		createdBy: s.CreatedBy, createdAt: s.CreatedAt, deletedAt: s.DeletedAt}
}
