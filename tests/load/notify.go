package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/adapters/system"
	"github.com/shuxinqian/server/adapters/wechatpay"
	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/channel"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/order"
	"github.com/shuxinqian/server/ports"
)

// notifier measures the payment notification path in process, as the callback handler runs it:
// the gateway's verification and decryption (wechatpay-go), the checks, and the order's state
// change with its outbox event, on the server's own database. Preparing the orders, the prepay
// and the simulator's signing are outside the timer. The floor program does the same work
// (RSA-2048 verify + AES-256-GCM decrypt + UPDATE + event INSERT per transaction) in process too,
// so the two throughputs compare like with like; HTTP is measured by the other rows.
type notifier struct {
	store *sqlstore.Store
	app   *application.App
	gw    *wechatpay.Gateway
	sim   *wechatpay.Simulator
	ds    *dataset
	ch    *channel.Channel
	ids   ports.IDs
}

func newNotifier(ctx context.Context, store *sqlstore.Store, ds *dataset, channelCode string) (*notifier, error) {
	keys, err := wechatpay.GenerateSandboxKeys()
	if err != nil {
		return nil, err
	}
	sim, err := wechatpay.NewSimulator(keys.SimConfig("1900000109", "wxd678efh567hg6787", "", nil, nil))
	if err != nil {
		return nil, err
	}
	gc := keys.GatewayConfig("1900000109", "wxd678efh567hg6787", "")
	gc.Transport = sim.Transport()
	gw, err := wechatpay.New(gc)
	if err != nil {
		return nil, err
	}
	var ch *channel.Channel
	if err := store.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		ch, err = tx.Channels().GetByCode(ctx, channelCode)
		return err
	}); err != nil {
		return nil, err
	}
	app := application.New(application.Deps{UoW: store, Clock: system.Clock{}, IDs: system.NewIDs(), Payments: gw,
		Settings: application.Settings{PublicBaseURL: "http://127.0.0.1:1"}})
	return &notifier{store: store, app: app, gw: gw, sim: sim, ds: ds, ch: ch, ids: system.NewIDs()}, nil
}

type signedNotification struct {
	headers map[string]string
	body    []byte
}

// prepare places n pending orders (bulk), opens each at the simulator, marks it paid there and
// builds its signed, encrypted notification.
func (nt *notifier) prepare(ctx context.Context, n int) ([]signedNotification, error) {
	now := time.Now()
	os := make([]*order.Order, n)
	for i := range os {
		o, err := order.Place(kernel.OrderID(nt.ids.NewID()), kernel.EnterpriseID(nt.ds.EnterpriseID), nt.ds.AdminID, nt.ch,
			[]order.Line{{SKU: nt.ch.Snapshot().Catalog[0].SKU, Quantity: 1}}, now)
		if err != nil {
			return nil, err
		}
		os[i] = o
	}
	if err := nt.store.Seed(ctx, sqlstore.BulkSeed{Orders: os}); err != nil {
		return nil, err
	}
	out := make([]signedNotification, n)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 2 {
				o := os[i]
				if _, err := nt.gw.Prepay(ctx, ports.PrepayRequest{TradeType: ports.TradeApp, OutTradeNo: o.OutTradeNo, Description: "load",
					Amount: o.Total, TimeExpire: o.ExpiresAt, NotifyURL: "http://127.0.0.1:1/cb"}); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				if err := nt.sim.MarkPaid(o.OutTradeNo); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				h, body, err := nt.sim.Notification(o.OutTradeNo, nil)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				out[i] = signedNotification{h, body}
			}
		}(w)
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return nil, err
	}
	return out, nil
}

// run handles the notifications with c workers and returns notifications per second.
func (nt *notifier) run(ctx context.Context, ns []signedNotification, c int) (float64, error) {
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(ns) {
					return
				}
				out, err := nt.app.HandlePaymentNotification(ctx, ports.PaymentNotification{Headers: ns[i].headers, Body: ns[i].body})
				if err != nil || out != application.OutcomePaid {
					failed.CompareAndSwap(nil, fmt.Sprintf("notification %d: %s %v", i, out, err))
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(t0).Seconds()
	if f := failed.Load(); f != nil {
		return 0, fmt.Errorf("%v", f)
	}
	return float64(len(ns)) / el, nil
}
