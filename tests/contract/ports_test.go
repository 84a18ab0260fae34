package contract

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/crypto"
	"github.com/shuxinqian/server/adapters/sms"
	"github.com/shuxinqian/server/adapters/system"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/fakes"
	"github.com/shuxinqian/server/tests/testdb"
)

// smsAdapter is one SMSSender with a way to read back what reached a phone.
type smsAdapter struct {
	name   string
	sender ports.SMSSender
	sent   func(kernel.Phone) []string
}

func smsAdapters(t *testing.T) []smsAdapter {
	box := sms.NewSandbox(fakes.NewClock(t0))
	return []smsAdapter{{name: "sandbox", sender: box, sent: func(p kernel.Phone) []string {
		var out []string
		for _, m := range box.List(p) {
			out = append(out, m.Text)
		}
		return out
	}}}
}

func TestSMSSenderContract(t *testing.T) {
	for _, a := range smsAdapters(t) {
		t.Run(a.name, func(t *testing.T) {
			ctx := context.Background()
			for _, text := range []string{"one", "two"} {
				if err := a.sender.Send(ctx, ports.SMS{Phone: "13800138000", Template: "x", Text: text}); err != nil {
					t.Fatal(err)
				}
			}
			if got := a.sent("13800138000"); len(got) != 2 || got[0] != "two" {
				t.Fatalf("sent %v, want newest first", got)
			}
			if got := a.sent("13900139000"); len(got) != 0 {
				t.Fatalf("another phone got %v", got)
			}
			for range 2 {
				if err := a.sender.Send(ctx, ports.SMS{Phone: "13700137000", Text: "once", IdempotencyKey: "k1"}); err != nil {
					t.Fatal(err)
				}
			}
			if got := a.sent("13700137000"); len(got) != 1 {
				t.Fatalf("idempotency key ignored: %v", got)
			}
			if err := a.sender.Send(ctx, ports.SMS{Text: "nobody"}); err == nil {
				t.Fatal("sent to no phone")
			}
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if err := a.sender.Send(cctx, ports.SMS{Phone: "13800138000", Text: "late"}); err == nil {
				t.Fatal("sent with a cancelled context")
			}
		})
	}
}

func TestPasswordHasherContract(t *testing.T) {
	for name, h := range map[string]ports.PasswordHasher{"argon2id": crypto.Argon2id{}} {
		t.Run(name, func(t *testing.T) {
			hash, err := h.Hash("Abcdef12")
			if err != nil || strings.Contains(hash, "Abcdef12") {
				t.Fatalf("hash %q err %v", hash, err)
			}
			if ok, err := h.Verify(hash, "Abcdef12"); !ok || err != nil {
				t.Fatal("right password refused")
			}
			if ok, _ := h.Verify(hash, "abcdef12"); ok {
				t.Fatal("wrong password accepted")
			}
			if _, err := h.Verify("garbage", "x"); err == nil {
				t.Fatal("malformed hash accepted")
			}
		})
	}
}

func TestCipherAndSecretsContract(t *testing.T) {
	k := testdb.Keys(t)
	for name, c := range map[string]ports.Cipher{"aes-gcm": k} {
		t.Run(name, func(t *testing.T) {
			ct, err := c.Seal([]byte("110105194912310021"), "users.id_number")
			if err != nil {
				t.Fatal(err)
			}
			ct2, _ := c.Seal([]byte("110105194912310021"), "users.id_number")
			if string(ct) == string(ct2) {
				t.Fatal("sealing is deterministic: equal plaintexts are linkable")
			}
			if pt, err := c.Open(ct, "users.id_number"); err != nil || string(pt) != "110105194912310021" {
				t.Fatalf("open %q %v", pt, err)
			}
			if _, err := c.Open(ct, "users.phone"); err == nil {
				t.Fatal("opened under another aad")
			}
		})
	}
	for name, s := range map[string]ports.Secrets{"hmac": k} {
		t.Run(name, func(t *testing.T) {
			a, again := s.Digest("phone", "1"), s.Digest("phone", "1")
			if a != again || a == s.Digest("phone", "2") || a == s.Digest("ip", "1") {
				t.Fatal("digest not deterministic per (domain, value)")
			}
		})
	}
}

func TestRandomClockIDsContract(t *testing.T) {
	var r ports.Random = crypto.Random{}
	seen := map[string]bool{}
	for range 200 {
		d, err := r.Digits(6)
		if err != nil || len(d) != 6 {
			t.Fatalf("digits %q %v", d, err)
		}
		seen[d] = true
	}
	if len(seen) < 190 {
		t.Fatalf("only %d distinct codes in 200", len(seen))
	}
	var c ports.Clock = system.Clock{}
	if now := c.Now(); now.Location() != time.UTC || time.Since(now) > time.Minute {
		t.Fatalf("clock %v", now)
	}
	var ids ports.IDs = system.NewIDs()
	if a, b := ids.NewID(), ids.NewID(); a == b || a > b {
		t.Fatalf("ids %s %s", a, b)
	}
}
