package bootstrap

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/components/forwarder"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/wire"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"

	"github.com/shuxinqian/server/adapters/bank"
	"github.com/shuxinqian/server/adapters/ca"
	"github.com/shuxinqian/server/adapters/consumer"
	"github.com/shuxinqian/server/adapters/crypto"
	"github.com/shuxinqian/server/adapters/document"
	"github.com/shuxinqian/server/adapters/filestore"
	"github.com/shuxinqian/server/adapters/h5"
	adhttp "github.com/shuxinqian/server/adapters/http"
	"github.com/shuxinqian/server/adapters/identity"
	"github.com/shuxinqian/server/adapters/metrics"
	"github.com/shuxinqian/server/adapters/natsq"
	"github.com/shuxinqian/server/adapters/qrcode"
	"github.com/shuxinqian/server/adapters/registry"
	"github.com/shuxinqian/server/adapters/sms"
	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/adapters/sqlstore/wmsql"
	"github.com/shuxinqian/server/adapters/system"
	"github.com/shuxinqian/server/adapters/tencentcloud"
	"github.com/shuxinqian/server/adapters/tracing"
	"github.com/shuxinqian/server/adapters/tsa"
	"github.com/shuxinqian/server/adapters/unavailable"
	whsender "github.com/shuxinqian/server/adapters/webhooks"
	"github.com/shuxinqian/server/adapters/wechatpay"
	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/application/operators"
	"github.com/shuxinqian/server/application/refunds"
	"github.com/shuxinqian/server/application/seals"
	"github.com/shuxinqian/server/application/signing"
	"github.com/shuxinqian/server/application/webhooks"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// ProviderSet is everything wire needs to build a Runtime.
var ProviderSet = wire.NewSet(
	provideLogger, provideWatermillLogger, provideDB, provideKeys,
	sqlstore.NewStore,
	wire.Bind(new(ports.UnitOfWork), new(*sqlstore.Store)),
	wire.Bind(new(ports.Cipher), new(*crypto.Keys)),
	wire.Bind(new(ports.Secrets), new(*crypto.Keys)),
	system.NewIDs, wire.Bind(new(ports.IDs), new(*system.IDs)),
	wire.InterfaceValue(new(ports.Random), crypto.Random{}),
	wire.InterfaceValue(new(ports.PasswordHasher), crypto.Argon2id{}),
	provideSandboxSMS, provideSMS,
	provideIdentity, provideSandboxLiveness, provideLiveness, provideCA, provideSigningKeys, provideFileStore,
	wire.Bind(new(ports.CertificateAuthority), new(*ca.CA)),
	wire.Bind(new(ports.RevocationSigner), new(*ca.CA)),
	wire.Bind(new(ports.EventCertificateAuthority), new(*ca.CA)),
	provideSandboxTSA, provideTSA, provideCMS, providePDFVerifier, providePDFIntake,
	wire.Bind(new(ports.DocumentSigner), new(crypto.CMS)),
	wire.Bind(new(ports.SignatureInspector), new(crypto.CMS)),
	document.NewRenderer, wire.Bind(new(ports.SignatureRenderer), new(*document.Renderer)),
	wire.Bind(new(ports.DocumentRenderer), new(*document.Renderer)),
	registry.NewSandbox, provideRegistry,
	provideSandboxBank, provideBank,
	wire.InterfaceValue(new(ports.KeyGenerator), crypto.KeyGen{}),
	wire.InterfaceValue(new(ports.QRCoder), qrcode.Coder{}),
	provideSettings, providePayments, provideGateway, provideSimulator, provideInvoicer,
	wire.Struct(new(application.Deps), "*"),
	application.New,
	document.NewSealRenderer, wire.Bind(new(ports.SealRenderer), new(*document.SealRenderer)),
	wire.Struct(new(seals.Deps), "*"), seals.New,
	wire.InterfaceValue(new(ports.PDFSigner), document.PDFSigner{}),
	provideSigning,
	provideRefundGateway, provideRefundConfig, wire.Struct(new(refunds.Deps), "*"), refunds.New,
	wire.Struct(new(operators.Deps), "*"), operators.New,
	provideWebhookSender, provideWebhookSettings, wire.Struct(new(webhooks.Deps), "*"), webhooks.New,
	provideHTTP,
	provideDelivery,
	provideRouter,
	provideForwarder,
	provideMetrics, provideOps,
	wire.Struct(new(Runtime), "*"),
)

