package application

import (
	"context"
	"errors"
	"time"

	"github.com/shuxinqian/server/domain/channel"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/order"
	"github.com/shuxinqian/server/ports"
)

// Order management limits.
const (
	OrderListLimit = 100
	// ReconcileAfter: unpaid orders older than this get an active query to WeChat Pay (an order
	// is placed due then: order.FirstCheck).
	ReconcileAfter = order.FirstCheckAfter
	// ReconcileBatch is the page the reconciler claims at a time.
	ReconcileBatch = 100
	// ReconcileRecheck: an order still unpaid after a check is due again once its age has doubled,
	// and never sooner than this after it was claimed (order.NextCheck); it also bounds one pass,
	// so a pass ends even while new orders keep coming.
	ReconcileRecheck = 2 * time.Minute
)

// Catalog is the catalog of the caller's current channel, in an enterprise space.
func (a *App) Catalog(ctx context.Context, actor Actor, eid string) (*channel.Channel, error) {
	var c *channel.Channel
	err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		if _, err := memberOf(ctx, tx, actor, eid); err != nil {
			return err
		}
		u, err := tx.Users().Get(ctx, kernel.UserID(actor.UserID))
		if err != nil {
			return err
		}
		c, _, err = currentChannel(ctx, tx, u)
		if err != nil {
			return err
		}
		if c == nil || !c.Active() {
			return kernel.Precondition("channel-required", "switch to a channel to see its packages and services")
		}
		return nil
	})
	return c, err
}

// PlaceOrder is manual §6: items from the current channel's catalog, priced on the server.
func (a *App) PlaceOrder(ctx context.Context, actor Actor, eid string, lines []order.Line) (*order.Order, error) {
	var o *order.Order
	err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		o, err = a.placeOrder(ctx, tx, actor, eid, lines)
		return err
	})
	return o, err
}

// PlaceOrderOnce is PlaceOrder under a client's Idempotency-Key: answer renders the new order
// (status and body), and the same request again replays that answer instead of placing another
// order (see idempotent).
func (a *App) PlaceOrderOnce(ctx context.Context, actor Actor, eid string, lines []order.Line, o Once,
	answer func(*order.Order) (int, []byte, error)) (int, []byte, error) {
	return a.idempotent(ctx, o, func(ctx context.Context, tx ports.Tx) (int, []byte, error) {
		placed, err := a.placeOrder(ctx, tx, actor, eid, lines)
		if err != nil {
			return 0, nil, err
		}
		return answer(placed)
	})
}

func (a *App) placeOrder(ctx context.Context, tx ports.Tx, actor Actor, eid string, lines []order.Line) (*order.Order, error) {
	if _, err := memberOf(ctx, tx, actor, eid); err != nil {
		return nil, err
	}
	u, err := tx.Users().Get(ctx, kernel.UserID(actor.UserID))
	if err != nil {
		return nil, err
	}
	c, _, err := currentChannel(ctx, tx, u)
	if err != nil {
		return nil, err
	}
	o, err := order.Place(kernel.OrderID(a.ids.NewID()), kernel.EnterpriseID(eid), u.ID(), c, lines, a.clock.Now())
	if err != nil {
		return nil, err
	}
	return o, tx.Orders().Add(ctx, o)
}

// visibleOrder loads an order the caller placed, or of an enterprise the caller administers.
func visibleOrder(ctx context.Context, tx ports.Tx, actor Actor, id string) (*order.Order, error) {
	o, err := tx.Orders().Get(ctx, kernel.OrderID(id))
	if err != nil {
		return nil, err
	}
	if o.UserID == kernel.UserID(actor.UserID) {
		if _, err := memberOf(ctx, tx, actor, string(o.EnterpriseID)); err == nil {
			return o, nil
		}
	} else if m, err := memberOf(ctx, tx, actor, string(o.EnterpriseID)); err == nil && m.Role.IsAdmin() {
		return o, nil
	}
	return nil, kernel.NotFound("order-not-found", "no such order")
}

