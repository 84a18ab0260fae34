package wechatpay

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// SimConfig configures the Simulator.
type SimConfig struct {
	MchID    string
	AppID    string
	APIv3Key string // 32 bytes: encrypts notifications
	// MerchantPublicKey and MerchantSerial verify the merchant's request signatures.
	MerchantPublicKey *rsa.PublicKey
	MerchantSerial    string
	// PlatformPrivateKey and PlatformPublicKeyID sign responses and notifications.
	PlatformPrivateKey  *rsa.PrivateKey
	PlatformPublicKeyID string
	// NotifyURL, when set, receives every notification (our callback); otherwise the order's
	// notify_url does, as with WeChat Pay.
	NotifyURL string
	// Clock is the simulator's "now": request timestamps are checked against it, responses and
	// notifications are stamped with it. The SDK checks those stamps against the wall clock (±5
	// minutes), so it must stay near the real time. nil = the system clock.
	Clock ports.Clock
	// RefundNotifyURL, when set, receives every refund notification; otherwise the refund's
	// notify_url does.
	RefundNotifyURL string
	// HTTPClient sends the notifications (nil = a client with a 10s timeout).
	HTTPClient *http.Client
	// MaxOrders bounds the orders kept in memory (the oldest are forgotten); 0 = 10000.
	MaxOrders int
	// Records, when set, keeps the orders durably instead, shared by every instance (simbook.go).
	Records ports.SandboxRecords
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// simOrder is one transaction in the simulator.
type simOrder struct {
	appID, mchID, description, outTradeNo string
	tradeType                             string // JSAPI or APP
	total                                 int64
	currency                              string
	openID                                string
	notifyURL                             string
	prepayID                              string
	codeURL                               string // NATIVE: the QR code's text
	state                                 string
	transactionID                         string
	successTime                           time.Time
	timeExpire                            time.Time
	refunds                               []simRefund // in the order's record, so one update checks the total refunded
}

// Simulator is an in-process WeChat Pay API v3 (直连商户 JSAPI/APP prepay, query, close, payment
// notifications). It verifies the merchant's request signatures and signs its responses and
// notifications with the platform key exactly as WeChat Pay does. Safe for concurrent use.
type Simulator struct {
	cfg   SimConfig
	clock ports.Clock
	aead  cipher.AEAD
	mux   *http.ServeMux

	mu      sync.Mutex
	orders  map[string]*simOrder
	fifo    []string          // out_trade_nos, oldest first
	refunds map[string]string // out_refund_no → out_trade_no (the refunds live in their order)
}

var _ http.Handler = (*Simulator)(nil)

// NewSimulator builds a Simulator.
func NewSimulator(cfg SimConfig) (*Simulator, error) {
	switch {
	case cfg.MchID == "" || cfg.AppID == "":
		return nil, errors.New("wechatpay simulator: mchid and appid are required")
	case cfg.MerchantPublicKey == nil || cfg.MerchantSerial == "":
		return nil, errors.New("wechatpay simulator: the merchant public key and serial are required")
	case cfg.PlatformPrivateKey == nil || cfg.PlatformPublicKeyID == "":
		return nil, errors.New("wechatpay simulator: the platform private key and public key id are required")
	case len(cfg.APIv3Key) != 32:
		return nil, errors.New("wechatpay simulator: the APIv3 key must be 32 bytes")
	}
	block, err := aes.NewCipher([]byte(cfg.APIv3Key))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.MaxOrders <= 0 {
		cfg.MaxOrders = 10000
	}
	s := &Simulator{cfg: cfg, clock: cfg.Clock, aead: aead, orders: map[string]*simOrder{}, refunds: map[string]string{}}
	if s.clock == nil {
		s.clock = systemClock{}
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /v3/pay/transactions/jsapi", func(w http.ResponseWriter, r *http.Request) { s.prepay(w, r, "JSAPI") })
	s.mux.HandleFunc("POST /v3/pay/transactions/app", func(w http.ResponseWriter, r *http.Request) { s.prepay(w, r, "APP") })
	s.mux.HandleFunc("POST /v3/pay/transactions/native", func(w http.ResponseWriter, r *http.Request) { s.prepay(w, r, "NATIVE") })
	s.mux.HandleFunc("GET /v3/pay/transactions/out-trade-no/{out_trade_no}", s.query)
	s.mux.HandleFunc("POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close", s.closeOrder)
	s.mux.HandleFunc("POST /v3/refund/domestic/refunds", s.createRefund)
	s.mux.HandleFunc("GET /v3/refund/domestic/refunds/{out_refund_no}", s.queryRefund)
	return s, nil
}

// Transport serves requests with the simulator in process (no listener), for Config.Transport.
func (s *Simulator) Transport() http.RoundTripper { return simTransport{s} }

type simTransport struct{ s *Simulator }

func (t simTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	r := req.Clone(req.Context())
	r.Body = http.NoBody
	if req.Body != nil {
		defer func() { _ = req.Body.Close() }()
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	r.RequestURI = req.URL.RequestURI()
	t.s.ServeHTTP(rec, r)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

const maxSimBody = 64 << 10

// ServeHTTP serves WeChat Pay's API.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Body == nil {
		r.Body = http.NoBody
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSimBody+1))
	if err != nil || len(body) > maxSimBody {
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "请求体过大或无法读取")
		return
	}
	if code, msg := s.checkAuthorization(r, body); code != "" {
		s.fail(w, http.StatusUnauthorized, code, msg)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.fail(w, http.StatusNotFound, "NOT_FOUND", "请求的资源不存在")
		return
	}
	s.mux.ServeHTTP(w, r)
}

