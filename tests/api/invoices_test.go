package api

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// paidOrder places and pays an order through the simulator; it returns its id.
func (s *server) paidOrder(token, eid string) string {
	s.t.Helper()
	o := s.placeOrder(token, eid, "", map[string]any{"items": []map[string]any{{"sku": "pkg-sign-50", "quantity": 1}, {"sku": "svc-personal-cert-1y", "quantity": 2}}}).expect(s.t, 201, "")
	s.do("POST", "/api/v1/orders/"+o.str("id")+"/wechat-pay", token, map[string]string{"trade_type": "app"}).expect(s.t, 200, "")
	s.do("POST", "/api/v1/sandbox/wechat-pay/orders/"+o.str("id")+"/pay", "", nil).expect(s.t, 200, "")
	return o.str("id")
}

func (s *server) requestInvoice(token, orderID, key string, body any) resp {
	s.t.Helper()
	req, _ := http.NewRequest("POST", s.base+"/api/v1/orders/"+orderID+"/invoice", strings.NewReader(mustJSON(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	return s.send(req)
}

// Manual §7, §8: invoice a paid order, see it issued, download it, share it.
func TestInvoiceFlow(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		token, eid := s.orderSetup(3, "13700000001", "开票人", "901")
		oid := s.paidOrder(token, eid)
		body := map[string]any{"type": "vat_ordinary_digital", "title_type": "enterprise", "title": "佛山市正诚工程咨询有限公司",
			"tax_id": "91440600MA4WL2D81G", "email": "finance@example.com"}
		r := s.requestInvoice(token, oid, "inv-1", body).expect(t, 202, "")
		if r.str("status") != "requested" || r.body["amount_fen"] != float64(15000+2*6000) {
			t.Fatalf("request %s", r.raw)
		}
		if again := s.requestInvoice(token, oid, "inv-1", body).expect(t, 202, ""); again.str("id") != r.str("id") {
			t.Fatal("the Idempotency-Key did not replay")
		}
		id := r.str("id")
		var inv resp
		s.eventually("invoice issued", func() bool {
			inv = s.do("GET", "/api/v1/invoices/"+id, token, nil)
			return inv.str("status") == "issued"
		})
		if len(inv.str("number")) != 20 || inv.str("download_url") == "" || inv.str("share_url") == "" {
			t.Fatalf("issued %s", inv.raw)
		}
		if o := s.do("GET", "/api/v1/orders/"+oid, token, nil); o.str("invoice_status") != "issued" || o.str("invoice_id") != id ||
			o.str("invoice_download_url") != "/api/v1/invoices/"+id+"/pdf" {
			t.Fatalf("order's invoice state %s", o.raw)
		}
		st, h, pdf := s.get(inv.str("download_url"), token, "")
		if st != 200 || h.Get("Content-Type") != "application/pdf" {
			t.Fatalf("pdf %d", st)
		}
		// 150.00 + 2 × 60.00 at 6 % (seed): tax per line round(8.4906) = 8.49 and round(6.7925) = 6.79.
		if inv.body["amount_net_fen"] != float64(25472) || inv.body["tax_fen"] != float64(1528) || inv.str("tax_rate") != "6%" ||
			inv.body["tax_rate_bp"] != float64(600) || inv.str("amount_upper") != "贰佰柒拾元整" {
			t.Fatalf("tax figures %s", inv.raw)
		}
		pdfText(t, pdf, "佛山市正诚工程咨询有限公司", "270.00", inv.str("number"), "*信息技术服务*签署套餐（50次）", "50次/年", "税额",
			"141.51", "8.49", "113.21", "6.79", "¥254.72", "¥15.28", "贰佰柒拾元整", "开票人：", "6%")
		// The share link works without a token.
		share := inv.str("share_url")
		path := share[strings.Index(share, "/api/v1/"):]
		if st, h, b := s.get(path, "", ""); st != 200 || h.Get("Content-Type") != "application/pdf" || len(b) != len(pdf) {
			t.Fatalf("share link %d", st)
		}
		// A damaged link is not found; after 7 days it is gone.
		s.do("GET", path[:len(path)-2]+"00", "", nil).expect(t, 404, "invoice-link-invalid")
		s.clock.Advance(7*24*time.Hour + time.Second)
		s.do("GET", path, "", nil).expect(t, 410, "invoice-link-expired")
	})
}

func TestInvoiceRefusals(t *testing.T) {
	s := start(t, "")
	token, eid := s.orderSetup(4, "13700000011", "开票乙", "911")
	ok := map[string]any{"title_type": "personal", "title": "张三"}
	// An unpaid order.
	unpaid := s.placeOrder(token, eid, "", map[string]any{"items": []map[string]any{{"sku": "pkg-sign-50", "quantity": 1}}}).expect(t, 201, "")
	s.requestInvoice(token, unpaid.str("id"), "", ok).expect(t, 422, "order-not-paid")
	oid := s.paidOrder(token, eid)
	// Another enterprise's order.
	other, _ := s.orderSetup(0, "13700000012", "别家", "912")
	s.requestInvoice(other, oid, "", ok).expect(t, 404, "order-not-found")
	// Bad requests, nothing stored.
	s.requestInvoice(token, oid, "", map[string]any{"type": "vat_special", "title_type": "enterprise", "title": "某公司", "tax_id": "91440600MA4WL2D81G"}).
		expect(t, 422, "invoice-type-not-offered")
	s.requestInvoice(token, oid, "", map[string]any{"title_type": "enterprise", "title": "某公司", "tax_id": "91440600MA4WL2D81X"}).
		expect(t, 422, "invoice-tax-id-invalid")
	s.requestInvoice(token, oid, "", map[string]any{"title_type": "company", "title": "某公司"}).expect(t, 422, "invoice-title-type-invalid")
	if o := s.do("GET", "/api/v1/orders/"+oid, token, nil); o.str("invoice_status") != "none" {
		t.Fatalf("a refused request stored an invoice: %s", o.raw)
	}
	// One invoice per order.
	s.requestInvoice(token, oid, "", ok).expect(t, 202, "")
	s.requestInvoice(token, oid, "", ok).expect(t, 409, "invoice-exists")
	// Another enterprise cannot read it.
	inv := s.do("GET", "/api/v1/orders/"+oid, token, nil).str("invoice_id")
	s.do("GET", "/api/v1/invoices/"+inv, other, nil).expect(t, 404, "invoice-not-found")
	s.do("GET", "/api/v1/invoices/"+inv+"/pdf", other, nil).expect(t, 404, "invoice-not-found")
}

// pdfText checks that pdftotext finds every string in the PDF.
func pdfText(t *testing.T, pdf []byte, want ...string) {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("pdftotext is needed in CI")
		}
		t.Skip("pdftotext not installed")
	}
	p := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(p, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-enc", "UTF-8", p, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if !strings.Contains(string(out), w) {
			t.Fatalf("the PDF text has no %q:\n%s", w, out)
		}
	}
}
