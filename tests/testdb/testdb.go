// Package testdb gives tests fresh, migrated databases: an SQLite file per test, and a Postgres
// schema per test when TEST_DATABASE_URL or DATABASE_URL is set. With CI=true a missing
// Postgres fails the test instead of skipping it.
package testdb

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/shuxinqian/server/adapters/crypto"
	"github.com/shuxinqian/server/adapters/sqlstore"
)

// Backend opens a fresh migrated database of one kind.
type Backend struct {
	Name string
	Open func(t testing.TB) *sqlstore.DB
}

// PostgresDSN returns the Postgres DSN for tests. Without one it skips the test, or fails it
// when CI=true.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("TEST_DATABASE_URL")
	if dsn == "" {
		dsn = os.Getenv("DATABASE_URL")
	}
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but neither TEST_DATABASE_URL nor DATABASE_URL is set: the Postgres suites must run in CI")
		}
		t.Skip("Postgres suite skipped: set TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	return dsn
}

// Backends lists SQLite and Postgres.
func Backends() []Backend {
	return []Backend{{Name: "sqlite", Open: SQLite}, {Name: "postgres", Open: Postgres}}
}

// SQLite opens a migrated SQLite file in a temporary directory.
func SQLite(t testing.TB) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	migrate(t, db)
	return db
}

// Postgres opens a migrated, empty schema of its own and drops it at the end of the test.
func Postgres(t testing.TB) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(PostgresSchemaDSN(t), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	migrate(t, db)
	return db
}

// PostgresSchemaDSN creates an empty schema, returns a DSN whose search_path is that schema, and
// drops the schema when the test ends (after the test's own cleanups, which close pools).
func PostgresSchemaDSN(t testing.TB) string {
	t.Helper()
	dsn := PostgresDSN(t)
	schema := "t_" + randomHex(8)
	admin, err := sqlstore.Open(dsn, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		_ = admin.Close()
		t.Fatalf("create schema (is Postgres running at %s?): %v", redact(dsn), err)
	}
	t.Cleanup(func() {
		_, _ = admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		_ = admin.Close()
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func migrate(t testing.TB, db *sqlstore.DB) {
	t.Helper()
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Keys are fixed test keys for encryption and digests.
func Keys(t testing.TB) *crypto.Keys {
	t.Helper()
	k, err := crypto.NewKeys(bytes.Repeat([]byte{0x42}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Store builds the unit of work over db with the test keys.
func Store(t testing.TB, db *sqlstore.DB) *sqlstore.Store {
	k := Keys(t)
	return sqlstore.NewStore(db, k, k, nil)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparseable DSN)"
	}
	return u.Redacted()
}

// NATSURL returns TEST_NATS_URL for the NATS JetStream suites; without it they are skipped, or
// fail when CI=true.
func NATSURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TEST_NATS_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but TEST_NATS_URL is not set: the NATS suites must run in CI")
		}
		t.Skip("TEST_NATS_URL not set: NATS JetStream suite skipped")
	}
	return u
}

// UniquePrefix is a NATS topic prefix no other test run uses.
func UniquePrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "t" + hex.EncodeToString(b[:])
}