// checkAuthorization verifies Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,nonce_str=…,…
func (s *Simulator) checkAuthorization(r *http.Request, body []byte) (code, msg string) {
	authz := r.Header.Get("Authorization")
	scheme, params, ok := strings.Cut(authz, " ")
	if !ok || scheme != signatureType {
		return "SIGN_ERROR", "Authorization 头缺失或认证类型不正确"
	}
	fields := map[string]string{}
	for _, part := range strings.Split(params, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return "SIGN_ERROR", "Authorization 头格式错误"
		}
		fields[k] = strings.Trim(v, `"`)
	}
	if fields["mchid"] != s.cfg.MchID {
		return "SIGN_ERROR", "商户号与签名不符"
	}
	if fields["serial_no"] != s.cfg.MerchantSerial {
		return "SIGN_ERROR", "商户证书序列号有误"
	}
	ts, err := strconv.ParseInt(fields["timestamp"], 10, 64)
	if err != nil || fields["nonce_str"] == "" {
		return "SIGN_ERROR", "Authorization 头格式错误"
	}
	if d := s.clock.Now().Sub(time.Unix(ts, 0)); d >= notifyWindow || d <= -notifyWindow {
		return "SIGN_ERROR", "请求时间戳与服务器时间相差过大"
	}
	sig, err := base64.StdEncoding.DecodeString(fields["signature"])
	if err != nil {
		return "SIGN_ERROR", "签名错误"
	}
	msg = r.Method + "\n" + r.URL.RequestURI() + "\n" + fields["timestamp"] + "\n" + fields["nonce_str"] + "\n" + string(body) + "\n"
	sum := sha256.Sum256([]byte(msg))
	if rsa.VerifyPKCS1v15(s.cfg.MerchantPublicKey, crypto.SHA256, sum[:], sig) != nil {
		return "SIGN_ERROR", "签名错误"
	}
	return "", ""
}

var outTradeNoRe = regexp.MustCompile(`^[0-9A-Za-z_\-|*]{6,32}$`)

type simPrepayRequest struct {
	AppID       string `json:"appid"`
	MchID       string `json:"mchid"`
	Description string `json:"description"`
	OutTradeNo  string `json:"out_trade_no"`
	TimeExpire  string `json:"time_expire"`
	NotifyURL   string `json:"notify_url"`
	Amount      *struct {
		Total    int64  `json:"total"`
		Currency string `json:"currency"`
	} `json:"amount"`
	Payer *struct {
		OpenID string `json:"openid"`
	} `json:"payer"`
}

