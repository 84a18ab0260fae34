// Package bootstrap knows every adapter: configuration, the wire injectors, and the runtime that
// starts and stops the HTTP server, the consumers and the outbox forwarder.
package bootstrap

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Mode is sandbox (every external system simulated, the default) or production.
type Mode string

// Modes.
const (
	ModeSandbox    Mode = "sandbox"
	ModeProduction Mode = "production"
)

// Config is read from the environment (see README "Configuration").
type Config struct {
	Mode           Mode
	HTTPAddr       string
	DataDir        string
	DatabaseURL    string
	MasterKey      []byte
	LogLevel       string
	LogFormat      string
	TrustedProxies []netip.Prefix
	SMSProvider    string
	// Consumers: whether serve also runs the event consumers and the outbox forwarder.
	Consumers bool
	// ForwarderPoll is how often the forwarder polls the outbox table.
	ForwarderPoll   time.Duration
	ShutdownTimeout time.Duration
	// PublicBaseURL is where clients reach the server (QR join links, liveness redirects).
	PublicBaseURL string
	// RegistryProvider, BankProvider and InvoiceProvider choose the adapters that have no real
	// provider yet: sandbox or off.
	RegistryProvider, BankProvider, InvoiceProvider string
	// IdentityProvider chooses the identity and liveness adapters: sandbox or tencent.
	IdentityProvider string
	// CACertFile/CAKeyFile: an operator-provided CA; empty means the embedded CA under DATA_DIR/ca.
	CACertFile, CAKeyFile string
	// TSAURL is a real RFC 3161 TSA (TSA_URL) with its certificate chain (TSA_CHAIN_FILE, PEM);
	// empty runs the sandbox TSA in process, served at POST /api/v1/tsa.
	TSAURL, TSAChainFile string
	// PaymentProvider is sandbox (the WeChat Pay simulator) or wechatpay.
	PaymentProvider string
	WeChatPay       WeChatPayConfig
	// InvoiceLinkTTL is how long a shared invoice link works.
	InvoiceLinkTTL time.Duration
	// ReconcileInterval is how often unpaid orders are reconciled with WeChat Pay (0: never).
	ReconcileInterval time.Duration
	// Tencent Cloud (SMS_PROVIDER=tencent, IDENTITY_PROVIDER=tencent).
	Tencent TencentConfig
	// Ops: metrics, admin listener, tracing, file store, retention (config_obs.go).
	Ops OpsConfig
	// Events: the delivery broker, the sweeper (config_events.go).
	Events EventsConfig
	// Webhooks: the deliveries to integrators (config_webhooks.go).
	Webhooks WebhooksConfig
}

// WeChatPayConfig is the merchant's WeChat Pay API v3 credentials.
type WeChatPayConfig struct {
	MchID, AppID           string
	MerchantSerial         string
	MerchantPrivateKeyFile string
	APIv3Key               string
	PlatformPublicKeyID    string
	PlatformPublicKeyFile  string
}

// TencentConfig is the Tencent Cloud account and product settings.
type TencentConfig struct {
	SecretID, SecretKey string
	Region              string
	Endpoint, Scheme    string // tests only: a local fake endpoint
	SMSAppID, SMSSign   string
	SMSTemplates        map[string]string // our template name → Tencent template id
	FaceIDRuleID        string
}

// ProviderOff turns a feature without a real provider off (its port answers "unavailable").
const ProviderOff = "off"

