package bank

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

var testNow = time.Date(2025, 3, 4, 10, 30, 0, 0, time.FixedZone("CST", 8*3600))

func req(ref, acct string, fen int64) ports.RemitRequest {
	return ports.RemitRequest{
		Reference: ref, AccountNumber: acct, AccountName: "东莞市建设工程招标代理有限公司",
		BankName: "中国工商银行", Province: "广东省", Branch: "东莞分行营业部", Amount: kernel.Fen(fen),
	}
}

func TestRemit(t *testing.T) {
	s := NewSandbox(fixedClock{testNow})
	ctx := context.Background()
	res, err := s.Remit(ctx, req("v1-1", "6222 0200 1234 5678", 37))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Remitted || res.Reason != "" || res.BankRef == "" || !res.At.Equal(testNow) || res.At.Location() != time.UTC {
		t.Fatalf("result %+v", res)
	}
	ts := s.Transfers("v1-1")
	want := Transfer{
		Reference: "v1-1", AccountMasked: "****5678", BankName: "中国工商银行", Province: "广东省",
		Branch: "东莞分行营业部", Amount: 37, Remitted: true, BankRef: res.BankRef, At: res.At,
	}
	if len(ts) != 1 || ts[0] != want {
		t.Fatalf("transfers %+v", ts)
	}

	cases := []struct {
		acct, reason, masked string
	}{
		{"6222020012340000", ReasonAccountNotFound, "****0000"},
		{"1234567", ReasonInvalidAccount, "****4567"},
		{"1234", ReasonInvalidAccount, "****"},
		{"123456789012345678901234567890123", ReasonInvalidAccount, "****0123"},
		{"6222-0200-1234-5678", ReasonInvalidAccount, "****5678"},
		{"６２２２０２００１２３４５６７８", ReasonInvalidAccount, "****５６７８"},
		{"", ReasonInvalidAccount, ""},
	}
	for i, tc := range cases {
		ref := fmt.Sprintf("bad-%d", i)
		res, err := s.Remit(ctx, req(ref, tc.acct, 1))
		if err != nil || res.Remitted || res.Reason != tc.reason {
			t.Fatalf("%q: %+v, %v", tc.acct, res, err)
		}
		ts := s.Transfers(ref)
		if len(ts) != 1 || ts[0].Remitted || ts[0].Reason != tc.reason || ts[0].AccountMasked != tc.masked {
			t.Fatalf("%q: transfers %+v", tc.acct, ts)
		}
	}
	for _, acct := range []string{"12345678", "\t6222 0200 1234 5679 ", strings.Repeat("9", 32)} {
		if res, err := s.Remit(ctx, req("ok-"+acct, acct, 99)); err != nil || !res.Remitted {
			t.Fatalf("%q: %+v, %v", acct, res, err)
		}
	}
	if all := s.All(); len(all) != 1+len(cases)+3 || all[len(all)-1].Reference != "v1-1" {
		t.Fatalf("All: %d transfers, oldest %+v", len(all), all[len(all)-1])
	}
	for _, tr := range s.All() {
		if strings.Contains(fmt.Sprintf("%+v", tr), "62220200") {
			t.Fatalf("transfer keeps the account number: %+v", tr)
		}
	}
}

func TestRemitInvalidRequests(t *testing.T) {
	s := NewSandbox(fixedClock{testNow})
	ctx := context.Background()
	bad := []struct {
		r    ports.RemitRequest
		code string
	}{
		{req("a", "62220200123456789", 0), CodeAmountInvalid},
		{req("a", "62220200123456789", 100), CodeAmountInvalid},
		{req("a", "62220200123456789", -5), CodeAmountInvalid},
		{req(" ", "62220200123456789", 5), CodeReferenceInvalid},
		{func() ports.RemitRequest { r := req("a", "62220200123456789", 5); r.BankName = " "; return r }(), CodeBankNameInvalid},
	}
	for _, tc := range bad {
		_, err := s.Remit(ctx, tc.r)
		if kernel.KindOf(err) != kernel.KindInvalid || kernel.CodeOf(err) != tc.code {
			t.Fatalf("%+v: %v, want %s", tc.r, err, tc.code)
		}
	}
	if n := len(s.All()); n != 0 {
		t.Fatalf("%d transfers recorded for invalid requests", n)
	}
	// An invalid attempt does not burn the reference.
	if res, err := s.Remit(ctx, req("a", "62220200123456789", 5)); err != nil || !res.Remitted {
		t.Fatalf("%+v, %v", res, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Remit(cctx, req("b", "62220200123456789", 5)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestRemitIdempotent(t *testing.T) {
	s := NewSandbox(fixedClock{testNow})
	ctx := context.Background()
	first, err := s.Remit(ctx, req("ref", "62220200123456789", 12))
	if err != nil {
		t.Fatal(err)
	}
	// A retry, even with another amount or account, answers the first result.
	for _, r := range []ports.RemitRequest{req("ref", "62220200123456789", 12), req(" ref ", "62220200123450000", 50)} {
		again, err := s.Remit(ctx, r)
		if err != nil || again != first {
			t.Fatalf("retry: %+v, %v; first %+v", again, err, first)
		}
	}
	if ts := s.Transfers("ref"); len(ts) != 1 || ts[0].Amount != 12 {
		t.Fatalf("transfers %+v", ts)
	}

	var wg sync.WaitGroup
	results := make([]ports.RemitResult, 50)
	for i := range results {
		wg.Go(func() {
			res, err := s.Remit(ctx, req("conc", "62220200123456789", 42))
			if err != nil {
				t.Error(err)
			}
			results[i] = res
		})
	}
	wg.Wait()
	for _, r := range results {
		if r != results[0] || !r.Remitted {
			t.Fatalf("results differ: %+v vs %+v", r, results[0])
		}
	}
	if n := len(s.Transfers("conc")); n != 1 {
		t.Fatalf("%d transfers for one reference", n)
	}
}

func TestCapacity(t *testing.T) {
	s := newSandbox(fixedClock{testNow}, 3)
	ctx := context.Background()
	for i := range 5 {
		if _, err := s.Remit(ctx, req(fmt.Sprint(i), "62220200123456789", int64(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	all := s.All()
	if len(all) != 3 || all[0].Reference != "4" || all[2].Reference != "2" {
		t.Fatalf("All %+v", all)
	}
	if len(s.byRef) != 3 || len(s.Transfers("0")) != 0 {
		t.Fatalf("references not evicted: %v", s.byRef)
	}
	// A reference still remembered is not remitted again.
	if _, err := s.Remit(ctx, req("3", "62220200123456789", 9)); err != nil || len(s.All()) != 3 || s.All()[0].Reference != "4" {
		t.Fatalf("%v %+v", err, s.All())
	}
	if NewSandbox(fixedClock{testNow}).ring == nil || len(NewSandbox(fixedClock{testNow}).ring) != DefaultCapacity {
		t.Fatal("default capacity")
	}
}
