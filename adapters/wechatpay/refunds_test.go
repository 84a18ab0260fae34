package wechatpay

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// The refund service through wechatpay-go against the simulator: create (idempotent by
// out_refund_no), query, refusals, and the signed, encrypted refund notifications.
func TestRefundsAgainstSimulator(t *testing.T) {
	k := testKeys(t)
	var mu sync.Mutex
	var notes []ports.PaymentNotification
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h := map[string]string{}
		for _, n := range []string{"Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial", "Wechatpay-Signature-Type"} {
			h[n] = r.Header.Get(n)
		}
		mu.Lock()
		notes = append(notes, ports.PaymentNotification{Headers: h, Body: body})
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer cb.Close()
	sim, err := NewSimulator(k.SimConfig(testMch, testApp, "", nil, cb.Client()))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()
	g := newGW(t, k.GatewayConfig(testMch, testApp, srv.URL))
	ctx := context.Background()
	req := func(no string, refund int64) ports.RefundRequest {
		return ports.RefundRequest{OutTradeNo: "REF0000001", OutRefundNo: no, Reason: "退款", Refund: kernel.Fen(refund),
			Total: kernel.Fen(1000), NotifyURL: cb.URL}
	}

	// Unpaid and unknown trades cannot be refunded.
	if _, err := g.Refund(ctx, req("RN1", 500)); kernel.CodeOf(err) != CodeRefundRefused {
		t.Fatalf("unknown trade: %v", err)
	}
	if _, err := g.Prepay(ctx, jsapiReq("REF0000001", 1000)); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Refund(ctx, req("RN1", 500)); kernel.CodeOf(err) != CodeRefundRefused {
		t.Fatalf("unpaid trade: %v", err)
	}
	if err := sim.MarkPaid("REF0000001"); err != nil {
		t.Fatal(err)
	}
	r1, err := g.Refund(ctx, req("RN1", 600))
	if err != nil || r1.Status != ports.RefundStateProcessing || r1.RefundID == "" || r1.Refund != kernel.Fen(600) || r1.Total != kernel.Fen(1000) ||
		r1.OutTradeNo != "REF0000001" || r1.TransactionID == "" {
		t.Fatalf("refund %+v %v", r1, err)
	}
	// The same out_refund_no is the same refund; with another amount WeChat refuses it.
	if again, err := g.Refund(ctx, req("RN1", 600)); err != nil || again.RefundID != r1.RefundID {
		t.Fatalf("again %+v %v", again, err)
	}
	if _, err := g.Refund(ctx, req("RN1", 601)); kernel.CodeOf(err) != CodeRefundRefused {
		t.Fatalf("reused out_refund_no: %v", err)
	}
	// Never above the paid amount in total; another total than the payment's is refused.
	if _, err := g.Refund(ctx, req("RN2", 401)); kernel.CodeOf(err) != CodeRefundRefused {
		t.Fatalf("over-refund: %v", err)
	}
	bad := req("RN2", 100)
	bad.Total = kernel.Fen(999)
	if _, err := g.Refund(ctx, bad); kernel.CodeOf(err) != CodeRefundRefused {
		t.Fatalf("wrong total: %v", err)
	}
	q, err := g.QueryRefund(ctx, "RN1")
	if err != nil || q.Status != ports.RefundStateProcessing || q.RefundID != r1.RefundID {
		t.Fatalf("query %+v %v", q, err)
	}
	if _, err := g.QueryRefund(ctx, "NOSUCH"); kernel.CodeOf(err) != CodeRefundNotFound {
		t.Fatalf("unknown refund: %v", err)
	}

	// Success: a signed REFUND.SUCCESS notification the gateway verifies and decrypts.
	if err := sim.SettleRefund(ctx, "RN1", ports.RefundStateSuccess); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	n := notes[len(notes)-1]
	mu.Unlock()
	if !strings.Contains(string(n.Body), `"event_type":"REFUND.SUCCESS"`) || !strings.Contains(string(n.Body), `"original_type":"refund"`) {
		t.Fatalf("notification %s", n.Body)
	}
	got, err := g.ParseRefundNotification(ctx, n)
	if err != nil || got.Status != ports.RefundStateSuccess || got.OutRefundNo != "RN1" || got.Refund != kernel.Fen(600) ||
		got.MchID != testMch || got.NotificationID == "" || got.SuccessTime.IsZero() {
		t.Fatalf("parsed %+v %v", got, err)
	}
	if q, _ := g.QueryRefund(ctx, "RN1"); q.Status != ports.RefundStateSuccess || q.SuccessTime.IsZero() {
		t.Fatalf("query after success %+v", q)
	}
	if err := sim.SettleRefund(ctx, "RN1", ports.RefundStateClosed); kernel.CodeOf(err) != "refund-final" {
		t.Fatalf("a final refund settled again: %v", err)
	}
	// A tampered body, another signature or a payment notification is refused.
	tampered := n
	tampered.Body = []byte(strings.Replace(string(n.Body), `"id":"`, `"id":"x`, 1))
	if _, err := g.ParseRefundNotification(ctx, tampered); kernel.CodeOf(err) != CodeSignatureInvalid {
		t.Fatalf("tampered: %v", err)
	}
	if ph, pb, err := sim.Notification("REF0000001", nil); err != nil {
		t.Fatal(err)
	} else if _, err := g.ParseRefundNotification(ctx, ports.PaymentNotification{Headers: ph, Body: pb}); kernel.CodeOf(err) != CodeMalformed {
		t.Fatalf("a payment notification read as a refund: %v", err)
	}
	if _, err := g.ParseNotification(ctx, n); kernel.CodeOf(err) != CodeMalformed {
		t.Fatalf("a refund notification read as a payment: %v", err)
	}

	// A closed refund frees its amount: 400 more can then be refunded.
	r2, err := g.Refund(ctx, req("RN3", 400))
	if err != nil || r2.Status != ports.RefundStateProcessing {
		t.Fatalf("rest %+v %v", r2, err)
	}
	if err := sim.SettleRefund(ctx, "RN3", ports.RefundStateClosed); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Refund(ctx, req("RN4", 400)); err != nil {
		t.Fatalf("after a closed refund: %v", err)
	}
	if _, err := sim.MarkRefund("RN4", "PROCESSING"); kernel.CodeOf(err) != "refund-status-invalid" {
		t.Fatalf("not a final state: %v", err)
	}
}