// LoadConfig reads the configuration from getenv (os.Getenv in main).
func LoadConfig(getenv func(string) string) (Config, error) {
	get := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	c := Config{
		Mode:        Mode(get("APP_MODE", string(ModeSandbox))),
		HTTPAddr:    get("HTTP_ADDR", defaultHTTPAddr(Mode(get("APP_MODE", string(ModeSandbox))))),
		DataDir:     get("DATA_DIR", "./var"),
		DatabaseURL: get("DATABASE_URL", ""),
		LogLevel:    get("LOG_LEVEL", "info"),
		LogFormat:   get("LOG_FORMAT", "text"),
		SMSProvider: get("SMS_PROVIDER", "sandbox"),

		IdentityProvider: get("IDENTITY_PROVIDER", "sandbox"),
		CACertFile:       get("CA_CERT_FILE", ""),
		CAKeyFile:        get("CA_KEY_FILE", ""),
		TSAURL:           get("TSA_URL", ""),
		TSAChainFile:     get("TSA_CHAIN_FILE", ""),

		RegistryProvider: get("REGISTRY_PROVIDER", "sandbox"),
		BankProvider:     get("BANK_PROVIDER", "sandbox"),
		InvoiceProvider:  get("INVOICE_PROVIDER", "sandbox"),
	}
	c.PublicBaseURL = strings.TrimRight(get("PUBLIC_BASE_URL", defaultBaseURL(c.HTTPAddr)), "/")
	c.PaymentProvider = get("PAYMENT_PROVIDER", "sandbox")
	c.WeChatPay = WeChatPayConfig{MchID: get("WECHATPAY_MCH_ID", "1900000109"), AppID: get("WECHATPAY_APP_ID", "wxd678efh567hg6787"),
		MerchantSerial: get("WECHATPAY_MERCHANT_SERIAL", ""), MerchantPrivateKeyFile: get("WECHATPAY_MERCHANT_PRIVATE_KEY_FILE", ""),
		APIv3Key: get("WECHATPAY_APIV3_KEY", ""), PlatformPublicKeyID: get("WECHATPAY_PUBLIC_KEY_ID", ""),
		PlatformPublicKeyFile: get("WECHATPAY_PUBLIC_KEY_FILE", "")}
	c.Tencent = TencentConfig{
		SecretID: get("TENCENTCLOUD_SECRET_ID", ""), SecretKey: get("TENCENTCLOUD_SECRET_KEY", ""),
		Region: get("TENCENTCLOUD_REGION", "ap-guangzhou"), Endpoint: get("TENCENTCLOUD_ENDPOINT", ""),
		Scheme: get("TENCENTCLOUD_SCHEME", "https"), SMSAppID: get("TENCENTCLOUD_SMS_APP_ID", ""),
		SMSSign: get("TENCENTCLOUD_SMS_SIGN", "数信签"), FaceIDRuleID: get("TENCENTCLOUD_FACEID_RULE_ID", ""),
		SMSTemplates: map[string]string{},
	}
	var errs []error
	errs = append(errs, c.Events.load(get)...)
	errs = append(errs, c.Webhooks.load(get)...)
	if c.Mode != ModeSandbox && c.Mode != ModeProduction {
		errs = append(errs, fmt.Errorf("APP_MODE must be sandbox or production, not %q", c.Mode))
	}
	var err error
	if c.Consumers, err = strconv.ParseBool(get("CONSUMERS", "true")); err != nil {
		errs = append(errs, fmt.Errorf("CONSUMERS must be true or false"))
	}
	if c.ForwarderPoll, err = time.ParseDuration(get("FORWARDER_POLL_INTERVAL", "200ms")); err != nil || c.ForwarderPoll <= 0 {
		errs = append(errs, fmt.Errorf("FORWARDER_POLL_INTERVAL must be a positive duration such as 200ms"))
	}
	if c.InvoiceLinkTTL, err = time.ParseDuration(get("INVOICE_LINK_TTL", "168h")); err != nil || c.InvoiceLinkTTL <= 0 {
		errs = append(errs, fmt.Errorf("INVOICE_LINK_TTL must be a positive duration such as 168h"))
	}
	if c.ReconcileInterval, err = time.ParseDuration(get("RECONCILE_INTERVAL", "1m")); err != nil || c.ReconcileInterval < 0 {
		errs = append(errs, fmt.Errorf("RECONCILE_INTERVAL must be a duration such as 1m (0 disables)"))
	}
	if c.ShutdownTimeout, err = time.ParseDuration(get("SHUTDOWN_TIMEOUT", "20s")); err != nil || c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("SHUTDOWN_TIMEOUT must be a positive duration"))
	}
	for _, p := range strings.Split(getenv("TRUSTED_PROXIES"), ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		pf, err := netip.ParsePrefix(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("TRUSTED_PROXIES: %q is not a CIDR", p))
			continue
		}
		c.TrustedProxies = append(c.TrustedProxies, pf)
	}
	if k := getenv("MASTER_KEY"); k != "" {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(k))
		if err != nil || len(key) < 32 {
			errs = append(errs, errors.New("MASTER_KEY must be base64 of at least 32 random bytes"))
		}
		c.MasterKey = key
	}
	if c.Mode == ModeProduction {
		if c.DatabaseURL == "" {
			errs = append(errs, errors.New("production mode needs DATABASE_URL (postgres://…)"))
		}
		if len(c.MasterKey) == 0 {
			errs = append(errs, errors.New("production mode needs MASTER_KEY"))
		}
		if c.SMSProvider == "sandbox" {
			errs = append(errs, errors.New("production mode refuses sandbox adapters: set SMS_PROVIDER to a real provider"))
		}
		if c.IdentityProvider == "sandbox" {
			errs = append(errs, errors.New("production mode refuses sandbox adapters: set IDENTITY_PROVIDER to a real provider"))
		}
		if c.CACertFile == "" || c.CAKeyFile == "" {
			errs = append(errs, errors.New("production mode needs an operator CA: set CA_CERT_FILE and CA_KEY_FILE"))
		}
		if c.TSAURL == "" {
			errs = append(errs, errors.New("production mode refuses sandbox adapters: set TSA_URL (and TSA_CHAIN_FILE) to a real time-stamping authority"))
		}
	}
	for _, kv := range strings.Split(getenv("TENCENTCLOUD_SMS_TEMPLATES"), ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		name, id, ok := strings.Cut(kv, "=")
		if !ok || name == "" || id == "" {
			errs = append(errs, fmt.Errorf("TENCENTCLOUD_SMS_TEMPLATES: %q is not name=template_id", kv))
			continue
		}
		c.Tencent.SMSTemplates[strings.TrimSpace(name)] = strings.TrimSpace(id)
	}
	switch c.PaymentProvider {
	case "sandbox":
	case "wechatpay":
		w := c.WeChatPay
		if w.MerchantSerial == "" || w.MerchantPrivateKeyFile == "" || len(w.APIv3Key) != 32 || w.PlatformPublicKeyID == "" || w.PlatformPublicKeyFile == "" {
			errs = append(errs, errors.New("PAYMENT_PROVIDER=wechatpay needs WECHATPAY_MCH_ID, WECHATPAY_APP_ID, WECHATPAY_MERCHANT_SERIAL, "+
				"WECHATPAY_MERCHANT_PRIVATE_KEY_FILE, WECHATPAY_APIV3_KEY (32 characters), WECHATPAY_PUBLIC_KEY_ID and WECHATPAY_PUBLIC_KEY_FILE"))
		}
	default:
		errs = append(errs, fmt.Errorf("PAYMENT_PROVIDER must be sandbox or wechatpay, not %q", c.PaymentProvider))
	}
	if c.Mode == ModeProduction && c.PaymentProvider == "sandbox" {
		errs = append(errs, errors.New("production mode refuses sandbox adapters: set PAYMENT_PROVIDER=wechatpay with the merchant credentials"))
	}
	tencentNeeded := false
	switch c.SMSProvider {
	case "sandbox":
	case "tencent":
		tencentNeeded = true
		if c.Tencent.SMSAppID == "" || c.Tencent.SMSTemplates["code"] == "" || c.Tencent.SMSTemplates["welcome"] == "" {
			errs = append(errs, errors.New("SMS_PROVIDER=tencent needs TENCENTCLOUD_SMS_APP_ID and TENCENTCLOUD_SMS_TEMPLATES with code=… and welcome=…"))
		}
	default:
		errs = append(errs, fmt.Errorf("SMS_PROVIDER must be sandbox or tencent, not %q", c.SMSProvider))
	}
	switch c.IdentityProvider {
	case "sandbox":
	case "tencent":
		tencentNeeded = true
		if c.Tencent.FaceIDRuleID == "" {
			errs = append(errs, errors.New("IDENTITY_PROVIDER=tencent needs TENCENTCLOUD_FACEID_RULE_ID"))
		}
	default:
		errs = append(errs, fmt.Errorf("IDENTITY_PROVIDER must be sandbox or tencent, not %q", c.IdentityProvider))
	}
	if tencentNeeded && (c.Tencent.SecretID == "" || c.Tencent.SecretKey == "") {
		errs = append(errs, errors.New("the Tencent Cloud providers need TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY"))
	}
	if c.TSAURL != "" && c.TSAChainFile == "" {
		errs = append(errs, errors.New("TSA_URL needs TSA_CHAIN_FILE (the TSA's certificate chain, PEM)"))
	}
	if c.Ops, err = loadOpsConfig(get); err != nil {
		errs = append(errs, err)
	}
	// Adapters with no real provider yet: sandbox (simulated) or off (the feature answers
	// "unavailable"). Production refuses the sandbox ones, naming each.
	for _, p := range []struct{ env, what, value string }{
		{"REGISTRY_PROVIDER", "the business registry", c.RegistryProvider},
		{"BANK_PROVIDER", "the bank remitter (micro-deposits)", c.BankProvider},
		{"INVOICE_PROVIDER", "the invoice issuer", c.InvoiceProvider},
	} {
		switch {
		case p.value != "sandbox" && p.value != ProviderOff:
			errs = append(errs, fmt.Errorf("%s must be sandbox or off (no real provider yet), not %q", p.env, p.value))
		case c.Mode == ModeProduction && p.value == "sandbox":
			errs = append(errs, fmt.Errorf("production mode refuses sandbox adapters: %s is the sandbox; set %s=off (no real provider yet)", p.what, p.env))
		}
	}
	if (c.CACertFile == "") != (c.CAKeyFile == "") {
		errs = append(errs, errors.New("set both CA_CERT_FILE and CA_KEY_FILE, or neither"))
	}
	return c, errors.Join(errs...)
}

