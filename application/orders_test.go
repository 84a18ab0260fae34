package application_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/mock/gomock"

	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/channel"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/membership"
	"github.com/shuxinqian/server/domain/order"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/ports/mocks"
)

const (
	payMchID     = "1900000109"
	payAppID     = "wxd678efh567hg6787"
	payNotifyURL = "https://sxq.test/api/v1/callbacks/wechat-pay"
)

// ofixture adds the order ports to the verification fixture: the payment gateway, the orders,
// the quota ledger, the payment anomalies and the idempotency keys.
type ofixture struct {
	*vfixture
	payments  *mocks.MockPaymentGateway
	orders    *mocks.MockOrderRepository
	quota     *mocks.MockQuotaLedger
	anomalies *mocks.MockPaymentAnomalies
	idem      *mocks.MockIdempotencyKeys
}

func newOrderFixture(t *testing.T) *ofixture {
	t.Helper()
	vf := newVerificationFixture(t)
	f := &ofixture{vfixture: vf, payments: mocks.NewMockPaymentGateway(vf.ctrl), orders: mocks.NewMockOrderRepository(vf.ctrl),
		quota: mocks.NewMockQuotaLedger(vf.ctrl), anomalies: mocks.NewMockPaymentAnomalies(vf.ctrl), idem: mocks.NewMockIdempotencyKeys(vf.ctrl)}
	vf.tx.EXPECT().Orders().Return(f.orders).AnyTimes()
	vf.tx.EXPECT().Quota().Return(f.quota).AnyTimes()
	vf.tx.EXPECT().Anomalies().Return(f.anomalies).AnyTimes()
	vf.tx.EXPECT().Idempotency().Return(f.idem).AnyTimes()
	vf.app = application.New(application.Deps{UoW: vf.uow, Clock: vf.clock, IDs: vf.ids, Random: vf.random,
		Passwords: vf.passwords, Secrets: vf.secrets, SMS: vf.sms, Identity: vf.identity, Liveness: vf.liveness, CA: vf.ca,
		Keys: vf.keys, Files: vf.store, Renderer: vf.renderer, QR: vf.qr, Settings: application.Settings{PublicBaseURL: "https://sxq.test"},
		Registry: vf.registry, Bank: vf.bank, Documents: vf.docs, Signer: vf.signer, KeyGen: vf.keygen,
		Payments: f.payments, Logger: slog.New(slog.DiscardHandler)})
	return f
}

// merchantIs answers the merchant's mchid and appid (only where a payment is checked, so a
// test without it proves nothing was checked).
func merchantIs(f *ofixture) {
	f.payments.EXPECT().MchID().Return(payMchID).AnyTimes()
	f.payments.EXPECT().AppID().Return(payAppID).AnyTimes()
}

