package channel_test

import (
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/channel"
	"github.com/shuxinqian/server/domain/kernel"
)

func TestConsoleEdits(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	c, err := channel.New(channel.Snapshot{ID: "c1", Code: "k16", Name: "渠道", QRToken: "0123456789abcdef", Active: true, Method: channel.MethodID2})
	if err != nil {
		t.Fatal(err)
	}
	if !c.ChargingEnabled() {
		t.Fatal("a channel charges by default (follows the platform)")
	}
	it := channel.Item{SKU: "pkg-1", Name: "套餐", Kind: channel.KindPackage, UnitPrice: kernel.Fen(100), Grants: channel.Grants{Signatures: 1}}
	if created, err := c.PutItem(it, now); err != nil || !created {
		t.Fatalf("put: %v %v", created, err)
	}
	it.UnitPrice = kernel.Fen(200)
	if created, err := c.PutItem(it, now); err != nil || created {
		t.Fatalf("replace: %v %v", created, err)
	}
	if got, _ := c.Item("pkg-1"); got.UnitPrice != kernel.Fen(200) || got.Tax != channel.DefaultTax {
		t.Fatalf("item %+v", got)
	}
	it.UnitPrice = channel.MaxUnitPrice + 1
	if _, err := c.PutItem(it, now); kernel.CodeOf(err) != "catalog-price-invalid" {
		t.Fatalf("huge price: %v", err)
	}
	if err := c.RemoveItem("nope", now); kernel.KindOf(err) != kernel.KindNotFound {
		t.Fatalf("remove unknown: %v", err)
	}
	if err := c.RemoveItem("pkg-1", now); err != nil || len(c.Catalog()) != 0 {
		t.Fatalf("remove: %v", err)
	}
	bad := channel.RealNameMethod("x")
	name := "新名"
	if err := c.Apply(channel.Edit{Name: &name, Method: &bad}, now); err == nil || c.Name() != "渠道" {
		t.Fatal("an invalid edit changed the channel")
	}
	off := false
	if err := c.Apply(channel.Edit{Name: &name, ChargingEnabled: &off, Active: &off}, now); err != nil {
		t.Fatal(err)
	}
	if c.Name() != "新名" || c.ChargingEnabled() || c.Active() || channel.FromSnapshot(c.Snapshot()).ChargingEnabled() {
		t.Fatal("edit not applied or not kept by the snapshot")
	}
	if n := len(c.PullEvents()); n != 4 {
		t.Fatalf("events %d, want 4 (2 puts, 1 removal, 1 edit)", n)
	}
}
