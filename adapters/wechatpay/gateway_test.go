package wechatpay

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

const (
	testMch = "1900000109"
	testApp = "wxd678efh567hg6787"
)

var (
	keysOnce sync.Once
	keysVal  SandboxKeys
	keysErr  error
)

func testKeys(t *testing.T) SandboxKeys {
	t.Helper()
	keysOnce.Do(func() { keysVal, keysErr = GenerateSandboxKeys() })
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	return keysVal
}

func newSim(t *testing.T, k SandboxKeys, max int) (*Simulator, *httptest.Server) {
	t.Helper()
	cfg := k.SimConfig(testMch, testApp, "", nil, nil)
	cfg.MaxOrders = max
	sim, err := NewSimulator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv
}

func newGW(t *testing.T, cfg Config) *Gateway {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func jsapiReq(no string, fen int64) ports.PrepayRequest {
	return ports.PrepayRequest{
		TradeType: ports.TradeJSAPI, OutTradeNo: no, Description: "套餐", Amount: kernel.Fen(fen),
		OpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", NotifyURL: "https://example.com/notify",
	}
}

func TestKeysAndConfig(t *testing.T) {
	k := testKeys(t)
	if len(k.APIv3Key) != 32 || !strings.HasPrefix(k.PlatformPublicKeyID, "PUB_KEY_ID_") || len(k.MerchantSerial) != 40 ||
		k.MerchantPrivateKey.N.BitLen() != 2048 || k.PlatformPrivateKey.N.BitLen() != 2048 {
		t.Fatalf("keys: %q %q %q", k.APIv3Key, k.PlatformPublicKeyID, k.MerchantSerial)
	}
	bad := k.GatewayConfig(testMch, testApp, "")
	bad.APIv3Key = "short"
	if _, err := New(bad); err == nil {
		t.Fatal("short APIv3 key accepted")
	}
	bad = k.GatewayConfig(testMch, testApp, "ftp://x")
	if _, err := New(bad); err == nil {
		t.Fatal("ftp base URL accepted")
	}
	if _, err := NewSimulator(SimConfig{MchID: testMch}); err == nil {
		t.Fatal("empty simulator config accepted")
	}
}

func TestSimulatorChecksMerchantSignature(t *testing.T) {
	k := testKeys(t)
	_, srv := newSim(t, k, 0)
	ctx := context.Background()

	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cfg := k.GatewayConfig(testMch, testApp, srv.URL)
	cfg.MerchantPrivateKey = other // same serial, wrong key
	g := newGW(t, cfg)
	_, err = g.Prepay(ctx, jsapiReq("SIGNCHECK001", 100))
	if kernel.CodeOf(err) != CodeUnavailable || !strings.Contains(err.Error(), "401 SIGN_ERROR") {
		t.Fatalf("prepay with another merchant key: %v", err)
	}
	// The SDK itself reports the 401 as an API error.
	_, err = g.jsapi.Client.Request(ctx, http.MethodGet, DefaultBaseURL+"/v3/pay/transactions/out-trade-no/SIGNCHECK001",
		nil, map[string][]string{"mchid": {testMch}}, nil, "")
	var apiErr *core.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized || apiErr.Code != "SIGN_ERROR" {
		t.Fatalf("sdk error: %v", err)
	}

	cfg = k.GatewayConfig(testMch, testApp, srv.URL)
	cfg.MerchantSerial = "0000"
	if _, err := newGW(t, cfg).Query(ctx, "SIGNCHECK001"); kernel.CodeOf(err) != CodeUnavailable {
		t.Fatalf("wrong serial: %v", err)
	}

	// No Authorization at all: 401, and the error response is still signed.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v3/pay/transactions/out-trade-no/SIGNCHECK001?mchid="+testMch, nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "SIGN_ERROR") ||
		resp.Header.Get("Wechatpay-Serial") != k.PlatformPublicKeyID || resp.Header.Get("Wechatpay-Signature") == "" {
		t.Fatalf("unsigned request: %d %s %v", resp.StatusCode, body, resp.Header)
	}
}

func TestGatewayChecksResponseSignature(t *testing.T) {
	k := testKeys(t)
	_, srv := newSim(t, k, 0)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cfg := k.GatewayConfig(testMch, testApp, srv.URL)
	cfg.PlatformPublicKey = &other.PublicKey
	_, err = newGW(t, cfg).Prepay(context.Background(), jsapiReq("RESPCHECK001", 100))
	if kernel.KindOf(err) != kernel.KindUnavailable {
		t.Fatalf("response signed with another key accepted: %v", err)
	}
}

func TestSimulatorValidatesRequests(t *testing.T) {
	k := testKeys(t)
	_, srv := newSim(t, k, 0)
	g := newGW(t, k.GatewayConfig(testMch, testApp, srv.URL))
	ctx := context.Background()
	post := func(path string, body map[string]any) (int, string) {
		t.Helper()
		_, err := g.jsapi.Client.Request(ctx, http.MethodPost, DefaultBaseURL+path, nil, nil, body, "application/json")
		if err == nil {
			return 200, ""
		}
		var apiErr *core.APIError
		if !errors.As(err, &apiErr) {
			t.Fatalf("%s: %v", path, err)
		}
		return apiErr.StatusCode, apiErr.Code
	}
	base := func() map[string]any {
		return map[string]any{
			"appid": testApp, "mchid": testMch, "description": "套餐", "out_trade_no": "VALID_no-1|*",
			"notify_url": "https://example.com/notify", "amount": map[string]any{"total": 1, "currency": "CNY"},
			"payer": map[string]any{"openid": "o1"},
		}
	}
	if st, code := post("/v3/pay/transactions/jsapi", base()); st != 200 {
		t.Fatalf("valid: %d %s", st, code)
	}
	// Escaped path characters survive the signature check.
	if tx, err := g.Query(ctx, "VALID_no-1|*"); err != nil || tx.OutTradeNo != "VALID_no-1|*" {
		t.Fatalf("query with | and *: %+v %v", tx, err)
	}
	cases := []struct {
		name   string
		path   string
		mutate func(m map[string]any)
		code   string
	}{
		{"short out_trade_no", "/v3/pay/transactions/jsapi", func(m map[string]any) { m["out_trade_no"] = "12345" }, "PARAM_ERROR"},
		{"long out_trade_no", "/v3/pay/transactions/jsapi", func(m map[string]any) { m["out_trade_no"] = strings.Repeat("1", 33) }, "PARAM_ERROR"},
		{"bad char", "/v3/pay/transactions/jsapi", func(m map[string]any) { m["out_trade_no"] = "abc.defg" }, "PARAM_ERROR"},
		{"zero amount", "/v3/pay/transactions/jsapi", func(m map[string]any) { m["out_trade_no"] = "ZERO0001"; m["amount"] = map[string]any{"total": 0} }, "PARAM_ERROR"},
		{"usd", "/v3/pay/transactions/jsapi", func(m map[string]any) {
			m["out_trade_no"] = "USD00001"
			m["amount"] = map[string]any{"total": 1, "currency": "USD"}
		}, "PARAM_ERROR"},
		{"no openid", "/v3/pay/transactions/jsapi", func(m map[string]any) { m["out_trade_no"] = "NOOPENID1"; delete(m, "payer") }, "PARAM_ERROR"},
		{"other mch", "/v3/pay/transactions/jsapi", func(m map[string]any) { m["mchid"] = "1900000110" }, "MCH_NOT_EXISTS"},
		{"other app", "/v3/pay/transactions/app", func(m map[string]any) { m["appid"] = "wx0000000000000000" }, "APPID_MCHID_NOT_MATCH"},
		{"same no other amount", "/v3/pay/transactions/jsapi", func(m map[string]any) { m["amount"] = map[string]any{"total": 2} }, "INVALID_REQUEST"},
		{"same no other trade type", "/v3/pay/transactions/app", func(_ map[string]any) {}, "INVALID_REQUEST"},
		{"notify url with query", "/v3/pay/transactions/app", func(m map[string]any) {
			m["out_trade_no"] = "QUERY0001"
			m["notify_url"] = "https://example.com/n?x=1"
		}, "PARAM_ERROR"},
	}
	for _, c := range cases {
		m := base()
		c.mutate(m)
		if st, code := post(c.path, m); st != http.StatusBadRequest || code != c.code {
			t.Errorf("%s: %d %s, want 400 %s", c.name, st, code, c.code)
		}
	}
	_, err := g.jsapi.Client.Request(ctx, http.MethodGet, DefaultBaseURL+"/v3/nope", nil, nil, nil, "")
	var apiErr *core.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown path: %v", err)
	}
}

