package contract

import (
	"context"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/domain/invoice"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/order"
	"github.com/shuxinqian/server/ports"
)

// Issue 11 item 4: a failed invoice requested again keeps its id and stores the new request
// (title, tax id, requester) with status requested.
func TestInvoiceRepositoryStoresARerequest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		seedPending(t, uow, 0)
		o := placeTestOrder(t, uow, "01rereq", time.Now())
		do := func(fn func(ctx context.Context, tx ports.Tx) error) {
			t.Helper()
			if err := uow.Do(ctx, fn); err != nil {
				t.Fatal(err)
			}
		}
		do(func(ctx context.Context, tx ports.Tx) error {
			return tx.Orders().Update(ctx, o.ID, func(o *order.Order) error {
				_, err := o.MarkPaid("4200rereq", o.Total, time.Now(), time.Now())
				return err
			})
		})
		now := time.Now()
		first, err := invoice.New("inv-rereq", o.ID, o.EnterpriseID, o.UserID, o.Total, invoice.Request{TitleType: invoice.TitlePersonal, Title: "旧抬头"}, now)
		if err != nil {
			t.Fatal(err)
		}
		do(func(ctx context.Context, tx ports.Tx) error { return tx.Invoices().Add(ctx, first) })
		do(func(ctx context.Context, tx ports.Tx) error {
			return tx.Invoices().Update(ctx, first.ID, func(i *invoice.Invoice) error {
				if err := i.StartIssuing(now); err != nil {
					return err
				}
				i.Failed("refused", now)
				return nil
			})
		})
		fresh, _ := invoice.New("unused", o.ID, o.EnterpriseID, o.UserID, o.Total,
			invoice.Request{TitleType: invoice.TitleEnterprise, Title: "佛山市正诚工程咨询有限公司", TaxID: "91440600MA4WL2D81G"}, now)
		do(func(ctx context.Context, tx ports.Tx) error {
			return tx.Invoices().Update(ctx, first.ID, func(i *invoice.Invoice) error { return i.Rerequest(fresh, now) })
		})
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			got, err := tx.Invoices().Get(ctx, first.ID)
			if err != nil || got.Status != invoice.StatusRequested || got.Title != "佛山市正诚工程咨询有限公司" ||
				got.TaxID != kernel.CreditCode("91440600MA4WL2D81G") || got.TitleType != invoice.TitleEnterprise || got.FailureReason != "" {
				t.Fatalf("re-requested invoice %+v %v", got, err)
			}
			return nil
		})
	})
}
