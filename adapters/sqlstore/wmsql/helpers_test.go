package wmsql_test

import (
	"context"
	"crypto/rand"
	stdsql "database/sql"
	"encoding/hex"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/uptrace/bun/driver/pgdriver"
	_ "github.com/uptrace/bun/driver/sqliteshim"

	"github.com/shuxinqian/server/adapters/sqlstore/wmsql"
)

type dialectCase struct {
	name    string
	dialect wmsql.Dialect
	open    func(t *testing.T) *stdsql.DB
}

var dialects = []dialectCase{
	{"sqlite", wmsql.DialectSQLite, openSQLite},
	{"postgres", wmsql.DialectPostgres, openPostgres},
}

// sqliteDSN is the project's DSN. modernc.org/sqlite keeps a "file:" DSN
// intact for sqlite3_open_v2 (SQLITE_OPEN_URI; SQLite ignores the unknown
// "_"-parameters) and applies them itself: every _pragma=… is executed on each
// new connection (busy_timeout first), _txlock selects BEGIN IMMEDIATE.
func sqliteDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"
}

func openSQLite(t *testing.T) *stdsql.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wm.db")
	db, err := stdsql.Open("sqliteshim", sqliteDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })

	// Verify the DSN parameters reached the connection.
	var journal string
	var busy, fk int
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&journal); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		t.Fatal(err)
	}
	if journal != "wal" || busy != 10000 || fk != 1 {
		t.Fatalf("DSN pragmas not applied: journal_mode=%s busy_timeout=%d foreign_keys=%d", journal, busy, fk)
	}
	return db
}

func postgresDSN(t *testing.T) string {
	t.Helper()
	for _, k := range []string{"TEST_DATABASE_URL", "DATABASE_URL"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true but no TEST_DATABASE_URL/DATABASE_URL")
	}
	t.Skip("TEST_DATABASE_URL/DATABASE_URL not set (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	return ""
}

func openPostgres(t *testing.T) *stdsql.DB {
	t.Helper()
	dsn := postgresDSN(t)
	db := stdsql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(dsn)))
	// The universal suite runs many subscribers in parallel, each holding a
	// connection for its batch transaction; stay below max_connections (100).
	db.SetMaxOpenConns(60)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		t.Fatalf("postgres %s: %v", redact(dsn), err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func redact(dsn string) string {
	if i := strings.Index(dsn, "@"); i > 0 {
		if j := strings.Index(dsn, "://"); j > 0 && j < i {
			return dsn[:j+3] + "…" + dsn[i:]
		}
	}
	return dsn
}

// topicPrefix returns a random prefix so that concurrent runs against one
// Postgres database never share tables.
func topicPrefix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "t" + hex.EncodeToString(b) + "_"
}

// dropTopicTables drops every watermill_<prefix>* table (Postgres only; the
// SQLite file lives in t.TempDir()).
func dropTopicTables(t *testing.T, db *stdsql.DB, dialect wmsql.Dialect, prefix string) {
	t.Helper()
	if dialect != wmsql.DialectPostgres {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx,
		`SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND starts_with(tablename, $1)`,
		wmsql.TablePrefix+prefix)
	if err != nil {
		t.Errorf("list test tables: %v", err)
		return
	}
	tables := func() []string {
		defer func() { _ = rows.Close() }()
		var names []string
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Error(err)
			}
			names = append(names, name)
		}
		return names
	}()
	for _, name := range tables {
		if _, err := db.ExecContext(ctx, `DROP TABLE IF EXISTS `+name); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	}
}

// errLogger prints only errors (set WMSQL_TEST_LOG=1 for everything). It never
// uses t.Log: watermill goroutines may outlive the test that started them.
type errLogger struct {
	watermill.LoggerAdapter
}

func testLogger() watermill.LoggerAdapter {
	if os.Getenv("WMSQL_TEST_LOG") != "" {
		return watermill.NewStdLogger(true, true)
	}
	return errLogger{watermill.NopLogger{}}
}

func (l errLogger) Error(msg string, err error, fields watermill.LogFields) {
	log.Printf("[watermill] ERROR %s: %v %v", msg, err, fields)
}

func (l errLogger) With(watermill.LogFields) watermill.LoggerAdapter { return l }