// defaultBaseURL is http://localhost:<port> for a listen address like ":8080".
func defaultBaseURL(addr string) string {
	if i := strings.LastIndex(addr, ":"); i >= 0 {
		host := addr[:i]
		if host == "" || host == "0.0.0.0" || host == "[::]" {
			host = "localhost"
		}
		return "http://" + host + addr[i:]
	}
	return "http://localhost:8080"
}

// defaultHTTPAddr: sandbox mode serves sandbox codes without login, so it listens on the loopback
// interface only unless HTTP_ADDR says otherwise; production listens on every interface.
func defaultHTTPAddr(m Mode) string {
	if m == ModeProduction {
		return ":8080"
	}
	return "127.0.0.1:8080"
}

// Sandbox reports whether sandbox endpoints and adapters are on.
func (c Config) Sandbox() bool { return c.Mode == ModeSandbox }

// masterKey returns the configured key or, in sandbox mode only, a key kept in the data
// directory (created on first start with mode 0600).
func (c Config) masterKey() ([]byte, error) {
	if len(c.MasterKey) > 0 {
		return c.MasterKey, nil
	}
	if !c.Sandbox() {
		return nil, errors.New("MASTER_KEY is required outside sandbox mode")
	}
	path := filepath.Join(c.DataDir, "master.key")
	if b, err := os.ReadFile(path); err == nil { //nolint:gosec // the operator chooses DATA_DIR
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(key) < 32 {
			return nil, fmt.Errorf("%s is not base64 of 32 bytes", path)
		}
		return key, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) //nolint:gosec // the operator chooses DATA_DIR
	if err != nil {
		if errors.Is(err, os.ErrExist) { // another process created it first
			return c.masterKey()
		}
		return nil, err
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		_ = f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return nil, err
	}
	return key, f.Close()
}
