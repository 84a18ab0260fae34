package contract

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/system"
	"github.com/shuxinqian/server/adapters/wechatpay"
	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/testdb"
)

// BenchmarkPaymentNotification measures the notification path as the callback runs it: signature
// verification, AEAD_AES_256_GCM decryption, the checks, and the state change under the order's
// row lock with its outbox event. Orders, prepay and the simulator's signing are outside the timer.
func BenchmarkPaymentNotification(b *testing.B) {
	for _, be := range testdb.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			db := be.Open(b)
			store := testdb.Store(b, db)
			ctx := context.Background()
			keys, err := wechatpay.GenerateSandboxKeys()
			if err != nil {
				b.Fatal(err)
			}
			sim, err := wechatpay.NewSimulator(keys.SimConfig("1900000109", "wxd678efh567hg6787", "", nil, nil))
			if err != nil {
				b.Fatal(err)
			}
			gc := keys.GatewayConfig("1900000109", "wxd678efh567hg6787", "")
			gc.Transport = sim.Transport()
			gw, err := wechatpay.New(gc)
			if err != nil {
				b.Fatal(err)
			}
			app := application.New(application.Deps{UoW: store, Clock: system.Clock{}, IDs: system.NewIDs(), Payments: gw,
				Settings: application.Settings{PublicBaseURL: "http://127.0.0.1:1"}})
			seedPending(b, store, 0)
			i := 0
			for b.Loop() {
				b.StopTimer()
				i++
				o := placeTestOrder(b, store, fmt.Sprintf("01bench%06d", i), time.Now())
				if _, err := gw.Prepay(ctx, ports.PrepayRequest{TradeType: ports.TradeApp, OutTradeNo: o.OutTradeNo, Description: "bench",
					Amount: o.Total, TimeExpire: o.ExpiresAt, NotifyURL: "http://127.0.0.1:1/cb"}); err != nil {
					b.Fatal(err)
				}
				if err := sim.MarkPaid(o.OutTradeNo); err != nil {
					b.Fatal(err)
				}
				h, body, err := sim.Notification(o.OutTradeNo, nil)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				out, err := app.HandlePaymentNotification(ctx, ports.PaymentNotification{Headers: h, Body: body})
				if err != nil || out != application.OutcomePaid {
					b.Fatalf("%s %v", out, err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "notifications/s")
		})
	}
}
