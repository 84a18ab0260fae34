package contract

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/identity"
	"github.com/shuxinqian/server/adapters/wechatpay"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/fakes"
	"github.com/shuxinqian/server/tests/testdb"
)

// The sandbox providers' durable state (ports.SandboxRecords), on SQLite and Postgres, and the
// sandbox liveness and WeChat Pay simulator shared by two "instances" over it.

func TestSandboxRecordsContract(t *testing.T) {
	for _, b := range testdb.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			r := testdb.Store(t, b.Open(t)).SandboxRecords()
			if ok, err := r.Insert(ctx, "k", "a", []byte(`1`), time.Time{}); err != nil || !ok {
				t.Fatalf("insert: %v %v", ok, err)
			}
			if ok, err := r.Insert(ctx, "k", "a", []byte(`2`), time.Time{}); err != nil || ok {
				t.Fatalf("second insert of one key: %v %v, want false", ok, err)
			}
			if ok, err := r.Insert(ctx, "other", "a", []byte(`3`), time.Time{}); err != nil || !ok {
				t.Fatalf("same key, other kind: %v %v", ok, err)
			}
			if v, ok, err := r.Get(ctx, "k", "a"); err != nil || !ok || string(v) != "1" {
				t.Fatalf("get: %q %v %v", v, ok, err)
			}
			if _, ok, err := r.Get(ctx, "k", "missing"); err != nil || ok {
				t.Fatalf("get missing: %v %v", ok, err)
			}
			if ok, err := r.Update(ctx, "k", "missing", func(v []byte) ([]byte, error) { return v, nil }); err != nil || ok {
				t.Fatalf("update missing: %v %v", ok, err)
			}
			refused := errors.New("refused")
			if _, err := r.Update(ctx, "k", "a", func([]byte) ([]byte, error) { return []byte(`9`), refused }); !errors.Is(err, refused) {
				t.Fatalf("update refused: %v", err)
			}
			if v, _, _ := r.Get(ctx, "k", "a"); string(v) != "1" {
				t.Fatalf("a refused update changed the record to %q", v)
			}
			// Concurrent read-modify-writes from "instances" lose nothing.
			const n = 12
			var wg sync.WaitGroup
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := r.Update(ctx, "k", "a", func(v []byte) ([]byte, error) {
						i, err := strconv.Atoi(string(v))
						return []byte(strconv.Itoa(i + 1)), err
					}); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if v, _, _ := r.Get(ctx, "k", "a"); string(v) != strconv.Itoa(1+n) {
				t.Fatalf("after %d concurrent increments: %q", n, v)
			}
		})
	}
}

func TestSandboxLivenessSharedByInstances(t *testing.T) {
	for _, b := range testdb.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			store := testdb.Store(t, b.Open(t))
			clock := fakes.NewClock(time.Now())
			one := identity.NewDurableSandboxLiveness(clock, "http://lb.test", store.SandboxRecords())
			two := identity.NewDurableSandboxLiveness(clock, "http://lb.test", store.SandboxRecords())
			req := ports.LivenessRequest{Name: "韦小宝", IDNumber: "11010519491231002X", Reference: "user:01J"}
			sess, err := one.Start(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if r, err := two.Result(ctx, sess.ID); err != nil || r.Status != ports.LivenessPending {
				t.Fatalf("the other instance reads %+v %v, want pending", r, err)
			}
			if err := two.Play(sess.ID, true); err != nil {
				t.Fatalf("played on the other instance: %v", err)
			}
			r, err := one.Result(ctx, sess.ID)
			if err != nil || r.Status != ports.LivenessPassed || r.Name != req.Name || r.IDNumber != req.IDNumber || r.Reference != req.Reference {
				t.Fatalf("result on the first instance: %+v %v", r, err)
			}
			if err := one.Play(sess.ID, false); kernel.CodeOf(err) != "liveness-session-finished" {
				t.Fatalf("second decision: %v", err)
			}
			if err := two.Play("nope", true); kernel.CodeOf(err) != "liveness-session-not-found" {
				t.Fatalf("unknown session: %v", err)
			}
			late, err := two.Start(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			clock.Advance(identity.SandboxLivenessTTL)
			if err := one.Play(late.ID, true); kernel.CodeOf(err) != "liveness-session-expired" {
				t.Fatalf("expired session: %v", err)
			}
			if r, err := one.Result(ctx, late.ID); err != nil || r.Reason != identity.ReasonSessionExpired {
				t.Fatalf("expired result: %+v %v", r, err)
			}
		})
	}
}

func TestWeChatPaySimulatorSharedByInstances(t *testing.T) {
	dir := t.TempDir()
	keys, err := wechatpay.SharedSandboxKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := wechatpay.SharedSandboxKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !again.PlatformPrivateKey.Equal(keys.PlatformPrivateKey) || !again.MerchantPrivateKey.Equal(keys.MerchantPrivateKey) ||
		again.APIv3Key != keys.APIv3Key || again.PlatformPublicKeyID != keys.PlatformPublicKeyID {
		t.Fatal("a second process got other sandbox keys")
	}
	for _, b := range testdb.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			store := testdb.Store(t, b.Open(t))
			instance := func() (*wechatpay.Gateway, *wechatpay.Simulator) {
				k, err := wechatpay.SharedSandboxKeys(dir)
				if err != nil {
					t.Fatal(err)
				}
				sc := k.SimConfig(payMchID, payAppID, "", nil, nil)
				sc.Records = store.SandboxRecords()
				sim, err := wechatpay.NewSimulator(sc)
				if err != nil {
					t.Fatal(err)
				}
				gc := k.GatewayConfig(payMchID, payAppID, "")
				gc.Transport = sim.Transport()
				gw, err := wechatpay.New(gc)
				if err != nil {
					t.Fatal(err)
				}
				return gw, sim
			}
			gw1, _ := instance()
			gw2, sim2 := instance()
			no := payOutTradeNo()
			first, err := gw1.Prepay(ctx, payReq(ports.TradeApp, no, 1990, "https://lb.test/api/v1/callbacks/wechat-pay"))
			if err != nil {
				t.Fatal(err)
			}
			retry, err := gw2.Prepay(ctx, payReq(ports.TradeApp, no, 1990, "https://lb.test/api/v1/callbacks/wechat-pay"))
			if err != nil || retry.PrepayID != first.PrepayID {
				t.Fatalf("a retried prepay on the other instance: %q %v, want %q", retry.PrepayID, err, first.PrepayID)
			}
			if err := sim2.MarkPaid(no); err != nil {
				t.Fatalf("paid on the other instance: %v", err)
			}
			tx, err := gw1.Query(ctx, no)
			if err != nil || tx.TradeState != ports.TradeSuccess || tx.Total.Fen() != 1990 || tx.TransactionID == "" {
				t.Fatalf("query on the first instance: %+v %v", tx, err)
			}
			if err := sim2.MarkPaid(no); kernel.CodeOf(err) != "payment-not-payable" {
				t.Fatalf("paid twice: %v", err)
			}
			// A notification made by one instance's simulator verifies on the other's gateway.
			h, body, err := sim2.Notification(no, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := gw1.ParseNotification(ctx, ports.PaymentNotification{Headers: h, Body: body})
			if err != nil || got.TransactionID != tx.TransactionID {
				t.Fatalf("notification across instances: %+v %v", got, err)
			}
		})
	}
}
