package sqlstore_test

import (
	"context"
	"slices"
	"testing"

	"github.com/shuxinqian/server/tests/testdb"
)

// QueueTables lists the current schema's watermill_* tables that have an acked column, on both
// databases: not a table of another name, not one whose acked column was dropped, not one
// without it. QueueBacklogs counts what waits in each.
func TestQueueTables(t *testing.T) {
	ctx := context.Background()
	for _, be := range testdb.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			db := be.Open(t)
			for _, q := range []string{
				"CREATE TABLE watermill_handler_x (uuid TEXT, acked BOOLEAN NOT NULL DEFAULT FALSE, created_at TIMESTAMP)",
				"CREATE TABLE watermill_no_ack (uuid TEXT)",
				"CREATE TABLE watermill_dropped (uuid TEXT, acked BOOLEAN)",
				"ALTER TABLE watermill_dropped DROP COLUMN acked",
				"CREATE TABLE other_acked (uuid TEXT, acked BOOLEAN)",
			} {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			got, err := db.QueueTables(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(got, "watermill_handler_x") || !slices.Contains(got, "watermill_outbox") || !slices.IsSorted(got) {
				t.Fatalf("queue tables %q", got)
			}
			for _, not := range []string{"watermill_no_ack", "watermill_dropped", "other_acked"} {
				if slices.Contains(got, not) {
					t.Fatalf("queue tables %q include %s", got, not)
				}
			}
			if _, err := db.ExecContext(ctx, "INSERT INTO watermill_handler_x (uuid, acked, created_at) VALUES ('a', FALSE, CURRENT_TIMESTAMP), ('b', TRUE, CURRENT_TIMESTAMP)"); err != nil {
				t.Fatal(err)
			}
			bs, err := db.QueueBacklogs(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var found bool
			for _, b := range bs {
				if b.Table == "watermill_handler_x" {
					found = true
					if b.Pending != 1 {
						t.Fatalf("backlog %+v, want 1 pending", b)
					}
				}
			}
			if !found {
				t.Fatalf("no backlog of watermill_handler_x in %+v", bs)
			}
		})
	}
}