func (s *Simulator) prepay(w http.ResponseWriter, r *http.Request, tradeType string) {
	var req simPrepayRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "请求体不是合法的 JSON")
		return
	}
	if req.MchID != s.cfg.MchID {
		s.fail(w, http.StatusBadRequest, "MCH_NOT_EXISTS", "商户号不存在")
		return
	}
	if req.AppID != s.cfg.AppID {
		s.fail(w, http.StatusBadRequest, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
		return
	}
	if !outTradeNoRe.MatchString(req.OutTradeNo) {
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "out_trade_no 应为6-32位数字、大小写字母或_-|*")
		return
	}
	if n := utf8.RuneCountInString(req.Description); n == 0 || n > 127 {
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "description 长度应为1-127个字符")
		return
	}
	if req.Amount == nil || req.Amount.Total <= 0 {
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "amount.total 应大于0")
		return
	}
	if req.Amount.Currency == "" {
		req.Amount.Currency = "CNY"
	}
	if req.Amount.Currency != "CNY" {
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "境内商户号仅支持人民币")
		return
	}
	if u, err := url.Parse(req.NotifyURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "notify_url 格式不正确")
		return
	}
	openID := ""
	if tradeType == "JSAPI" {
		if req.Payer == nil || req.Payer.OpenID == "" {
			s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "JSAPI 支付必须传 openid")
			return
		}
		openID = req.Payer.OpenID
	}
	var expire time.Time
	if req.TimeExpire != "" {
		t, err := time.Parse(time.RFC3339, req.TimeExpire)
		if err != nil {
			s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "time_expire 格式不正确")
			return
		}
		expire = t
	}

	now := s.clock.Now()
	o := &simOrder{
		appID: req.AppID, mchID: req.MchID, description: req.Description, outTradeNo: req.OutTradeNo,
		tradeType: tradeType, total: req.Amount.Total, currency: req.Amount.Currency, openID: openID,
		notifyURL: req.NotifyURL, prepayID: "wx" + now.In(beijing).Format("20060102150405") + randHex(20),
		state: ports.TradeNotPay, timeExpire: expire,
	}
	if tradeType == "NATIVE" {
		o.codeURL = "weixin://wxpay/bizpayurl?pr=" + randHex(10)
	}
	stored, created, err := s.createOrder(r.Context(), o)
	if err != nil {
		s.fail(w, http.StatusInternalServerError, "SYSTEM_ERROR", "系统错误")
		return
	}
	if !created {
		var code, msg string
		switch {
		case stored.state == ports.TradeSuccess:
			code, msg = "ORDERPAID", "该订单已支付"
		case stored.state == ports.TradeClosed:
			code, msg = "ORDERCLOSED", "该订单已关闭"
		case stored.total != req.Amount.Total || stored.tradeType != tradeType || stored.openID != openID:
			code, msg = "INVALID_REQUEST", "201 商户订单号重复：参数与首次请求时不一致"
		}
		if code != "" {
			s.fail(w, http.StatusBadRequest, code, msg)
			return
		}
	}
	s.reply(w, http.StatusOK, stored.prepayAnswer())
}

// prepayAnswer is WeChat's answer to a prepay: a code_url for NATIVE, else a prepay_id.
func (o *simOrder) prepayAnswer() map[string]string {
	if o.tradeType == "NATIVE" {
		return map[string]string{"code_url": o.codeURL}
	}
	return map[string]string{"prepay_id": o.prepayID}
}

func (s *Simulator) query(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("mchid") != s.cfg.MchID {
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "mchid 与请求商户不一致")
		return
	}
	o, ok, err := s.getOrder(r.Context(), r.PathValue("out_trade_no"))
	switch {
	case err != nil:
		s.fail(w, http.StatusInternalServerError, "SYSTEM_ERROR", "系统错误")
	case !ok:
		s.fail(w, http.StatusNotFound, "ORDER_NOT_EXIST", "订单不存在")
	default:
		s.reply(w, http.StatusOK, o.transaction())
	}
}