func provideLogger(cfg Config) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if strings.EqualFold(cfg.LogFormat, "json") {
		h = slog.NewJSONHandler(os.Stderr, opts)
	} else {
		h = slog.NewTextHandler(os.Stderr, opts)
	}
	return slog.New(requestIDHandler{h})
}

// requestIDHandler adds the request id of the context to every record.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := adhttp.RequestIDFromContext(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(a)}
}

func (h requestIDHandler) WithGroup(n string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(n)}
}

func provideWatermillLogger(log *slog.Logger) watermill.LoggerAdapter {
	return watermill.NewSlogLoggerWithLevelMapping(log.With("component", "watermill"), map[slog.Level]slog.Level{
		slog.LevelInfo: slog.LevelDebug, // watermill's info is chatty (every poll, every handler start)
	})
}

func provideDB(cfg Config) (*sqlstore.DB, func(), error) {
	db, err := sqlstore.Open(cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return nil, nil, err
	}
	db.DB = db.WithQueryHook(tracing.SQLHook()) // SQL spans (no-ops unless tracing is configured)
	return db, func() { _ = db.Close() }, nil
}

func provideKeys(cfg Config) (*crypto.Keys, error) {
	key, err := cfg.masterKey()
	if err != nil {
		return nil, err
	}
	return crypto.NewKeys(key)
}

// providePayments builds the wechatpay-go gateway: against WeChat Pay with the configured merchant
// credentials, or (sandbox) against the in-process simulator with keys made at start, notifying
// this server's callback.
// payments is the gateway and, in sandbox mode, its simulator (nil otherwise).
type payments struct {
	gateway ports.PaymentGateway
	refunds ports.RefundGateway
	sim     *wechatpay.Simulator
}

func provideRefundGateway(p *payments) ports.RefundGateway { return p.refunds }

// provideRefundConfig: WeChat Pay sends refund notifications to PUBLIC_BASE_URL's callback.
func provideRefundConfig(cfg Config) refunds.Config {
	return refunds.Config{NotifyURL: strings.TrimRight(cfg.PublicBaseURL, "/") + "/api/v1/callbacks/wechat-pay/refunds"}
}

func provideGateway(p *payments) ports.PaymentGateway   { return p.gateway }
func provideSimulator(p *payments) *wechatpay.Simulator { return p.sim }

func providePayments(cfg Config, store *sqlstore.Store) (*payments, error) {
	w := cfg.WeChatPay
	if cfg.PaymentProvider == "wechatpay" {
		key, err := utils.LoadPrivateKeyWithPath(w.MerchantPrivateKeyFile)
		if err != nil {
			return nil, fmt.Errorf("WECHATPAY_MERCHANT_PRIVATE_KEY_FILE: %w", err)
		}
		pub, err := utils.LoadPublicKeyWithPath(w.PlatformPublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("WECHATPAY_PUBLIC_KEY_FILE: %w", err)
		}
		g, err := wechatpay.New(wechatpay.Config{MchID: w.MchID, AppID: w.AppID, MerchantSerial: w.MerchantSerial, MerchantPrivateKey: key,
			APIv3Key: w.APIv3Key, PlatformPublicKeyID: w.PlatformPublicKeyID, PlatformPublicKey: pub})
		if err != nil {
			return nil, err
		}
		return &payments{gateway: g, refunds: g}, nil
	}
	if w.MchID == "" || w.AppID == "" {
		w.MchID, w.AppID = "1900000109", "wxd678efh567hg6787" // WeChat's documentation sandbox ids
	}
	// The keys live under DATA_DIR (shared by the instances, as the sandbox CA is) and the
	// transactions in the database: every instance (and a separate consume process) talks to the
	// same simulated WeChat Pay, as they would to the real one.
	keys, err := wechatpay.SharedSandboxKeys(filepath.Join(cfg.DataDir, "wechatpay-sandbox"))
	if err != nil {
		return nil, fmt.Errorf("wechatpay sandbox keys: %w", err)
	}
	sc := keys.SimConfig(w.MchID, w.AppID, "", nil, nil)
	sc.Records = store.SandboxRecords()
	sim, err := wechatpay.NewSimulator(sc)
	if err != nil {
		return nil, err
	}
	gc := keys.GatewayConfig(w.MchID, w.AppID, "")
	gc.Transport = sim.Transport()
	g, err := wechatpay.New(gc)
	if err != nil {
		return nil, err
	}
	return &payments{gateway: g, refunds: g, sim: sim}, nil
}

