package sqlstore

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/crypto"
	"github.com/shuxinqian/server/domain/channel"
	"github.com/shuxinqian/server/ports"
)

// twoInstances opens one migrated SQLite database through two stores, as two server instances
// would, each with a clock the test moves.
func twoInstances(t *testing.T) (a, b *Store, db *DB, advance func(time.Duration)) {
	t.Helper()
	db, err := OpenSQLite(filepath.Join(t.TempDir(), "cache.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	keys, err := crypto.NewKeys(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	a, b = NewStore(db, keys, keys, nil), NewStore(db, keys, keys, nil)
	a.channelCache.now, b.channelCache.now = clock, clock
	return a, b, db, func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
}

func platformOf(t *testing.T, s *Store) channel.Platform {
	t.Helper()
	var p channel.Platform
	if err := s.Read(context.Background(), func(ctx context.Context, tx ports.Tx) error {
		var err error
		p, err = tx.Channels().Platform(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return p
}

func nameOf(t *testing.T, s *Store, code string) (string, int) {
	t.Helper()
	var name string
	var found int
	if err := s.Read(context.Background(), func(ctx context.Context, tx ports.Tx) error {
		c, err := tx.Channels().GetByCode(ctx, code)
		if err != nil {
			return err
		}
		cs, err := tx.Channels().Search(ctx, "交易", 10)
		name, found = c.Name(), len(cs)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return name, found
}

func TestChannelCacheStalenessIsBounded(t *testing.T) {
	a, b, db, advance := twoInstances(t)
	ctx := context.Background()
	on := channel.Platform{ChargingEnabled: true, DefaultMethod: channel.MethodID2}
	off := channel.Platform{ChargingEnabled: false, DefaultMethod: channel.MethodFace}
	c, err := channel.New(channel.Snapshot{ID: "c1", Code: "q86804", Name: "东莞交易专家评标项目", QRToken: "0123456789abcdef", Active: true,
		Method: channel.MethodID2, Catalog: []channel.Item{{SKU: "pkg-sign-50", Name: "签署套餐", Kind: channel.KindPackage, UnitPrice: 100}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		if err := tx.Channels().SavePlatform(ctx, on); err != nil {
			return err
		}
		return tx.Channels().Add(ctx, c)
	}); err != nil {
		t.Fatal(err)
	}
	if p := platformOf(t, a); p != on {
		t.Fatalf("a reads %+v", p)
	}
	if n, found := nameOf(t, a, "q86804"); n != "东莞交易专家评标项目" || found != 1 {
		t.Fatalf("a reads %q, search %d", n, found)
	}

	// Instance b changes the settings, and an operator renames the channel in the database.
	if err := b.Do(ctx, func(ctx context.Context, tx ports.Tx) error { return tx.Channels().SavePlatform(ctx, off) }); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE channels SET name = '东莞评标项目' WHERE code = 'q86804'`); err != nil {
		t.Fatal(err)
	}
	if p := platformOf(t, b); p != off {
		t.Fatalf("the writer must see its own write at once, got %+v", p)
	}
	// a answers from its cache until the TTL has passed, then reads the database again.
	advance(ChannelCacheTTL - time.Second)
	if p := platformOf(t, a); p != on {
		t.Fatalf("within the TTL a answers from its cache, got %+v", p)
	}
	if n, found := nameOf(t, a, "q86804"); n != "东莞交易专家评标项目" || found != 1 {
		t.Fatalf("within the TTL: %q, search %d", n, found)
	}
	advance(time.Second)
	if p := platformOf(t, a); p != off {
		t.Fatalf("after the TTL a must read the change, got %+v", p)
	}
	if n, found := nameOf(t, a, "q86804"); n != "东莞评标项目" || found != 0 {
		t.Fatalf("after the TTL: %q, search %d", n, found)
	}

	// With the cache off every read goes to the database.
	a.SetChannelCacheTTL(0)
	if _, err := db.ExecContext(ctx, `UPDATE platform_settings SET charging_enabled = TRUE`); err != nil {
		t.Fatal(err)
	}
	if p := platformOf(t, a); !p.ChargingEnabled {
		t.Fatalf("no cache: %+v", p)
	}
}

// A missing channel is not remembered: a channel added by another instance is found at once.
func TestChannelCacheDoesNotKeepMisses(t *testing.T) {
	a, b, _, _ := twoInstances(t)
	ctx := context.Background()
	get := func() error {
		return a.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			_, err := tx.Channels().GetByCode(ctx, "q10001")
			return err
		})
	}
	if err := get(); err == nil {
		t.Fatal("found a channel that does not exist")
	}
	c, _ := channel.New(channel.Snapshot{ID: "c2", Code: "q10001", Name: "人脸通道", QRToken: "fedcba9876543210", Active: true, Method: channel.MethodFace})
	if err := b.Do(ctx, func(ctx context.Context, tx ports.Tx) error { return tx.Channels().Add(ctx, c) }); err != nil {
		t.Fatal(err)
	}
	if err := get(); err != nil {
		t.Fatalf("a new channel must be found at once: %v", err)
	}
}
