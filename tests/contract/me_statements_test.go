package contract

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/system"
	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/session"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/testdb"
)

// TestMeStatements: GET /me's work (the bearer token's session, then the account with its
// channel) is two SELECTs once the platform settings and channels are cached (they were five:
// settings and the channel's catalog were read every time).
func TestMeStatements(t *testing.T) {
	for _, be := range testdb.CountingBackends() {
		t.Run(be.Name, func(t *testing.T) {
			db, stmts := be.Open(t)
			store := testdb.Store(t, db)
			ctx := context.Background()
			now := time.Now()
			app := application.New(application.Deps{UoW: store, Clock: system.Clock{}, IDs: system.NewIDs()})
			addUser(t, store, newUser(t, "u1", "13800138000"))
			s, err := session.Open("s1", "u1", application.HashToken("tok"), now)
			if err != nil {
				t.Fatal(err)
			}
			if err := store.Do(ctx, func(ctx context.Context, tx ports.Tx) error { return tx.Sessions().Add(ctx, s) }); err != nil {
				t.Fatal(err)
			}
			me := func() {
				actor, err := app.Authenticate(ctx, "tok")
				if err != nil {
					t.Fatal(err)
				}
				if v, err := app.Me(ctx, actor); err != nil || v.ID != "u1" {
					t.Fatalf("%+v %v", v, err)
				}
			}
			me() // warms the settings cache
			stmts.Reset(true)
			me()
			if got := stmts.Text(); len(got) != 2 {
				t.Fatalf("want 2 SELECTs, got %d:\n  %s", len(got), strings.Join(got, "\n  "))
			}
		})
	}
}
