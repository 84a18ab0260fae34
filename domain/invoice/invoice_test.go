package invoice_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/invoice"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/kernel/kerneltest"
)

var (
	wantErr = kerneltest.WantErr
	t0      = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
)

const (
	iid      kernel.InvoiceID    = "01HINVOICE"
	oid      kernel.OrderID      = "01HORDER"
	eid      kernel.EnterpriseID = "e1"
	uid      kernel.UserID       = "u1"
	okCode                       = "91350100M000100Y43"
	badCode                      = "91350100M000100Y44"
	okNumber                     = "26312000000123456789"
	pdfKey                       = "invoices/01HINVOICE.pdf"
)

func enterpriseReq() invoice.Request {
	return invoice.Request{TitleType: invoice.TitleEnterprise, Title: "厦门某某科技有限公司", TaxID: okCode, Email: "fin@example.com"}
}

func personalReq() invoice.Request {
	return invoice.Request{TitleType: invoice.TitlePersonal, Title: "张三"}
}

func newInvoice(t *testing.T, r invoice.Request) *invoice.Invoice {
	t.Helper()
	inv, err := invoice.New(iid, oid, eid, uid, kernel.Fen(9900), r, t0)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return inv
}

func TestNewAccepts(t *testing.T) {
	local := time.FixedZone("CST", 8*3600)
	now := time.Date(2026, 11, 26, 17, 0, 0, 123456789, local)
	tests := []struct {
		name      string
		req       invoice.Request
		amount    kernel.Money
		wantTitle string
		wantTax   kernel.CreditCode
		wantEmail string
	}{
		{"enterprise, default type", enterpriseReq(), 9900, "厦门某某科技有限公司", okCode, "fin@example.com"},
		{"explicit type", func() invoice.Request {
			r := enterpriseReq()
			r.Type = invoice.TypeVATOrdinaryDigital
			return r
		}(), 1, "厦门某某科技有限公司", okCode, "fin@example.com"},
		{"enterprise code trimmed and upper-cased", invoice.Request{TitleType: invoice.TitleEnterprise, Title: "公司",
			TaxID: "  " + strings.ToLower(okCode) + "\t"}, 100, "公司", okCode, ""},
		{"personal, no email", personalReq(), 9900, "张三", "", ""},
		{"personal, blank tax id", invoice.Request{TitleType: invoice.TitlePersonal, Title: "张三", TaxID: "   "}, 9900, "张三", "", ""},
		{"title trimmed", invoice.Request{TitleType: invoice.TitlePersonal, Title: "  张三 \n"}, 9900, "张三", "", ""},
		{"title 100 runes", invoice.Request{TitleType: invoice.TitlePersonal, Title: strings.Repeat("票", 100)}, 9900, strings.Repeat("票", 100), "", ""},
		{"title 100 runes after trim", invoice.Request{TitleType: invoice.TitlePersonal, Title: " " + strings.Repeat("a", 100) + " "}, 9900, strings.Repeat("a", 100), "", ""},
		{"title 1 rune", invoice.Request{TitleType: invoice.TitlePersonal, Title: "张"}, 9900, "张", "", ""},
		{"email trimmed", invoice.Request{TitleType: invoice.TitlePersonal, Title: "张三", Email: "  a@b.cn "}, 9900, "张三", "", "a@b.cn"},
		{"blank email means none", invoice.Request{TitleType: invoice.TitlePersonal, Title: "张三", Email: "   "}, 9900, "张三", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := invoice.New(iid, oid, eid, uid, tc.amount, tc.req, now)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			want := kernel.OccurredAt(now)
			if inv.ID != iid || inv.OrderID != oid || inv.EnterpriseID != eid || inv.RequestedBy != uid {
				t.Errorf("ids = %q %q %q %q", inv.ID, inv.OrderID, inv.EnterpriseID, inv.RequestedBy)
			}
			if inv.Type != invoice.TypeVATOrdinaryDigital {
				t.Errorf("Type = %q, want %q", inv.Type, invoice.TypeVATOrdinaryDigital)
			}
			if inv.TitleType != tc.req.TitleType || inv.Title != tc.wantTitle || inv.TaxID != tc.wantTax || inv.Email != tc.wantEmail {
				t.Errorf("title = %q/%q tax %q email %q, want %q/%q tax %q email %q", inv.TitleType, inv.Title, inv.TaxID, inv.Email,
					tc.req.TitleType, tc.wantTitle, tc.wantTax, tc.wantEmail)
			}
			if inv.Amount != tc.amount || inv.Status != invoice.StatusRequested || inv.Attempts != 0 || inv.Number != "" || inv.PDFKey != "" {
				t.Errorf("state = %+v", inv)
			}
			if !inv.CreatedAt.Equal(want) || !inv.UpdatedAt.Equal(want) || inv.CreatedAt.Location() != time.UTC || inv.CreatedAt.Nanosecond()%1000 != 0 {
				t.Errorf("CreatedAt/UpdatedAt = %v/%v, want %v UTC µs", inv.CreatedAt, inv.UpdatedAt, want)
			}
			evs := inv.PullEvents()
			if len(evs) != 1 {
				t.Fatalf("events = %#v, want one", evs)
			}
			ev, ok := evs[0].(invoice.Requested)
			if !ok {
				t.Fatalf("event %T, want invoice.Requested", evs[0])
			}
			if ev != (invoice.Requested{InvoiceID: iid, OrderID: oid, At: want}) || ev.EventName() != "invoice.requested" {
				t.Errorf("event = %+v %q", ev, ev.EventName())
			}
			if len(inv.PullEvents()) != 0 {
				t.Error("PullEvents did not drain")
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	with := func(f func(*invoice.Request)) invoice.Request {
		r := enterpriseReq()
		f(&r)
		return r
	}
	tests := []struct {
		name       string
		req        invoice.Request
		amount     kernel.Money
		code       string
		reason     string // details["reason"], if any
		msgContain string
	}{
		{"special invoice", with(func(r *invoice.Request) { r.Type = "vat_special" }), 9900, "invoice-type-not-offered", "", "数电普票"},
		{"paper invoice", with(func(r *invoice.Request) { r.Type = "vat_ordinary_paper" }), 9900, "invoice-type-not-offered", "", "数电普票"},
		{"type not trimmed", with(func(r *invoice.Request) { r.Type = " vat_ordinary_digital" }), 9900, "invoice-type-not-offered", "", "数电普票"},
		{"type case", with(func(r *invoice.Request) { r.Type = "VAT_ORDINARY_DIGITAL" }), 9900, "invoice-type-not-offered", "", "数电普票"},
		{"empty title", with(func(r *invoice.Request) { r.Title = "" }), 9900, "invoice-title-invalid", "", ""},
		{"blank title", with(func(r *invoice.Request) { r.Title = " \t\n　" }), 9900, "invoice-title-invalid", "", ""},
		{"title 101 runes", with(func(r *invoice.Request) { r.Title = strings.Repeat("票", 101) }), 9900, "invoice-title-invalid", "", ""},
		{"bad checksum", with(func(r *invoice.Request) { r.TaxID = badCode }), 9900, "invoice-tax-id-invalid", "credit-code-checksum", ""},
		{"bad format", with(func(r *invoice.Request) { r.TaxID = "91350100M000100Y4" }), 9900, "invoice-tax-id-invalid", "credit-code-format", ""},
		{"enterprise without tax id", with(func(r *invoice.Request) { r.TaxID = "" }), 9900, "invoice-tax-id-invalid", "credit-code-format", ""},
		{"personal with tax id", invoice.Request{TitleType: invoice.TitlePersonal, Title: "张三", TaxID: okCode}, 9900, "invoice-tax-id-invalid", "", ""},
		{"no title type", with(func(r *invoice.Request) { r.TitleType = "" }), 9900, "invoice-title-type-invalid", "", ""},
		{"unknown title type", with(func(r *invoice.Request) { r.TitleType = "government" }), 9900, "invoice-title-type-invalid", "", ""},
		{"title type case", with(func(r *invoice.Request) { r.TitleType = "Enterprise" }), 9900, "invoice-title-type-invalid", "", ""},
		{"email no at", with(func(r *invoice.Request) { r.Email = "fin.example.com" }), 9900, "invoice-email-invalid", "", ""},
		{"email with name", with(func(r *invoice.Request) { r.Email = "Fin <fin@example.com>" }), 9900, "invoice-email-invalid", "", ""},
		{"email two addresses", with(func(r *invoice.Request) { r.Email = "a@b.cn, c@d.cn" }), 9900, "invoice-email-invalid", "", ""},
		{"email too long", with(func(r *invoice.Request) {
			r.Email = strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63) + ".cn"
		}), 9900, "invoice-email-invalid", "", ""},
		{"zero amount", enterpriseReq(), 0, "invoice-amount-invalid", "", ""},
		{"negative amount", enterpriseReq(), -1, "invoice-amount-invalid", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := invoice.New(iid, oid, eid, uid, tc.amount, tc.req, t0)
			e := wantErr(t, err, kernel.KindInvalid, tc.code)
			if inv != nil {
				t.Errorf("invoice = %+v, want nil", inv)
			}
			if got := e.Details["reason"]; tc.reason != "" && got != tc.reason {
				t.Errorf("details reason = %v, want %q", got, tc.reason)
			}
			if tc.reason == "" && len(e.Details) != 0 {
				t.Errorf("details = %v, want none", e.Details)
			}
			if !strings.Contains(e.Message, tc.msgContain) {
				t.Errorf("message %q does not mention %q", e.Message, tc.msgContain)
			}
		})
	}
}

func TestCreditCodeFixtures(t *testing.T) {
	if _, err := kernel.ParseCreditCode(okCode); err != nil {
		t.Fatalf("%s: %v", okCode, err)
	}
	if _, err := kernel.ParseCreditCode(badCode); kernel.CodeOf(err) != "credit-code-checksum" {
		t.Fatalf("%s: %v, want credit-code-checksum", badCode, err)
	}
}

func TestStartIssuing(t *testing.T) {
	t1 := t0.Add(time.Minute)
	tests := []struct {
		name     string
		prepare  func(t *testing.T, inv *invoice.Invoice)
		attempts int
	}{
		{"from requested", func(*testing.T, *invoice.Invoice) {}, 1},
		{"from issuing (crashed consumer)", func(t *testing.T, inv *invoice.Invoice) {
			if err := inv.StartIssuing(t0); err != nil {
				t.Fatal(err)
			}
		}, 2},
		{"from failed (retry)", func(t *testing.T, inv *invoice.Invoice) {
			if err := inv.StartIssuing(t0); err != nil {
				t.Fatal(err)
			}
			inv.Failed("provider timeout", t0)
		}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv := newInvoice(t, enterpriseReq())
			tc.prepare(t, inv)
			if err := inv.StartIssuing(t1); err != nil {
				t.Fatalf("StartIssuing: %v", err)
			}
			if inv.Status != invoice.StatusIssuing || inv.Attempts != tc.attempts || !inv.UpdatedAt.Equal(t1) {
				t.Errorf("status %q attempts %d updated %v, want issuing %d %v", inv.Status, inv.Attempts, inv.UpdatedAt, tc.attempts, t1)
			}
		})
	}
	t.Run("issued is a conflict", func(t *testing.T) {
		inv := newInvoice(t, enterpriseReq())
		if err := inv.StartIssuing(t0); err != nil {
			t.Fatal(err)
		}
		if err := inv.Issued(okNumber, t0, pdfKey, t0); err != nil {
			t.Fatal(err)
		}
		before := *inv
		_ = wantErr(t, inv.StartIssuing(t1), kernel.KindConflict, "invoice-already-issued")
		if inv.Status != invoice.StatusIssued || inv.Attempts != before.Attempts || !inv.UpdatedAt.Equal(before.UpdatedAt) {
			t.Errorf("refused StartIssuing changed the invoice: %+v", inv)
		}
	})
}

