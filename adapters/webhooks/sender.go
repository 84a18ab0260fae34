// Package webhooks is the HTTP sender of the deliveries to integrators, guarded against
// server-side request forgery: the address actually dialled (after DNS, for every address tried)
// must be a public unicast address unless the platform allows loopback (sandbox) or private
// networks (WEBHOOK_ALLOW_PRIVATE); no proxy, no redirects, bounded time and answer.
package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"

	"github.com/shuxinqian/server/ports"
)

// Config tunes the sender.
type Config struct {
	// AllowLoopback lets deliveries reach 127.0.0.0/8 and ::1 (sandbox mode: `make run` users
	// receive webhooks locally).
	AllowLoopback bool
	// AllowPrivate lets deliveries reach private, loopback, link-local and shared (CGNAT)
	// addresses (WEBHOOK_ALLOW_PRIVATE=true, for integrators inside the platform's network).
	AllowPrivate bool
	// RequireHTTPS refuses http:// URLs (production).
	RequireHTTPS bool
	// Timeout bounds one delivery: connect, TLS, request and reading the answer (default 10s).
	Timeout time.Duration
	// MaxResponse bounds how much of the answer is read (default 64 KiB).
	MaxResponse int64
}

// Sender posts deliveries.
type Sender struct {
	cfg    Config
	client *http.Client
}

var _ ports.WebhookSender = (*Sender)(nil)

// ErrBlockedAddress is returned (wrapped) when the resolved address is not allowed.
var ErrBlockedAddress = errors.New("webhook: address not allowed")

// New builds a sender.
func New(cfg Config) *Sender {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxResponse <= 0 {
		cfg.MaxResponse = 64 << 10
	}
	dialer := &net.Dialer{Timeout: min(cfg.Timeout, 5*time.Second), Control: Guard(cfg.AllowLoopback, cfg.AllowPrivate)}
	tr := &http.Transport{
		Proxy:                  nil, // a proxy would dial for us, past the guard
		DialContext:            dialer.DialContext,
		TLSHandshakeTimeout:    min(cfg.Timeout, 5*time.Second),
		ResponseHeaderTimeout:  cfg.Timeout,
		MaxIdleConns:           20,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        30 * time.Second,
		MaxResponseHeaderBytes: 16 << 10,
		ForceAttemptHTTP2:      true,
	}
	return &Sender{cfg: cfg, client: &http.Client{
		Transport:     tr,
		Timeout:       cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Guard is a net.Dialer Control function that refuses every address that is not allowed. It
// sees the resolved IP of each connection attempt, so a DNS name that resolves (or rebinds) to a
// private address is refused as well.
func Guard(allowLoopback, allowPrivate bool) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: %q is not an IP address", ErrBlockedAddress, address)
		}
		return Check(ap.Addr(), allowLoopback, allowPrivate)
	}
}

// special are ranges that are neither private nor public destinations for webhooks.
var special = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (CGNAT)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64 (could reach an IPv4 private address)
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4 (embeds an IPv4 address)
	netip.MustParsePrefix("2001::/32"),       // Teredo (embeds an IPv4 address)
	netip.MustParsePrefix("100::/64"),        // discard
}

// Check decides whether a webhook may connect to ip. IPv4-mapped IPv6 addresses are judged as
// the IPv4 address they carry.
func Check(ip netip.Addr, allowLoopback, allowPrivate bool) error {
	ip = ip.Unmap().WithZone("")
	switch {
	case !ip.IsValid(), ip.IsUnspecified(), ip.IsMulticast(), ip.IsInterfaceLocalMulticast(), ip.IsLinkLocalMulticast():
		return fmt.Errorf("%w: %s is unspecified or multicast", ErrBlockedAddress, ip)
	case ip.IsLoopback():
		if allowLoopback || allowPrivate {
			return nil
		}
		return fmt.Errorf("%w: %s is a loopback address", ErrBlockedAddress, ip)
	case ip.IsPrivate(), ip.IsLinkLocalUnicast():
		if allowPrivate {
			return nil
		}
		return fmt.Errorf("%w: %s is a private or link-local address", ErrBlockedAddress, ip)
	}
	for _, p := range special {
		if p.Contains(ip) {
			if allowPrivate && p.Bits() == 10 && p.Addr().Is4() { // CGNAT counts as private
				return nil
			}
			return fmt.Errorf("%w: %s is a reserved address", ErrBlockedAddress, ip)
		}
	}
	return nil
}

// Send posts one delivery and reads at most MaxResponse bytes of the answer.
func (s *Sender) Send(ctx context.Context, r ports.WebhookRequest) (ports.WebhookResponse, error) {
	u, err := url.Parse(r.URL)
	if err != nil || u.User != nil || (u.Scheme != "https" && (s.cfg.RequireHTTPS || u.Scheme != "http")) {
		return ports.WebhookResponse{}, errors.New("webhook: URL not allowed")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return ports.WebhookResponse{}, fmt.Errorf("webhook: %w", err)
	}
	for k, v := range r.Headers {
		req.Header.Set(k, v)
	}
	start := time.Now()
	res, err := s.client.Do(req)
	if err != nil {
		return ports.WebhookResponse{Duration: time.Since(start)}, describe(err)
	}
	defer func() { _ = res.Body.Close() }()
	b, _ := io.ReadAll(io.LimitReader(res.Body, s.cfg.MaxResponse))
	return ports.WebhookResponse{StatusCode: res.StatusCode, Body: string(b), Duration: time.Since(start)}, nil
}

// describe shortens a transport error for the delivery log.
func describe(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, ErrBlockedAddress) {
		var op *net.OpError
		if errors.As(err, &op) && op.Err != nil {
			return op.Err
		}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errors.New("webhook: timed out")
	}
	return err
}