// Order returns one order with its enterprise's view.
func (a *App) Order(ctx context.Context, actor Actor, id string) (*order.Order, error) {
	var o *order.Order
	err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		o, err = visibleOrder(ctx, tx, actor, id)
		return err
	})
	return o, err
}

// Orders is the caller's order management list (newest first, cursor by order id).
func (a *App) Orders(ctx context.Context, actor Actor, eid, status, before string, limit int) ([]*order.Order, error) {
	f := ports.OrderFilter{UserID: kernel.UserID(actor.UserID), EnterpriseID: kernel.EnterpriseID(eid), Before: kernel.OrderID(before), Limit: limit}
	if status != "" {
		st, err := order.ParseStatus(status)
		if err != nil {
			return nil, err
		}
		f.Status = st
	}
	if f.Limit <= 0 || f.Limit > OrderListLimit {
		f.Limit = 20
	}
	var out []*order.Order
	err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		all, err := tx.Orders().List(ctx, f)
		if err != nil {
			return err
		}
		// Only orders of enterprises the caller still belongs to (as GET /orders/{id} answers).
		member := map[kernel.EnterpriseID]bool{}
		for _, o := range all {
			ok, seen := member[o.EnterpriseID]
			if !seen {
				_, merr := memberOf(ctx, tx, actor, string(o.EnterpriseID))
				ok = merr == nil
				member[o.EnterpriseID] = ok
			}
			if ok {
				out = append(out, o)
			}
		}
		return nil
	})
	return out, err
}

// CancelOrder closes the caller's unpaid order, at WeChat Pay too.
func (a *App) CancelOrder(ctx context.Context, actor Actor, id string) (*order.Order, error) {
	o, err := a.Order(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	if o.Status != order.StatusPendingPayment {
		return nil, kernel.Conflict("order-not-cancellable", "only an unpaid order can be cancelled")
	}
	return a.closeOrder(ctx, o, "cancelled")
}

// closeOrder closes an unpaid order at WeChat Pay, then here; when WeChat says it is paid, the
// payment is applied as a notification would be.
func (a *App) closeOrder(ctx context.Context, o *order.Order, reason string) (*order.Order, error) {
	err := a.payments.Close(ctx, o.OutTradeNo)
	switch {
	case kernel.CodeOf(err) == "payment-already-paid":
		tx, qerr := a.payments.Query(ctx, o.OutTradeNo)
		if qerr != nil {
			return nil, providerError(qerr, "payment-unavailable", "WeChat Pay is unavailable; try again later")
		}
		out, aerr := a.applyPayment(ctx, tx)
		if aerr != nil {
			return nil, aerr
		}
		if out != OutcomePaid && out != OutcomeDuplicate {
			// An anomaly (or a state other than SUCCESS): the order is not paid here.
			return nil, kernel.Conflict("order-payment-anomaly", "WeChat Pay reports a payment this order could not take; support will follow up")
		}
		return nil, kernel.Conflict("order-already-paid", "the order was paid meanwhile")
	case err != nil && kernel.CodeOf(err) != "payment-not-found" && kernel.CodeOf(err) != "payment-closed":
		return nil, providerError(err, "payment-unavailable", "WeChat Pay is unavailable; try again later")
	}
	now := a.clock.Now()
	var out *order.Order
	err = a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		return tx.Orders().Update(ctx, o.ID, func(cur *order.Order) error {
			out = cur
			return cur.Close(reason, now)
		})
	})
	return out, err
}

