package bootstrap

import (
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/sqlstore"
)

func TestOpsConfigDefaults(t *testing.T) {
	c, err := LoadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	o := c.Ops
	if o.MetricsAddr != "" || o.AdminAddr != "" || o.Tracing.Endpoint != "" || o.Tracing.ServiceName != "shuxinqian" ||
		o.FileStore != "local" || !o.S3.UseSSL || o.PruneInterval != time.Hour || o.Retention != sqlstore.DefaultRetention {
		t.Fatalf("ops defaults %+v", o)
	}
}

func TestOpsConfig(t *testing.T) {
	c, err := LoadConfig(env(map[string]string{"ADMIN_ADDR": "6060", "FILE_STORE": "s3", "S3_ENDPOINT": "127.0.0.1:9000",
		"S3_BUCKET": "files", "S3_ACCESS_KEY": "a", "S3_SECRET_KEY": "s", "S3_USE_SSL": "false", "S3_PREFIX": "shuxinqian/",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318/", "RETENTION_AUDIT": "4380h", "PRUNE_INTERVAL": "0", "PRUNE_BATCH": "100",
		"APP_MODE": "production", "DATABASE_URL": "postgres://x/y"}))
	// Production refuses the sandbox providers, not the S3 store.
	if err == nil || strings.Contains(err.Error(), "S3") || strings.Contains(err.Error(), "FILE_STORE") {
		t.Fatalf("err %v", err)
	}
	o := c.Ops
	if o.AdminAddr != "127.0.0.1:6060" || o.S3.UseSSL || o.S3.Bucket != "files" || o.Tracing.Endpoint != "http://127.0.0.1:4318" ||
		o.Retention.Audit != 4380*time.Hour || o.PruneInterval != 0 || o.Retention.Batch != 100 {
		t.Fatalf("ops %+v", o)
	}
	if c, _ := LoadConfig(env(map[string]string{"ADMIN_ADDR": ":6061"})); c.Ops.AdminAddr != "127.0.0.1:6061" {
		t.Fatalf("ADMIN_ADDR :6061 → %q, want loopback", c.Ops.AdminAddr)
	}
	if c, _ := LoadConfig(env(map[string]string{"ADMIN_ADDR": "0.0.0.0:6061"})); c.Ops.AdminAddr != "0.0.0.0:6061" {
		t.Fatalf("an explicit host is kept: %q", c.Ops.AdminAddr)
	}
}

func TestOpsConfigRefusals(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"FILE_STORE": "nfs"}, "FILE_STORE must be"},
		{map[string]string{"FILE_STORE": "s3", "S3_BUCKET": "b"}, "S3_ENDPOINT"},
		{map[string]string{"FILE_STORE": "s3", "S3_ENDPOINT": "https://s3", "S3_BUCKET": "b", "S3_ACCESS_KEY": "a", "S3_SECRET_KEY": "s"}, "without a scheme"},
		{map[string]string{"S3_USE_SSL": "maybe"}, "S3_USE_SSL"},
		{map[string]string{"ADMIN_ADDR": "nonsense"}, "ADMIN_ADDR"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{map[string]string{"OTEL_TRACES_SAMPLER_ARG": "2"}, "OTEL_TRACES_SAMPLER_ARG"},
		{map[string]string{"RETENTION_SMS_CODES": "1h"}, "RETENTION_SMS_CODES"},
		{map[string]string{"RETENTION_INBOX": "soon"}, "RETENTION_INBOX"},
		{map[string]string{"PRUNE_BATCH": "0"}, "PRUNE_BATCH"},
	} {
		if _, err := LoadConfig(env(tc.env)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want %q", tc.env, err, tc.want)
		}
	}
}