// shopChannel is channel q1 with two catalog items.
func shopChannel(t *testing.T, active bool) *channel.Channel {
	t.Helper()
	c, err := channel.New(channel.Snapshot{ID: "c-q1", Code: "q1", Name: "渠道q1", QRToken: "0123456789abcdef", Active: active,
		Method: channel.MethodID2, Catalog: []channel.Item{
			{SKU: "sig-100", Name: "签名包100", Kind: channel.KindPackage, UnitPrice: kernel.Fen(9900), Grants: channel.Grants{Signatures: 100}},
			{SKU: "cert-1y", Name: "证书一年", Kind: channel.KindService, UnitPrice: kernel.Fen(500), Grants: channel.Grants{CertificateYears: 1}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// buyerOn makes u1 a user whose current channel is code, which the repository answers with c
// or err.
func buyerOn(t *testing.T, f *ofixture, code string, c *channel.Channel, err error) {
	t.Helper()
	u, _ := user.Register("u1", phone, f.now.Add(-time.Hour))
	if code != "" {
		u.SwitchChannel(code, f.now.Add(-time.Hour))
		f.channels.EXPECT().GetByCode(gomock.Any(), code).Return(c, err).AnyTimes()
	}
	u.PullEvents()
	f.channels.EXPECT().Platform(gomock.Any()).Return(channel.Platform{ChargingEnabled: true, DefaultMethod: channel.MethodID2}, nil).AnyTimes()
	f.users.EXPECT().Get(gomock.Any(), kernel.UserID("u1")).Return(u, nil).AnyTimes()
}

// pendingOrder is an order of memEnt by owner, placed at placedAt: sig-100 ×2 and cert-1y ×3
// (19800 + 1500 = 21300 fen).
func pendingOrder(t *testing.T, id kernel.OrderID, owner kernel.UserID, placedAt time.Time) *order.Order {
	t.Helper()
	o, err := order.Place(id, memEnt, owner, shopChannel(t, true),
		[]order.Line{{SKU: "sig-100", Quantity: 2}, {SKU: "cert-1y", Quantity: 3}}, placedAt)
	if err != nil {
		t.Fatal(err)
	}
	o.PullEvents()
	return o
}

func paidOrder(t *testing.T, id kernel.OrderID, txID string, placedAt time.Time) *order.Order {
	t.Helper()
	o := pendingOrder(t, id, "u1", placedAt)
	if _, err := o.MarkPaid(txID, o.Total, placedAt.Add(time.Minute), placedAt.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	o.PullEvents()
	return o
}

func closedOrder(t *testing.T, id kernel.OrderID, placedAt time.Time) *order.Order {
	t.Helper()
	o := pendingOrder(t, id, "u1", placedAt)
	if err := o.Close("cancelled", placedAt.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	o.PullEvents()
	return o
}

// orderStore keeps orders as a repository would: each load is a copy, and an Update saves
// (and drains the events into the outbox) only when its function succeeds.
type orderStore struct {
	byID   map[kernel.OrderID]*order.Order
	writes int
	events []kernel.Event
}

var errOrderNotFound = kernel.NotFound("order-not-found", "no such order")

func serveOrders(f *ofixture, os ...*order.Order) *orderStore {
	s := &orderStore{byID: map[kernel.OrderID]*order.Order{}}
	for _, o := range os {
		s.byID[o.ID] = o
	}
	f.orders.EXPECT().Get(gomock.Any(), gomock.Any()).DoAndReturn(s.get).AnyTimes()
	f.orders.EXPECT().GetByOutTradeNo(gomock.Any(), gomock.Any()).DoAndReturn(s.getByOutTradeNo).AnyTimes()
	f.orders.EXPECT().Update(gomock.Any(), gomock.Any(), gomock.Any()).DoAndReturn(s.update).AnyTimes()
	f.orders.EXPECT().PayPending(gomock.Any(), gomock.Any(), gomock.Any()).DoAndReturn(s.payPending).AnyTimes()
	return s
}

// payPending is the conditional UPDATE of the store: only a pending order of that total changes.
func (s *orderStore) payPending(_ context.Context, no string, p order.Payment) (*order.Order, error) {
	for id, o := range s.byID {
		if o.OutTradeNo != no || o.Status != order.StatusPendingPayment || o.Total != p.Amount {
			continue
		}
		c := *o
		c.Status, c.TransactionID, c.PaidAt, c.UpdatedAt = order.StatusPaid, p.TransactionID, p.PaidAt, p.At
		c.Version++
		if err := c.RecordPaid(p); err != nil {
			return nil, err
		}
		s.events = append(s.events, c.PullEvents()...)
		s.byID[id] = &c
		s.writes++
		return &c, nil
	}
	return nil, nil
}

func (s *orderStore) get(_ context.Context, id kernel.OrderID) (*order.Order, error) {
	o, ok := s.byID[id]
	if !ok {
		return nil, errOrderNotFound
	}
	c := *o
	return &c, nil
}

func (s *orderStore) getByOutTradeNo(ctx context.Context, no string) (*order.Order, error) {
	for _, o := range s.byID {
		if o.OutTradeNo == no {
			return s.get(ctx, o.ID)
		}
	}
	return nil, errOrderNotFound
}

func (s *orderStore) update(ctx context.Context, id kernel.OrderID, fn func(*order.Order) error) error {
	o, err := s.get(ctx, id)
	if err != nil {
		return err
	}
	if err := fn(o); err != nil {
		return err
	}
	s.events = append(s.events, o.PullEvents()...)
	s.byID[id] = o
	s.writes++
	return nil
}

// success is WeChat Pay's report that o was paid in full by txID.
func success(o *order.Order, txID string, at time.Time) ports.PaymentTransaction {
	return ports.PaymentTransaction{MchID: payMchID, AppID: payAppID, OutTradeNo: o.OutTradeNo, TransactionID: txID,
		TradeState: ports.TradeSuccess, Total: o.Total, Currency: "CNY", SuccessTime: at, NotificationID: "n1"}
}

func recordedAnomalies(f *ofixture) *[]ports.PaymentAnomaly {
	var got []ports.PaymentAnomaly
	f.anomalies.EXPECT().Record(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, a ports.PaymentAnomaly) error {
		got = append(got, a)
		return nil
	}).AnyTimes()
	return &got
}

var plainMember = func() *membership.Membership { return mem("me", "u1", membership.RoleMember, membership.StatusActive) }

func TestPlaceOrder(t *testing.T) {
	lines := []order.Line{{SKU: "sig-100", Quantity: 2}, {SKU: "cert-1y", Quantity: 1}}
	t.Run("an active member orders from the current channel's catalog", func(t *testing.T) {
		f := newOrderFixture(t)
		actorIs(f.vfixture, plainMember())
		buyerOn(t, f, "q1", shopChannel(t, true), nil)
		var added *order.Order
		f.orders.EXPECT().Add(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, o *order.Order) error {
			added = o
			return nil
		})
		o, err := f.app.PlaceOrder(context.Background(), actor, string(memEnt), lines)
		wantNoErr(t, err)
		if o != added || o.ID != "idb" || o.OutTradeNo != "SXQidb" || o.EnterpriseID != memEnt || o.UserID != "u1" || o.ChannelCode != "q1" {
			t.Fatalf("order %+v", o)
		}
		if o.Total != kernel.Fen(2*9900+500) || o.Status != order.StatusPendingPayment || !o.ExpiresAt.Equal(f.now.Add(order.TTL)) {
			t.Errorf("total %v status %q expires %v", o.Total, o.Status, o.ExpiresAt)
		}
		if f.commits != 1 {
			t.Errorf("commits %d", f.commits)
		}
	})
	for _, tc := range []struct {
		name    string
		member  *membership.Membership
		code    string // the user's current channel
		ch      *channel.Channel
		chErr   error
		lines   []order.Line
		kind    kernel.Kind
		errCode string
	}{
		{"not a member", nil, "q1", nil, nil, lines, kernel.KindNotFound, "enterprise-not-found"},
		{"a pending applicant", mem("me", "u1", membership.RoleMember, membership.StatusPending), "q1", nil, nil, lines, kernel.KindNotFound, "enterprise-not-found"},
		{"no current channel", plainMember(), "", nil, nil, lines, kernel.KindPrecondition, "channel-required"},
		{"the channel is gone", plainMember(), "q1", nil, kernel.NotFound("channel-not-found", "none"), lines, kernel.KindPrecondition, "channel-required"},
		{"the channel is inactive", plainMember(), "q1", shopChannel(t, false), nil, lines, kernel.KindPrecondition, "channel-required"},
		{"a SKU of another channel", plainMember(), "q1", shopChannel(t, true), nil, []order.Line{{SKU: "sig-500", Quantity: 1}}, kernel.KindInvalid, "order-sku-unknown"},
		{"quantity 1000", plainMember(), "q1", shopChannel(t, true), nil, []order.Line{{SKU: "sig-100", Quantity: 1000}}, kernel.KindInvalid, "order-quantity-invalid"},
		{"no lines", plainMember(), "q1", shopChannel(t, true), nil, nil, kernel.KindInvalid, "order-items-invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newOrderFixture(t)
			actorIs(f.vfixture, tc.member)
			buyerOn(t, f, tc.code, tc.ch, tc.chErr)
			// No Add expected: nothing is stored.
			o, err := f.app.PlaceOrder(context.Background(), actor, string(memEnt), tc.lines)
			wantErrCode(t, err, tc.kind, tc.errCode)
			if o != nil || f.commits != 0 {
				t.Errorf("order %+v, commits %d", o, f.commits)
			}
		})
	}
}

func TestPayWithWeChat(t *testing.T) {
	t.Run("opens the transaction with the order's out_trade_no, total and expiry", func(t *testing.T) {
		for _, tc := range []struct {
			tradeType ports.TradeType
			openID    string
		}{{ports.TradeJSAPI, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}, {ports.TradeJSAPI, strings.Repeat("o", 128)}, {ports.TradeApp, ""}} {
			t.Run(string(tc.tradeType), func(t *testing.T) {
				f := newOrderFixture(t)
				actorIs(f.vfixture, plainMember())
				o := pendingOrder(t, "ord1", "u1", f.now.Add(-10*time.Minute))
				s := serveOrders(f, o)
				want := ports.PrepayResult{PrepayID: "wx201410272009395522657a690389285100", ClientParams: map[string]string{"package": "prepay_id=wx2014"}}
				f.payments.EXPECT().Prepay(gomock.Any(), ports.PrepayRequest{TradeType: tc.tradeType, OutTradeNo: "SXQord1", Description: "数信签-签名包100",
					Amount: kernel.Fen(21300), TimeExpire: o.ExpiresAt, OpenID: tc.openID, NotifyURL: payNotifyURL}).Return(want, nil)
				got, err := f.app.PayWithWeChat(context.Background(), actor, "ord1", tc.tradeType, tc.openID)
				wantNoErr(t, err)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("result %+v", got)
				}
				if cur := s.byID["ord1"]; cur.TradeType != string(tc.tradeType) || cur.Status != order.StatusPendingPayment {
					t.Errorf("stored %+v", cur)
				}
			})
		}
	})
	t.Run("input refused before anything is read", func(t *testing.T) {
		for _, tc := range []struct {
			name      string
			tradeType ports.TradeType
			openID    string
			code      string
		}{
			{"h5 (not a trade type we use)", "mweb", "", "trade-type-invalid"},
			{"empty trade type", "", "", "trade-type-invalid"},
			{"upper-case JSAPI", "JSAPI", "ord1", "trade-type-invalid"},
			{"jsapi without openid", ports.TradeJSAPI, "", "openid-required"},
			{"jsapi openid of 129", ports.TradeJSAPI, strings.Repeat("o", 129), "openid-required"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				f := newOrderFixture(t)
				_, err := f.app.PayWithWeChat(context.Background(), actor, "ord1", tc.tradeType, tc.openID)
				wantErrCode(t, err, kernel.KindInvalid, tc.code)
			})
		}
	})
	for _, tc := range []struct {
		name   string
		member *membership.Membership
		order  func(t *testing.T, now time.Time) *order.Order
		kind   kernel.Kind
		code   string
	}{
		{"paid", plainMember(), func(t *testing.T, now time.Time) *order.Order {
			return paidOrder(t, "ord1", "tx1", now.Add(-5*time.Minute))
		},
			kernel.KindConflict, "order-already-paid"},
		{"closed", plainMember(), func(t *testing.T, now time.Time) *order.Order { return closedOrder(t, "ord1", now.Add(-5*time.Minute)) },
			kernel.KindPrecondition, "order-not-payable"},
		{"expired at exactly 30 minutes", plainMember(), func(t *testing.T, now time.Time) *order.Order {
			return pendingOrder(t, "ord1", "u1", now.Add(-order.TTL))
		},
			kernel.KindPrecondition, "order-expired"},
		{"another member's order", plainMember(), func(t *testing.T, now time.Time) *order.Order {
			return pendingOrder(t, "ord1", "u9", now.Add(-time.Minute))
		},
			kernel.KindNotFound, "order-not-found"},
		{"no longer a member", nil, func(t *testing.T, now time.Time) *order.Order {
			return pendingOrder(t, "ord1", "u1", now.Add(-time.Minute))
		},
			kernel.KindNotFound, "order-not-found"},
		{"no such order", plainMember(), func(t *testing.T, now time.Time) *order.Order { return pendingOrder(t, "other", "u1", now) },
			kernel.KindNotFound, "order-not-found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newOrderFixture(t)
			if tc.name != "no such order" { // a missing order is refused before the membership is read
				actorIs(f.vfixture, tc.member)
			}
			s := serveOrders(f, tc.order(t, f.now))
			// No Prepay expected.
			_, err := f.app.PayWithWeChat(context.Background(), actor, "ord1", ports.TradeApp, "")
			wantErrCode(t, err, tc.kind, tc.code)
			if s.writes != 0 || f.commits != 0 {
				t.Errorf("writes %d commits %d", s.writes, f.commits)
			}
		})
	}
	t.Run("WeChat Pay down is unavailable; its own refusals pass through", func(t *testing.T) {
		for _, tc := range []struct {
			err  error
			kind kernel.Kind
			code string
		}{
			{errors.New("connection reset"), kernel.KindUnavailable, "payment-unavailable"},
			{kernel.Invalid("payment-rejected", "INVALID_REQUEST"), kernel.KindInvalid, "payment-rejected"},
		} {
			f := newOrderFixture(t)
			actorIs(f.vfixture, plainMember())
			serveOrders(f, pendingOrder(t, "ord1", "u1", f.now.Add(-time.Minute)))
			f.payments.EXPECT().Prepay(gomock.Any(), gomock.Any()).Return(ports.PrepayResult{}, tc.err)
			_, err := f.app.PayWithWeChat(context.Background(), actor, "ord1", ports.TradeApp, "")
			wantErrCode(t, err, tc.kind, tc.code)
		}
	})
}

func TestHandlePaymentNotificationParseErrorsPassThrough(t *testing.T) {
	for _, perr := range []error{
		kernel.Unauthenticated("notification-signature-invalid", "bad signature"),
		kernel.Invalid("notification-malformed", "bad body"),
		errors.New("io"),
	} {
		f := newOrderFixture(t)
		n := ports.PaymentNotification{Headers: map[string]string{"Wechatpay-Signature": "WECHATPAY/SIGNTEST/x"}, Body: []byte("{}")}
		f.payments.EXPECT().ParseNotification(gomock.Any(), n).Return(ports.PaymentTransaction{}, perr)
		// Nothing else is expected: no merchant check, no order, no anomaly.
		out, err := f.app.HandlePaymentNotification(context.Background(), n)
		if err != perr || out != "" { //nolint:errorlint // untouched: the very same error
			t.Errorf("HandlePaymentNotification = %q, %v; want %v untouched", out, err, perr)
		}
	}
}

func TestHandlePaymentNotification(t *testing.T) {
	n := ports.PaymentNotification{Body: []byte("{}")}
	for _, tc := range []struct {
		name    string
		order   func(t *testing.T, now time.Time) *order.Order
		tx      func(o *order.Order, now time.Time) ports.PaymentTransaction
		want    application.PaymentOutcome
		anomaly string // recorded anomaly kind
		orderID kernel.OrderID
		status  order.Status // the stored order afterwards
		writes  int
	}{
		{"success pays the order", func(t *testing.T, now time.Time) *order.Order {
			return pendingOrder(t, "ord1", "u1", now.Add(-5*time.Minute))
		},
			func(o *order.Order, now time.Time) ports.PaymentTransaction { return success(o, "tx1", now) },
			application.OutcomePaid, "", "", order.StatusPaid, 1},
		{"success after the 30 minutes still pays", func(t *testing.T, now time.Time) *order.Order {
			return pendingOrder(t, "ord1", "u1", now.Add(-time.Hour))
		},
			func(o *order.Order, now time.Time) ports.PaymentTransaction { return success(o, "tx1", now) },
			application.OutcomePaid, "", "", order.StatusPaid, 1},
		{"a closed-trade notice is ignored", func(t *testing.T, now time.Time) *order.Order {
			return pendingOrder(t, "ord1", "u1", now.Add(-5*time.Minute))
		},
			func(o *order.Order, now time.Time) ports.PaymentTransaction {
				tx := success(o, "tx1", now)
				tx.TradeState = ports.TradeClosed
				return tx
			}, application.OutcomeIgnored, "", "", order.StatusPendingPayment, 0},
		{"another mchid", func(t *testing.T, now time.Time) *order.Order {
			return pendingOrder(t, "ord1", "u1", now.Add(-5*time.Minute))
		},
			func(o *order.Order, now time.Time) ports.PaymentTransaction {
				tx := success(o, "tx1", now)
				tx.MchID = "1900000999"
				return tx
			}, application.OutcomeAnomaly, "merchant_mismatch", "", order.StatusPendingPayment, 0},
		{"another appid", func(t *testing.T, now time.Time) *order.Order {
			return pendingOrder(t, "ord1", "u1", now.Add(-5*time.Minute))
		},
			func(o *order.Order, now time.Time) ports.PaymentTransaction {
				tx := success(o, "tx1", now)
				tx.AppID = "wxother"
				return tx
			}, application.OutcomeAnomaly, "merchant_mismatch", "", order.StatusPendingPayment, 0},
		{"unknown out_trade_no", func(t *testing.T, now time.Time) *order.Order {
			return pendingOrder(t, "ord1", "u1", now.Add(-5*time.Minute))
		},
			func(o *order.Order, now time.Time) ports.PaymentTransaction {
				tx := success(o, "tx1", now)
				tx.OutTradeNo = "SXQnope"
				return tx
			}, application.OutcomeAnomaly, "unknown_order", "", order.StatusPendingPayment, 0},
		{"amount differs", func(t *testing.T, now time.Time) *order.Order {
			return pendingOrder(t, "ord1", "u1", now.Add(-5*time.Minute))
		},
			func(o *order.Order, now time.Time) ports.PaymentTransaction {
				tx := success(o, "tx1", now)
				tx.Total = 1
				return tx
			}, application.OutcomeAnomaly, "amount_mismatch", "ord1", order.StatusPendingPayment, 0},
		{"paid after close", func(t *testing.T, now time.Time) *order.Order { return closedOrder(t, "ord1", now.Add(-time.Hour)) },
			func(o *order.Order, now time.Time) ports.PaymentTransaction { return success(o, "tx1", now) },
			application.OutcomeAnomaly, "paid_after_close", "ord1", order.StatusClosed, 0},
		{"the same transaction again", func(t *testing.T, now time.Time) *order.Order {
			return paidOrder(t, "ord1", "tx1", now.Add(-time.Hour))
		},
			func(o *order.Order, now time.Time) ports.PaymentTransaction { return success(o, "tx1", now) },
			application.OutcomeDuplicate, "", "", order.StatusPaid, 0},
		{"another transaction for a paid order", func(t *testing.T, now time.Time) *order.Order {
			return paidOrder(t, "ord1", "tx1", now.Add(-time.Hour))
		},
			func(o *order.Order, now time.Time) ports.PaymentTransaction { return success(o, "tx2", now) },
			application.OutcomeAnomaly, "paid_twice", "ord1", order.StatusPaid, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newOrderFixture(t)
			merchantIs(f)
			o := tc.order(t, f.now)
			s := serveOrders(f, o)
			got := recordedAnomalies(f)
			tx := tc.tx(o, f.now.Add(-time.Minute))
			f.payments.EXPECT().ParseNotification(gomock.Any(), n).Return(tx, nil)
			out, err := f.app.HandlePaymentNotification(context.Background(), n)
			wantNoErr(t, err)
			if out != tc.want {
				t.Errorf("outcome %q, want %q", out, tc.want)
			}
			if cur := s.byID["ord1"]; cur.Status != tc.status || s.writes != tc.writes {
				t.Errorf("stored status %q writes %d", cur.Status, s.writes)
			}
			switch {
			case tc.anomaly == "" && len(*got) != 0:
				t.Errorf("anomalies %+v", *got)
			case tc.anomaly != "":
				if len(*got) != 1 {
					t.Fatalf("anomalies %+v", *got)
				}
				a := (*got)[0]
				wantA := ports.PaymentAnomaly{ID: a.ID, Kind: tc.anomaly, OutTradeNo: tx.OutTradeNo, OrderID: tc.orderID,
					TransactionID: tx.TransactionID, Amount: tx.Total, NotificationID: "n1", At: f.now}
				if a.ID == "" || a != wantA {
					t.Errorf("anomaly %+v, want %+v", a, wantA)
				}
			}
			if tc.want == application.OutcomePaid && tc.anomaly == "" {
				if len(s.events) != 1 {
					t.Fatalf("events %+v", s.events)
				}
				ev, ok := s.events[0].(order.Paid)
				if !ok || ev.TransactionID != "tx1" || ev.Total != 21300 || !ev.At.Equal(f.now.Add(-time.Minute)) {
					t.Errorf("event %+v", s.events[0])
				}
			} else if len(s.events) != 0 {
				t.Errorf("events %+v", s.events)
			}
		})
	}
	t.Run("a failing conditional update is an error, not an anomaly", func(t *testing.T) {
		f := newOrderFixture(t)
		merchantIs(f)
		o := pendingOrder(t, "ord1", "u1", f.now.Add(-5*time.Minute))
		f.payments.EXPECT().ParseNotification(gomock.Any(), n).Return(success(o, "tx1", f.now), nil)
		f.orders.EXPECT().PayPending(gomock.Any(), "SXQord1", gomock.Any()).Return(nil, errDB)
		_, err := f.app.HandlePaymentNotification(context.Background(), n)
		if !errors.Is(err, errDB) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("a failing order read is an error, not an anomaly", func(t *testing.T) {
		f := newOrderFixture(t)
		merchantIs(f)
		o := pendingOrder(t, "ord1", "u1", f.now.Add(-5*time.Minute))
		f.payments.EXPECT().ParseNotification(gomock.Any(), n).Return(success(o, "tx1", f.now), nil)
		f.orders.EXPECT().PayPending(gomock.Any(), "SXQord1", gomock.Any()).Return(nil, nil) // not pending any more
		f.orders.EXPECT().GetByOutTradeNo(gomock.Any(), "SXQord1").Return(nil, errDB)
		_, err := f.app.HandlePaymentNotification(context.Background(), n)
		if !errors.Is(err, errDB) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("a failing anomaly record is an error (WeChat retries)", func(t *testing.T) {
		f := newOrderFixture(t)
		merchantIs(f)
		o := pendingOrder(t, "ord1", "u1", f.now.Add(-5*time.Minute))
		tx := success(o, "tx1", f.now)
		tx.MchID = "other"
		f.payments.EXPECT().ParseNotification(gomock.Any(), n).Return(tx, nil)
		f.anomalies.EXPECT().Record(gomock.Any(), gomock.Any()).Return(errDB)
		_, err := f.app.HandlePaymentNotification(context.Background(), n)
		if !errors.Is(err, errDB) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestGrantOrder(t *testing.T) {
	t.Run("grants each line times its quantity", func(t *testing.T) {
		f := newOrderFixture(t)
		o := paidOrder(t, "ord1", "tx1", f.now.Add(-time.Hour))
		serveOrders(f, o)
		want := []ports.Grant{
			{OrderID: "ord1", EnterpriseID: memEnt, SKU: "sig-100", Signatures: 200, At: f.now},
			{OrderID: "ord1", EnterpriseID: memEnt, SKU: "cert-1y", CertificateYears: 3, At: f.now},
		}
		f.quota.EXPECT().Grant(gomock.Any(), want).Return(2, nil)
		wantNoErr(t, f.app.GrantOrder(context.Background(), &order.Paid{OrderID: "ord1", EnterpriseID: memEnt, TransactionID: "tx1"}))
	})
	t.Run("a redelivery grants nothing new and succeeds", func(t *testing.T) {
		f := newOrderFixture(t)
		serveOrders(f, paidOrder(t, "ord1", "tx1", f.now.Add(-time.Hour)))
		f.quota.EXPECT().Grant(gomock.Any(), gomock.Len(2)).Return(0, nil)
		wantNoErr(t, f.app.GrantOrder(context.Background(), &order.Paid{OrderID: "ord1"}))
	})
	t.Run("errors pass through", func(t *testing.T) {
		f := newOrderFixture(t)
		serveOrders(f)
		wantErrCode(t, f.app.GrantOrder(context.Background(), &order.Paid{OrderID: "ord1"}), kernel.KindNotFound, "order-not-found")
		f2 := newOrderFixture(t)
		serveOrders(f2, paidOrder(t, "ord1", "tx1", f2.now.Add(-time.Hour)))
		f2.quota.EXPECT().Grant(gomock.Any(), gomock.Any()).Return(0, errDB)
		if err := f2.app.GrantOrder(context.Background(), &order.Paid{OrderID: "ord1"}); !errors.Is(err, errDB) {
			t.Fatalf("err %v", err)
		}
	})
}

var (
	errPaymentNotFound = kernel.NotFound("payment-not-found", "ORDER_NOT_EXIST")
	errPaymentPaid     = kernel.Conflict("payment-already-paid", "ORDERPAID")
)

func notPaid(o *order.Order) ports.PaymentTransaction {
	return ports.PaymentTransaction{MchID: payMchID, AppID: payAppID, OutTradeNo: o.OutTradeNo, TradeState: ports.TradeNotPay}
}

func TestCancelOrder(t *testing.T) {
	t.Run("closes at WeChat Pay, then here", func(t *testing.T) {
		for _, closeErr := range []error{nil, errPaymentNotFound} {
			f := newOrderFixture(t)
			actorIs(f.vfixture, plainMember())
			s := serveOrders(f, pendingOrder(t, "ord1", "u1", f.now.Add(-5*time.Minute)))
			f.payments.EXPECT().Close(gomock.Any(), "SXQord1").Return(closeErr)
			o, err := f.app.CancelOrder(context.Background(), actor, "ord1")
			wantNoErr(t, err)
			if o.Status != order.StatusClosed || o.CloseReason != "cancelled" || !o.ClosedAt.Equal(f.now) || s.byID["ord1"].Status != order.StatusClosed {
				t.Errorf("order %+v", o)
			}
			if len(s.events) != 1 {
				t.Fatalf("events %+v", s.events)
			}
			if ev, ok := s.events[0].(order.Closed); !ok || ev.Reason != "cancelled" {
				t.Errorf("event %+v", s.events[0])
			}
		}
	})
	t.Run("paid meanwhile at WeChat Pay: applied, and refused", func(t *testing.T) {
		f := newOrderFixture(t)
		merchantIs(f)
		actorIs(f.vfixture, plainMember())
		o := pendingOrder(t, "ord1", "u1", f.now.Add(-5*time.Minute))
		s := serveOrders(f, o)
		f.payments.EXPECT().Close(gomock.Any(), "SXQord1").Return(errPaymentPaid)
		f.payments.EXPECT().Query(gomock.Any(), "SXQord1").Return(success(o, "tx1", f.now.Add(-time.Minute)), nil)
		_, err := f.app.CancelOrder(context.Background(), actor, "ord1")
		wantErrCode(t, err, kernel.KindConflict, "order-already-paid")
		if cur := s.byID["ord1"]; cur.Status != order.StatusPaid || cur.TransactionID != "tx1" {
			t.Errorf("stored %+v", cur)
		}
	})
	for _, tc := range []struct {
		name  string
		order func(t *testing.T, now time.Time) *order.Order
		setup func(f *ofixture)
		kind  kernel.Kind
		code  string
	}{
		{"paid", func(t *testing.T, now time.Time) *order.Order {
			return paidOrder(t, "ord1", "tx1", now.Add(-time.Hour))
		},
			func(*ofixture) {}, kernel.KindConflict, "order-not-cancellable"},
		{"closed", func(t *testing.T, now time.Time) *order.Order { return closedOrder(t, "ord1", now.Add(-time.Hour)) },
			func(*ofixture) {}, kernel.KindConflict, "order-not-cancellable"},
		{"another member's", func(t *testing.T, now time.Time) *order.Order {
			return pendingOrder(t, "ord1", "u9", now.Add(-time.Minute))
		},
			func(*ofixture) {}, kernel.KindNotFound, "order-not-found"},
		{"WeChat Pay down", func(t *testing.T, now time.Time) *order.Order {
			return pendingOrder(t, "ord1", "u1", now.Add(-time.Minute))
		},
			func(f *ofixture) { f.payments.EXPECT().Close(gomock.Any(), "SXQord1").Return(errors.New("timeout")) },
			kernel.KindUnavailable, "payment-unavailable"},
		{"WeChat Pay says paid, the query fails", func(t *testing.T, now time.Time) *order.Order {
			return pendingOrder(t, "ord1", "u1", now.Add(-time.Minute))
		},
			func(f *ofixture) {
				f.payments.EXPECT().Close(gomock.Any(), "SXQord1").Return(errPaymentPaid)
				f.payments.EXPECT().Query(gomock.Any(), "SXQord1").Return(ports.PaymentTransaction{}, errors.New("timeout"))
			}, kernel.KindUnavailable, "payment-unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newOrderFixture(t)
			actorIs(f.vfixture, plainMember())
			o := tc.order(t, f.now)
			s := serveOrders(f, o)
			tc.setup(f)
			_, err := f.app.CancelOrder(context.Background(), actor, "ord1")
			wantErrCode(t, err, tc.kind, tc.code)
			if s.writes != 0 || s.byID["ord1"].Status != o.Status {
				t.Errorf("writes %d, stored %+v", s.writes, s.byID["ord1"])
			}
		})
	}
}

func TestReconcile(t *testing.T) {
	f := newOrderFixture(t)
	merchantIs(f)
	recordedAnomalies(f)
	payNow := pendingOrder(t, "ord1", "u1", f.now.Add(-5*time.Minute))       // WeChat: SUCCESS
	waiting := pendingOrder(t, "ord2", "u1", f.now.Add(-5*time.Minute))      // NOTPAY, not expired: left alone
	expired := pendingOrder(t, "ord3", "u1", f.now.Add(-order.TTL))          // unknown at WeChat, expired: closed
	expiredNotPay := pendingOrder(t, "ord4", "u1", f.now.Add(-time.Hour))    // NOTPAY, expired: closed
	raced := pendingOrder(t, "ord5", "u1", f.now.Add(-time.Hour))            // paid while closing: paid
	down := pendingOrder(t, "ord6", "u1", f.now.Add(-time.Hour))             // query fails: counted, left alone
	closeFails := pendingOrder(t, "ord7", "u1", f.now.Add(-time.Hour))       // close fails: counted, left alone
	wrongAmount := pendingOrder(t, "ord8", "u1", f.now.Add(-10*time.Minute)) // SUCCESS of another amount: anomaly
	s := serveOrders(f, payNow, waiting, expired, expiredNotPay, raced, down, closeFails, wrongAmount)
	var list []*order.Order
	for _, o := range []*order.Order{payNow, waiting, expired, expiredNotPay, raced, down, closeFails, wrongAmount} {
		c := *o
		list = append(list, &c)
	}
	f.orders.EXPECT().ClaimDue(gomock.Any(), f.now, f.now.Add(-2*time.Minute), gomock.Any(), application.ReconcileBatch).
		DoAndReturn(func(_ context.Context, _, _ time.Time, next func(*order.Order) time.Time, _ int) ([]*order.Order, error) {
			// Each order's next check is its own (order.NextCheck at the pass's time).
			for _, o := range list {
				if got, want := next(o), o.NextCheck(f.now, application.ReconcileRecheck); !got.Equal(want) {
					t.Errorf("%s: next check %s, want %s", o.ID, got, want)
				}
			}
			if got := next(waiting); !got.Equal(f.now.Add(5 * time.Minute)) {
				t.Errorf("an order 5 minutes old is next checked at %s, want when its age has doubled", got)
			}
			return list, nil // a short page: the pass ends after it
		})
	f.payments.EXPECT().Query(gomock.Any(), "SXQord1").Return(success(payNow, "tx1", f.now.Add(-time.Minute)), nil)
	f.payments.EXPECT().Query(gomock.Any(), "SXQord2").Return(notPaid(waiting), nil)
	f.payments.EXPECT().Query(gomock.Any(), "SXQord3").Return(ports.PaymentTransaction{}, errPaymentNotFound)
	f.payments.EXPECT().Close(gomock.Any(), "SXQord3").Return(nil)
	f.payments.EXPECT().Query(gomock.Any(), "SXQord4").Return(notPaid(expiredNotPay), nil)
	f.payments.EXPECT().Close(gomock.Any(), "SXQord4").Return(nil)
	f.payments.EXPECT().Query(gomock.Any(), "SXQord5").Return(notPaid(raced), nil)
	f.payments.EXPECT().Close(gomock.Any(), "SXQord5").Return(errPaymentPaid)
	f.payments.EXPECT().Query(gomock.Any(), "SXQord5").Return(success(raced, "tx5", f.now.Add(-time.Minute)), nil)
	f.payments.EXPECT().Query(gomock.Any(), "SXQord6").Return(ports.PaymentTransaction{}, errors.New("timeout"))
	f.payments.EXPECT().Query(gomock.Any(), "SXQord7").Return(ports.PaymentTransaction{}, errPaymentNotFound)
	f.payments.EXPECT().Close(gomock.Any(), "SXQord7").Return(errors.New("timeout"))
	wrong := success(wrongAmount, "tx8", f.now.Add(-time.Minute))
	wrong.Total = 1
	f.payments.EXPECT().Query(gomock.Any(), "SXQord8").Return(wrong, nil)

	rep, err := f.app.Reconcile(context.Background())
	wantNoErr(t, err)
	if want := (application.ReconcileReport{Queried: 8, Paid: 2, Closed: 2, Failed: 2}); rep != want {
		t.Errorf("report %+v, want %+v", rep, want)
	}
	for id, st := range map[kernel.OrderID]order.Status{"ord1": order.StatusPaid, "ord2": order.StatusPendingPayment, "ord3": order.StatusClosed,
		"ord4": order.StatusClosed, "ord5": order.StatusPaid, "ord6": order.StatusPendingPayment, "ord7": order.StatusPendingPayment,
		"ord8": order.StatusPendingPayment} {
		if got := s.byID[id]; got.Status != st {
			t.Errorf("%s: status %q, want %q", id, got.Status, st)
		}
	}
	if got := s.byID["ord3"].CloseReason; got != "expired" {
		t.Errorf("close reason %q", got)
	}
}

// The reconciler works through any number of due orders a page at a time: it claims pages until
// one comes back short, each claim in its own unit of work.
func TestReconcilePages(t *testing.T) {
	f := newOrderFixture(t)
	page := func(from, n int) []*order.Order {
		var out []*order.Order
		for i := from; i < from+n; i++ {
			out = append(out, pendingOrder(t, kernel.OrderID(fmt.Sprintf("ord%03d", i)), "u1", f.now.Add(-5*time.Minute)))
		}
		return out
	}
	gomock.InOrder(
		f.orders.EXPECT().ClaimDue(gomock.Any(), f.now, f.now.Add(-application.ReconcileAfter), gomock.Any(),
			application.ReconcileBatch).Return(page(0, application.ReconcileBatch), nil),
		f.orders.EXPECT().ClaimDue(gomock.Any(), f.now, f.now.Add(-application.ReconcileAfter), gomock.Any(),
			application.ReconcileBatch).Return(page(application.ReconcileBatch, application.ReconcileBatch), nil),
		f.orders.EXPECT().ClaimDue(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(page(200, 7), nil),
	)
	queried := map[string]int{}
	f.payments.EXPECT().Query(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, no string) (ports.PaymentTransaction, error) {
		queried[no]++
		return ports.PaymentTransaction{OutTradeNo: no, TradeState: "NOTPAY"}, nil
	}).Times(2*application.ReconcileBatch + 7)
	rep, err := f.app.Reconcile(context.Background())
	wantNoErr(t, err)
	if rep.Queried != 2*application.ReconcileBatch+7 || rep.Failed != 0 || len(queried) != 2*application.ReconcileBatch+7 {
		t.Fatalf("report %+v, %d distinct orders queried", rep, len(queried))
	}
}

func TestReconcileStops(t *testing.T) {
	t.Run("a failing read", func(t *testing.T) {
		f := newOrderFixture(t)
		f.orders.EXPECT().ClaimDue(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(nil, errDB)
		if _, err := f.app.Reconcile(context.Background()); !errors.Is(err, errDB) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("a cancelled context", func(t *testing.T) {
		f := newOrderFixture(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		f.orders.EXPECT().ClaimDue(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return([]*order.Order{pendingOrder(t, "ord1", "u1", f.now.Add(-time.Hour))}, nil)
		rep, err := f.app.Reconcile(ctx)
		if !errors.Is(err, context.Canceled) || rep.Queried != 0 {
			t.Fatalf("Reconcile = %+v, %v", rep, err)
		}
	})
}

func TestIdempotent(t *testing.T) {
	const scope, key, hash = "POST /orders", "key-1", "h1"
	once := func(key string) application.Once { return application.Once{Scope: scope, Key: key, RequestHash: hash} }
	run := func(f *ofixture, calls *int, status int, body string, err error) func(context.Context, ports.Tx) (int, []byte, error) {
		return func(_ context.Context, tx ports.Tx) (int, []byte, error) {
			*calls++
			if !f.inTx || tx != f.tx {
				t.Error("the request ran outside the claim's transaction")
			}
			return status, []byte(body), err
		}
	}
	t.Run("without a key the request just runs, in a transaction", func(t *testing.T) {
		f := newOrderFixture(t)
		var calls int
		st, body, err := f.app.Idempotent(context.Background(), once(""), run(f, &calls, 201, "b", nil))
		if err != nil || st != 201 || string(body) != "b" || calls != 1 || f.commits != 1 {
			t.Fatalf("= %d %q %v, calls %d, commits %d", st, body, err, calls, f.commits)
		}
	})
	t.Run("a fresh key runs once and stores the answer in the same commit", func(t *testing.T) {
		f := newOrderFixture(t)
		var calls int
		f.idem.EXPECT().Claim(gomock.Any(), scope, key, hash, f.now).Return(ports.IdempotentResponse{}, true, nil)
		f.idem.EXPECT().Complete(gomock.Any(), scope, key, 201, []byte(`{"id":"ord1"}`)).Return(nil)
		st, body, err := f.app.Idempotent(context.Background(), once(key), run(f, &calls, 201, `{"id":"ord1"}`, nil))
		if err != nil || st != 201 || string(body) != `{"id":"ord1"}` || calls != 1 || f.commits != 1 {
			t.Fatalf("= %d %q %v, calls %d, commits %d", st, body, err, calls, f.commits)
		}
	})
	t.Run("the same request again replays the answer", func(t *testing.T) {
		f := newOrderFixture(t)
		var calls int
		f.idem.EXPECT().Claim(gomock.Any(), scope, key, hash, f.now).Return(
			ports.IdempotentResponse{RequestHash: hash, Status: 201, Body: []byte("first"), Done: true}, false, nil)
		st, body, err := f.app.Idempotent(context.Background(), once(key), run(f, &calls, 500, "second", nil))
		if err != nil || st != 201 || string(body) != "first" || calls != 0 {
			t.Fatalf("= %d %q %v, calls %d", st, body, err, calls)
		}
	})
	for _, tc := range []struct {
		name  string
		prior ports.IdempotentResponse
		kind  kernel.Kind
		code  string
	}{
		{"another request with the key", ports.IdempotentResponse{RequestHash: "h2", Status: 201, Done: true}, kernel.KindInvalid, "idempotency-key-reused"},
		{"another request while the first runs", ports.IdempotentResponse{RequestHash: "h2"}, kernel.KindInvalid, "idempotency-key-reused"},
		{"the same request while an unfinished claim holds the key", ports.IdempotentResponse{RequestHash: hash}, kernel.KindConflict, "idempotency-key-in-use"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newOrderFixture(t)
			var calls int
			f.idem.EXPECT().Claim(gomock.Any(), scope, key, hash, f.now).Return(tc.prior, false, nil)
			_, _, err := f.app.Idempotent(context.Background(), once(key), run(f, &calls, 201, "b", nil))
			wantErrCode(t, err, tc.kind, tc.code)
			if calls != 0 {
				t.Errorf("ran %d times", calls)
			}
		})
	}
	t.Run("a key of 129 characters is refused", func(t *testing.T) {
		f := newOrderFixture(t)
		var calls int
		_, _, err := f.app.Idempotent(context.Background(), once(strings.Repeat("k", 129)), run(f, &calls, 201, "b", nil))
		wantErrCode(t, err, kernel.KindInvalid, "idempotency-key-invalid")
		if calls != 0 {
			t.Errorf("ran %d times", calls)
		}
	})
	t.Run("a key of 128 characters is fine", func(t *testing.T) {
		f := newOrderFixture(t)
		var calls int
		k := strings.Repeat("k", 128)
		f.idem.EXPECT().Claim(gomock.Any(), scope, k, hash, f.now).Return(ports.IdempotentResponse{}, true, nil)
		f.idem.EXPECT().Complete(gomock.Any(), scope, k, 200, []byte("b")).Return(nil)
		_, _, err := f.app.Idempotent(context.Background(), once(k), run(f, &calls, 200, "b", nil))
		wantNoErr(t, err)
	})
	t.Run("a failing request rolls its claim back with it", func(t *testing.T) {
		f := newOrderFixture(t)
		var calls int
		ferr := kernel.Precondition("channel-required", "x")
		f.idem.EXPECT().Claim(gomock.Any(), scope, key, hash, f.now).Return(ports.IdempotentResponse{}, true, nil)
		// No Complete expected, and nothing committed.
		st, body, err := f.app.Idempotent(context.Background(), once(key), run(f, &calls, 201, "b", ferr))
		if !errors.Is(err, ferr) || st != 0 || body != nil || calls != 1 || f.commits != 0 {
			t.Fatalf("= %d %q %v, calls %d, commits %d", st, body, err, calls, f.commits)
		}
	})
	t.Run("a claim or complete failure is an error and nothing commits", func(t *testing.T) {
		f := newOrderFixture(t)
		var calls int
		f.idem.EXPECT().Claim(gomock.Any(), scope, key, hash, f.now).Return(ports.IdempotentResponse{}, false, errDB)
		if _, _, err := f.app.Idempotent(context.Background(), once(key), run(f, &calls, 201, "b", nil)); !errors.Is(err, errDB) || calls != 0 {
			t.Fatalf("claim: %v, calls %d", err, calls)
		}
		f2 := newOrderFixture(t)
		f2.idem.EXPECT().Claim(gomock.Any(), scope, key, hash, f2.now).Return(ports.IdempotentResponse{}, true, nil)
		f2.idem.EXPECT().Complete(gomock.Any(), scope, key, 201, []byte("b")).Return(errDB)
		// The effect rolls back with the answer: a retry with the key places the order once.
		if st, _, err := f2.app.Idempotent(context.Background(), once(key), run(f2, &calls, 201, "b", nil)); !errors.Is(err, errDB) || st != 0 || f2.commits != 0 {
			t.Fatalf("complete: %d %v, commits %d", st, err, f2.commits)
		}
	})
}