// provideInvoicer is the sandbox digital-invoice issuer (it renders the PDFs itself and keeps what
// it issued under DATA_DIR/invoices, so a retried issue returns the same invoice).
func provideInvoicer(cfg Config, clock ports.Clock) (ports.InvoiceIssuer, error) {
	if cfg.InvoiceProvider == ProviderOff {
		return unavailable.Invoicer{}, nil
	}
	return document.NewInvoiceIssuer(filepath.Join(cfg.DataDir, "invoices"),
		document.Seller{Name: "福州数信科技有限公司", TaxID: "91350100M000100Y43", Address: "福州市鼓楼区（沙箱）"}, clock)
}

func provideSettings(cfg Config) application.Settings {
	return application.Settings{PublicBaseURL: cfg.PublicBaseURL, InvoiceLinkTTL: cfg.InvoiceLinkTTL,
		EffectLease: cfg.Events.DeliveryLease / 2}
}

func (t TencentConfig) adapterConfig(clock ports.Clock) tencentcloud.Config {
	return tencentcloud.Config{SecretID: t.SecretID, SecretKey: t.SecretKey, Region: t.Region, Endpoint: t.Endpoint,
		Scheme: t.Scheme, SMSAppID: t.SMSAppID, SMSSignName: t.SMSSign, SMSTemplates: t.SMSTemplates,
		FaceIDRuleID: t.FaceIDRuleID, Clock: clock}
}

// provideSandboxSMS is the sandbox SMS provider, keeping its box in the database (shared by
// every instance and a separate consume process, kept across restarts).
func provideSandboxSMS(clock ports.Clock, store *sqlstore.Store) *sms.Sandbox {
	return sms.NewDurableSandbox(clock, store.SandboxSMS())
}

// provideSandboxBank is the sandbox bank, keeping its transfers in the database (shared by
// every instance and a separate consume process, kept across restarts).
func provideSandboxBank(clock ports.Clock, store *sqlstore.Store) *bank.Sandbox {
	return bank.NewDurableSandbox(clock, store.SandboxBank())
}

func provideSMS(cfg Config, clock ports.Clock, box *sms.Sandbox, m *metrics.Metrics) (ports.SMSSender, error) {
	if cfg.SMSProvider == "tencent" {
		s, err := tencentcloud.NewSMSSender(cfg.Tencent.adapterConfig(clock))
		if err != nil {
			return nil, err
		}
		return m.SMS(s), nil
	}
	return m.SMS(box), nil
}

func provideIdentity(cfg Config, clock ports.Clock) (ports.IdentityVerifier, error) {
	if cfg.IdentityProvider == "tencent" {
		return tencentcloud.NewIdentityVerifier(cfg.Tencent.adapterConfig(clock))
	}
	return identity.NewSandboxVerifier(), nil
}

// provideSandboxLiveness is the sandbox liveness verifier, keeping its sessions in the database
// (a session started on one instance is played on another).
func provideSandboxLiveness(cfg Config, clock ports.Clock, store *sqlstore.Store) *identity.SandboxLiveness {
	return identity.NewDurableSandboxLiveness(clock, cfg.PublicBaseURL, store.SandboxRecords())
}

