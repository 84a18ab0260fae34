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
			me() // warms the settings cache (and, on SQLite, prepares the statements in the background)
			db.WaitPrepared()
			stmts.Reset(true)
			me()
			want := 2 // Postgres: the session, the account joined with its certificate
			if !db.IsPostgres() {
				want = 3 // SQLite: three prepared lookups, the values bound, not written into the text
				for _, q := range stmts.Full() {
					if !strings.Contains(q, "?") || strings.Contains(q, "'u1'") || strings.Contains(q, application.HashToken("tok")) {
						t.Errorf("a lookup with its value in the text (parsed afresh each time): %s", q)
					}
				}
				if n := stmts.PreparedRuns(); n != 3 {
					t.Errorf("%d of the 3 lookups ran prepared", n)
				}
			}
			if got := stmts.Text(); len(got) != want {
				t.Fatalf("want %d SELECTs, got %d:\n  %s", want, len(got), strings.Join(got, "\n  "))
			}
			// Prepared once per pooled connection, not once per request.
			stmts.Reset(false)
			for range 20 {
				me()
			}
			if !db.IsPostgres() {
				if n, conns := stmts.Prepares(), int64(db.Stats().OpenConnections); n > 3*conns {
					t.Fatalf("%d statements prepared in 20 requests over %d connections", n, conns)
				}
			}
		})
	}
}

// BenchmarkMe is GET /me's database work in process (the session by its token, the account with
// its certificate and channel, the caller's enterprises), on each database.
func BenchmarkMe(b *testing.B) {
	for _, be := range testdb.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			db := be.Open(b)
			store := testdb.Store(b, db)
			ctx := context.Background()
			app := application.New(application.Deps{UoW: store, Clock: system.Clock{}, IDs: system.NewIDs()})
			// An enterprise with 200 join requests, the caller one of them, and planner statistics
			// (ANALYZE, as the load harness's seeded database has).
			seedPending(b, store, 200)
			s, err := session.Open("s1", "u00007", application.HashToken("tok"), time.Now())
			if err != nil {
				b.Fatal(err)
			}
			if err := store.Do(ctx, func(ctx context.Context, tx ports.Tx) error { return tx.Sessions().Add(ctx, s) }); err != nil {
				b.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, "ANALYZE"); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				actor, err := app.Authenticate(ctx, "tok")
				if err != nil {
					b.Fatal(err)
				}
				if _, err := app.Me(ctx, actor); err != nil {
					b.Fatal(err)
				}
				if _, err := app.MyEnterprises(ctx, actor); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
