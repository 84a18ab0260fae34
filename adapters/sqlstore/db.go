// Package sqlstore implements the repositories, the unit of work and the transactional outbox with
// bun, on SQLite (the embedded default, pure Go) and on Postgres.
package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"
	"github.com/uptrace/bun/migrate"

	"github.com/shuxinqian/server/adapters/sqlstore/wmsql"
)

// DB is an open database with its dialect.
type DB struct {
	*bun.DB
	Dialect wmsql.Dialect
	stmts   *stmtCache    // SQLite's prepared statements of the hot paths (see Prepared)
	texts   sync.Map      // key → SQL text with placeholders (selectInto, updateReturning, the outbox INSERTs)
	ckpt    *checkpointer // SQLite's WAL checkpoints (checkpoint.go); nil on Postgres
	wgate   chan struct{} // SQLite's write transactions, one at a time (writegate.go); nil on Postgres
}

// CachedStatement prefixes the arguments of a statement sent through database/sql (not bun) that
// runs often with the same text: on Postgres pgx prepares it once per connection and sends the
// values in binary; SQLite gets the arguments unchanged.
func (d *DB) CachedStatement(args ...any) []any {
	if !d.IsPostgres() {
		return args
	}
	return append([]any{pgx.QueryExecModeCacheStatement}, args...)
}

// IsPostgres reports whether the database is Postgres.
func (d *DB) IsPostgres() bool { return d.Dialect == wmsql.DialectPostgres }

// Open opens the database named by dsn: a postgres:// URL, or empty for the SQLite file
// shuxinqian.db in dataDir (created if missing), or sqlite:PATH / file:PATH for another file.
func Open(dsn, dataDir string) (*DB, error) { return OpenWith(dsn, dataDir, nil) }

// Wrap wraps the driver connector of a database being opened (tests count statements with it);
// nil leaves it as it is.
type Wrap func(driver.Connector) driver.Connector

func (w Wrap) apply(c driver.Connector) driver.Connector {
	if w == nil {
		return c
	}
	return w(c)
}

// OpenWith is Open with the driver connector wrapped by wrap.
func OpenWith(dsn, dataDir string, wrap Wrap) (*DB, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: DATABASE_URL: %w", err)
		}
		cfg.ConnectTimeout = 10 * time.Second
		// bun interpolates every value into the SQL text (no arguments reach the driver), so its
		// statements go by the simple protocol, as they did with bun's pgdriver: preparing each
		// distinct text would cost a round trip and churn the cache. The hot statements that pass
		// arguments (the outbox INSERT, the notification's conditional UPDATE) ask for pgx's
		// statement cache with CachedStatement: prepared once per connection, values in binary.
		cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
		sqldb := sql.OpenDB(wrap.apply(stdlib.GetConnector(*cfg)))
		sqldb.SetMaxOpenConns(20)
		sqldb.SetMaxIdleConns(10)
		sqldb.SetConnMaxIdleTime(5 * time.Minute)
		return &DB{DB: bun.NewDB(sqldb, pgdialect.New()), Dialect: wmsql.DialectPostgres, stmts: &stmtCache{}}, nil
	case dsn == "":
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("sqlstore: data directory: %w", err)
		}
		return openSQLite(filepath.Join(dataDir, "shuxinqian.db"), wrap)
	case strings.HasPrefix(dsn, "sqlite:"):
		return openSQLite(strings.TrimPrefix(dsn, "sqlite:"), wrap)
	case strings.HasPrefix(dsn, "file:"):
		return openSQLite(strings.TrimPrefix(dsn, "file:"), wrap)
	default:
		return nil, errors.New("sqlstore: DATABASE_URL must be postgres://… or empty for the embedded SQLite file")
	}
}

// OpenSQLite opens (creating) an SQLite file in WAL mode. Write transactions begin IMMEDIATE, so
// two writers queue on the busy timeout instead of failing to upgrade a read lock; this is also
// how SQLite gets the effect of row locks (one writer at a time).
func OpenSQLite(path string) (*DB, error) { return openSQLite(path, nil) }

// OpenSQLiteWith is OpenSQLite with the driver connector wrapped by wrap.
func OpenSQLiteWith(path string, wrap Wrap) (*DB, error) { return openSQLite(path, wrap) }