func provideLiveness(cfg Config, clock ports.Clock, sb *identity.SandboxLiveness) (ports.LivenessVerifier, error) {
	if cfg.IdentityProvider == "tencent" {
		return tencentcloud.NewLivenessVerifier(cfg.Tencent.adapterConfig(clock))
	}
	return sb, nil
}

func provideCA(cfg Config, clock ports.Clock) (*ca.CA, error) {
	c, err := ca.Open(ca.Config{Dir: filepath.Join(cfg.DataDir, "ca"), CertFile: cfg.CACertFile, KeyFile: cfg.CAKeyFile,
		Clock: clock, Organization: "数信签 Shuxinqian", BaseURL: cfg.PublicBaseURL})
	if err != nil {
		return nil, fmt.Errorf("certificate authority: %w", err)
	}
	return c, nil
}

func provideSigningKeys() ports.SigningKeys { return crypto.NewSigningKeys() }

// provideSandboxTSA is the in-process TSA (nil when a real TSA is configured by TSA_URL).
func provideSandboxTSA(cfg Config, c *ca.CA, clock ports.Clock) (*tsa.Local, error) {
	if cfg.TSAURL != "" {
		return nil, nil
	}
	key, chain, err := c.TimeStampingIdentity()
	if err != nil {
		return nil, fmt.Errorf("sandbox TSA: %w", err)
	}
	return tsa.NewLocal(key, chain, ca.OIDTSAPolicy, clock)
}

func provideTSA(cfg Config, local *tsa.Local) (ports.TimeStampAuthority, error) {
	if local != nil {
		return local, nil
	}
	chain, err := os.ReadFile(cfg.TSAChainFile)
	if err != nil {
		return nil, fmt.Errorf("TSA_CHAIN_FILE: %w", err)
	}
	return tsa.NewRemote(cfg.TSAURL, chain, nil)
}

func provideCMS(t ports.TimeStampAuthority) crypto.CMS { return crypto.CMS{TSA: t} }

// provideSigning runs the sign flows. The PDF signer reaches the TSA by URL: TSA_URL, or the
// sandbox TSA this server answers at PUBLIC_BASE_URL/api/v1/tsa.
// The evidence report (evidence.pdf) is drawn by the document renderer.
func provideSigning(cfg Config, uow ports.UnitOfWork, clock ports.Clock, ids ports.IDs, files ports.FileStore, sms ports.SMSSender,
	stamps ports.TimeStampAuthority, pdf ports.PDFSigner, evidence *document.Renderer, app *application.App, log *slog.Logger) *signing.Service {
	endpoint := &ports.TSAEndpoint{URL: cfg.TSAURL}
	if cfg.TSAURL == "" {
		endpoint.URL = cfg.PublicBaseURL + "/api/v1/tsa"
	}
	return signing.New(signing.Deps{UoW: uow, Clock: clock, IDs: ids, Files: files, PDF: pdf, SMS: sms, Stamps: stamps, Keys: app, Evidence: evidence,
		Settings: signing.Settings{PublicBaseURL: cfg.PublicBaseURL, TSA: endpoint}, Logger: log})
}

// providePDFVerifier verifies the signatures of signed PDFs (POST /api/v1/signature-verifications).
func providePDFVerifier() ports.PDFSignatureVerifier { return document.PDFVerifier{} }

// providePDFIntake checks the PDFs uploaded as documents to sign (purpose "document").
func providePDFIntake() ports.PDFIntake { return document.PDFIntake{} }

func provideFileStore(cfg Config) (ports.FileStore, error) {
	if cfg.Ops.FileStore == "s3" {
		return filestore.NewS3(context.Background(), cfg.Ops.S3)
	}
	return filestore.NewLocal(filepath.Join(cfg.DataDir, "files"))
}

