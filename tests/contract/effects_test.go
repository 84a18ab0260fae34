package contract

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/sms"
	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/adapters/system"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/testdb"
)

func TestEffectLog(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		claim := func(key string, now time.Time) ports.EffectClaim {
			t.Helper()
			var c ports.EffectClaim
			if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
				var err error
				c, err = tx.Effects().Claim(ctx, key, now, time.Minute)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return c
		}
		do := func(fn func(ctx context.Context, tx ports.Tx) error) {
			t.Helper()
			if err := uow.Do(ctx, fn); err != nil {
				t.Fatal(err)
			}
		}
		if c := claim("sms/m1", t0); c != ports.EffectNew {
			t.Fatalf("first claim %v", c)
		}
		if c := claim("sms/m1", t0.Add(30*time.Second)); c != ports.EffectBusy {
			t.Fatalf("claim held by a live run: %v", c)
		}
		if c := claim("sms/m1", t0.Add(2*time.Minute)); c != ports.EffectRetry {
			t.Fatalf("stale claim: %v", c)
		}
		do(func(ctx context.Context, tx ports.Tx) error {
			return tx.Effects().Done(ctx, "sms/m1", t0.Add(2*time.Minute))
		})
		if c := claim("sms/m1", t0.Add(time.Hour)); c != ports.EffectDone {
			t.Fatalf("done effect: %v", c)
		}
		do(func(ctx context.Context, tx ports.Tx) error { return tx.Effects().Release(ctx, "sms/m1") }) // a done effect stays done
		if c := claim("sms/m1", t0.Add(time.Hour)); c != ports.EffectDone {
			t.Fatalf("released done effect: %v", c)
		}
		claim("sms/m2", t0)
		do(func(ctx context.Context, tx ports.Tx) error { return tx.Effects().Release(ctx, "sms/m2") })
		if c := claim("sms/m2", t0.Add(time.Second)); c != ports.EffectNew {
			t.Fatalf("released claim: %v", c)
		}
	})
}

func TestSandboxSMSBox(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ ports.UnitOfWork) {
		ctx := context.Background()
		box := testdb.Store(t, db).SandboxSMS()
		snd := sms.NewDurableSandbox(system.Clock{}, box)
		for _, m := range []ports.SMS{
			{Phone: "13800138000", Template: "welcome", Text: "欢迎", IdempotencyKey: "k1"},
			{Phone: "13800138000", Template: "welcome", Text: "欢迎", IdempotencyKey: "k1"}, // a retried send
			{Phone: "13800138000", Template: "code", Text: "验证码为123456"},
			{Phone: "13900139000", Template: "code", Text: "验证码为654321"},
		} {
			if err := snd.Send(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		// Another process (a second sender on the same box) sees them, newest first.
		got := sms.NewDurableSandbox(system.Clock{}, box).List("13800138000")
		if len(got) != 2 || got[0].Text != "验证码为123456" || got[1].Template != "welcome" || got[0].Phone != "13800138000" {
			t.Fatalf("box %+v", got)
		}
		if all := snd.List(""); len(all) != 3 {
			t.Fatalf("all: %d", len(all))
		}
		var raw []byte
		if err := db.NewSelect().Table("sandbox_sms").Column("text_enc").Limit(1).Scan(ctx, &raw); err != nil ||
			strings.Contains(string(raw), "验证码") {
			t.Fatalf("the text is not encrypted at rest: %v", err)
		}
	})
}
