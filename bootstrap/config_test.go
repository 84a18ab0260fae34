package bootstrap

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/system"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfigDefaults(t *testing.T) {
	c, err := LoadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	// Sandbox mode listens on the loopback interface unless HTTP_ADDR says otherwise.
	if c.Mode != ModeSandbox || c.HTTPAddr != "127.0.0.1:8080" || c.DataDir != "./var" || c.DatabaseURL != "" || !c.Consumers ||
		c.ForwarderPoll != 200*time.Millisecond || !c.Sandbox() {
		t.Fatalf("defaults %+v", c)
	}
}

func TestListenAddress(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{nil, "127.0.0.1:8080"},
		{map[string]string{"HTTP_ADDR": ":9000"}, ":9000"},
	} {
		c, err := LoadConfig(env(tc.env))
		if err != nil || c.HTTPAddr != tc.want {
			t.Fatalf("%v: %q %v, want %q", tc.env, c.HTTPAddr, err, tc.want)
		}
	}
	c, _ := LoadConfig(env(map[string]string{"APP_MODE": "production"}))
	if c.HTTPAddr != ":8080" {
		t.Fatalf("production listens on %q", c.HTTPAddr)
	}
}

func TestLoadConfigRefusals(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(make([]byte, 32))
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"bad mode", map[string]string{"APP_MODE": "staging"}, "APP_MODE"},
		{"production without database", map[string]string{"APP_MODE": "production", "MASTER_KEY": key}, "DATABASE_URL"},
		{"production without key", map[string]string{"APP_MODE": "production", "DATABASE_URL": "postgres://x/y"}, "MASTER_KEY"},
		{"production with sandbox SMS", map[string]string{"APP_MODE": "production", "DATABASE_URL": "postgres://x/y", "MASTER_KEY": key}, "refuses sandbox"},
		{"short key", map[string]string{"MASTER_KEY": base64.StdEncoding.EncodeToString([]byte("short"))}, "MASTER_KEY"},
		{"bad proxy", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8, nonsense"}, "TRUSTED_PROXIES"},
		{"bad poll", map[string]string{"FORWARDER_POLL_INTERVAL": "-1s"}, "FORWARDER_POLL_INTERVAL"},
		{"bad consumers", map[string]string{"CONSUMERS": "maybe"}, "CONSUMERS"},
		{"unknown SMS provider", map[string]string{"SMS_PROVIDER": "carrier-pigeon"}, "SMS_PROVIDER"},
		{"unknown payment provider", map[string]string{"PAYMENT_PROVIDER": "cash"}, "PAYMENT_PROVIDER"},
		{"wechatpay without credentials", map[string]string{"PAYMENT_PROVIDER": "wechatpay"}, "WECHATPAY_MERCHANT_SERIAL"},
		{"production with the payment simulator", map[string]string{"APP_MODE": "production", "DATABASE_URL": "postgres://x/y", "MASTER_KEY": key}, "PAYMENT_PROVIDER=wechatpay"},
		{"bad reconcile interval", map[string]string{"RECONCILE_INTERVAL": "soon"}, "RECONCILE_INTERVAL"},
		{"production with the sandbox registry", map[string]string{"APP_MODE": "production", "DATABASE_URL": "postgres://x/y", "MASTER_KEY": key}, "the business registry is the sandbox; set REGISTRY_PROVIDER=off"},
		{"production with the sandbox bank", map[string]string{"APP_MODE": "production", "DATABASE_URL": "postgres://x/y", "MASTER_KEY": key}, "the bank remitter (micro-deposits) is the sandbox; set BANK_PROVIDER=off"},
		{"production with the sandbox invoicer", map[string]string{"APP_MODE": "production", "DATABASE_URL": "postgres://x/y", "MASTER_KEY": key}, "the invoice issuer is the sandbox; set INVOICE_PROVIDER=off"},
		{"unknown registry provider", map[string]string{"REGISTRY_PROVIDER": "qcc"}, "REGISTRY_PROVIDER must be sandbox or off"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := LoadConfig(env(tc.env)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want it to mention %s", err, tc.want)
			}
		})
	}
}

func TestSandboxMasterKeyIsCreatedOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	c := Config{Mode: ModeSandbox, DataDir: dir}
	k1, err := c.masterKey()
	if err != nil || len(k1) != 32 {
		t.Fatalf("key %x err %v", k1, err)
	}
	st, err := os.Stat(filepath.Join(dir, "master.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("master.key %v %v", st, err)
	}
	k2, _ := c.masterKey()
	if string(k1) != string(k2) {
		t.Fatal("the sandbox key changed between starts: encrypted data would be lost")
	}
	if _, err := (Config{Mode: ModeProduction, DataDir: dir}).masterKey(); err == nil {
		t.Fatal("production generated its own key")
	}
}

// Production mode never migrates by itself: serve refuses a database with pending migrations.
func TestProductionRefusesUnmigratedDatabase(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Mode: ModeProduction, DataDir: dir, MasterKey: make([]byte, 32), SMSProvider: "sandbox",
		ForwarderPoll: time.Second, ShutdownTimeout: time.Second}
	rt, cleanup, err := NewRuntime(cfg, system.Clock{})
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	ctx := context.Background()
	err = rt.PrepareDatabase(ctx)
	if err == nil || !strings.Contains(err.Error(), "shuxinqian migrate") {
		t.Fatalf("err %v", err)
	}
	if _, err := rt.DB.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rt.PrepareDatabase(ctx); err != nil {
		t.Fatalf("after migrate: %v", err)
	}
	if again, err := rt.DB.Migrate(ctx); err != nil || len(again) != 0 {
		t.Fatalf("migrate is not idempotent: %v %v", again, err)
	}
}