func provideHTTP(cfg Config, app *application.App, sl *seals.Service, sg *signing.Service, rf *refunds.Service, ops *operators.Service, wh *webhooks.Service, db *sqlstore.DB,
	box *sms.Sandbox, live *identity.SandboxLiveness,
	reg *registry.Sandbox, bk *bank.Sandbox, sim *wechatpay.Simulator, sandboxTSA *tsa.Local, log *slog.Logger) *adhttp.Server {
	opts := adhttp.Options{
		Sandbox:        cfg.Sandbox(),
		Ready:          db.Ping,
		TrustedProxies: cfg.TrustedProxies,
		PublicBaseURL:  cfg.PublicBaseURL,
		Logger:         log,
		Seals:          sl,
		Signing:        sg,
		Refunds:        rf,
		Operators:      ops,
		Webhooks:       wh,
		H5:             h5.Handler(),
	}
	if sandboxTSA != nil {
		opts.TSA = sandboxTSA
	}
	if cfg.Sandbox() && cfg.IdentityProvider == "sandbox" {
		opts.SandboxLiveness = live
	}
	if cfg.Sandbox() && sim != nil {
		opts.SandboxWeChatPay = sim.Pay
		opts.SandboxRefund = sim.SettleRefund
	}
	if cfg.Sandbox() {
		opts.SandboxRegistry = func() []adhttp.SandboxRegistryEntry {
			var out []adhttp.SandboxRegistryEntry
			for _, f := range reg.Fixtures() {
				out = append(out, adhttp.SandboxRegistryEntry{Name: f.Name, CreditCode: string(f.CreditCode), LegalRepName: f.LegalRepName,
					LegalRepIDNumber: string(f.LegalRepIDNumber), LegalRepPhone: string(f.LegalRepPhone)})
			}
			return out
		}
		opts.SandboxTransfers = func(vid string) []adhttp.SandboxTransfer {
			var out []adhttp.SandboxTransfer
			for _, t := range bk.All() {
				v, _, _ := strings.Cut(t.Reference, "/")
				if vid != "" && v != vid {
					continue
				}
				out = append(out, adhttp.SandboxTransfer{Reference: t.Reference, VerificationID: v, AccountNumber: t.AccountMasked,
					BankName: t.BankName, AmountFen: t.Amount.Fen(), Amount: t.Amount.String(), Remitted: t.Remitted, Reason: t.Reason, At: t.At})
			}
			return out
		}
		opts.SandboxSMS = func(phone kernel.Phone) []adhttp.SentSMS {
			msgs := box.List(phone)
			out := make([]adhttp.SentSMS, len(msgs))
			for i, m := range msgs {
				out[i] = adhttp.SentSMS{ID: m.ID, Phone: string(m.Phone), Template: m.Template, Text: m.Text, SentAt: m.SentAt}
			}
			return out
		}
	}
	return adhttp.NewServer(app, opts)
}

// Delivery is the broker between the outbox forwarder and the consumers: the per-consumer SQL
// queue (EVENTS_BROKER=sql) or NATS JetStream (EVENTS_BROKER=nats). Either way each handler has
// its own durable queue and acks a message only after its transaction committed.
type Delivery struct {
	Pub    message.Publisher
	Sub    message.Subscriber
	Prefix string // topic prefix of the consumers (ConsumerTopic)
	Queue  *sqlstore.DeliveryQueue
	NATS   *natsq.Broker
}

func provideDelivery(cfg Config, store *sqlstore.Store, app *application.App, sl *seals.Service, sg *signing.Service, wh *webhooks.Service, logger watermill.LoggerAdapter) (*Delivery, func(), error) {
	if cfg.Events.Broker == "nats" {
		var topics []string
		for _, h := range allHandlers(app, sl, sg, wh) {
			topics = append(topics, consumer.ConsumerTopic(cfg.Events.TopicPrefix, h.HandlerName()))
		}
		b, err := natsq.Open(natsq.Config{URL: cfg.Events.NATSURL, AckWait: cfg.Events.DeliveryLease, MaxDeliver: cfg.Events.MaxDeliver},
			topics, logger)
		if err != nil {
			return nil, nil, err
		}
		return &Delivery{Pub: b.Pub, Sub: b.Sub, Prefix: cfg.Events.TopicPrefix, NATS: b}, func() { _ = b.Close() }, nil
	}
	q := store.NewDeliveryQueue(sqlstore.DeliveryOptions{PollInterval: cfg.ForwarderPoll, Lease: cfg.Events.DeliveryLease})
	return &Delivery{Pub: q, Sub: q, Queue: q}, func() { _ = q.Close() }, nil
}