// PayWithWeChat opens (or reopens, with the same out_trade_no) the WeChat Pay transaction and
// returns the parameters the client hands to WeChat.
func (a *App) PayWithWeChat(ctx context.Context, actor Actor, id string, tradeType ports.TradeType, openID string) (ports.PrepayResult, error) {
	if tradeType != ports.TradeJSAPI && tradeType != ports.TradeApp && tradeType != ports.TradeNative {
		return ports.PrepayResult{}, kernel.Invalid("trade-type-invalid", "trade_type is jsapi (mini-program), app or native (a QR code)")
	}
	if tradeType == ports.TradeJSAPI && (openID == "" || len(openID) > 128) {
		return ports.PrepayResult{}, kernel.Invalid("openid-required", "jsapi payment needs the payer's openid")
	}
	now := a.clock.Now()
	var o *order.Order
	if err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		if _, err := visibleOrder(ctx, tx, actor, id); err != nil {
			return err
		}
		return tx.Orders().Update(ctx, kernel.OrderID(id), func(cur *order.Order) error {
			o = cur
			return cur.PayingWith(string(tradeType), now)
		})
	}); err != nil {
		return ports.PrepayResult{}, err
	}
	desc := "数信签服务"
	if len(o.Items) > 0 {
		desc = "数信签-" + o.Items[0].Name
	}
	res, err := a.payments.Prepay(ctx, ports.PrepayRequest{TradeType: tradeType, OutTradeNo: o.OutTradeNo, Description: desc,
		Amount: o.Total, TimeExpire: o.ExpiresAt, OpenID: openID, NotifyURL: a.settings.PublicBaseURL + "/api/v1/callbacks/wechat-pay"})
	if err != nil {
		return ports.PrepayResult{}, providerError(err, "payment-unavailable", "WeChat Pay is unavailable; try again later")
	}
	return res, nil
}

// PaymentOutcome says what a verified payment did.
type PaymentOutcome string

// Outcomes.
const (
	OutcomePaid      PaymentOutcome = "paid"
	OutcomeDuplicate PaymentOutcome = "duplicate"
	OutcomeAnomaly   PaymentOutcome = "anomaly"
	OutcomeIgnored   PaymentOutcome = "ignored" // not a success (e.g. a closed-trade notice)
)

// HandlePaymentNotification verifies WeChat Pay's notification (signature first), then applies
// it under the order's row lock. Anomalies are recorded and acknowledged, never silently paid.
func (a *App) HandlePaymentNotification(ctx context.Context, n ports.PaymentNotification) (PaymentOutcome, error) {
	tx, err := a.payments.ParseNotification(ctx, n)
	if err != nil {
		return "", err
	}
	return a.applyPayment(ctx, tx)
}