func TestIssued(t *testing.T) {
	local := time.FixedZone("CST", 8*3600)
	issuedAt := time.Date(2026, 11, 26, 17, 5, 0, 999, local)
	wantIssuedAt := kernel.OccurredAt(issuedAt)
	t1 := t0.Add(5 * time.Minute)
	issuing := func(t *testing.T) *invoice.Invoice {
		t.Helper()
		inv := newInvoice(t, enterpriseReq())
		inv.PullEvents()
		if err := inv.StartIssuing(t0); err != nil {
			t.Fatal(err)
		}
		inv.Failed("provider timeout", t0)
		if err := inv.StartIssuing(t0); err != nil {
			t.Fatal(err)
		}
		return inv
	}

	refusals := []struct {
		name, number, pdf string
	}{
		{"19 digits", okNumber[:19], pdfKey},
		{"21 digits", okNumber + "0", pdfKey},
		{"empty number", "", pdfKey},
		{"letter", "2631200000012345678X", pdfKey},
		{"space", " 6312000000123456789", pdfKey},
		{"full-width digit", "2631200000012345678９", pdfKey},
		{"no pdf", okNumber, ""},
	}
	for _, tc := range refusals {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			inv := issuing(t)
			_ = wantErr(t, inv.Issued(tc.number, issuedAt, tc.pdf, t1), kernel.KindInvalid, "invoice-issue-invalid")
			if inv.Status != invoice.StatusIssuing || inv.Number != "" || inv.PDFKey != "" || inv.FailureReason != "provider timeout" {
				t.Errorf("refused Issued changed the invoice: %+v", inv)
			}
			if evs := inv.PullEvents(); len(evs) != 0 {
				t.Errorf("events = %#v, want none", evs)
			}
		})
	}

	t.Run("issues", func(t *testing.T) {
		inv := issuing(t)
		if err := inv.Issued(okNumber, issuedAt, pdfKey, t1); err != nil {
			t.Fatalf("Issued: %v", err)
		}
		if inv.Status != invoice.StatusIssued || inv.Number != okNumber || inv.PDFKey != pdfKey || inv.FailureReason != "" || inv.Attempts != 2 {
			t.Errorf("invoice = %+v", inv)
		}
		if !inv.IssuedAt.Equal(wantIssuedAt) || inv.IssuedAt.Location() != time.UTC || inv.IssuedAt.Nanosecond() != 0 {
			t.Errorf("IssuedAt = %v, want %v in UTC µs", inv.IssuedAt, issuedAt)
		}
		if !inv.UpdatedAt.Equal(t1) {
			t.Errorf("UpdatedAt = %v, want %v", inv.UpdatedAt, t1)
		}
		evs := inv.PullEvents()
		if len(evs) != 1 {
			t.Fatalf("events = %#v, want one", evs)
		}
		want := invoice.Issued{InvoiceID: iid, OrderID: oid, Number: okNumber, At: t1}
		if ev, ok := evs[0].(invoice.Issued); !ok || ev != want || ev.EventName() != "invoice.issued" {
			t.Errorf("event = %#v, want %#v", evs[0], want)
		}

		// Idempotent: a redelivery, even a malformed one, changes nothing and records nothing.
		for _, again := range []struct{ number, pdf string }{{okNumber, pdfKey}, {"", ""}, {"99999999999999999999", "other.pdf"}} {
			if err := inv.Issued(again.number, t1.Add(time.Hour), again.pdf, t1.Add(time.Hour)); err != nil {
				t.Errorf("Issued(%q) again: %v", again.number, err)
			}
		}
		if inv.Number != okNumber || inv.PDFKey != pdfKey || !inv.UpdatedAt.Equal(t1) || !inv.IssuedAt.Equal(wantIssuedAt) {
			t.Errorf("re-issue changed the invoice: %+v", inv)
		}
		if evs := inv.PullEvents(); len(evs) != 0 {
			t.Errorf("re-issue recorded %#v", evs)
		}
	})
}

