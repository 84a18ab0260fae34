package contract

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/wechatpay"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/fakes"
)

const (
	payMchID = "1900000109"
	payAppID = "wxd678efh567hg6787"
)

var (
	payKeysOnce sync.Once
	payKeysVal  wechatpay.SandboxKeys
	payKeysErr  error
)

func payKeys(t *testing.T) wechatpay.SandboxKeys {
	t.Helper()
	payKeysOnce.Do(func() { payKeysVal, payKeysErr = wechatpay.GenerateSandboxKeys() })
	if payKeysErr != nil {
		t.Fatal(payKeysErr)
	}
	return payKeysVal
}

// payCallback is our notification endpoint: it parses what it receives with the gateway.
type payCallback struct {
	mu     sync.Mutex
	gw     ports.PaymentGateway
	parsed []ports.PaymentTransaction
	errs   []error
}

func (c *payCallback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h := map[string]string{}
	for k := range r.Header {
		h[k] = r.Header.Get(k)
	}
	tx, err := c.gw.ParseNotification(r.Context(), ports.PaymentNotification{Headers: h, Body: body})
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.errs = append(c.errs, err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	c.parsed = append(c.parsed, tx)
	w.WriteHeader(http.StatusNoContent)
}

type payEnv struct {
	gw       *wechatpay.Gateway
	sim      *wechatpay.Simulator
	clock    *fakes.Clock
	callback *payCallback
	keys     wechatpay.SandboxKeys
	notify   string
}

func payNewEnv(t *testing.T, keys wechatpay.SandboxKeys) *payEnv {
	t.Helper()
	env := &payEnv{clock: fakes.NewClock(time.Now()), callback: &payCallback{}, keys: keys}
	cbSrv := httptest.NewServer(env.callback)
	t.Cleanup(cbSrv.Close)
	env.notify = cbSrv.URL + "/v1/payments/wechat/notify"
	sim, err := wechatpay.NewSimulator(keys.SimConfig(payMchID, payAppID, env.notify, env.clock, cbSrv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	gw, err := wechatpay.New(keys.GatewayConfig(payMchID, payAppID, simSrv.URL))
	if err != nil {
		t.Fatal(err)
	}
	env.gw, env.sim, env.callback.gw = gw, sim, gw
	return env
}

var paySeq struct {
	sync.Mutex
	n int
}

func payOutTradeNo() string {
	paySeq.Lock()
	defer paySeq.Unlock()
	paySeq.n++
	return fmt.Sprintf("SXQ%d%04d", time.Now().UnixNano()%1e9, paySeq.n)
}

func (e *payEnv) prepay(t *testing.T, tt ports.TradeType, no string, fen int64) ports.PrepayResult {
	t.Helper()
	res, err := e.gw.Prepay(context.Background(), payReq(tt, no, fen, e.notify))
	if err != nil {
		t.Fatalf("prepay %s: %v", no, err)
	}
	return res
}

func payReq(tt ports.TradeType, no string, fen int64, notifyURL string) ports.PrepayRequest {
	r := ports.PrepayRequest{
		TradeType: tt, OutTradeNo: no, Description: "数信签-电子签名套餐", Amount: kernel.Fen(fen),
		TimeExpire: time.Now().Add(30 * time.Minute), NotifyURL: notifyURL,
	}
	if tt == ports.TradeJSAPI {
		r.OpenID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
	}
	return r
}

func payVerifySign(t *testing.T, pub *rsa.PublicKey, sig string, parts ...string) {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		t.Fatalf("signature not base64: %v", err)
	}
	sum := sha256.Sum256([]byte(strings.Join(parts, "\n") + "\n"))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], raw); err != nil {
		t.Fatalf("client params signature: %v", err)
	}
}

func payWantCode(t *testing.T, err error, kind kernel.Kind, code string) {
	t.Helper()
	if err == nil || kernel.KindOf(err) != kind || kernel.CodeOf(err) != code {
		t.Fatalf("want %s %q, got %v", kind, code, err)
	}
}

