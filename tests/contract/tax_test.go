package contract

import (
	"context"
	"reflect"
	"testing"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/domain/channel"
	"github.com/shuxinqian/server/domain/invoice"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/order"
	"github.com/shuxinqian/server/ports"
)

// Catalog items, order lines and invoices keep their tax classification and split on every
// backend; rows stored before they carried one read as the default (信息技术服务, 6 %).
func TestTaxClassificationRepositories(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		do := func(f func(ctx context.Context, tx ports.Tx) error) {
			t.Helper()
			if err := uow.Do(ctx, f); err != nil {
				t.Fatal(err)
			}
		}
		three := channel.Tax{Code: "3040203000000000000", Category: "信息技术服务", Rate: kernel.TaxRate3}
		ch, err := channel.New(channel.Snapshot{ID: "c-tax", Code: "q70001", Name: "税率渠道", QRToken: "0123456789abcdef", Active: true,
			Method: channel.MethodID2, Catalog: []channel.Item{
				{SKU: "svc-3", Name: "三厘服务", Kind: channel.KindService, UnitPrice: kernel.Fen(10300), Tax: three, Unit: "次", Spec: "A型"},
				{SKU: "pkg-default", Name: "默认套餐", Kind: channel.KindPackage, UnitPrice: kernel.Fen(5300), Grants: channel.Grants{Signatures: 1}},
			}})
		if err != nil {
			t.Fatal(err)
		}
		do(func(ctx context.Context, tx ports.Tx) error { return tx.Channels().Add(ctx, ch) })
		var got *channel.Channel
		do(func(ctx context.Context, tx ports.Tx) error {
			got, err = tx.Channels().GetByCode(ctx, "q70001")
			return err
		})
		if !reflect.DeepEqual(got.Catalog(), ch.Catalog()) {
			t.Fatalf("catalog round trip %+v, want %+v", got.Catalog(), ch.Catalog())
		}

		seedPending(t, uow, 0) // the enterprise e-bench and the user u-admin
		o, err := order.Place("01tax", "e-bench", "u-admin", ch, []order.Line{{SKU: "svc-3", Quantity: 2}, {SKU: "pkg-default", Quantity: 1}}, t0)
		if err != nil {
			t.Fatal(err)
		}
		do(func(ctx context.Context, tx ports.Tx) error { return tx.Orders().Add(ctx, o) })
		var placed *order.Order
		do(func(ctx context.Context, tx ports.Tx) error { placed, err = tx.Orders().Get(ctx, "01tax"); return err })
		if placed.Items[0].Tax != three || placed.Items[0].Unit != "次" || placed.Items[0].Spec != "A型" ||
			placed.Items[1].Tax != channel.DefaultTax || placed.Items[1].Unit != channel.DefaultUnit {
			t.Fatalf("order lines %+v", placed.Items)
		}

		// An invoice with mixed rates: 206.00 at 3 % (6.00 tax) + 53.00 at 6 % (3.00 tax).
		inv, err := invoice.New("inv-tax", o.ID, o.EnterpriseID, o.UserID, o.Total, invoice.Request{TitleType: invoice.TitlePersonal, Title: "张三"}, t0)
		if err != nil {
			t.Fatal(err)
		}
		if err := inv.SplitTax([]invoice.TaxLine{{Amount: placed.Items[0].Subtotal, Rate: placed.Items[0].Tax.Rate},
			{Amount: placed.Items[1].Subtotal, Rate: placed.Items[1].Tax.Rate}}); err != nil {
			t.Fatal(err)
		}
		do(func(ctx context.Context, tx ports.Tx) error { return tx.Invoices().Add(ctx, inv) })
		var back *invoice.Invoice
		do(func(ctx context.Context, tx ports.Tx) error {
			back, err = tx.Invoices().Get(ctx, "inv-tax")
			return err
		})
		if back.Net != kernel.Fen(25000) || back.Tax != kernel.Fen(900) || !back.MixedRates {
			t.Fatalf("invoice split %v + %v mixed %v", back.Net, back.Tax, back.MixedRates)
		}

		// Rows from before: catalog and order JSON without the fields read as the default.
		// (A new channel row: the store's short-lived channel cache already holds q70001.)
		if _, err := db.NewRaw(`INSERT INTO channels (id, code, name, qr_token, active, personal_cert_service, real_name_method, catalog, created_at)
			VALUES ('c-old', 'q70002', '旧渠道', '0123456789abcdef', TRUE, FALSE, 'id2', ?, ?)`,
			`[{"sku":"old","name":"旧套餐","description":"","kind":"package","unit_price_fen":100,"grants":{}}]`, t0).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.NewRaw(`UPDATE orders SET items = ? WHERE id = '01tax'`,
			`[{"sku":"old","name":"旧套餐","kind":"package","unit_price_fen":100,"quantity":1,"subtotal_fen":100,"grants":{}}]`).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		do(func(ctx context.Context, tx ports.Tx) error {
			got, err = tx.Channels().GetByCode(ctx, "q70002")
			return err
		})
		do(func(ctx context.Context, tx ports.Tx) error { placed, err = tx.Orders().Get(ctx, "01tax"); return err })
		if it := got.Catalog()[0]; it.Tax != channel.DefaultTax || it.Unit != channel.DefaultUnit {
			t.Fatalf("old catalog item %+v", it)
		}
		if it := placed.Items[0]; it.Tax != channel.DefaultTax || it.Unit != channel.DefaultUnit {
			t.Fatalf("old order line %+v", it)
		}
	})
}
