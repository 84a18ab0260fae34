package sqlstore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/tests/testdb"
)

// TestOpenKeyMigration upgrades a database holding memberships in every status to the
// open_key schema (20261206050001): the open ones with a user get it, the others and an invited
// person without an account do not; the unique index then refuses a second open membership of
// one person in one enterprise and allows one in another.
func TestOpenKeyMigration(t *testing.T) {
	ctx := context.Background()
	for _, be := range []struct {
		name string
		open func(t *testing.T) *sqlstore.DB
		// fkOff disables foreign keys on one connection: the rows reference no users or
		// enterprises, which this test does not need.
		fkOff string
	}{
		{"sqlite", func(t *testing.T) *sqlstore.DB {
			db, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "up.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.Close() })
			return db
		}, "PRAGMA foreign_keys = OFF"},
		{"postgres", func(t *testing.T) *sqlstore.DB {
			db, err := sqlstore.Open(testdb.PostgresSchemaDSN(t), "")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.Close() })
			return db
		}, "SET session_replication_role = replica"},
	} {
		t.Run(be.name, func(t *testing.T) {
			db := be.open(t)
			if err := db.MigrateUpTo(ctx, "20261206030001"); err != nil {
				t.Fatal(err)
			}
			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = conn.Close() }()
			if _, err := conn.ExecContext(ctx, be.fkOff); err != nil {
				t.Fatal(err)
			}
			rows := []struct{ id, eid, uid, status string }{
				{"m-pending", "e1", "u1", "pending"},
				{"m-active", "e1", "u2", "active"},
				{"m-rejected", "e1", "u3", "rejected"},
				{"m-removed", "e1", "u4", "removed"},
				{"m-invited", "e1", "", "invited"},
			}
			for _, r := range rows {
				var uid any
				if r.uid != "" {
					uid = r.uid
				}
				if _, err := conn.ExecContext(ctx, `INSERT INTO memberships (id, enterprise_id, user_id, role, status, cert_authorized, created_at, updated_at)
					VALUES (?, ?, ?, 'member', ?, FALSE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`, r.id, r.eid, uid, r.status); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			want := map[string]sql.NullString{"m-pending": {String: "u1", Valid: true}, "m-active": {String: "u2", Valid: true}}
			for _, r := range rows {
				var got sql.NullString
				if err := conn.QueryRowContext(ctx, "SELECT open_key FROM memberships WHERE id = ?", r.id).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != want[r.id] {
					t.Errorf("%s (%s): open_key %v, want %v", r.id, r.status, got, want[r.id])
				}
			}
			insert := func(id, eid, uid string) error {
				_, err := conn.ExecContext(ctx, `INSERT INTO memberships (id, enterprise_id, user_id, open_key, role, status, cert_authorized, created_at, updated_at)
					VALUES (?, ?, ?, ?, 'member', 'pending', FALSE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`, id, eid, uid, uid)
				return err
			}
			if err := insert("m-again", "e1", "u2"); err == nil {
				t.Error("a second open membership of u2 in e1 was stored")
			}
			if err := insert("m-rejoin", "e1", "u3"); err != nil {
				t.Errorf("re-applying after a rejection: %v", err)
			}
			if err := insert("m-elsewhere", "e2", "u2"); err != nil {
				t.Errorf("an open membership in another enterprise: %v", err)
			}
		})
	}
}
