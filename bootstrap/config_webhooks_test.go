package bootstrap

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/ports"
)

func TestWebhooksConfig(t *testing.T) {
	c, err := LoadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Webhooks.AllowPrivate || c.Webhooks.PollInterval != time.Second || c.Webhooks.Timeout != 10*time.Second {
		t.Fatalf("defaults %+v", c.Webhooks)
	}
	for k, v := range map[string]string{"WEBHOOK_ALLOW_PRIVATE": "perhaps", "WEBHOOK_POLL_INTERVAL": "0s", "WEBHOOK_TIMEOUT": "2h"} {
		if _, err := LoadConfig(env(map[string]string{k: v})); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v", k, v, err)
		}
	}
}

// Production's sender reaches no loopback address and its URLs must be https; sandbox's reaches
// loopback (a developer's receiver on localhost).
func TestWebhookSenderPolicyByMode(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits++ }))
	defer srv.Close()
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	sandbox := Config{Mode: ModeSandbox, Webhooks: WebhooksConfig{Timeout: 2 * time.Second}}
	if res, err := provideWebhookSender(sandbox).Send(context.Background(), ports.WebhookRequest{URL: url}); err != nil || res.StatusCode != 200 {
		t.Fatalf("sandbox: %v %+v", err, res)
	}
	prod := Config{Mode: ModeProduction, Webhooks: WebhooksConfig{Timeout: 2 * time.Second}}
	if _, err := provideWebhookSender(prod).Send(context.Background(), ports.WebhookRequest{URL: url}); err == nil {
		t.Fatal("production sent over http")
	}
	if _, err := provideWebhookSender(prod).Send(context.Background(), ports.WebhookRequest{URL: strings.Replace(url, "http:", "https:", 1)}); err == nil ||
		!strings.Contains(err.Error(), "not allowed") {
		t.Fatalf("production reached loopback: %v", err)
	}
	if hits != 1 {
		t.Fatalf("%d requests arrived, want the sandbox one", hits)
	}
	if !provideWebhookSettings(prod).RequireHTTPS || provideWebhookSettings(sandbox).RequireHTTPS {
		t.Fatal("https required by mode")
	}
	if s := provideWebhookSettings(prod); s.Lease <= time.Duration(s.Batch)*prod.Webhooks.Timeout {
		t.Fatalf("a lease (%s) shorter than a batch of sends", s.Lease)
	}
}
