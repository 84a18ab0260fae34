package contract

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/document"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/fakes"
)

// invAdapter is one InvoiceIssuer under the contract. issued counts the distinct invoices it
// issued; reopen gives an issuer over the same storage (a restart), or nil if it has none.
type invAdapter struct {
	name   string
	issuer ports.InvoiceIssuer
	issued func() int
	reopen func(t *testing.T) ports.InvoiceIssuer
}

var invSeller = document.Seller{Name: "福州数信科技有限公司", TaxID: "91350100M000100Y43", Address: "福建省福州市鼓楼区软件大道89号"}

var invNumber = regexp.MustCompile(`^[0-9]{20}$`)

func invAdapters(t *testing.T, clock ports.Clock) []invAdapter {
	t.Helper()
	dir := t.TempDir()
	sb, err := document.NewInvoiceIssuer(dir, invSeller, clock)
	if err != nil {
		t.Fatal(err)
	}
	return []invAdapter{{
		name: "sandbox", issuer: sb, issued: sb.Issued,
		reopen: func(t *testing.T) ports.InvoiceIssuer {
			t.Helper()
			again, err := document.NewInvoiceIssuer(dir, invSeller, clock)
			if err != nil {
				t.Fatal(err)
			}
			return again
		},
	}}
}

func invReq(key string) ports.IssueRequest {
	return ports.IssueRequest{
		IdempotencyKey: key,
		TitleType:      "enterprise",
		BuyerName:      "深圳市数信招标代理有限公司",
		BuyerTaxID:     "91440300MA5FXXXX1X",
		Email:          "finance@example.com",
		Lines: []ports.InvoiceLine{
			{Name: "电子签名服务 企业版套餐", Quantity: 2, UnitPrice: kernel.Fen(9900), Amount: kernel.Fen(19800)},
		},
		Total:    kernel.Fen(19800),
		OrderRef: "ord-contract-1",
	}
}

func invSame(t *testing.T, what string, got, want ports.IssuedInvoice) {
	t.Helper()
	if got.Number != want.Number || !got.IssuedAt.Equal(want.IssuedAt) || !bytes.Equal(got.PDF, want.PDF) {
		t.Fatalf("%s: got %s at %v (%d bytes), want %s at %v (%d bytes)", what,
			got.Number, got.IssuedAt, len(got.PDF), want.Number, want.IssuedAt, len(want.PDF))
	}
}

func TestInvoiceIssuerContract(t *testing.T) {
	clock := fakes.NewClock(time.Date(2025, 5, 6, 9, 0, 0, 0, time.UTC))
	for _, a := range invAdapters(t, clock) {
		t.Run(a.name, func(t *testing.T) {
			ctx := context.Background()

			first, err := a.issuer.Issue(ctx, invReq("inv-contract-1"))
			if err != nil {
				t.Fatal(err)
			}
			if !invNumber.MatchString(first.Number) {
				t.Fatalf("number %q is not 20 digits", first.Number)
			}
			if first.IssuedAt.IsZero() || !bytes.HasPrefix(first.PDF, []byte("%PDF-")) {
				t.Fatalf("issued at %v, PDF %.8q", first.IssuedAt, first.PDF)
			}
			if n := a.issued(); n != 1 {
				t.Fatalf("issued %d", n)
			}

			// The same key again (later): the first invoice, not a second one.
			clock.Advance(time.Hour)
			again, err := a.issuer.Issue(ctx, invReq("inv-contract-1"))
			if err != nil {
				t.Fatal(err)
			}
			invSame(t, "replay", again, first)

			// Concurrent retries of one new key issue it once.
			var (
				wg   sync.WaitGroup
				mu   sync.Mutex
				got  []ports.IssuedInvoice
				errs []error
			)
			for range 20 {
				wg.Go(func() {
					inv, err := a.issuer.Issue(ctx, invReq("inv-contract-2"))
					mu.Lock()
					defer mu.Unlock()
					got, errs = append(got, inv), append(errs, err)
				})
			}
			wg.Wait()
			for n := range got {
				if errs[n] != nil {
					t.Fatal(errs[n])
				}
				invSame(t, "concurrent", got[n], got[0])
			}
			if got[0].Number == first.Number {
				t.Fatal("two keys, one number")
			}
			if n := a.issued(); n != 2 {
				t.Fatalf("issued %d, want 2", n)
			}

			// A restart keeps the issued invoices.
			if a.reopen != nil {
				after, err := a.reopen(t).Issue(ctx, invReq("inv-contract-1"))
				if err != nil {
					t.Fatal(err)
				}
				invSame(t, "after restart", after, first)
			}

			// Invalid requests are refused, and issue nothing.
			bad := map[string]func(*ports.IssueRequest){
				"key":        func(r *ports.IssueRequest) { r.IdempotencyKey = "Not A Key" },
				"buyer":      func(r *ports.IssueRequest) { r.BuyerName = "" },
				"lines":      func(r *ports.IssueRequest) { r.Lines = nil },
				"total":      func(r *ports.IssueRequest) { r.Total = kernel.Fen(19801) },
				"enterprise": func(r *ports.IssueRequest) { r.BuyerTaxID = "" },
				"title type": func(r *ports.IssueRequest) { r.TitleType = "" },
				"zero quantity": func(r *ports.IssueRequest) {
					r.Lines = []ports.InvoiceLine{{Name: "服务", Quantity: 0, Amount: r.Total}}
				},
			}
			for name, mutate := range bad {
				req := invReq("inv-contract-bad")
				mutate(&req)
				_, err := a.issuer.Issue(ctx, req)
				var e *kernel.Error
				if !errors.As(err, &e) || e.Kind != kernel.KindInvalid || e.Code != "invoice-request-invalid" {
					t.Errorf("%s: err %v", name, err)
				}
			}
			if n := a.issued(); n != 2 {
				t.Fatalf("issued %d after invalid requests", n)
			}
		})
	}
}
