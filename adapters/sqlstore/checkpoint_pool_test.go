package sqlstore_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/tests/testdb"
)

// The checkpoints run on a connection of their own: a statement counter on the requests' pool
// (the driver wrapper every observer of the pool uses) sees no PRAGMA wal_checkpoint while the
// checkpointer copies a committed write into the database file.
func TestCheckpointsStayOffThePool(t *testing.T) {
	ctx := context.Background()
	db, stmts := testdb.CountingSQLite(t)
	var seq int
	var name, path string
	if err := db.QueryRowContext(ctx, "PRAGMA database_list").Scan(&seq, &name, &path); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE ck (v TEXT)"); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	size := st.Size()
	stmts.Reset(true)
	if _, err := db.ExecContext(ctx, "INSERT INTO ck (v) VALUES (?)", strings.Repeat("z", 64<<10)); err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(sqlstore.CheckpointInterval)
	defer tick.Stop()
	for i := 0; ; i++ {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() >= size+64<<10 {
			break
		}
		if i > 40 {
			t.Fatalf("after %d intervals the database file holds %d bytes", i, st.Size())
		}
		<-tick.C
	}
	got := stmts.Text()
	if len(got) != 1 || !strings.HasPrefix(got[0], "INSERT INTO ck") {
		t.Fatalf("the pool ran %q, want the INSERT only", got)
	}
}
