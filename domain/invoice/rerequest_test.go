package invoice_test

import (
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/invoice"
	"github.com/shuxinqian/server/domain/kernel"
)

// Issue 11 item 4: a failed invoice can be requested again; others cannot.
func TestRerequest(t *testing.T) {
	now := time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
	mk := func(title string) *invoice.Invoice {
		inv, err := invoice.New("i1", "o1", "e1", "u1", kernel.Fen(100), invoice.Request{TitleType: invoice.TitlePersonal, Title: title}, now)
		if err != nil {
			t.Fatal(err)
		}
		inv.PullEvents()
		return inv
	}
	inv := mk("旧抬头")
	if err := inv.Rerequest(mk("新抬头"), now); kernel.CodeOf(err) != "invoice-exists" {
		t.Fatalf("requested invoice re-requested: %v", err)
	}
	_ = inv.StartIssuing(now)
	inv.Failed("issuer refused", now)
	if err := inv.Rerequest(mk("新抬头"), now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if inv.Status != invoice.StatusRequested || inv.Title != "新抬头" || inv.FailureReason != "" || inv.Attempts != 0 || len(inv.PullEvents()) != 1 {
		t.Fatalf("after re-request %+v", inv)
	}
}