func (s *Simulator) closeOrder(w http.ResponseWriter, r *http.Request) {
	var req struct {
		MchID string `json:"mchid"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.MchID != s.cfg.MchID {
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "mchid 与请求商户不一致")
		return
	}
	state := ""
	_, ok, err := s.updateOrder(r.Context(), r.PathValue("out_trade_no"), func(o *simOrder) error {
		state = o.state
		if state != ports.TradeSuccess {
			o.state = ports.TradeClosed
		}
		return nil
	})
	switch {
	case err != nil:
		s.fail(w, http.StatusInternalServerError, "SYSTEM_ERROR", "系统错误")
	case !ok:
		s.fail(w, http.StatusNotFound, "ORDER_NOT_EXIST", "订单不存在")
	case state == ports.TradeSuccess:
		s.fail(w, http.StatusBadRequest, "ORDERPAID", "该订单已支付")
	default:
		s.reply(w, http.StatusNoContent, nil)
	}
}

// transaction is the transaction resource as WeChat Pay returns it (of a copy).
func (o *simOrder) transaction() map[string]any {
	tx := map[string]any{
		"appid": o.appID, "mchid": o.mchID, "out_trade_no": o.outTradeNo, "trade_type": o.tradeType,
		"trade_state": o.state, "attach": "",
		"amount": map[string]any{"total": o.total, "currency": o.currency, "payer_currency": o.currency},
	}
	switch o.state {
	case ports.TradeNotPay:
		tx["trade_state_desc"] = "订单未支付"
	case ports.TradeClosed:
		tx["trade_state_desc"] = "订单已关闭"
	case ports.TradeSuccess:
		tx["trade_state_desc"] = "支付成功"
		tx["transaction_id"] = o.transactionID
		tx["bank_type"] = "OTHERS"
		tx["success_time"] = o.successTime.In(beijing).Format(time.RFC3339)
		tx["payer"] = map[string]any{"openid": o.openID}
		tx["amount"] = map[string]any{"total": o.total, "payer_total": o.total, "currency": o.currency, "payer_currency": o.currency}
	}
	return tx
}

// MarkPaid records that the payer paid outTradeNo, without notifying anyone (a lost notification:
// only an active query will tell).
func (s *Simulator) MarkPaid(outTradeNo string) error {
	_, err := s.markPaid(outTradeNo)
	return err
}

func (s *Simulator) markPaid(outTradeNo string) (notifyURL string, err error) {
	now := s.clock.Now()
	o, ok, err := s.updateOrder(context.Background(), outTradeNo, func(o *simOrder) error {
		switch {
		case o.state != ports.TradeNotPay:
			return kernel.Conflict("payment-not-payable", "the simulator's transaction is "+o.state)
		case !o.timeExpire.IsZero() && now.After(o.timeExpire):
			return kernel.Conflict("payment-not-payable", "the simulator's transaction expired")
		}
		o.state = ports.TradeSuccess
		o.successTime = now
		o.transactionID = "4200" + randDigits(6) + now.In(beijing).Format("20060102") + randDigits(10)
		if o.openID == "" {
			o.openID = "oSim" + randHex(12)
		}
		return nil
	})
	switch {
	case err != nil:
		return "", err
	case !ok:
		return "", kernel.NotFound(CodeNotFound, "the simulator has no transaction for this order: call wechat-pay first")
	}
	return o.notifyURL, nil
}

// Pay records the payment and sends the signed, encrypted TRANSACTION.SUCCESS notification to
// the callback, as WeChat Pay does; it returns an error when the callback does not answer 2xx.
func (s *Simulator) Pay(ctx context.Context, outTradeNo string) error {
	target, err := s.markPaid(outTradeNo)
	if err != nil {
		return err
	}
	if s.cfg.NotifyURL != "" {
		target = s.cfg.NotifyURL
	}
	headers, body, err := s.Notification(outTradeNo, nil)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("wechatpay simulator: notify: %w", err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("wechatpay simulator: notify: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("wechatpay simulator: the callback answered %d", resp.StatusCode)
	}
	return nil
}

// Notification builds (without sending) a signed TRANSACTION.SUCCESS notification carrying the
// current transaction of outTradeNo, after mutate (if not nil) has edited the transaction
// resource (e.g. tx["amount"].(map[string]any)["total"] = 1).
func (s *Simulator) Notification(outTradeNo string, mutate func(tx map[string]any)) (map[string]string, []byte, error) {
	o, ok, err := s.getOrder(context.Background(), outTradeNo)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, errors.New("wechatpay simulator: order not found")
	}
	tx := o.transaction()
	if mutate != nil {
		mutate(tx)
	}
	plain, err := json.Marshal(tx)
	if err != nil {
		return nil, nil, err
	}
	nonce := randAlnum(12) // AEAD_AES_256_GCM: a 12-byte nonce string
	const ad = "transaction"
	ciphertext := s.aead.Seal(nil, []byte(nonce), plain, []byte(ad))
	body, err := json.Marshal(map[string]any{
		"id":            randUUID(),
		"create_time":   s.clock.Now().In(beijing).Format(time.RFC3339),
		"event_type":    "TRANSACTION.SUCCESS",
		"resource_type": "encrypt-resource",
		"summary":       "支付成功",
		"resource": map[string]any{
			"algorithm":       "AEAD_AES_256_GCM",
			"ciphertext":      base64.StdEncoding.EncodeToString(ciphertext),
			"associated_data": ad,
			"nonce":           nonce,
			"original_type":   "transaction",
		},
	})
	if err != nil {
		return nil, nil, err
	}
	return s.SignedHeaders(body), body, nil
}

// SignedHeaders signs body as WeChat Pay signs responses and notifications: SHA256withRSA over
// "timestamp\nnonce\nbody\n" with the platform key, base64.
func (s *Simulator) SignedHeaders(body []byte) map[string]string {
	ts := strconv.FormatInt(s.clock.Now().Unix(), 10)
	nonce := randAlnum(32)
	sum := sha256.Sum256([]byte(ts + "\n" + nonce + "\n" + string(body) + "\n"))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.cfg.PlatformPrivateKey, crypto.SHA256, sum[:])
	if err != nil {
		panic("wechatpay simulator: sign: " + err.Error()) // only with a broken key
	}
	return map[string]string{
		"Wechatpay-Timestamp":      ts,
		"Wechatpay-Nonce":          nonce,
		"Wechatpay-Signature":      base64.StdEncoding.EncodeToString(sig),
		"Wechatpay-Serial":         s.cfg.PlatformPublicKeyID,
		"Wechatpay-Signature-Type": signatureType,
	}
}

func (s *Simulator) reply(w http.ResponseWriter, status int, v any) {
	var body []byte
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			status, b = http.StatusInternalServerError, []byte(`{"code":"SYSTEM_ERROR","message":"系统错误"}`)
		}
		body = b
	}
	for k, v := range s.SignedHeaders(body) {
		w.Header().Set(k, v)
	}
	w.Header().Set("Request-Id", randUUID())
	if body != nil {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *Simulator) fail(w http.ResponseWriter, status int, code, message string) {
	s.reply(w, status, map[string]string{"code": code, "message": message})
}

// SandboxKeys are fresh keys for a merchant and a simulated WeChat Pay.
type SandboxKeys struct {
	MerchantPrivateKey  *rsa.PrivateKey
	MerchantSerial      string
	PlatformPrivateKey  *rsa.PrivateKey
	PlatformPublicKeyID string
	APIv3Key            string
}

// GenerateSandboxKeys makes a merchant RSA-2048 key and serial, a platform RSA-2048 key with a
// PUB_KEY_ID_… id, and a random 32-character APIv3 key.
func GenerateSandboxKeys() (SandboxKeys, error) {
	mk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return SandboxKeys{}, err
	}
	pk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return SandboxKeys{}, err
	}
	return SandboxKeys{
		MerchantPrivateKey: mk, MerchantSerial: strings.ToUpper(randHex(40)),
		PlatformPrivateKey: pk, PlatformPublicKeyID: "PUB_KEY_ID_" + randDigits(28),
		APIv3Key: randAlnum(32),
	}, nil
}

// GatewayConfig is the Gateway's configuration for these keys.
func (k SandboxKeys) GatewayConfig(mchID, appID, baseURL string) Config {
	return Config{
		MchID: mchID, AppID: appID, MerchantSerial: k.MerchantSerial, MerchantPrivateKey: k.MerchantPrivateKey,
		APIv3Key: k.APIv3Key, PlatformPublicKeyID: k.PlatformPublicKeyID, PlatformPublicKey: &k.PlatformPrivateKey.PublicKey,
		BaseURL: baseURL,
	}
}

// SimConfig is the Simulator's configuration for these keys.
func (k SandboxKeys) SimConfig(mchID, appID, notifyURL string, clock ports.Clock, client *http.Client) SimConfig {
	return SimConfig{
		MchID: mchID, AppID: appID, APIv3Key: k.APIv3Key,
		MerchantPublicKey: &k.MerchantPrivateKey.PublicKey, MerchantSerial: k.MerchantSerial,
		PlatformPrivateKey: k.PlatformPrivateKey, PlatformPublicKeyID: k.PlatformPublicKeyID,
		NotifyURL: notifyURL, Clock: clock, HTTPClient: client,
	}
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randFrom(alphabet string, n int) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic("wechatpay: crypto/rand: " + err.Error())
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}

func randAlnum(n int) string  { return randFrom(alnum, n) }
func randDigits(n int) string { return randFrom("0123456789", n) }

func randHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

func randUUID() string {
	h := randHex(32)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