func provideRouter(d *Delivery, store *sqlstore.Store, app *application.App, sl *seals.Service, sg *signing.Service, wh *webhooks.Service, logger watermill.LoggerAdapter) (*message.Router, error) {
	poison, err := store.NewPoisonPublisher()
	if err != nil {
		return nil, err
	}
	cfg := consumer.DefaultConfig
	cfg.TopicPrefix = d.Prefix
	return consumer.NewRouter(cfg, d.Sub, poison, allHandlers(app, sl, sg, wh), logger)
}

// provideForwarder moves the outbox to the consumers' queues: each event is copied to the
// queue of each of its handlers, and its outbox row is deleted only once every copy is stored.
func provideForwarder(cfg Config, store *sqlstore.Store, d *Delivery, app *application.App, sl *seals.Service, sg *signing.Service, wh *webhooks.Service, logger watermill.LoggerAdapter) (*forwarder.Forwarder, error) {
	fan := consumer.NewFanOut(consumer.RoutesOf(allHandlers(app, sl, sg, wh)), d.Pub, d.Prefix, logger)
	f, err := store.NewForwarder(fan, wmsql.SubscriberOptions{PollInterval: cfg.ForwarderPoll, DeleteOnAck: true})
	if err != nil {
		return nil, fmt.Errorf("outbox forwarder: %w", err)
	}
	return f, nil
}

// allHandlers is every event handler: the application's, the seals and the webhooks contexts'. The router, the
// fan-out routes and the NATS consumers are all built from this one list.
func allHandlers(app *application.App, sl *seals.Service, sg *signing.Service, wh *webhooks.Service) []consumer.Handler {
	hs := append(append(consumer.Handlers(app), consumer.SealHandlers(sl)...), consumer.SignFlowHandlers(sg)...)
	return append(hs, consumer.WebhookHandlers(wh)...)
}

// webhookBatch is how many due deliveries one dispatcher pass claims.
const webhookBatch = 10

// provideWebhookSender posts deliveries to integrators: in sandbox mode loopback targets are
// allowed (a developer receives webhooks against `make run`) and http:// URLs accepted; in
// production only https to public addresses, unless WEBHOOK_ALLOW_PRIVATE=true.
func provideWebhookSender(cfg Config) ports.WebhookSender {
	return whsender.New(whsender.Config{AllowLoopback: cfg.Sandbox(), AllowPrivate: cfg.Webhooks.AllowPrivate,
		RequireHTTPS: !cfg.Sandbox(), Timeout: cfg.Webhooks.Timeout})
}

// provideWebhookSettings: a claim outlives a whole batch of sends at their timeout.
func provideWebhookSettings(cfg Config) webhooks.Settings {
	return webhooks.Settings{RequireHTTPS: !cfg.Sandbox(), Batch: webhookBatch,
		Lease: time.Duration(webhookBatch)*cfg.Webhooks.Timeout + time.Minute}
}

// provideRegistry is the sandbox registry, or none (REGISTRY_PROVIDER=off; no real provider yet).
func provideRegistry(cfg Config, sb *registry.Sandbox) ports.BusinessRegistry {
	if cfg.RegistryProvider == ProviderOff {
		return unavailable.Registry{}
	}
	return sb
}

// provideBank is the sandbox bank, or none (BANK_PROVIDER=off; no real payout provider yet).
func provideBank(cfg Config, sb *bank.Sandbox) ports.BankRemitter {
	if cfg.BankProvider == ProviderOff {
		return unavailable.Bank{}
	}
	return sb
}
