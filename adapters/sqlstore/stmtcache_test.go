package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// The SQLite statement cache keeps short texts prepared across transactions, bounded in count and
// text length, and the statements it runs see the transaction's own writes.
func TestPreparedStatementsAcrossTransactions(t *testing.T) {
	ctx := context.Background()
	db, err := OpenSQLite(filepath.Join(t.TempDir(), "stmts.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.ExecContext(ctx, "CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	const ins, sel = "INSERT INTO kv (k, v) VALUES (?, ?)", "SELECT v FROM kv WHERE k = ?"
	for i := range 3 {
		if i == 1 {
			db.stmts.wg.Wait() // the first use prepared them in the background; from now on they are cached
		}
		tx, err := db.DB.DB.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		k := fmt.Sprint("k", i)
		if _, err := db.ExecTx(ctx, tx, ins, k, i); err != nil {
			t.Fatal(err)
		}
		if v := readInt(t, db, tx, sel, k); v != i {
			t.Fatalf("read back %d in the same transaction", v)
		}
		if i == 2 {
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM kv").Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d rows (%v): the rolled back insert must be gone", n, err)
	}
	if len(db.stmts.m) != 2 {
		t.Fatalf("%d statements cached, want the 2 texts", len(db.stmts.m))
	}
	// A long text runs unprepared; past the count bound too.
	long := "SELECT v FROM kv WHERE k = ?" + strings.Repeat(" ", stmtCacheMaxText)
	for i := 0; i < stmtCacheSize+5; i++ {
		q := long
		if i > 0 {
			q = fmt.Sprintf("SELECT v + %d FROM kv WHERE k = ?", i)
		}
		tx, err := db.DB.DB.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if v := readInt(t, db, tx, q, "k0"); i > 0 && v != i {
			t.Fatalf("query %d answered %d", i, v)
		}
		_ = tx.Rollback()
	}
	db.stmts.wg.Wait()
	if len(db.stmts.m) != stmtCacheSize {
		t.Fatalf("%d statements cached, want the bound %d", len(db.stmts.m), stmtCacheSize)
	}
	if _, ok := db.stmts.m[long]; ok {
		t.Fatal("a long text was cached")
	}
}

// Preparing never waits for a pooled connection inside a transaction: with every other connection
// of the pool held, a statement asked for inside the transaction runs unprepared at once.
func TestPreparedStatementsNeverWaitForTheLockHolder(t *testing.T) {
	ctx := context.Background()
	db, err := OpenSQLite(filepath.Join(t.TempDir(), "busy.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	db.SetMaxOpenConns(1) // the transaction's connection is the pool's only one
	if _, err := db.ExecContext(ctx, "CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	tx, err := db.DB.DB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecTx(ctx, tx, "INSERT INTO kv (k, v) VALUES (?, ?)", "a", 1); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	db.stmts.wg.Wait() // prepared once the connection was free
	if len(db.stmts.m) != 1 {
		t.Fatalf("%d statements cached", len(db.stmts.m))
	}
}

// readInt runs a one-row, one-column query through QueryTx.
func readInt(t *testing.T, db *DB, tx *sql.Tx, query string, args ...any) int {
	t.Helper()
	rows, err := db.QueryTx(context.Background(), tx, query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	var v int
	if !rows.Next() {
		t.Fatalf("%s: no row (%v)", query, rows.Err())
	}
	if err := rows.Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}
