package testdb

import (
	"context"
	"database/sql/driver"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shuxinqian/server/adapters/sqlstore"
)

// Statements counts what reaches the database driver: every query and exec (whether sent by bun,
// by watermill's outbox publisher through the transaction's *sql.Tx, or by database/sql directly),
// every BEGIN, COMMIT and ROLLBACK. It sits below database/sql, so nothing is missed.
type Statements struct {
	n        atomic.Int64
	commits  atomic.Int64
	prepares atomic.Int64
	runs     atomic.Int64 // statements run through a prepared statement
	mu       sync.Mutex
	log      []string
	full     []string
	logging  bool
}

// Reset zeroes the counters and starts (or stops) keeping the statements' text.
func (s *Statements) Reset(keepText bool) {
	s.n.Store(0)
	s.commits.Store(0)
	s.prepares.Store(0)
	s.runs.Store(0)
	s.mu.Lock()
	s.log, s.full, s.logging = nil, nil, keepText
	s.mu.Unlock()
}

// Count is the number of statements since Reset.
func (s *Statements) Count() int64 { return s.n.Load() }

// Commits is the number of COMMITs since Reset.
func (s *Statements) Commits() int64 { return s.commits.Load() }

// Prepares is the number of statements prepared on a connection since Reset.
func (s *Statements) Prepares() int64 { return s.prepares.Load() }

// PreparedRuns is the number of statements since Reset that ran as a prepared statement.
func (s *Statements) PreparedRuns() int64 { return s.runs.Load() }

// Full lists the statements since Reset(true) as they reached the driver (for EXPLAIN).
func (s *Statements) Full() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.full...)
}

// Text lists the statements since Reset(true), shortened.
func (s *Statements) Text() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...)
}

func (s *Statements) add(text string) {
	s.n.Add(1)
	s.mu.Lock()
	if s.logging {
		s.full = append(s.full, text)
		if len(text) > 120 {
			text = text[:120] + "…"
		}
		s.log = append(s.log, strings.Join(strings.Fields(text), " "))
	}
	s.mu.Unlock()
}

// Wrap is the sqlstore.Wrap that counts into s.
func (s *Statements) Wrap(c driver.Connector) driver.Connector { return countingConnector{c, s} }

// CountingBackends lists SQLite and Postgres opened with a statement counter.
func CountingBackends() []struct {
	Name string
	Open func(t testing.TB) (*sqlstore.DB, *Statements)
} {
	return []struct {
		Name string
		Open func(t testing.TB) (*sqlstore.DB, *Statements)
	}{{"sqlite", CountingSQLite}, {"postgres", CountingPostgres}}
}

// CountingSQLite is SQLite with a statement counter (migrations not counted).
func CountingSQLite(t testing.TB) (*sqlstore.DB, *Statements) {
	t.Helper()
	s := &Statements{}
	db, err := sqlstore.OpenSQLiteWith(filepath.Join(t.TempDir(), "test.db"), s.Wrap)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	migrate(t, db)
	s.Reset(false)
	return db, s
}

// CountingPostgres is a fresh Postgres schema with a statement counter (migrations not counted).
func CountingPostgres(t testing.TB) (*sqlstore.DB, *Statements) {
	t.Helper()
	s := &Statements{}
	db, err := sqlstore.OpenWith(PostgresSchemaDSN(t), "", s.Wrap)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	migrate(t, db)
	s.Reset(false)
	return db, s
}

type countingConnector struct {
	driver.Connector
	s *Statements
}

func (c countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, s: c.s}, nil
}

// countingConn forwards to the driver's connection; the optional interfaces it implements answer
// driver.ErrSkip when the driver lacks them, which makes database/sql take its fallback.
type countingConn struct {
	driver.Conn
	s *Statements
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.s.add("BEGIN")
	var tx driver.Tx
	var err error
	if b, ok := c.Conn.(driver.ConnBeginTx); ok {
		tx, err = b.BeginTx(ctx, opts)
	} else {
		tx, err = c.Conn.Begin() //nolint:staticcheck // the driver's only way
	}
	if err != nil {
		return nil, err
	}
	return countingTx{tx, c.s}, nil
}

func (c *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	c.s.add(query)
	return e.ExecContext(ctx, query, args)
}

func (c *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	c.s.add(query)
	return q.QueryContext(ctx, query, args)
}

func (c *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var st driver.Stmt
	var err error
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, query)
	} else {
		st, err = c.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	c.s.prepares.Add(1)
	return countingStmt{st, query, c.s}, nil
}

func (c *countingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.Conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func (c *countingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *countingConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *countingConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

type countingTx struct {
	driver.Tx
	s *Statements
}

func (t countingTx) Commit() error {
	t.s.add("COMMIT")
	t.s.commits.Add(1)
	return t.Tx.Commit()
}

func (t countingTx) Rollback() error {
	t.s.add("ROLLBACK")
	return t.Tx.Rollback()
}

type countingStmt struct {
	driver.Stmt
	query string
	s     *Statements
}

func (st countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	st.s.add(st.query)
	st.s.runs.Add(1)
	if e, ok := st.Stmt.(driver.StmtExecContext); ok {
		return e.ExecContext(ctx, args)
	}
	vals := make([]driver.Value, len(args))
	for i, a := range args {
		vals[i] = a.Value
	}
	return st.Stmt.Exec(vals) //nolint:staticcheck // the driver's only way
}

func (st countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	st.s.add(st.query)
	st.s.runs.Add(1)
	if q, ok := st.Stmt.(driver.StmtQueryContext); ok {
		return q.QueryContext(ctx, args)
	}
	vals := make([]driver.Value, len(args))
	for i, a := range args {
		vals[i] = a.Value
	}
	return st.Stmt.Query(vals) //nolint:staticcheck // the driver's only way
}
