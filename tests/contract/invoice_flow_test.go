package contract

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/document"
	"github.com/shuxinqian/server/adapters/filestore"
	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/adapters/system"
	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/invoice"
	"github.com/shuxinqian/server/domain/order"
	"github.com/shuxinqian/server/ports"
)

// crashingStore fails the first Put: the process "crashes" after the issuer issued and before
// the invoice was saved.
type crashingStore struct {
	ports.FileStore
	crashed bool
}

func (s *crashingStore) Put(ctx context.Context, key string, data []byte) error {
	if !s.crashed {
		s.crashed = true
		return errors.New("crash before saving")
	}
	return s.FileStore.Put(ctx, key, data)
}

// A consumer crash between issuing and saving does not issue twice: the retry (the consumer's
// redelivery) gets the same invoice from the issuer, by the invoice id as idempotency key.
func TestInvoiceIssuingSurvivesACrashBetweenIssueAndSave(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		seedPending(t, uow, 0)
		o := placeTestOrder(t, uow, "01inv", time.Now())
		if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			return tx.Orders().Update(ctx, o.ID, func(o *order.Order) error {
				_, err := o.MarkPaid("4200inv", o.Total, time.Now(), time.Now())
				return err
			})
		}); err != nil {
			t.Fatal(err)
		}
		issuer, err := document.NewInvoiceIssuer(t.TempDir(), document.Seller{Name: "福州数信科技有限公司", TaxID: "91350100M000100Y43"}, system.Clock{})
		if err != nil {
			t.Fatal(err)
		}
		local, err := filestore.NewLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		store := &crashingStore{FileStore: local}
		app := application.New(application.Deps{UoW: uow, Clock: system.Clock{}, IDs: system.NewIDs(), Files: store, Invoicer: issuer})
		inv, err := app.RequestInvoice(ctx, application.Actor{UserID: "u-admin"}, string(o.ID),
			invoice.Request{TitleType: invoice.TitleEnterprise, Title: "基准企业", TaxID: "91350100M000100Y43"})
		if err != nil {
			t.Fatal(err)
		}
		ev := &invoice.Requested{InvoiceID: inv.ID, OrderID: o.ID}
		if err := app.IssueInvoice(ctx, ev); err == nil {
			t.Fatal("the crash did not fail the first delivery")
		}
		if err := app.IssueInvoice(ctx, ev); err != nil { // the redelivery
			t.Fatal(err)
		}
		if err := app.IssueInvoice(ctx, ev); err != nil { // a duplicate delivery changes nothing
			t.Fatal(err)
		}
		got, err := app.Invoice(ctx, application.Actor{UserID: "u-admin"}, string(inv.ID))
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != invoice.StatusIssued || len(got.Number) != 20 || got.Attempts != 2 {
			t.Fatalf("invoice %+v", got)
		}
		if issuer.Issued() != 1 {
			t.Fatalf("the issuer issued %d invoices for one request", issuer.Issued())
		}
	})
}
