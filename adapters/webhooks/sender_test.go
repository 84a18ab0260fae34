package webhooks_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/webhooks"
	"github.com/shuxinqian/server/ports"
)

func TestCheckRefusesNonPublicAddresses(t *testing.T) {
	blocked := []string{
		"10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.254", "192.168.1.1", // private
		"127.0.0.1", "127.1.2.3", "::1", // loopback
		"169.254.169.254", "169.254.0.1", "fe80::1", "fe80::1%eth0", // link-local (cloud metadata)
		"::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", // IPv4-mapped
		"fc00::1", "fd12:3456::1", // unique local
		"0.0.0.0", "::", "0.1.2.3", // unspecified, "this network"
		"224.0.0.1", "239.1.1.1", "ff02::1", "ff05::2", // multicast
		"255.255.255.255", "240.0.0.1", "100.64.0.1", "198.18.0.1", // broadcast, reserved, CGNAT, benchmarking
		"64:ff9b::a00:1", "2002:a00:1::1", // NAT64 and 6to4 wrapping 10.0.0.1
	}
	for _, s := range blocked {
		ip := netip.MustParseAddr(s)
		if err := webhooks.Check(ip, false, false); !errors.Is(err, webhooks.ErrBlockedAddress) {
			t.Errorf("%s allowed", s)
		}
	}
	for _, s := range []string{"8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "203.119.0.1"} {
		if err := webhooks.Check(netip.MustParseAddr(s), false, false); err != nil {
			t.Errorf("%s refused: %v", s, err)
		}
	}
	// Sandbox: loopback only.
	if webhooks.Check(netip.MustParseAddr("127.0.0.1"), true, false) != nil || webhooks.Check(netip.MustParseAddr("::1"), true, false) != nil ||
		webhooks.Check(netip.MustParseAddr("::ffff:127.0.0.1"), true, false) != nil {
		t.Error("sandbox refuses loopback")
	}
	for _, s := range []string{"10.0.0.1", "169.254.169.254", "fe80::1"} {
		if webhooks.Check(netip.MustParseAddr(s), true, false) == nil {
			t.Errorf("sandbox allows %s", s)
		}
	}
	// WEBHOOK_ALLOW_PRIVATE: private, loopback, link-local, CGNAT; never unspecified or multicast.
	for _, s := range []string{"10.0.0.1", "192.168.1.1", "127.0.0.1", "169.254.169.254", "fe80::1", "fd00::1", "100.64.0.1"} {
		if err := webhooks.Check(netip.MustParseAddr(s), false, true); err != nil {
			t.Errorf("allow-private refuses %s: %v", s, err)
		}
	}
	for _, s := range []string{"0.0.0.0", "::", "224.0.0.1", "ff02::1"} {
		if webhooks.Check(netip.MustParseAddr(s), false, true) == nil {
			t.Errorf("allow-private allows %s", s)
		}
	}
}

func TestGuardSeesTheResolvedAddress(t *testing.T) {
	guard := webhooks.Guard(false, false)
	for _, addr := range []string{"127.0.0.1:443", "[::1]:443", "[fe80::1%eth0]:80", "[::ffff:127.0.0.1]:80", "169.254.169.254:80", "10.1.2.3:8080"} {
		if err := guard("tcp", addr, nil); !errors.Is(err, webhooks.ErrBlockedAddress) {
			t.Errorf("guard allowed %s", addr)
		}
	}
	if err := guard("tcp", "example.com:443", nil); err == nil {
		t.Error("guard accepted an unresolved name")
	}
	if err := guard("tcp", "93.184.215.14:443", nil); err != nil {
		t.Errorf("guard refused a public address: %v", err)
	}
}

