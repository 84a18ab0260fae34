package order_test

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/channel"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/kernel/kerneltest"
	"github.com/shuxinqian/server/domain/order"
)

var (
	wantErr = kerneltest.WantErr
	t0      = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
)

const (
	oid kernel.OrderID      = "01HORDER"
	eid kernel.EnterpriseID = "e1"
	uid kernel.UserID       = "u1"
)

func catalogChannel(t *testing.T, active bool, extra ...channel.Item) *channel.Channel {
	t.Helper()
	items := append([]channel.Item{
		{SKU: "sig-100", Name: "签名包100", Kind: channel.KindPackage, UnitPrice: kernel.Fen(9900), Grants: channel.Grants{Signatures: 100}},
		{SKU: "cert-1y", Name: "证书一年", Kind: channel.KindService, UnitPrice: kernel.Fen(1), Grants: channel.Grants{CertificateYears: 1}},
	}, extra...)
	c, err := channel.New(channel.Snapshot{ID: "c1", Code: "q86804", Name: "华东渠道", QRToken: "tok-0123456789abcdef",
		Active: active, Method: channel.MethodID2, Catalog: items})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// placed is a fresh pending order of one sig-100 ×2 placed at t0, with its events drained.
func placed(t *testing.T) *order.Order {
	t.Helper()
	o, err := order.Place(oid, eid, uid, catalogChannel(t, true), []order.Line{{SKU: "sig-100", Quantity: 2}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	o.PullEvents()
	return o
}

func paid(t *testing.T, tx string) *order.Order {
	t.Helper()
	o := placed(t)
	if _, err := o.MarkPaid(tx, o.Total, t0.Add(time.Minute), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	o.PullEvents()
	return o
}

func closed(t *testing.T) *order.Order {
	t.Helper()
	o := placed(t)
	if err := o.Close("expired", t0.Add(order.TTL)); err != nil {
		t.Fatal(err)
	}
	o.PullEvents()
	return o
}

func TestOutTradeNo(t *testing.T) {
	if got := order.OutTradeNo("01HXYZ"); got != "SXQ01HXYZ" {
		t.Fatalf("OutTradeNo = %q", got)
	}
}

func TestParseStatus(t *testing.T) {
	for _, s := range []order.Status{order.StatusPendingPayment, order.StatusPaid, order.StatusClosed, order.StatusRefunded} {
		got, err := order.ParseStatus(string(s))
		if err != nil || got != s {
			t.Errorf("ParseStatus(%q) = %q, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "PAID", "pending", " paid"} {
		_, err := order.ParseStatus(s)
		_ = wantErr(t, err, kernel.KindInvalid, "order-status-invalid")
	}
}

func TestPlacePricesFromTheCatalog(t *testing.T) {
	now := time.Date(2026, 11, 26, 17, 0, 0, 123456789, time.FixedZone("CST", 8*3600))
	o, err := order.Place(oid, eid, uid, catalogChannel(t, true),
		[]order.Line{{SKU: "sig-100", Quantity: 3}, {SKU: "cert-1y", Quantity: 999}}, now)
	if err != nil {
		t.Fatal(err)
	}
	at := kernel.OccurredAt(now)
	if at.Location() != time.UTC || at.Nanosecond() != 123456000 {
		t.Fatalf("OccurredAt = %v", at)
	}
	want := []order.Item{
		{SKU: "sig-100", Name: "签名包100", Kind: channel.KindPackage, UnitPrice: 9900, Quantity: 3, Subtotal: 29700, Grants: channel.Grants{Signatures: 100},
			Tax: channel.DefaultTax, Unit: channel.DefaultUnit},
		{SKU: "cert-1y", Name: "证书一年", Kind: channel.KindService, UnitPrice: 1, Quantity: 999, Subtotal: 999, Grants: channel.Grants{CertificateYears: 1},
			Tax: channel.DefaultTax, Unit: channel.DefaultUnit},
	}
	if !reflect.DeepEqual(o.Items, want) {
		t.Errorf("items %+v", o.Items)
	}
	switch {
	case o.Total != kernel.Fen(30699):
		t.Errorf("total %v", o.Total)
	case o.Status != order.StatusPendingPayment:
		t.Errorf("status %q", o.Status)
	case o.OutTradeNo != "SXQ01HORDER":
		t.Errorf("out_trade_no %q", o.OutTradeNo)
	case o.ID != oid || o.EnterpriseID != eid || o.UserID != uid || o.ChannelCode != "q86804":
		t.Errorf("ids %+v", o)
	case !o.CreatedAt.Equal(at) || !o.UpdatedAt.Equal(at) || !o.ExpiresAt.Equal(at.Add(30*time.Minute)):
		t.Errorf("times created %v updated %v expires %v", o.CreatedAt, o.UpdatedAt, o.ExpiresAt)
	case o.CreatedAt.Location() != time.UTC:
		t.Errorf("created not UTC: %v", o.CreatedAt)
	}
	evs := o.PullEvents()
	wantEv := order.Placed{OrderID: oid, EnterpriseID: eid, Total: 30699, At: at}
	if len(evs) != 1 || evs[0] != wantEv {
		t.Fatalf("events %+v", evs)
	}
	if evs[0].EventName() != "order.placed" {
		t.Errorf("name %q", evs[0].EventName())
	}
}

func TestPlaceBoundaries(t *testing.T) {
	var extra []channel.Item
	var lines []order.Line
	for i := range order.MaxItems {
		sku := fmt.Sprintf("x-%02d", i)
		extra = append(extra, channel.Item{SKU: sku, Name: "n" + sku, Kind: channel.KindPackage, UnitPrice: 1})
		lines = append(lines, order.Line{SKU: sku, Quantity: order.MaxQuantity})
	}
	ch := catalogChannel(t, true, extra...)
	o, err := order.Place(oid, eid, uid, ch, lines, t0)
	if err != nil {
		t.Fatalf("20 items × 999: %v", err)
	}
	if len(o.Items) != 20 || o.Total != kernel.Fen(20*999) {
		t.Errorf("items %d total %v", len(o.Items), o.Total)
	}
	// out_trade_no is 6 to 32 characters: ids of 3 and 29 characters are the limits.
	for _, id := range []kernel.OrderID{"abc", kernel.OrderID(strings.Repeat("9", 29)), "a_b-c|d*"} {
		if _, err := order.Place(id, eid, uid, ch, []order.Line{{SKU: "sig-100", Quantity: 1}}, t0); err != nil {
			t.Errorf("id %q: %v", id, err)
		}
	}
}

func TestPlaceRefusals(t *testing.T) {
	active := catalogChannel(t, true)
	big := catalogChannel(t, true,
		channel.Item{SKU: "huge", Name: "huge", Kind: channel.KindPackage, UnitPrice: kernel.Fen(math.MaxInt64 / 2)},
		channel.Item{SKU: "half", Name: "half", Kind: channel.KindPackage, UnitPrice: kernel.Fen(math.MaxInt64/2 + 2)})
	one := []order.Line{{SKU: "sig-100", Quantity: 1}}
	many := make([]order.Line, order.MaxItems+1)
	for i := range many {
		many[i] = order.Line{SKU: fmt.Sprintf("s%d", i), Quantity: 1}
	}
	for _, tc := range []struct {
		name  string
		id    kernel.OrderID
		eid   kernel.EnterpriseID
		uid   kernel.UserID
		ch    *channel.Channel
		lines []order.Line
		kind  kernel.Kind
		code  string
	}{
		{"no id", "", eid, uid, active, one, kernel.KindInvalid, "order-incomplete"},
		{"no enterprise", oid, "", uid, active, one, kernel.KindInvalid, "order-incomplete"},
		{"no buyer", oid, eid, "", active, one, kernel.KindInvalid, "order-incomplete"},
		{"no channel", oid, eid, uid, nil, one, kernel.KindPrecondition, "channel-required"},
		{"inactive channel", oid, eid, uid, catalogChannel(t, false), one, kernel.KindPrecondition, "channel-required"},
		{"no lines", oid, eid, uid, active, nil, kernel.KindInvalid, "order-items-invalid"},
		{"21 lines", oid, eid, uid, active, many, kernel.KindInvalid, "order-items-invalid"},
		{"quantity 0", oid, eid, uid, active, []order.Line{{SKU: "sig-100", Quantity: 0}}, kernel.KindInvalid, "order-quantity-invalid"},
		{"quantity -1", oid, eid, uid, active, []order.Line{{SKU: "sig-100", Quantity: -1}}, kernel.KindInvalid, "order-quantity-invalid"},
		{"quantity 1000", oid, eid, uid, active, []order.Line{{SKU: "sig-100", Quantity: 1000}}, kernel.KindInvalid, "order-quantity-invalid"},
		{"duplicate SKU", oid, eid, uid, active, []order.Line{{SKU: "sig-100", Quantity: 1}, {SKU: "sig-100", Quantity: 2}}, kernel.KindInvalid, "order-sku-duplicate"},
		{"unknown SKU", oid, eid, uid, active, []order.Line{{SKU: "nope", Quantity: 1}}, kernel.KindInvalid, "order-sku-unknown"},
		{"client price is not a SKU", oid, eid, uid, active, []order.Line{{SKU: "SIG-100", Quantity: 1}}, kernel.KindInvalid, "order-sku-unknown"},
		{"subtotal overflows", oid, eid, uid, big, []order.Line{{SKU: "huge", Quantity: 3}}, kernel.KindInvalid, "money-overflow"},
		{"total overflows", oid, eid, uid, big, []order.Line{{SKU: "huge", Quantity: 1}, {SKU: "half", Quantity: 1}}, kernel.KindInvalid, "money-overflow"},
		{"id too short for out_trade_no", "ab", eid, uid, active, one, kernel.KindInvalid, "order-id-invalid"},
		{"id too long for out_trade_no", kernel.OrderID(strings.Repeat("9", 30)), eid, uid, active, one, kernel.KindInvalid, "order-id-invalid"},
		{"id with a dot", "01H.ORDER", eid, uid, active, one, kernel.KindInvalid, "order-id-invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := order.Place(tc.id, tc.eid, tc.uid, tc.ch, tc.lines, t0)
			_ = wantErr(t, err, tc.kind, tc.code)
			if o != nil {
				t.Errorf("order %+v returned with an error", o)
			}
		})
	}
	t.Run("the refusal names the SKU and the limit", func(t *testing.T) {
		_, err := order.Place(oid, eid, uid, active, []order.Line{{SKU: "nope", Quantity: 1}}, t0)
		if e := wantErr(t, err, kernel.KindInvalid, "order-sku-unknown"); e.Details["sku"] != "nope" {
			t.Errorf("details %v", e.Details)
		}
		_, err = order.Place(oid, eid, uid, active, many, t0)
		if e := wantErr(t, err, kernel.KindInvalid, "order-items-invalid"); e.Details["max"] != order.MaxItems {
			t.Errorf("details %v", e.Details)
		}
	})
}

func TestCanPayAndPayingWith(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    func(*testing.T) *order.Order
		now  time.Time
		kind kernel.Kind
		code string
	}{
		{"fresh", placed, t0, 0, ""},
		{"one nanosecond before 30 minutes", placed, t0.Add(order.TTL - time.Nanosecond), 0, ""},
		{"exactly 30 minutes", placed, t0.Add(order.TTL), kernel.KindPrecondition, "order-expired"},
		{"later", placed, t0.Add(time.Hour), kernel.KindPrecondition, "order-expired"},
		{"paid", func(t *testing.T) *order.Order { return paid(t, "tx1") }, t0.Add(2 * time.Minute), kernel.KindConflict, "order-already-paid"},
		{"closed", closed, t0.Add(time.Minute), kernel.KindPrecondition, "order-not-payable"},
		{"refunded", func(t *testing.T) *order.Order { o := paid(t, "tx1"); o.Status = order.StatusRefunded; return o },
			t0.Add(time.Minute), kernel.KindPrecondition, "order-not-payable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o(t)
			err := o.CanPay(tc.now)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("CanPay: %v", err)
				}
			} else {
				_ = wantErr(t, err, tc.kind, tc.code)
			}
			before := *o
			err = o.PayingWith("jsapi", tc.now)
			if tc.code == "" {
				if err != nil || o.TradeType != "jsapi" || !o.UpdatedAt.Equal(kernel.OccurredAt(tc.now)) {
					t.Fatalf("PayingWith: %v, trade type %q updated %v", err, o.TradeType, o.UpdatedAt)
				}
			} else {
				_ = wantErr(t, err, tc.kind, tc.code)
				if o.TradeType != before.TradeType || !o.UpdatedAt.Equal(before.UpdatedAt) {
					t.Errorf("a refused PayingWith changed the order")
				}
			}
			if evs := o.PullEvents(); len(evs) != 0 {
				t.Errorf("events %+v", evs)
			}
		})
	}
}

func TestMarkPaid(t *testing.T) {
	t.Run("records the payment and one Paid event", func(t *testing.T) {
		o := placed(t)
		at, now := t0.Add(5*time.Minute), t0.Add(6*time.Minute)
		dup, err := o.MarkPaid("tx1", kernel.Fen(19800), at, now)
		if err != nil || dup {
			t.Fatalf("MarkPaid = %v, %v", dup, err)
		}
		if o.Status != order.StatusPaid || o.TransactionID != "tx1" || !o.PaidAt.Equal(at) || !o.UpdatedAt.Equal(now) {
			t.Errorf("order %+v", o)
		}
		evs := o.PullEvents()
		want := order.Paid{OrderID: oid, EnterpriseID: eid, TransactionID: "tx1", Total: 19800, At: at}
		if len(evs) != 1 || evs[0] != want || evs[0].EventName() != "order.paid" {
			t.Fatalf("events %+v", evs)
		}
	})
	t.Run("no success time: paid now", func(t *testing.T) {
		o := placed(t)
		now := t0.Add(time.Minute)
		if _, err := o.MarkPaid("tx1", o.Total, time.Time{}, now); err != nil {
			t.Fatal(err)
		}
		if !o.PaidAt.Equal(now) {
			t.Errorf("paid at %v", o.PaidAt)
		}
	})
	t.Run("a payment after the 30 minutes still counts", func(t *testing.T) {
		o := placed(t)
		if dup, err := o.MarkPaid("tx1", o.Total, t0.Add(29*time.Minute), t0.Add(40*time.Minute)); err != nil || dup {
			t.Fatalf("MarkPaid = %v, %v", dup, err)
		}
	})
	t.Run("the same transaction again is a duplicate with no event", func(t *testing.T) {
		o := paid(t, "tx1")
		before := *o
		dup, err := o.MarkPaid("tx1", o.Total, t0.Add(9*time.Minute), t0.Add(10*time.Minute))
		if err != nil || !dup {
			t.Fatalf("MarkPaid = %v, %v", dup, err)
		}
		if evs := o.PullEvents(); len(evs) != 0 {
			t.Errorf("events %+v", evs)
		}
		if !o.PaidAt.Equal(before.PaidAt) || !o.UpdatedAt.Equal(before.UpdatedAt) {
			t.Errorf("a duplicate changed the order")
		}
	})
	for _, tc := range []struct {
		name   string
		o      func(*testing.T) *order.Order
		tx     string
		amount kernel.Money
		kind   kernel.Kind
		code   string
	}{
		{"amount differs", placed, "tx1", kernel.Fen(19799), kernel.KindInvalid, "payment-amount-mismatch"},
		{"amount zero", placed, "tx1", 0, kernel.KindInvalid, "payment-amount-mismatch"},
		{"no transaction id", placed, "", kernel.Fen(19800), kernel.KindInvalid, "payment-incomplete"},
		{"another transaction", func(t *testing.T) *order.Order { return paid(t, "tx1") }, "tx2", kernel.Fen(19800), kernel.KindConflict, "order-paid-twice"},
		{"closed meanwhile", closed, "tx1", kernel.Fen(19800), kernel.KindConflict, "order-paid-after-close"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o(t)
			before := *o
			dup, err := o.MarkPaid(tc.tx, tc.amount, t0.Add(time.Minute), t0.Add(time.Minute))
			_ = wantErr(t, err, tc.kind, tc.code)
			if dup {
				t.Error("duplicate with an error")
			}
			if o.Status != before.Status || o.TransactionID != before.TransactionID {
				t.Errorf("a refused payment changed the order: %+v", o)
			}
			if evs := o.PullEvents(); len(evs) != 0 {
				t.Errorf("events %+v", evs)
			}
		})
	}
	t.Run("closed: ErrPaidAfterClose", func(t *testing.T) {
		o := closed(t)
		_, err := o.MarkPaid("tx1", o.Total, t0, t0.Add(31*time.Minute))
		if !errors.Is(err, order.ErrPaidAfterClose) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestClose(t *testing.T) {
	t.Run("an unpaid order closes once", func(t *testing.T) {
		o := placed(t)
		now := t0.Add(order.TTL)
		if err := o.Close("expired", now); err != nil {
			t.Fatal(err)
		}
		if o.Status != order.StatusClosed || o.CloseReason != "expired" || !o.ClosedAt.Equal(now) || !o.UpdatedAt.Equal(now) {
			t.Errorf("order %+v", o)
		}
		evs := o.PullEvents()
		want := order.Closed{OrderID: oid, Reason: "expired", At: now}
		if len(evs) != 1 || evs[0] != want || evs[0].EventName() != "order.closed" {
			t.Fatalf("events %+v", evs)
		}
		if err := o.Close("cancelled", now.Add(time.Minute)); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if o.CloseReason != "expired" || !o.ClosedAt.Equal(now) {
			t.Errorf("second Close changed the order: %+v", o)
		}
		if evs := o.PullEvents(); len(evs) != 0 {
			t.Errorf("second Close events %+v", evs)
		}
	})
	t.Run("a paid order is not closed", func(t *testing.T) {
		o := paid(t, "tx1")
		_ = wantErr(t, o.Close("cancelled", t0.Add(time.Hour)), kernel.KindConflict, "order-not-cancellable")
		if o.Status != order.StatusPaid {
			t.Errorf("status %q", o.Status)
		}
		if evs := o.PullEvents(); len(evs) != 0 {
			t.Errorf("events %+v", evs)
		}
	})
}

func TestExpired(t *testing.T) {
	o := placed(t)
	if o.Expired(t0.Add(order.TTL - time.Nanosecond)) {
		t.Error("expired before 30 minutes")
	}
	if !o.Expired(t0.Add(order.TTL)) {
		t.Error("not expired at 30 minutes")
	}
	if paid(t, "tx1").Expired(t0.Add(time.Hour)) {
		t.Error("a paid order expired")
	}
	if closed(t).Expired(t0.Add(time.Hour)) {
		t.Error("a closed order expired")
	}
}

func TestPlaceKeepsTaxClassification(t *testing.T) {
	item := channel.Item{SKU: "svc-x", Name: "服务", Kind: channel.KindService, UnitPrice: kernel.Fen(10300),
		Tax: channel.Tax{Code: "3040203000000000000", Category: "信息技术服务", Rate: kernel.TaxRate3}, Unit: "次", Spec: "A型"}
	o, err := order.Place(oid, eid, uid, catalogChannel(t, true, item), []order.Line{{SKU: "svc-x", Quantity: 2}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	got := o.Items[0]
	if got.Tax != item.Tax || got.Unit != "次" || got.Spec != "A型" {
		t.Fatalf("line %+v", got)
	}
	// The catalog changes afterwards (new rate and price): the placed line keeps its own.
	item.Tax.Rate, item.UnitPrice = kernel.TaxRate6, kernel.Fen(99999)
	_ = catalogChannel(t, true, item)
	if o.Items[0].Tax.Rate != kernel.TaxRate3 || o.Items[0].UnitPrice != kernel.Fen(10300) {
		t.Fatalf("placed line changed: %+v", o.Items[0])
	}
	net, tax, err := o.Items[0].Split()
	if err != nil || net != kernel.Fen(20000) || tax != kernel.Fen(600) {
		t.Fatalf("split %v + %v, %v; want 200.00 + 6.00", net, tax, err)
	}
}

// An unpaid order is checked with WeChat Pay when its age has doubled (at least minGap later), at
// its expiry at the latest, and every minGap once expired: 2, 4, 8, 16 and 30 minutes.
func TestNextCheck(t *testing.T) {
	o := placed(t)
	gap := 2 * time.Minute
	for _, c := range []struct{ at, want time.Duration }{
		{0, 2 * time.Minute}, // the gap when it is new
		{30 * time.Second, 2*time.Minute + 30*time.Second},
		{2 * time.Minute, 4 * time.Minute}, // age doubled
		{4 * time.Minute, 8 * time.Minute},
		{8 * time.Minute, 16 * time.Minute},
		{16 * time.Minute, order.TTL}, // capped at the expiry
		{order.TTL, order.TTL + gap},  // expired, its close still to do
		{order.TTL + time.Hour, order.TTL + time.Hour + gap},
	} {
		if got := o.NextCheck(t0.Add(c.at), gap); !got.Equal(t0.Add(c.want)) {
			t.Errorf("checked at +%s: next at +%s, want +%s", c.at, got.Sub(t0), c.want)
		}
	}
	// The schedule from the reconciler's first check to the close: five queries for 30 minutes.
	n, at := 0, t0.Add(2*time.Minute)
	for ; at.Before(o.ExpiresAt); at = o.NextCheck(at, gap) {
		n++
	}
	if n != 4 || !at.Equal(o.ExpiresAt) {
		t.Fatalf("%d checks before the expiry, then at +%s", n, at.Sub(t0))
	}
}