func TestFailed(t *testing.T) {
	t1 := t0.Add(time.Minute)
	t.Run("records the failure", func(t *testing.T) {
		inv := newInvoice(t, personalReq())
		if err := inv.StartIssuing(t0); err != nil {
			t.Fatal(err)
		}
		inv.Failed("provider timeout", t1)
		if inv.Status != invoice.StatusFailed || inv.FailureReason != "provider timeout" || inv.Attempts != 1 || !inv.UpdatedAt.Equal(t1) {
			t.Errorf("invoice = %+v", inv)
		}
	})
	t.Run("ignored once issued", func(t *testing.T) {
		inv := newInvoice(t, personalReq())
		if err := inv.StartIssuing(t0); err != nil {
			t.Fatal(err)
		}
		if err := inv.Issued(okNumber, t0, pdfKey, t0); err != nil {
			t.Fatal(err)
		}
		inv.PullEvents()
		inv.Failed("late failure", t1)
		if inv.Status != invoice.StatusIssued || inv.FailureReason != "" || !inv.UpdatedAt.Equal(t0) || inv.Number != okNumber {
			t.Errorf("Failed changed an issued invoice: %+v", inv)
		}
		if evs := inv.PullEvents(); len(evs) != 0 {
			t.Errorf("Failed recorded %#v", evs)
		}
	})
}

