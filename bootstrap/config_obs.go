package bootstrap

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/shuxinqian/server/adapters/filestore"
	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/adapters/tracing"
)

// OpsConfig is the operations side: metrics, the admin listener, tracing, where files live and
// how long old rows are kept (README "Observability", "Files on S3", "Retention").
type OpsConfig struct {
	// MetricsAddr: empty serves GET /metrics on the main listener; an address serves it there
	// instead (and not on the main listener).
	MetricsAddr string
	// AdminAddr is the pprof (and /metrics) listener; empty means off. A port alone binds 127.0.0.1.
	AdminAddr string
	Tracing   tracing.Config
	// FileStore is local (DATA_DIR/files, the default) or s3.
	FileStore string
	S3        filestore.S3Config
	Retention sqlstore.Retention
	// PruneInterval is how often serve and consume prune (0: never).
	PruneInterval time.Duration
}

func loadOpsConfig(get func(k, def string) string) (OpsConfig, error) {
	var errs []error
	o := OpsConfig{
		MetricsAddr: get("METRICS_ADDR", ""),
		AdminAddr:   get("ADMIN_ADDR", ""),
		Tracing: tracing.Config{Endpoint: strings.TrimRight(get("OTEL_EXPORTER_OTLP_ENDPOINT", ""), "/"),
			ServiceName: get("OTEL_SERVICE_NAME", "shuxinqian")},
		FileStore: get("FILE_STORE", "local"),
		S3: filestore.S3Config{Endpoint: get("S3_ENDPOINT", ""), Bucket: get("S3_BUCKET", ""), AccessKey: get("S3_ACCESS_KEY", ""),
			SecretKey: get("S3_SECRET_KEY", ""), Region: get("S3_REGION", "us-east-1"), Prefix: get("S3_PREFIX", "")},
		Retention: sqlstore.DefaultRetention,
	}
	if o.AdminAddr != "" {
		host, port, err := net.SplitHostPort(o.AdminAddr)
		if err != nil {
			if _, perr := strconv.ParseUint(o.AdminAddr, 10, 16); perr != nil {
				errs = append(errs, fmt.Errorf("ADMIN_ADDR must be host:port or a port, not %q", o.AdminAddr))
			}
			host, port = "", o.AdminAddr
		}
		if host == "" {
			host = "127.0.0.1" // pprof is never public unless asked for by address
		}
		o.AdminAddr = net.JoinHostPort(host, port)
	}
	if r := get("OTEL_TRACES_SAMPLER_ARG", "1"); r != "" {
		v, err := strconv.ParseFloat(r, 64)
		if err != nil || v <= 0 || v > 1 {
			errs = append(errs, errors.New("OTEL_TRACES_SAMPLER_ARG must be a ratio in (0, 1]"))
		}
		o.Tracing.SampleRatio = v
	}
	if o.Tracing.Endpoint != "" && !strings.HasPrefix(o.Tracing.Endpoint, "http://") && !strings.HasPrefix(o.Tracing.Endpoint, "https://") {
		errs = append(errs, errors.New("OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s):// URL such as http://127.0.0.1:4318"))
	}
	var err error
	if o.S3.UseSSL, err = strconv.ParseBool(get("S3_USE_SSL", "true")); err != nil {
		errs = append(errs, errors.New("S3_USE_SSL must be true or false"))
	}
	switch o.FileStore {
	case "local":
	case "s3":
		if o.S3.Endpoint == "" || o.S3.Bucket == "" || o.S3.AccessKey == "" || o.S3.SecretKey == "" {
			errs = append(errs, errors.New("FILE_STORE=s3 needs S3_ENDPOINT, S3_BUCKET, S3_ACCESS_KEY and S3_SECRET_KEY"))
		}
		if strings.Contains(o.S3.Endpoint, "://") {
			errs = append(errs, errors.New("S3_ENDPOINT is host[:port] without a scheme (S3_USE_SSL chooses https)"))
		}
		if o.S3.Prefix != "" && (strings.HasPrefix(o.S3.Prefix, "/") || !strings.HasSuffix(o.S3.Prefix, "/")) {
			errs = append(errs, errors.New("S3_PREFIX must look like folder/ (no leading slash, a trailing one)"))
		}
	default:
		errs = append(errs, fmt.Errorf("FILE_STORE must be local or s3, not %q", o.FileStore))
	}
	dur := func(name, def string, dst *time.Duration) {
		v, err := time.ParseDuration(get(name, def))
		if err != nil || v < 0 {
			errs = append(errs, fmt.Errorf("%s must be a duration such as %s", name, def))
			return
		}
		*dst = v
	}
	dur("RETENTION_SMS_CODES", "24h", &o.Retention.Codes)
	dur("RETENTION_INBOX", "720h", &o.Retention.Inbox)
	dur("RETENTION_IDEMPOTENCY_KEYS", "0s", &o.Retention.Idempotency)
	dur("RETENTION_AUDIT", "8760h", &o.Retention.Audit)
	dur("RETENTION_EFFECTS", "720h", &o.Retention.Effects)
	dur("RETENTION_SWEEP_CLAIMS", "168h", &o.Retention.SweepClaims)
	dur("RETENTION_SANDBOX", "168h", &o.Retention.Sandbox)
	if o.Retention.Effects < o.Retention.Inbox {
		errs = append(errs, errors.New("RETENTION_EFFECTS must be at least RETENTION_INBOX: a redelivered message must still find its effect claims"))
	}
	if o.Retention.SweepClaims < 24*time.Hour {
		errs = append(errs, errors.New("RETENTION_SWEEP_CLAIMS must be at least 24h"))
	}
	dur("PRUNE_INTERVAL", "1h", &o.PruneInterval)
	if o.Retention.Codes < 24*time.Hour {
		errs = append(errs, errors.New("RETENTION_SMS_CODES must be at least 24h: the daily sending limits count the codes of the last day"))
	}
	if o.Retention.Inbox < 24*time.Hour {
		errs = append(errs, errors.New("RETENTION_INBOX must be at least 24h: a redelivered message must still find its inbox record"))
	}
	if o.Retention.Audit < 24*time.Hour {
		errs = append(errs, errors.New("RETENTION_AUDIT must be at least 24h"))
	}
	if b, err := strconv.Atoi(get("PRUNE_BATCH", "500")); err != nil || b < 1 || b > 10000 {
		errs = append(errs, errors.New("PRUNE_BATCH must be between 1 and 10000"))
	} else {
		o.Retention.Batch = b
	}
	return o, errors.Join(errs...)
}
