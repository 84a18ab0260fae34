// Package wechatpay is the PaymentGateway on WeChat Pay API v3 (直连商户, JSAPI and APP), built on
// the official SDK github.com/wechatpay-apiv3/wechatpay-go with the WeChat Pay public key (no
// platform certificate downloader), and an honest in-process simulator of the same API for sandbox
// mode and tests.
package wechatpay

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/validators"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/notify"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/app"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/jsapi"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/native"
	"github.com/wechatpay-apiv3/wechatpay-go/services/refunddomestic"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// DefaultBaseURL is WeChat Pay's production API host.
const DefaultBaseURL = "https://api.mch.weixin.qq.com"

// Error codes of this adapter (kernel error codes).
const (
	CodeUnavailable      = "payment-unavailable"
	CodeNotFound         = "payment-not-found"
	CodeAlreadyPaid      = "payment-already-paid"
	CodeClosed           = "payment-closed"
	CodeOrderNoReused    = "payment-out-trade-no-reused"
	CodeOpenIDRequired   = "openid-required"
	CodeRequestInvalid   = "payment-request-invalid"
	CodeSignatureInvalid = "notification-signature-invalid"
	CodeMalformed        = "notification-malformed"
)

const (
	signatureType     = "WECHATPAY2-SHA256-RSA2048"
	signTestPrefix    = "WECHATPAY/SIGNTEST/"
	notifyWindow      = 5 * time.Minute
	maxNotifyBodySize = 64 << 10
	defaultTimeout    = 10 * time.Second
)

// Config configures the Gateway.
type Config struct {
	MchID              string
	AppID              string
	MerchantSerial     string          // serial number of the merchant API certificate
	MerchantPrivateKey *rsa.PrivateKey // merchant API private key: signs requests and client params
	APIv3Key           string          // 32 bytes: decrypts notifications
	// PlatformPublicKeyID and PlatformPublicKey are the WeChat Pay public key (微信支付公钥) and its
	// id (PUB_KEY_ID_…): they verify responses and notifications.
	PlatformPublicKeyID string
	PlatformPublicKey   *rsa.PublicKey
	// BaseURL is "" for https://api.mch.weixin.qq.com; otherwise every request's scheme and host
	// (and an optional path prefix) are rewritten to it, e.g. http://127.0.0.1:port for the simulator.
	BaseURL string
	Timeout time.Duration // per HTTP request; 0 = 10s
	// Transport is optional (nil = http.DefaultTransport); Simulator.Transport() serves the
	// simulator in process without a listener.
	Transport http.RoundTripper
}

// Gateway is ports.PaymentGateway on WeChat Pay API v3.
type Gateway struct {
	mchID, appID string
	jsapi        jsapi.JsapiApiService
	native       native.NativeApiService
	app          app.AppApiService
	refunds      refunddomestic.RefundsApiService
	verifier     auth.Verifier
	aead         cipher.AEAD // AEAD_AES_256_GCM under the APIv3 key: opens notification resources
}

var _ ports.PaymentGateway = (*Gateway)(nil)