// Events go to the outbox and the log: they carry no personal data such as the email.
func TestEventsCarryNoEmail(t *testing.T) {
	for _, ev := range []kernel.Event{invoice.Requested{}, invoice.Issued{}} {
		rt := reflect.TypeOf(ev)
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			if strings.Contains(strings.ToLower(f.Name+" "+f.Tag.Get("json")), "mail") {
				t.Errorf("%s has field %s %s", rt.Name(), f.Name, f.Tag)
			}
		}
	}
	inv := newInvoice(t, enterpriseReq())
	if err := inv.StartIssuing(t0); err != nil {
		t.Fatal(err)
	}
	if err := inv.Issued(okNumber, t0, pdfKey, t0); err != nil {
		t.Fatal(err)
	}
	evs := inv.PullEvents()
	if len(evs) != 2 {
		t.Fatalf("events = %#v, want Requested and Issued", evs)
	}
	for _, ev := range evs {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if s := string(b); strings.Contains(s, "fin@example.com") || strings.Contains(s, "email") {
			t.Errorf("%s carries the email: %s", ev.EventName(), s)
		}
	}
}

// The application builds the new request with New (validated: a bad tax id never reaches
// Rerequest) and hands it over; the invoice keeps its id, amount and split.
func TestRerequestReplacesTheRequest(t *testing.T) {
	inv := newInvoice(t, enterpriseReq())
	inv.PullEvents()
	fresh := func() *invoice.Invoice {
		f, err := invoice.New("other-id", inv.OrderID, inv.EnterpriseID, uid, inv.Amount, personalReq(), t0)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	if err := inv.Rerequest(fresh(), t0); kernel.CodeOf(err) != "invoice-exists" {
		t.Fatalf("a requested invoice was requested again: %v", err)
	}
	if err := inv.StartIssuing(t0); err != nil {
		t.Fatal(err)
	}
	inv.Failed("issuer-error", t0)
	other, err := invoice.New("x", "another-order", inv.EnterpriseID, uid, inv.Amount, personalReq(), t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := inv.Rerequest(other, t0); kernel.CodeOf(err) != "invoice-request-invalid" || inv.Status != invoice.StatusFailed {
		t.Fatalf("a request for another order was taken: %v, %s", err, inv.Status)
	}
	id := inv.ID
	if err := inv.Rerequest(fresh(), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	evs := inv.PullEvents()
	if inv.ID != id || inv.Status != invoice.StatusRequested || inv.FailureReason != "" || inv.Title != "张三" || inv.TaxID != "" ||
		inv.TitleType != invoice.TitlePersonal || inv.Attempts != 0 || len(evs) != 1 || evs[0].EventName() != "invoice.requested" {
		t.Fatalf("requested again: %+v %v", inv, evs)
	}
	if err := inv.StartIssuing(t0); err != nil || inv.Issued("12345678901234567890", t0, "k", t0) != nil {
		t.Fatal("the re-requested invoice cannot be issued")
	}
	if err := inv.Rerequest(fresh(), t0); kernel.CodeOf(err) != "invoice-exists" {
		t.Fatalf("an issued invoice was requested again: %v", err)
	}
}
