package contract

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/bank"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/fakes"
)

// bankAdapter is one BankRemitter under the contract. transfers counts the remittances the bank
// made under a reference and reports the masked account of the last one.
type bankAdapter struct {
	name      string
	r         ports.BankRemitter
	transfers func(reference string) (n int, masked string)
}

func bankAdapters(clock ports.Clock) []bankAdapter {
	sb := bank.NewSandbox(clock)
	return []bankAdapter{{name: "sandbox", r: sb, transfers: func(ref string) (int, string) {
		ts := sb.Transfers(ref)
		if len(ts) == 0 {
			return 0, ""
		}
		return len(ts), ts[0].AccountMasked
	}}}
}

func bankReq(ref, acct string, fen int64) ports.RemitRequest {
	return ports.RemitRequest{
		Reference: ref, AccountNumber: acct, AccountName: "深圳市数信招标代理有限公司",
		BankName: "招商银行", Province: "广东省", Branch: "深圳分行", Amount: kernel.Fen(fen),
	}
}

func TestBankRemitterContract(t *testing.T) {
	clock := fakes.NewClock(time.Date(2025, 5, 6, 9, 0, 0, 0, time.UTC))
	for _, a := range bankAdapters(clock) {
		t.Run(a.name, func(t *testing.T) {
			ctx := context.Background()

			res, err := a.r.Remit(ctx, bankReq("bank-ok", "7559 1234 5678 9012", 58))
			if err != nil || !res.Remitted || res.Reason != "" || res.At.IsZero() {
				t.Fatalf("remit: %+v, %v", res, err)
			}
			if n, masked := a.transfers("bank-ok"); n != 1 || masked != "****9012" {
				t.Fatalf("recorded %d transfers, masked %q", n, masked)
			}

			for _, acct := range []string{"12ab5678901", "1234567", strings.Repeat("1", 33)} {
				ref := "bank-bad-" + acct
				res, err := a.r.Remit(ctx, bankReq(ref, acct, 10))
				if err != nil || res.Remitted || res.Reason == "" {
					t.Fatalf("account %q: %+v, %v", acct, res, err)
				}
				if strings.Contains(res.Reason, acct) {
					t.Fatalf("reason %q repeats the account number", res.Reason)
				}
			}

			for _, fen := range []int64{0, -1, 100, 1000} {
				_, err := a.r.Remit(ctx, bankReq("bank-amount", "75591234567890", fen))
				if kernel.KindOf(err) != kernel.KindInvalid || kernel.CodeOf(err) != "remit-amount-invalid" {
					t.Fatalf("amount %d fen: %v", fen, err)
				}
			}
			if n, _ := a.transfers("bank-amount"); n != 0 {
				t.Fatalf("%d transfers for invalid amounts", n)
			}

			first, err := a.r.Remit(ctx, bankReq("bank-twice", "75591234567890", 23))
			if err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Minute)
			again, err := a.r.Remit(ctx, bankReq("bank-twice", "75591234567890", 23))
			if err != nil || again != first {
				t.Fatalf("retry: %+v, %v; first %+v", again, err, first)
			}
			if n, _ := a.transfers("bank-twice"); n != 1 {
				t.Fatalf("%d remittances for one reference", n)
			}

			var wg sync.WaitGroup
			results := make([]ports.RemitResult, 32)
			for i := range results {
				wg.Go(func() {
					r, err := a.r.Remit(ctx, bankReq("bank-concurrent", "75591234567890", 77))
					if err != nil {
						t.Error(err)
					}
					results[i] = r
				})
			}
			wg.Wait()
			for _, r := range results {
				if r != results[0] || !r.Remitted {
					t.Fatalf("concurrent results differ: %+v vs %+v", r, results[0])
				}
			}
			if n, _ := a.transfers("bank-concurrent"); n != 1 {
				t.Fatalf("%d remittances for one reference", n)
			}
		})
	}
}
