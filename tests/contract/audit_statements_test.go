package contract

import (
	"context"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/system"
	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/testdb"
)

// TestAuditConsumerTakesNoTransaction: the audit line of a login is one INSERT … ON CONFLICT DO
// NOTHING (its unique message id is its inbox record) with no BEGIN/COMMIT of its own (it was
// BEGIN, inbox INSERT, audit INSERT, COMMIT); a redelivery records nothing twice.
func TestAuditConsumerTakesNoTransaction(t *testing.T) {
	for _, be := range testdb.CountingBackends() {
		t.Run(be.Name, func(t *testing.T) {
			db, stmts := be.Open(t)
			store := testdb.Store(t, db)
			ctx := context.Background()
			app := application.New(application.Deps{UoW: store, Clock: system.Clock{}, IDs: system.NewIDs()})
			ev := &user.LoggedIn{UserID: "u1", Method: "sms", At: time.Now()}
			stmts.Reset(true)
			if err := app.RecordAudit(ctx, "msg-1", ev); err != nil {
				t.Fatal(err)
			}
			if got := stmts.Text(); len(got) != 1 || stmts.Commits() != 0 {
				t.Fatalf("want one INSERT and no commit, got %d commits and %q", stmts.Commits(), got)
			}
			if err := app.RecordAudit(ctx, "msg-1", ev); err != nil { // redelivered
				t.Fatal(err)
			}
			var got []ports.AuditEntry
			_ = store.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
				var err error
				got, err = tx.Audit().ListByUser(ctx, "u1", 10)
				return err
			})
			if len(got) != 1 || got[0].MessageID != "msg-1" || got[0].Detail != "method=sms" {
				t.Fatalf("entries %+v", got)
			}
			// An event recorded through Autocommit is refused: events need the outbox's transaction.
			if err := store.Autocommit(ctx, func(ctx context.Context, tx ports.Tx) error {
				u, _ := user.Register("u2", "13800138002", time.Now())
				return tx.Users().Add(ctx, u)
			}); err == nil {
				t.Fatal("an event outside a transaction was accepted")
			}
		})
	}
}