func TestInProcessTransportAndPrefix(t *testing.T) {
	k := testKeys(t)
	sim, err := NewSimulator(k.SimConfig(testMch, testApp, "", nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	cfg := k.GatewayConfig(testMch, testApp, "")
	cfg.Transport = sim.Transport()
	g := newGW(t, cfg)
	if _, err := g.Prepay(ctx, jsapiReq("INPROC0001", 100)); err != nil {
		t.Fatalf("in-process prepay: %v", err)
	}
	if tx, err := g.Query(ctx, "INPROC0001"); err != nil || tx.TradeState != ports.TradeNotPay {
		t.Fatalf("in-process query: %+v %v", tx, err)
	}
	if err := g.Close(ctx, "INPROC0001"); err != nil {
		t.Fatalf("in-process close: %v", err)
	}

	mux := http.NewServeMux()
	mux.Handle("/sandbox/wechatpay/", http.StripPrefix("/sandbox/wechatpay", sim))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	g2 := newGW(t, k.GatewayConfig(testMch, testApp, srv.URL+"/sandbox/wechatpay/"))
	if tx, err := g2.Query(ctx, "INPROC0001"); err != nil || tx.TradeState != ports.TradeClosed {
		t.Fatalf("prefixed query: %+v %v", tx, err)
	}
}

func TestSimulatorIsBoundedAndConcurrent(t *testing.T) {
	k := testKeys(t)
	_, srv := newSim(t, k, 8)
	g := newGW(t, k.GatewayConfig(testMch, testApp, srv.URL))
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			no := fmt.Sprintf("BOUND%05d", i)
			if _, err := g.Prepay(ctx, jsapiReq(no, 100)); err != nil {
				errs <- err
				return
			}
			if _, err := g.Query(ctx, no); err != nil && kernel.CodeOf(err) != CodeNotFound {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	found := 0
	for i := range 20 {
		if _, err := g.Query(ctx, fmt.Sprintf("BOUND%05d", i)); err == nil {
			found++
		}
	}
	if found != 8 {
		t.Fatalf("kept %d orders, want 8", found)
	}
}

func TestPayNotifiesAndReportsCallbackStatus(t *testing.T) {
	k := testKeys(t)
	var mu sync.Mutex
	status := http.StatusNoContent
	var got map[string]any
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		_ = json.Unmarshal(body, &got)
		w.WriteHeader(status)
	}))
	defer cb.Close()
	sim, err := NewSimulator(k.SimConfig(testMch, testApp, cb.URL, nil, cb.Client()))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()
	g := newGW(t, k.GatewayConfig(testMch, testApp, srv.URL))
	ctx := context.Background()

	if _, err := g.Prepay(ctx, jsapiReq("PAY0000001", 100)); err != nil {
		t.Fatal(err)
	}
	if err := sim.Pay(ctx, "PAY0000001"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	res, _ := got["resource"].(map[string]any)
	if got["event_type"] != "TRANSACTION.SUCCESS" || got["resource_type"] != "encrypt-resource" ||
		res["algorithm"] != "AEAD_AES_256_GCM" || res["original_type"] != "transaction" || res["associated_data"] != "transaction" {
		t.Fatalf("notification: %v", got)
	}
	status = http.StatusInternalServerError
	mu.Unlock()

	if _, err := g.Prepay(ctx, jsapiReq("PAY0000002", 100)); err != nil {
		t.Fatal(err)
	}
	if err := sim.Pay(ctx, "PAY0000002"); err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("callback failure not reported: %v", err)
	}
	if err := sim.Pay(ctx, "UNKNOWN0001"); err == nil {
		t.Fatal("paid an unknown order")
	}

	// An expired order cannot be paid.
	req := jsapiReq("PAY0000003", 100)
	req.TimeExpire = time.Now().Add(-time.Minute)
	if _, err := g.Prepay(ctx, req); err != nil {
		t.Fatal(err)
	}
	if err := sim.Pay(ctx, "PAY0000003"); err == nil {
		t.Fatal("paid an expired order")
	}
}
