package order_test

import (
	"testing"

	"github.com/shuxinqian/server/domain/channel"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/order"
)

// paidOrder: 3 × sig-100 (99.00 yuan, 100 signatures each) + 1 × cert-1y (0.01 yuan, 1 year) = 297.01.
func paidOrder(t *testing.T) *order.Order {
	t.Helper()
	o, err := order.Place(oid, eid, uid, catalogChannel(t, true), []order.Line{{SKU: "sig-100", Quantity: 3}, {SKU: "cert-1y", Quantity: 1}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.MarkPaid("4200000001", o.Total, t0, t0); err != nil {
		t.Fatal(err)
	}
	o.PullEvents()
	return o
}

func sumReductions(rs []order.Reduction) (sig, years int) {
	for _, r := range rs {
		sig += r.Signatures
		years += r.CertificateYears
	}
	return
}

func TestRefundHalfThenRestStates(t *testing.T) {
	o := paidOrder(t)
	if o.Total != kernel.Fen(29701) {
		t.Fatalf("total %v", o.Total)
	}
	half := kernel.Fen(14850)
	reds := o.Reductions(half, nil)
	// 300 signatures × 14850/29701 = 149.98… → 150 taken back (rounded up); 1 year × … → 1.
	if sig, years := sumReductions(reds); sig != 150 || years != 1 {
		t.Fatalf("reductions %+v", reds)
	}
	r1, err := o.RequestRefund("r1", "RNO1", half, "退一半", "op1", reds, t0)
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != order.StatusRefunding || o.Refunding != half || o.Refundable() != kernel.Fen(29701-14850) || r1.Status() != order.RefundSubmitting {
		t.Fatalf("after request: %s %v %v", o.Status, o.Refunding, r1.Status())
	}
	if evs := o.PullEvents(); len(evs) != 1 || evs[0].EventName() != "order.refund_requested" {
		t.Fatalf("events %v", evs)
	}
	// More than what is left is refused, also while the first is in flight.
	if _, err := o.RequestRefund("r2", "RNO2", kernel.Fen(29701-14850+1), "多退", "op1", nil, t0); kernel.CodeOf(err) != "refund-exceeds-paid" {
		t.Fatalf("over-refund: %v", err)
	}
	r1.Accepted("50001", t0)
	if r1.Status() != order.RefundProcessing || r1.RefundID() != "50001" {
		t.Fatalf("accepted %v", r1.Status())
	}
	// Another amount for the same refund is refused; the right one settles it once.
	if _, err := r1.Settle(o, order.RefundSuccess, "50001", kernel.Fen(1), t0, t0); kernel.CodeOf(err) != "refund-amount-mismatch" {
		t.Fatalf("amount mismatch: %v", err)
	}
	if dup, err := r1.Settle(o, order.RefundSuccess, "50001", half, t0, t0); err != nil || dup {
		t.Fatalf("settle %v %v", dup, err)
	}
	if o.Status != order.StatusPartiallyRefunded || o.Refunded != half || o.Refunding != 0 {
		t.Fatalf("after success: %s %v %v", o.Status, o.Refunded, o.Refunding)
	}
	if dup, err := r1.Settle(o, order.RefundSuccess, "50001", half, t0, t0); err != nil || !dup || o.Refunded != half {
		t.Fatalf("replayed success: %v %v %v", dup, err, o.Refunded)
	}
	if _, err := r1.Settle(o, order.RefundClosed, "50001", half, t0, t0); kernel.CodeOf(err) != "refund-already-final" {
		t.Fatalf("a success undone: %v", err)
	}
	// The rest takes everything that is left.
	prior := map[string]order.Reduction{}
	for _, r := range r1.Reductions() {
		prior[r.SKU] = r
	}
	rest := o.Refundable()
	reds2 := o.Reductions(rest, prior)
	if sig, years := sumReductions(reds2); sig != 150 || years != 0 {
		t.Fatalf("rest reductions %+v", reds2)
	}
	r2, err := o.RequestRefund("r2", "RNO2", rest, "全退", "op1", reds2, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Settle(o, order.RefundSuccess, "50002", rest, t0, t0); err != nil {
		t.Fatal(err)
	}
	if o.Status != order.StatusRefunded || o.Refunded != o.Total || o.Refundable() != 0 {
		t.Fatalf("after the rest: %s %v", o.Status, o.Refunded)
	}
	if _, err := o.RequestRefund("r3", "RNO3", kernel.Fen(1), "再退", "op1", nil, t0); kernel.CodeOf(err) != "refund-exceeds-paid" {
		t.Fatalf("refund of a refunded order: %v", err)
	}
	// A replayed payment notification of the refunded order is a duplicate, not an anomaly.
	if dup, err := o.MarkPaid("4200000001", o.Total, t0, t0); err != nil || !dup {
		t.Fatalf("replayed payment after refund: %v %v", dup, err)
	}
}

func TestRefundClosedAndAbnormal(t *testing.T) {
	o := paidOrder(t)
	r1, err := o.RequestRefund("r1", "RNO1", kernel.Fen(1000), "退", "op", nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	// Abnormal keeps the amount reserved; the order stays refunding.
	if _, err := r1.Settle(o, order.RefundAbnormal, "", 0, t0, t0); err != nil {
		t.Fatal(err)
	}
	if o.Status != order.StatusRefunding || o.Refunding != kernel.Fen(1000) || r1.Status() != order.RefundAbnormal {
		t.Fatalf("abnormal: %s %v", o.Status, o.Refunding)
	}
	// Resolved by closing: the order is back to paid, the amount refundable again.
	if _, err := r1.Settle(o, order.RefundClosed, "", 0, t0, t0); err != nil {
		t.Fatal(err)
	}
	if o.Status != order.StatusPaid || o.Refunding != 0 || o.Refunded != 0 || o.Refundable() != o.Total {
		t.Fatalf("closed: %s %v", o.Status, o.Refunding)
	}
	// Refused before WeChat took it: closed with the reason.
	r2, _ := o.RequestRefund("r2", "RNO2", kernel.Fen(500), "退", "op", nil, t0)
	if err := r2.Refused(o, "refund-refused", t0); err != nil || r2.Status() != order.RefundClosed || r2.Failure() != "refund-refused" {
		t.Fatalf("refused %v %v", err, r2.Status())
	}
	r3, _ := o.RequestRefund("r3", "RNO3", kernel.Fen(500), "退", "op", nil, t0)
	r3.Accepted("5003", t0)
	if err := r3.Refused(o, "x", t0); kernel.CodeOf(err) != "refund-already-accepted" {
		t.Fatalf("refusing an accepted refund: %v", err)
	}
}

func TestRefundRefusals(t *testing.T) {
	unpaid, err := order.Place(oid, eid, uid, catalogChannel(t, true), []order.Line{{SKU: "sig-100", Quantity: 1}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unpaid.RequestRefund("r", "RNO", kernel.Fen(1), "退", "op", nil, t0); kernel.CodeOf(err) != "order-not-refundable" {
		t.Fatalf("unpaid: %v", err)
	}
	o := paidOrder(t)
	for name, tc := range map[string]struct {
		amount     kernel.Money
		reason, no string
		code       string
	}{
		"zero":           {0, "退", "RNO", "refund-amount-invalid"},
		"negative":       {-1, "退", "RNO", "refund-amount-invalid"},
		"above total":    {o.Total + 1, "退", "RNO", "refund-exceeds-paid"},
		"no reason":      {1, "  ", "RNO", "refund-reason-invalid"},
		"long reason":    {1, string(make([]rune, 81)), "RNO", "refund-reason-invalid"},
		"control":        {1, "退\n款", "RNO", "refund-reason-invalid"},
		"bad refund no":  {1, "退", "R NO", "refund-no-invalid"},
		"long refund no": {1, "退", string(make([]byte, 65)), "refund-no-invalid"},
	} {
		if _, err := o.RequestRefund("r", tc.no, tc.amount, tc.reason, "op", nil, t0); kernel.CodeOf(err) != tc.code {
			t.Errorf("%s: %v, want %s", name, err, tc.code)
		}
	}
	if o.Status != order.StatusPaid || o.Refunding != 0 {
		t.Fatal("a refused refund changed the order")
	}
}

// The customer never keeps more than paid for: for every partial amount, the units kept are at
// most units × (paid − refunded) / paid.
func TestReductionsRoundUp(t *testing.T) {
	ch := catalogChannel(t, true, channel.Item{SKU: "sig-7", Name: "七个", Kind: channel.KindPackage, UnitPrice: kernel.Fen(333),
		Grants: channel.Grants{Signatures: 7}})
	o, err := order.Place(oid, eid, uid, ch, []order.Line{{SKU: "sig-7", Quantity: 3}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	units := 21
	for amount := int64(1); amount <= int64(o.Total); amount += 37 {
		sig, _ := sumReductions(o.Reductions(kernel.Fen(amount), nil))
		kept := units - sig
		if int64(kept)*int64(o.Total) > int64(units)*(int64(o.Total)-amount) {
			t.Fatalf("refund %d keeps %d of %d units", amount, kept, units)
		}
	}
	if sig, _ := sumReductions(o.Reductions(o.Total, nil)); sig != units {
		t.Fatalf("full refund takes %d", sig)
	}
}
