package wechatpay

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// paidNotification opens an order at an in-process simulator, pays it, and returns the gateway,
// the simulator and the order's signed, encrypted notification.
func paidNotification(t testing.TB, no string) (*Gateway, *Simulator, map[string]string, []byte) {
	t.Helper()
	k, err := GenerateSandboxKeys()
	if err != nil {
		t.Fatal(err)
	}
	sim, err := NewSimulator(k.SimConfig(testMch, testApp, "", nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	cfg := k.GatewayConfig(testMch, testApp, "")
	cfg.Transport = sim.Transport()
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Prepay(context.Background(), ports.PrepayRequest{TradeType: ports.TradeApp, OutTradeNo: no, Description: "套餐",
		Amount: kernel.Fen(100), NotifyURL: "https://example.com/notify"}); err != nil {
		t.Fatal(err)
	}
	if err := sim.MarkPaid(no); err != nil {
		t.Fatal(err)
	}
	h, body, err := sim.Notification(no, nil)
	if err != nil {
		t.Fatal(err)
	}
	return g, sim, h, body
}

// BenchmarkParseNotification is the gateway's share of a payment notification: one RSA-2048
// verification, one AES-256-GCM decryption and the JSON.
func BenchmarkParseNotification(b *testing.B) {
	g, _, h, body := paidNotification(b, "SXQBENCH0001")
	ctx := context.Background()
	for b.Loop() {
		if _, err := g.ParseNotification(ctx, ports.PaymentNotification{Headers: h, Body: body}); err != nil {
			b.Fatal(err)
		}
	}
}

// A correctly signed notification whose resource cannot be opened is malformed (400), never a
// panic: a nonce of the wrong length, a bad algorithm, bad base64, a tampered ciphertext.
func TestParseNotificationRejectsUnopenableResources(t *testing.T) {
	g, sim, _, body := paidNotification(t, "SXQNONCE0001")
	var n map[string]any
	if err := json.Unmarshal(body, &n); err != nil {
		t.Fatal(err)
	}
	res := n["resource"].(map[string]any)
	for name, edit := range map[string]func(r map[string]any){
		"short nonce":     func(r map[string]any) { r["nonce"] = "abc" },
		"algorithm":       func(r map[string]any) { r["algorithm"] = "AEAD_SM4_GCM" },
		"base64":          func(r map[string]any) { r["ciphertext"] = "%%%" },
		"tampered":        func(r map[string]any) { r["ciphertext"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" },
		"associated data": func(r map[string]any) { r["associated_data"] = "certificate" },
	} {
		t.Run(name, func(t *testing.T) {
			r := map[string]any{}
			for k, v := range res {
				r[k] = v
			}
			edit(r)
			m := map[string]any{}
			for k, v := range n {
				m[k] = v
			}
			m["resource"] = r
			b, _ := json.Marshal(m)
			_, err := g.ParseNotification(context.Background(), ports.PaymentNotification{Headers: sim.SignedHeaders(b), Body: b})
			if kernel.CodeOf(err) != CodeMalformed {
				t.Fatalf("got %v, want %s", err, CodeMalformed)
			}
		})
	}
	// And a valid one still parses, with its notification id.
	h, b, _ := sim.Notification("SXQNONCE0001", nil)
	pt, err := g.ParseNotification(context.Background(), ports.PaymentNotification{Headers: h, Body: b})
	if err != nil || pt.OutTradeNo != "SXQNONCE0001" || pt.TradeState != ports.TradeSuccess || pt.Total != kernel.Fen(100) || pt.NotificationID == "" {
		t.Fatalf("%+v %v", pt, err)
	}
}