// receiver counts the requests that reached it.
func receiver(t *testing.T) (*httptest.Server, *int) {
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// A name resolving to loopback (localhost), an IPv4-mapped loopback literal and the plain
// literal are refused when connecting, so nothing reaches the listener; the sandbox setting
// (AllowLoopback) reaches it.
func TestSendRefusesLoopbackAtConnectTime(t *testing.T) {
	srv, hits := receiver(t)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	strict := webhooks.New(webhooks.Config{Timeout: 2 * time.Second})
	for _, u := range []string{"http://localhost:" + port + "/h", "http://127.0.0.1:" + port + "/h", "http://[::ffff:127.0.0.1]:" + port + "/h"} {
		_, err := strict.Send(context.Background(), ports.WebhookRequest{URL: u, Body: []byte("{}")})
		if err == nil || !strings.Contains(err.Error(), "not allowed") {
			t.Errorf("%s: %v", u, err)
		}
	}
	if *hits != 0 {
		t.Fatalf("%d requests reached a loopback listener", *hits)
	}
	sandbox := webhooks.New(webhooks.Config{AllowLoopback: true, Timeout: 2 * time.Second})
	res, err := sandbox.Send(context.Background(), ports.WebhookRequest{URL: "http://localhost:" + port + "/h", Body: []byte("{}")})
	if err != nil || res.StatusCode != 200 || *hits != 1 {
		t.Fatalf("sandbox send: %v %+v hits=%d", err, res, *hits)
	}
	// Production refuses plain http and userinfo before dialling.
	prod := webhooks.New(webhooks.Config{AllowLoopback: true, RequireHTTPS: true})
	for _, u := range []string{"http://localhost:" + port, "https://u:p@localhost:" + port} {
		if _, err := prod.Send(context.Background(), ports.WebhookRequest{URL: u, Body: []byte("{}")}); err == nil {
			t.Errorf("%s sent", u)
		}
	}
}

// The guard runs in the dialer on the address it connects to, after resolution: a name is judged
// by what it resolved to at that moment (a DNS answer that changes between a URL check and the
// connection cannot slip through).
func TestGuardOnDialer(t *testing.T) {
	d := &net.Dialer{Timeout: time.Second, Control: webhooks.Guard(false, false)}
	_, err := d.DialContext(context.Background(), "tcp", "10.255.255.1:80")
	if !errors.Is(err, webhooks.ErrBlockedAddress) {
		t.Fatalf("dial 10.x: %v", err)
	}
	_, err = d.DialContext(context.Background(), "tcp", "localhost:80")
	if !errors.Is(err, webhooks.ErrBlockedAddress) {
		t.Fatalf("dial localhost: %v", err)
	}
}

func TestSendNoRedirectsBoundedAnswer(t *testing.T) {
	big := strings.Repeat("x", 200<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		if r.URL.Path == "/elsewhere" {
			t.Error("the redirect was followed")
		}
		if r.Header.Get("X-Test") != "1" {
			t.Error("headers not sent")
		}
		_, _ = io.WriteString(w, big)
	}))
	defer srv.Close()
	s := webhooks.New(webhooks.Config{AllowLoopback: true, MaxResponse: 64 << 10})
	res, err := s.Send(context.Background(), ports.WebhookRequest{URL: srv.URL + "/redirect", Headers: map[string]string{"X-Test": "1"}})
	if err != nil || res.StatusCode != http.StatusFound {
		t.Fatalf("redirect: %v %+v", err, res.StatusCode)
	}
	res, err = s.Send(context.Background(), ports.WebhookRequest{URL: srv.URL + "/big", Headers: map[string]string{"X-Test": "1"}})
	if err != nil || res.StatusCode != 200 || len(res.Body) != 64<<10 {
		t.Fatalf("big: %v %d %d", err, res.StatusCode, len(res.Body))
	}
}

func TestSendTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	s := webhooks.New(webhooks.Config{AllowLoopback: true, Timeout: 200 * time.Millisecond})
	if _, err := s.Send(context.Background(), ports.WebhookRequest{URL: srv.URL}); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("slow receiver: %v", err)
	}
}