// applyPayment is the one path that marks orders paid: from a verified notification or an
// active query. It checks mchid, appid, out_trade_no, amount and the trade state.
func (a *App) applyPayment(ctx context.Context, t ports.PaymentTransaction) (PaymentOutcome, error) {
	now := a.clock.Now()
	if t.TradeState != ports.TradeSuccess {
		return OutcomeIgnored, nil
	}
	anomaly := func(kind string, o *order.Order) (PaymentOutcome, error) {
		a.log.WarnContext(ctx, "payment anomaly", "kind", kind, "out_trade_no", t.OutTradeNo)
		rec := ports.PaymentAnomaly{ID: a.ids.NewID(), Kind: kind, OutTradeNo: t.OutTradeNo, TransactionID: t.TransactionID,
			Amount: t.Total, NotificationID: t.NotificationID, At: now}
		if o != nil {
			rec.OrderID = o.ID
		}
		return OutcomeAnomaly, a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error { return tx.Anomalies().Record(ctx, rec) })
	}
	if t.MchID != a.payments.MchID() || t.AppID != a.payments.AppID() {
		return anomaly("merchant_mismatch", nil)
	}
	if t.Currency != "" && t.Currency != "CNY" {
		return anomaly("currency_mismatch", nil)
	}
	// The common case, a pending order paid in full, is one conditional statement plus the event
	// (BEGIN, UPDATE … RETURNING, the outbox INSERT, COMMIT); anything else falls through to the
	// order's own MarkPaid under its row lock, which tells a duplicate from an anomaly.
	if p, err := order.NewPayment(t.TransactionID, t.Total, t.SuccessTime, now); err == nil {
		var paid *order.Order
		if err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			var err error
			paid, err = tx.Orders().PayPending(ctx, t.OutTradeNo, p)
			return err
		}); err != nil {
			return "", err
		}
		if paid != nil {
			return OutcomePaid, nil
		}
	}
	var o *order.Order
	if err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		o, err = tx.Orders().GetByOutTradeNo(ctx, t.OutTradeNo)
		return err
	}); err != nil {
		if kernel.KindOf(err) == kernel.KindNotFound {
			return anomaly("unknown_order", nil)
		}
		return "", err
	}
	var outcome PaymentOutcome
	var kind string
	err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		return tx.Orders().Update(ctx, o.ID, func(cur *order.Order) error {
			dup, err := cur.MarkPaid(t.TransactionID, t.Total, t.SuccessTime, now)
			switch {
			case err == nil && dup:
				outcome = OutcomeDuplicate
				return errNoChange
			case err == nil:
				outcome = OutcomePaid
				return nil
			case kernel.CodeOf(err) == "payment-amount-mismatch":
				kind = "amount_mismatch"
			case errors.Is(err, order.ErrPaidAfterClose):
				kind = "paid_after_close"
			case kernel.CodeOf(err) == "order-paid-twice":
				kind = "paid_twice"
			default:
				return err
			}
			return errNoChange
		})
	})
	if err != nil && !errors.Is(err, errNoChange) {
		return "", err
	}
	if kind != "" {
		return anomaly(kind, o)
	}
	return outcome, nil
}

// errNoChange rolls a unit of work back on purpose (nothing to write).
var errNoChange = errors.New("no change")

// GrantOrder is the consumer of OrderPaid: it grants the purchased packages to the enterprise.
// The ledger's key (order, SKU) makes a redelivery grant nothing twice.
func (a *App) GrantOrder(ctx context.Context, ev *order.Paid) error {
	now := a.clock.Now()
	return a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		o, err := tx.Orders().Get(ctx, ev.OrderID)
		if err != nil {
			return err
		}
		gs := make([]ports.Grant, 0, len(o.Items))
		for _, it := range o.Items {
			gs = append(gs, ports.Grant{OrderID: o.ID, EnterpriseID: o.EnterpriseID, SKU: it.SKU,
				Signatures: it.Grants.Signatures * it.Quantity, CertificateYears: it.Grants.CertificateYears * it.Quantity, At: now})
		}
		_, err = tx.Quota().Grant(ctx, gs)
		return err
	})
}

// EnterpriseQuota is what an enterprise bought.
func (a *App) EnterpriseQuota(ctx context.Context, actor Actor, eid string) (ports.Quota, error) {
	var q ports.Quota
	err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		if _, err := memberOf(ctx, tx, actor, eid); err != nil {
			return err
		}
		var err error
		q, err = tx.Quota().Totals(ctx, kernel.EnterpriseID(eid))
		return err
	})
	return q, err
}

// ReconcileReport counts what a reconciler pass did.
type ReconcileReport struct {
	Queried, Paid, Closed, Failed int
}

// Reconcile queries unpaid orders that got no notification, applies payments WeChat reports, and
// closes expired orders (at WeChat first). It claims the due orders a page at a time, most overdue
// first, until a page comes back short (or ReconcileRecheck has passed): any number of pending
// orders is worked through, and instances running it at the same time share the work without
// checking an order twice (ports.OrderRepository.ClaimDue). Each claim is its own short
// transaction; the WeChat Pay calls run outside any.
func (a *App) Reconcile(ctx context.Context) (ReconcileReport, error) {
	var rep ReconcileReport
	start := a.clock.Now()
	for {
		now := a.clock.Now()
		var page []*order.Order
		if err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			var err error
			page, err = tx.Orders().ClaimDue(ctx, now, now.Add(-ReconcileAfter), func(o *order.Order) time.Time {
				return o.NextCheck(now, ReconcileRecheck)
			}, ReconcileBatch)
			return err
		}); err != nil {
			return rep, err
		}
		for _, o := range page {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			a.reconcileOne(ctx, o, now, &rep)
		}
		if len(page) < ReconcileBatch || a.clock.Now().Sub(start) >= ReconcileRecheck {
			return rep, nil
		}
	}
}