// sqliteDSN is the DSN of path's connections, busy their busy_timeout in milliseconds.
func sqliteDSN(path string, busy int) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.Itoa(busy)+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "wal_autocheckpoint(0)") // checkpoints run off the commits: checkpoint.go
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

func openSQLite(path string, wrap Wrap) (*DB, error) {
	dsn := sqliteDSN(path, 10000)
	sqldb, err := sql.Open(sqliteshim.ShimName, dsn)
	if err != nil {
		return nil, err
	}
	// The checkpointer's connection never waits for a lock (busy_timeout 0): a pass that cannot
	// have one does what it can and the next pass tries again (checkpoint.go).
	ckdb, err := sql.Open(sqliteshim.ShimName, sqliteDSN(path, 0))
	if err != nil {
		_ = sqldb.Close()
		return nil, err
	}
	if wrap != nil {
		drv := sqldb.Driver()
		_ = sqldb.Close()
		var c driver.Connector = dsnConnector{dsn: dsn, drv: drv}
		if dc, ok := drv.(driver.DriverContext); ok {
			if c, err = dc.OpenConnector(dsn); err != nil {
				_ = ckdb.Close()
				return nil, err
			}
		}
		sqldb = sql.OpenDB(wrap(c))
	}
	sqldb.SetMaxOpenConns(8)
	sqldb.SetMaxIdleConns(8)
	sqldb.SetConnMaxLifetime(0)
	d := &DB{DB: bun.NewDB(sqldb, sqlitedialect.New()), Dialect: wmsql.DialectSQLite, stmts: &stmtCache{}, wgate: make(chan struct{}, 1)}
	d.startCheckpoints(ckdb, path+"-wal", CheckpointInterval)
	return d, nil
}

// dsnConnector is a driver.Connector for a driver without one (database/sql's own fallback).
type dsnConnector struct {
	dsn string
	drv driver.Driver
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.drv }

//go:embed migrations
var migrationFiles embed.FS

func (d *DB) migrations() (*migrate.Migrations, error) {
	dir := "migrations/sqlite"
	if d.IsPostgres() {
		dir = "migrations/postgres"
	}
	sub, err := fs.Sub(migrationFiles, dir)
	if err != nil {
		return nil, err
	}
	m := migrate.NewMigrations()
	if err := m.Discover(sub); err != nil {
		return nil, err
	}
	return m, nil
}

func (d *DB) migrator() (*migrate.Migrator, error) {
	ms, err := d.migrations()
	if err != nil {
		return nil, err
	}
	return migrate.NewMigrator(d.DB, ms, migrate.WithMarkAppliedOnSuccess(true)), nil
}

// Migrate applies the pending migrations and returns their names. Concurrent migrators are
// serialised by bun's lock table.
func (d *DB) Migrate(ctx context.Context) ([]string, error) {
	m, err := d.migrator()
	if err != nil {
		return nil, err
	}
	if err := m.Init(ctx); err != nil {
		return nil, fmt.Errorf("sqlstore: init migrations: %w", err)
	}
	if err := m.Lock(ctx); err != nil {
		return nil, fmt.Errorf("sqlstore: lock migrations: %w", err)
	}
	defer func() { _ = m.Unlock(ctx) }()
	g, err := m.Migrate(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrate: %w", err)
	}
	names := make([]string, 0, len(g.Migrations))
	for _, mg := range g.Migrations {
		names = append(names, mg.Name)
	}
	return names, nil
}

// Pending lists the migrations not applied yet (all of them on a new database).
func (d *DB) Pending(ctx context.Context) ([]string, error) {
	m, err := d.migrator()
	if err != nil {
		return nil, err
	}
	var exists bool
	if d.IsPostgres() {
		err = d.NewRaw("SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_name = 'bun_migrations')").Scan(ctx, &exists)
	} else {
		err = d.NewRaw("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'bun_migrations')").Scan(ctx, &exists)
	}
	if err != nil {
		return nil, err
	}
	ms, err := d.migrations()
	if err != nil {
		return nil, err
	}
	if !exists {
		var all []string
		for _, mg := range ms.Sorted() {
			all = append(all, mg.Name)
		}
		return all, nil
	}
	st, err := m.MigrationsWithStatus(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, mg := range st.Unapplied() {
		out = append(out, mg.Name)
	}
	return out, nil
}

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error {
	var one int
	return d.NewRaw("SELECT 1").Scan(ctx, &one)
}
