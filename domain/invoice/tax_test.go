package invoice_test

import (
	"testing"

	"github.com/shuxinqian/server/domain/invoice"
	"github.com/shuxinqian/server/domain/kernel"
)

func TestSplitTax(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lines    []invoice.TaxLine
		net, tax kernel.Money
		rate     kernel.TaxRate
		mixed    bool
	}{
		// 99.00 at 6 %: 5.6038 → 5.60.
		{"one line", []invoice.TaxLine{{Amount: 9900, Rate: kernel.TaxRate6}}, 9340, 560, kernel.TaxRate6, false},
		// Rounded per line: 0.09 → 0.0051 → 0.01 each (per-invoice would give 0.10 for 0.99 → 0.06).
		{"per line", []invoice.TaxLine{{Amount: 9, Rate: 600}, {Amount: 9, Rate: 600}, {Amount: 9881, Rate: 600}}, 9899 - 1 - 1 - 559, 561, 600, false},
		{"mixed", []invoice.TaxLine{{Amount: 5300, Rate: 600}, {Amount: 4600, Rate: 1300}}, 5000 + 4071, 300 + 529, 600, true},
	} {
		amount := kernel.Money(0)
		for _, l := range tc.lines {
			amount += l.Amount
		}
		inv, err := invoice.New(iid, oid, eid, uid, amount, personalReq(), t0)
		if err != nil {
			t.Fatal(err)
		}
		if err := inv.SplitTax(tc.lines); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if inv.Net != tc.net || inv.Tax != tc.tax || inv.Net+inv.Tax != inv.Amount || inv.MixedRates != tc.mixed || (!tc.mixed && inv.TaxRate != tc.rate) {
			t.Errorf("%s: net %v tax %v rate %v mixed %v; want %v %v %v %v", tc.name, inv.Net, inv.Tax, inv.TaxRate, inv.MixedRates, tc.net, tc.tax, tc.rate, tc.mixed)
		}
	}
}

func TestSplitTaxRefuses(t *testing.T) {
	inv := newInvoice(t, personalReq()) // 99.00
	if err := inv.SplitTax(nil); kernel.CodeOf(err) != "invoice-lines-missing" {
		t.Errorf("no lines: %v", err)
	}
	if err := inv.SplitTax([]invoice.TaxLine{{Amount: 9800, Rate: 600}}); kernel.CodeOf(err) != "invoice-lines-mismatch" {
		t.Errorf("mismatch: %v", err)
	}
	if err := inv.SplitTax([]invoice.TaxLine{{Amount: 9900, Rate: 700}}); kernel.CodeOf(err) != "tax-rate-invalid" {
		t.Errorf("bad rate: %v", err)
	}
}