// New builds a Gateway. It makes no network call.
func New(cfg Config) (*Gateway, error) {
	switch {
	case cfg.MchID == "" || cfg.AppID == "":
		return nil, errors.New("wechatpay: mchid and appid are required")
	case cfg.MerchantSerial == "" || cfg.MerchantPrivateKey == nil:
		return nil, errors.New("wechatpay: the merchant key and its serial are required")
	case cfg.PlatformPublicKeyID == "" || cfg.PlatformPublicKey == nil:
		return nil, errors.New("wechatpay: the WeChat Pay public key and its id are required")
	case len(cfg.APIv3Key) != 32:
		return nil, errors.New("wechatpay: the APIv3 key must be 32 bytes")
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	transport := cfg.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	if cfg.BaseURL != "" && strings.TrimRight(cfg.BaseURL, "/") != DefaultBaseURL {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			return nil, errors.New("wechatpay: BaseURL must be an http(s) URL without a query")
		}
		transport = &rewriteTransport{next: transport, scheme: u.Scheme, host: u.Host, prefix: strings.TrimRight(u.Path, "/")}
	}
	client, err := core.NewClient(context.Background(),
		option.WithWechatPayPublicKeyAuthCipher(cfg.MchID, cfg.MerchantSerial, cfg.MerchantPrivateKey,
			cfg.PlatformPublicKeyID, cfg.PlatformPublicKey),
		option.WithHTTPClient(&http.Client{Timeout: timeout, Transport: transport}),
	)
	if err != nil {
		return nil, fmt.Errorf("wechatpay: client: %w", err)
	}
	verifier := verifiers.NewSHA256WithRSAPubkeyVerifier(cfg.PlatformPublicKeyID, *cfg.PlatformPublicKey)
	block, err := aes.NewCipher([]byte(cfg.APIv3Key))
	if err != nil {
		return nil, fmt.Errorf("wechatpay: APIv3 key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("wechatpay: APIv3 key: %w", err)
	}
	return &Gateway{
		mchID: cfg.MchID, appID: cfg.AppID,
		jsapi:    jsapi.JsapiApiService{Client: client},
		native:   native.NativeApiService{Client: client},
		app:      app.AppApiService{Client: client},
		refunds:  refunddomestic.RefundsApiService{Client: client},
		verifier: verifier,
		aead:     aead,
	}, nil
}

// rewriteTransport sends every request to another scheme+host (+ path prefix). The merchant
// signature covers only the path and query, which it leaves as they are below the prefix.
type rewriteTransport struct {
	next         http.RoundTripper
	scheme, host string
	prefix       string
}

func (t *rewriteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.URL.Scheme, r.URL.Host, r.Host = t.scheme, t.host, t.host
	if t.prefix != "" {
		r.URL.Path = t.prefix + req.URL.Path
		if req.URL.RawPath != "" {
			r.URL.RawPath = t.prefix + req.URL.RawPath
		}
	}
	return t.next.RoundTrip(r)
}

// MchID is the merchant id.
func (g *Gateway) MchID() string { return g.mchID }

// AppID is the app id (the mini-program's and the app's, one open-platform appid).
func (g *Gateway) AppID() string { return g.appID }

// beijing is the +08:00 zone WeChat Pay writes its times in.
var beijing = time.FixedZone("CST", 8*3600)

// Prepay opens (or re-opens, for the same out_trade_no and amount) a transaction and returns the
// signed client parameters.
func (g *Gateway) Prepay(ctx context.Context, req ports.PrepayRequest) (ports.PrepayResult, error) {
	if req.OutTradeNo == "" || req.Description == "" || req.NotifyURL == "" || req.Amount <= 0 {
		return ports.PrepayResult{}, kernel.Invalid(CodeRequestInvalid,
			"out_trade_no, description, notify url and a positive amount are required")
	}
	var expire *time.Time
	if !req.TimeExpire.IsZero() {
		t := req.TimeExpire.Truncate(time.Second).In(beijing)
		expire = &t
	}
	amountTotal, cny := int64(req.Amount), "CNY"
	switch req.TradeType {
	case ports.TradeJSAPI:
		if req.OpenID == "" {
			return ports.PrepayResult{}, kernel.Invalid(CodeOpenIDRequired, "the payer's openid is required for a jsapi payment")
		}
		resp, _, err := g.jsapi.PrepayWithRequestPayment(ctx, jsapi.PrepayRequest{
			Appid: core.String(g.appID), Mchid: core.String(g.mchID),
			Description: core.String(req.Description), OutTradeNo: core.String(req.OutTradeNo),
			TimeExpire: expire, NotifyUrl: core.String(req.NotifyURL),
			Amount: &jsapi.Amount{Total: &amountTotal, Currency: &cny},
			Payer:  &jsapi.Payer{Openid: core.String(req.OpenID)},
		})
		if err != nil {
			return ports.PrepayResult{}, mapErr("prepay", err)
		}
		if resp.PrepayId == nil || *resp.PrepayId == "" {
			return ports.PrepayResult{}, unavailable("prepay", errors.New("no prepay_id in the response"))
		}
		return ports.PrepayResult{PrepayID: *resp.PrepayId, ClientParams: map[string]string{
			"appId": deref(resp.Appid), "timeStamp": deref(resp.TimeStamp), "nonceStr": deref(resp.NonceStr),
			"package": deref(resp.Package), "signType": deref(resp.SignType), "paySign": deref(resp.PaySign),
		}}, nil
	case ports.TradeApp:
		resp, _, err := g.app.PrepayWithRequestPayment(ctx, app.PrepayRequest{
			Appid: core.String(g.appID), Mchid: core.String(g.mchID),
			Description: core.String(req.Description), OutTradeNo: core.String(req.OutTradeNo),
			TimeExpire: expire, NotifyUrl: core.String(req.NotifyURL),
			Amount: &app.Amount{Total: &amountTotal, Currency: &cny},
		})
		if err != nil {
			return ports.PrepayResult{}, mapErr("prepay", err)
		}
		if resp.PrepayId == nil || *resp.PrepayId == "" {
			return ports.PrepayResult{}, unavailable("prepay", errors.New("no prepay_id in the response"))
		}
		return ports.PrepayResult{PrepayID: *resp.PrepayId, ClientParams: map[string]string{
			"appid": g.appID, "partnerid": deref(resp.PartnerId), "prepayid": *resp.PrepayId,
			"package": deref(resp.Package), "noncestr": deref(resp.NonceStr), "timestamp": deref(resp.TimeStamp),
			"sign": deref(resp.Sign),
		}}, nil
	case ports.TradeNative:
		resp, _, err := g.native.Prepay(ctx, native.PrepayRequest{
			Appid: core.String(g.appID), Mchid: core.String(g.mchID),
			Description: core.String(req.Description), OutTradeNo: core.String(req.OutTradeNo),
			TimeExpire: expire, NotifyUrl: core.String(req.NotifyURL),
			Amount: &native.Amount{Total: &amountTotal, Currency: &cny},
		})
		if err != nil {
			return ports.PrepayResult{}, mapErr("prepay", err)
		}
		if resp.CodeUrl == nil || *resp.CodeUrl == "" {
			return ports.PrepayResult{}, unavailable("prepay", errors.New("no code_url in the response"))
		}
		return ports.PrepayResult{ClientParams: map[string]string{"code_url": *resp.CodeUrl}}, nil
	default:
		return ports.PrepayResult{}, kernel.Invalid(CodeRequestInvalid, "unknown trade type")
	}
}

// Query returns WeChat Pay's view of the transaction of outTradeNo.
func (g *Gateway) Query(ctx context.Context, outTradeNo string) (ports.PaymentTransaction, error) {
	if outTradeNo == "" {
		return ports.PaymentTransaction{}, kernel.NotFound(CodeNotFound, "payment not found")
	}
	tx, _, err := g.jsapi.QueryOrderByOutTradeNo(ctx, jsapi.QueryOrderByOutTradeNoRequest{
		OutTradeNo: core.String(outTradeNo), Mchid: core.String(g.mchID),
	})
	if err != nil {
		return ports.PaymentTransaction{}, mapErr("query", err)
	}
	pt, err := toTransaction(tx)
	if err != nil {
		return ports.PaymentTransaction{}, unavailable("query", err)
	}
	return pt, nil
}

// Close closes an unpaid transaction (closing a closed one succeeds).
func (g *Gateway) Close(ctx context.Context, outTradeNo string) error {
	if outTradeNo == "" {
		return kernel.NotFound(CodeNotFound, "payment not found")
	}
	_, err := g.jsapi.CloseOrder(ctx, jsapi.CloseOrderRequest{
		OutTradeNo: core.String(outTradeNo), Mchid: core.String(g.mchID),
	})
	if err != nil {
		return mapErr("close", err)
	}
	return nil
}

// ParseNotification verifies a payment notification (WeChat Pay public key, serial = its id,
// timestamp within 5 minutes) and only then decrypts its resource (AEAD_AES_256_GCM, APIv3 key).
func (g *Gateway) ParseNotification(ctx context.Context, n ports.PaymentNotification) (ports.PaymentTransaction, error) {
	plain, nr, err := g.open(ctx, n, "transaction")
	if err != nil {
		return ports.PaymentTransaction{}, err
	}
	malformed := kernel.Invalid(CodeMalformed, "the notification cannot be decrypted or read")
	var tx payments.Transaction
	if err := json.Unmarshal(plain, &tx); err != nil {
		return ports.PaymentTransaction{}, malformed
	}
	pt, err := toTransaction(&tx)
	if err != nil || pt.OutTradeNo == "" || pt.TradeState == "" {
		return ports.PaymentTransaction{}, malformed
	}
	pt.NotificationID = nr.ID
	return pt, nil
}

// open verifies a notification (WeChat Pay public key, serial = its id, timestamp within 5
// minutes) and only then decrypts its resource (AEAD_AES_256_GCM, APIv3 key). originalType is
// the resource's expected original_type ("transaction" or "refund"), when WeChat names it.
func (g *Gateway) open(ctx context.Context, n ports.PaymentNotification, originalType string) ([]byte, notify.Request, error) {
	sigInvalid := kernel.Unauthenticated(CodeSignatureInvalid, "the notification's signature is invalid")
	h := http.Header{}
	for k, v := range n.Headers {
		h.Set(k, v)
	}
	sig := strings.TrimSpace(h.Get("Wechatpay-Signature"))
	if sig == "" || strings.HasPrefix(sig, signTestPrefix) {
		return nil, notify.Request{}, sigInvalid
	}
	if st := h.Get("Wechatpay-Signature-Type"); st != "" && st != signatureType {
		return nil, notify.Request{}, sigInvalid
	}
	ts, err := strconv.ParseInt(strings.TrimSpace(h.Get("Wechatpay-Timestamp")), 10, 64)
	if err != nil {
		return nil, notify.Request{}, sigInvalid
	}
	// The SDK's validator checks the same window against the wall clock; this makes it explicit.
	if skew := time.Since(time.Unix(ts, 0)); skew >= notifyWindow || skew <= -notifyWindow {
		return nil, notify.Request{}, sigInvalid
	}
	if len(n.Body) > maxNotifyBodySize {
		return nil, notify.Request{}, kernel.Invalid(CodeMalformed, "the notification is too large")
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, "/", bytes.NewReader(n.Body))
	if err != nil {
		return nil, notify.Request{}, kernel.Internal(err)
	}
	r.Header = h
	// The one RSA verification (timestamp, nonce, body). The SDK's ParseNotifyRequest would verify
	// the same signature a second time, so the resource is opened here instead.
	if err := validators.NewWechatPayNotifyValidator(g.verifier).Validate(ctx, r); err != nil {
		return nil, notify.Request{}, sigInvalid
	}
	malformed := kernel.Invalid(CodeMalformed, "the notification cannot be decrypted or read")
	var nr notify.Request
	if err := json.Unmarshal(n.Body, &nr); err != nil || nr.Resource == nil || nr.Resource.Algorithm != "AEAD_AES_256_GCM" ||
		(nr.Resource.OriginalType != "" && nr.Resource.OriginalType != originalType) {
		return nil, notify.Request{}, malformed
	}
	ct, err := base64.StdEncoding.DecodeString(nr.Resource.Ciphertext)
	if err != nil || len(nr.Resource.Nonce) != g.aead.NonceSize() {
		return nil, notify.Request{}, malformed // a nonce of another length would make GCM panic
	}
	plain, err := g.aead.Open(nil, []byte(nr.Resource.Nonce), ct, []byte(nr.Resource.AssociatedData))
	if err != nil {
		return nil, notify.Request{}, malformed
	}
	return plain, nr, nil
}

func toTransaction(tx *payments.Transaction) (ports.PaymentTransaction, error) {
	if tx == nil {
		return ports.PaymentTransaction{}, errors.New("empty transaction")
	}
	pt := ports.PaymentTransaction{
		MchID: deref(tx.Mchid), AppID: deref(tx.Appid), OutTradeNo: deref(tx.OutTradeNo),
		TransactionID: deref(tx.TransactionId), TradeState: deref(tx.TradeState),
	}
	if tx.Amount != nil {
		if tx.Amount.Total != nil {
			pt.Total = kernel.Money(*tx.Amount.Total)
		}
		pt.Currency = deref(tx.Amount.Currency)
		if pt.Currency == "" {
			pt.Currency = deref(tx.Amount.PayerCurrency)
		}
	}
	if s := deref(tx.SuccessTime); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return ports.PaymentTransaction{}, errors.New("invalid success_time")
		}
		pt.SuccessTime = t
	}
	return pt, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func unavailable(op string, cause error) error {
	return kernel.Unavailable(CodeUnavailable, "WeChat Pay is unavailable", fmt.Errorf("wechatpay %s: %w", op, cause))
}

// mapErr maps an SDK error. API errors keep only the status, code and WeChat's message: never the
// body or the headers.
func mapErr(op string, err error) error {
	var apiErr *core.APIError
	if !errors.As(err, &apiErr) {
		return unavailable(op, err)
	}
	switch {
	case apiErr.StatusCode == http.StatusNotFound || apiErr.Code == "ORDER_NOT_EXIST" || apiErr.Code == "RESOURCE_NOT_EXISTS":
		return kernel.NotFound(CodeNotFound, "payment not found")
	case apiErr.Code == "ORDERPAID":
		return kernel.Conflict(CodeAlreadyPaid, "the payment is already paid")
	case apiErr.Code == "ORDERCLOSED":
		return kernel.Conflict(CodeClosed, "the payment is closed")
	case apiErr.Code == "INVALID_REQUEST" && op == "prepay":
		return kernel.Conflict(CodeOrderNoReused, "the out_trade_no was used with other parameters")
	}
	return unavailable(op, fmt.Errorf("http %d %s: %s", apiErr.StatusCode, apiErr.Code, apiErr.Message))
}