func TestPaymentGatewayContract(t *testing.T) {
	keys := payKeys(t)
	env := payNewEnv(t, keys)
	ctx := context.Background()
	gw := env.gw
	merchantPub := &keys.MerchantPrivateKey.PublicKey

	if gw.MchID() != payMchID || gw.AppID() != payAppID {
		t.Fatalf("ids: %s %s", gw.MchID(), gw.AppID())
	}

	t.Run("prepay jsapi returns signed wx.requestPayment params", func(t *testing.T) {
		no := payOutTradeNo()
		res := env.prepay(t, ports.TradeJSAPI, no, 9900)
		p := res.ClientParams
		if res.PrepayID == "" || p["appId"] != payAppID || p["package"] != "prepay_id="+res.PrepayID ||
			p["signType"] != "RSA" || p["timeStamp"] == "" || p["nonceStr"] == "" {
			t.Fatalf("params: %+v", res)
		}
		payVerifySign(t, merchantPub, p["paySign"], p["appId"], p["timeStamp"], p["nonceStr"], p["package"])

		again := env.prepay(t, ports.TradeJSAPI, no, 9900)
		if again.PrepayID != res.PrepayID {
			t.Fatalf("re-prepay: %s != %s", again.PrepayID, res.PrepayID)
		}
		_, err := gw.Prepay(ctx, payReq(ports.TradeJSAPI, no, 9800, env.notify))
		payWantCode(t, err, kernel.KindConflict, wechatpay.CodeOrderNoReused)
	})

	t.Run("prepay jsapi needs the openid", func(t *testing.T) {
		r := payReq(ports.TradeJSAPI, payOutTradeNo(), 100, env.notify)
		r.OpenID = ""
		_, err := gw.Prepay(ctx, r)
		payWantCode(t, err, kernel.KindInvalid, wechatpay.CodeOpenIDRequired)
	})

	t.Run("prepay app returns signed app params", func(t *testing.T) {
		res := env.prepay(t, ports.TradeApp, payOutTradeNo(), 100)
		p := res.ClientParams
		if res.PrepayID == "" || p["prepayid"] != res.PrepayID || p["partnerid"] != payMchID ||
			p["appid"] != payAppID || p["package"] != "Sign=WXPay" {
			t.Fatalf("params: %+v", res)
		}
		payVerifySign(t, merchantPub, p["sign"], p["appid"], p["timestamp"], p["noncestr"], p["prepayid"])
	})

	t.Run("prepay native returns a code_url, the same on a retry, and is paid like the others", func(t *testing.T) {
		no := payOutTradeNo()
		res := env.prepay(t, ports.TradeNative, no, 700)
		code := res.ClientParams["code_url"]
		if res.PrepayID != "" || len(res.ClientParams) != 1 || !strings.HasPrefix(code, "weixin://wxpay/bizpayurl?pr=") {
			t.Fatalf("native: %+v", res)
		}
		if again := env.prepay(t, ports.TradeNative, no, 700); again.ClientParams["code_url"] != code {
			t.Fatalf("native retry: %+v, want code_url %s", again, code)
		}
		_, err := gw.Prepay(ctx, payReq(ports.TradeApp, no, 700, env.notify))
		payWantCode(t, err, kernel.KindConflict, wechatpay.CodeOrderNoReused)
		if err := env.sim.Pay(ctx, no); err != nil {
			t.Fatalf("pay: %v", err)
		}
		tx, err := gw.Query(ctx, no)
		if err != nil || tx.TradeState != ports.TradeSuccess || tx.Total != 700 {
			t.Fatalf("query paid: %+v, %v", tx, err)
		}
	})

	t.Run("query, pay, notification, query paid, close paid", func(t *testing.T) {
		no := payOutTradeNo()
		env.prepay(t, ports.TradeJSAPI, no, 5800)
		tx, err := gw.Query(ctx, no)
		if err != nil || tx.TradeState != ports.TradeNotPay || tx.Total != 5800 || tx.OutTradeNo != no ||
			tx.MchID != payMchID || tx.AppID != payAppID || tx.TransactionID != "" {
			t.Fatalf("query unpaid: %+v, %v", tx, err)
		}
		if err := env.sim.Pay(ctx, no); err != nil {
			t.Fatalf("pay: %v", err)
		}
		env.callback.mu.Lock()
		var got *ports.PaymentTransaction
		for i := range env.callback.parsed {
			if env.callback.parsed[i].OutTradeNo == no {
				got = &env.callback.parsed[i]
			}
		}
		env.callback.mu.Unlock()
		if got == nil || got.TradeState != ports.TradeSuccess || got.Total != 5800 || got.Currency != "CNY" ||
			got.MchID != payMchID || got.AppID != payAppID || got.TransactionID == "" || got.NotificationID == "" ||
			got.SuccessTime.IsZero() {
			t.Fatalf("notification: %+v", got)
		}
		tx, err = gw.Query(ctx, no)
		if err != nil || tx.TradeState != ports.TradeSuccess || tx.Total != 5800 || tx.TransactionID != got.TransactionID ||
			!tx.SuccessTime.Equal(got.SuccessTime) || tx.NotificationID != "" {
			t.Fatalf("query paid: %+v, %v", tx, err)
		}
		payWantCode(t, gw.Close(ctx, no), kernel.KindConflict, wechatpay.CodeAlreadyPaid)
		_, err = gw.Prepay(ctx, payReq(ports.TradeJSAPI, no, 5800, env.notify))
		payWantCode(t, err, kernel.KindConflict, wechatpay.CodeAlreadyPaid)
		if err := env.sim.Pay(ctx, no); err == nil {
			t.Fatal("paying twice succeeded")
		}
	})

	t.Run("close unpaid then query closed", func(t *testing.T) {
		no := payOutTradeNo()
		env.prepay(t, ports.TradeApp, no, 300)
		if err := gw.Close(ctx, no); err != nil {
			t.Fatalf("close: %v", err)
		}
		if err := gw.Close(ctx, no); err != nil {
			t.Fatalf("close again: %v", err)
		}
		tx, err := gw.Query(ctx, no)
		if err != nil || tx.TradeState != ports.TradeClosed {
			t.Fatalf("query closed: %+v, %v", tx, err)
		}
		if err := env.sim.Pay(ctx, no); err == nil {
			t.Fatal("paid a closed order")
		}
	})

	t.Run("unknown out_trade_no", func(t *testing.T) {
		_, err := gw.Query(ctx, "NOPE"+payOutTradeNo())
		payWantCode(t, err, kernel.KindNotFound, wechatpay.CodeNotFound)
		payWantCode(t, gw.Close(ctx, "NOPE"+payOutTradeNo()), kernel.KindNotFound, wechatpay.CodeNotFound)
	})

	t.Run("notifications", func(t *testing.T) {
		no := payOutTradeNo()
		env.prepay(t, ports.TradeJSAPI, no, 1200)
		if err := env.sim.Pay(ctx, no); err != nil {
			t.Fatal(err)
		}
		parse := func(h map[string]string, body []byte) (ports.PaymentTransaction, error) {
			return gw.ParseNotification(ctx, ports.PaymentNotification{Headers: h, Body: body})
		}
		build := func(mutate func(map[string]any)) (map[string]string, []byte) {
			h, b, err := env.sim.Notification(no, mutate)
			if err != nil {
				t.Fatal(err)
			}
			return h, b
		}

		h, b := build(nil)
		tx, err := parse(h, b)
		if err != nil || tx.OutTradeNo != no || tx.Total != 1200 || tx.TradeState != ports.TradeSuccess ||
			tx.MchID != payMchID || tx.AppID != payAppID || tx.NotificationID == "" {
			t.Fatalf("valid: %+v, %v", tx, err)
		}
		// A duplicate delivery parses to the same notification id.
		if dup, err := parse(h, b); err != nil || dup.NotificationID != tx.NotificationID {
			t.Fatalf("duplicate: %+v, %v", dup, err)
		}
		// Lower-case header names (as some proxies deliver them) are fine.
		lower := map[string]string{}
		for k, v := range h {
			lower[strings.ToLower(k)] = v
		}
		if _, err := parse(lower, b); err != nil {
			t.Fatalf("lower-case headers: %v", err)
		}

		// A wrong amount is signed and decrypts: the gateway reports it, the application judges.
		h2, b2 := build(func(tx map[string]any) { tx["amount"].(map[string]any)["total"] = 1 })
		if tx, err := parse(h2, b2); err != nil || tx.Total != 1 {
			t.Fatalf("mutated: %+v, %v", tx, err)
		}

		sigInvalid := func(name string, h map[string]string, body []byte) {
			t.Helper()
			_, err := parse(h, body)
			if err == nil || kernel.KindOf(err) != kernel.KindUnauthenticated || kernel.CodeOf(err) != wechatpay.CodeSignatureInvalid {
				t.Fatalf("%s: %v", name, err)
			}
		}
		with := func(k, v string) map[string]string {
			c := map[string]string{}
			for kk, vv := range h {
				c[kk] = vv
			}
			c[k] = v
			return c
		}
		sigInvalid("tampered body", h, []byte(strings.Replace(string(b), "支付成功", "支付失败", 1)))
		other, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(h["Wechatpay-Timestamp"] + "\n" + h["Wechatpay-Nonce"] + "\n" + string(b) + "\n"))
		forged, err := rsa.SignPKCS1v15(rand.Reader, other, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		sigInvalid("wrong signature", with("Wechatpay-Signature", base64.StdEncoding.EncodeToString(forged)), b)
		sigInvalid("garbage signature", with("Wechatpay-Signature", "bm90IGEgc2lnbmF0dXJl"), b)
		sigInvalid("no signature", with("Wechatpay-Signature", ""), b)
		sigInvalid("unknown serial", with("Wechatpay-Serial", "PUB_KEY_ID_0000000000000000000000000000"), b)
		sigInvalid("signature probe", with("Wechatpay-Signature", "WECHATPAY/SIGNTEST/"+h["Wechatpay-Signature"]), b)
		sigInvalid("other signature type", with("Wechatpay-Signature-Type", "WECHATPAY2-SM2-WITH-SM3"), b)

		env.clock.Advance(-6 * time.Minute)
		hs, bs := build(nil)
		env.clock.Advance(6 * time.Minute)
		sigInvalid("stale timestamp", hs, bs)
		env.clock.Advance(6 * time.Minute)
		hf, bf := build(nil)
		env.clock.Advance(-6 * time.Minute)
		sigInvalid("future timestamp", hf, bf)

		// Signed correctly, but encrypted with another APIv3 key.
		otherKeys := keys
		otherKeys.APIv3Key = strings.Repeat("k", 32)
		other2 := payNewEnv(t, otherKeys)
		no2 := payOutTradeNo()
		other2.prepay(t, ports.TradeJSAPI, no2, 1200)
		hk, bk, err := other2.sim.Notification(no2, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = parse(hk, bk)
		payWantCode(t, err, kernel.KindInvalid, wechatpay.CodeMalformed)

		// Signed correctly, but not a notification.
		junk := []byte(`{"id":"x","resource":{"algorithm":"AEAD_AES_256_GCM","ciphertext":"!!","nonce":"n","associated_data":"transaction"}}`)
		_, err = parse(env.sim.SignedHeaders(junk), junk)
		payWantCode(t, err, kernel.KindInvalid, wechatpay.CodeMalformed)
	})

	t.Run("provider down is unavailable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		cfg := keys.GatewayConfig(payMchID, payAppID, url)
		cfg.Timeout = 2 * time.Second
		down, err := wechatpay.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = down.Query(ctx, payOutTradeNo())
		payWantCode(t, err, kernel.KindUnavailable, wechatpay.CodeUnavailable)
		_, err = down.Prepay(ctx, payReq(ports.TradeJSAPI, payOutTradeNo(), 100, env.notify))
		payWantCode(t, err, kernel.KindUnavailable, wechatpay.CodeUnavailable)
		if strings.Contains(err.Error(), keys.APIv3Key) || strings.Contains(err.Error(), "oUpF8u") {
			t.Fatalf("error leaks secrets or personal data: %v", err)
		}
		var ke *kernel.Error
		if !errors.As(err, &ke) {
			t.Fatal("not a kernel error")
		}
	})
}