func (a *App) reconcileOne(ctx context.Context, o *order.Order, now time.Time, rep *ReconcileReport) {
	rep.Queried++
	t, err := a.payments.Query(ctx, o.OutTradeNo)
	switch {
	case err == nil && t.TradeState == ports.TradeSuccess:
		if out, err := a.applyPayment(ctx, t); err != nil {
			rep.Failed++
		} else if out == OutcomePaid {
			rep.Paid++
		}
		return
	case err != nil && kernel.CodeOf(err) != "payment-not-found":
		rep.Failed++
		return
	}
	if o.Expired(now) {
		if _, err := a.closeOrder(ctx, o, "expired"); err != nil {
			if kernel.CodeOf(err) != "order-already-paid" {
				rep.Failed++
			} else {
				rep.Paid++
			}
			return
		}
		rep.Closed++
	}
}

// Once names a request that a client may send more than once: Scope and Key (the client's
// Idempotency-Key; "" runs the request without one) identify it, RequestHash tells the same request
// from another one sent under the same key.
type Once struct{ Scope, Key, RequestHash string }

// IdempotencyKeyMax is the longest Idempotency-Key accepted.
const IdempotencyKeyMax = 128

// idempotent runs fn once per (scope, key): the same key with the same request replays the first answer;
// with another request it is refused (422). The key's claim, fn's effect and the stored answer
// commit in one transaction, so there is never an effect without its answer (a crash between them
// would let a retry repeat the effect once the claim expired) nor a claim left behind by a failing
// fn. A concurrent request with the same key waits for that transaction on the key's unique index
// (SQLite: for the write lock) and then replays its answer.
func (a *App) idempotent(ctx context.Context, o Once, fn func(ctx context.Context, tx ports.Tx) (int, []byte, error)) (int, []byte, error) {
	if len(o.Key) > IdempotencyKeyMax {
		return 0, nil, kernel.Invalid("idempotency-key-invalid", "the Idempotency-Key is at most 128 characters")
	}
	now := a.clock.Now()
	var status int
	var body []byte
	err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		if o.Key != "" {
			prior, fresh, err := tx.Idempotency().Claim(ctx, o.Scope, o.Key, o.RequestHash, now)
			switch {
			case err != nil:
				return err
			case fresh:
			case prior.RequestHash != o.RequestHash:
				return kernel.Invalid("idempotency-key-reused", "this Idempotency-Key was used for another request")
			case !prior.Done:
				return kernel.Conflict("idempotency-key-in-use", "a request with this Idempotency-Key is in progress")
			default: // the same request again: its first answer
				status, body = prior.Status, prior.Body
				return nil
			}
		}
		var err error
		if status, body, err = fn(ctx, tx); err != nil || o.Key == "" {
			return err
		}
		return tx.Idempotency().Complete(ctx, o.Scope, o.Key, status, body)
	})
	if err != nil {
		return 0, nil, err
	}
	return status, body, nil
}

// PaymentAnomalies lists recorded payment anomalies, newest first (operators and tests).
func (a *App) PaymentAnomalies(ctx context.Context, limit int) ([]ports.PaymentAnomaly, error) {
	var out []ports.PaymentAnomaly
	err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		out, err = tx.Anomalies().List(ctx, limit)
		return err
	})
	return out, err
}
