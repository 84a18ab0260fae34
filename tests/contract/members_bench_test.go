package contract

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/uptrace/bun"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/adapters/system"
	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/membership"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/testdb"
)

// stmtCounter counts the statements bun sends (BEGIN and COMMIT included).
type stmtCounter struct{ n atomic.Int64 }

func (c *stmtCounter) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }
func (c *stmtCounter) AfterQuery(context.Context, *bun.QueryEvent)                        { c.n.Add(1) }

// BenchmarkBatchApprove approves n pending join requests in one call and reports the statements
// per batch. On SQLite the locking read and the UPDATE run as prepared statements, and the
// events go to the outbox as one bundle row through the transaction's *sql.Tx: none of these is
// visible to the bun hook, which sees BEGIN, the admin check and COMMIT on SQLite.
func BenchmarkBatchApprove(b *testing.B) {
	for _, be := range testdb.Backends() {
		for _, n := range []int{1, 10, 100, 1000} {
			b.Run(fmt.Sprintf("%s/%d", be.Name, n), func(b *testing.B) {
				db := be.Open(b)
				store := testdb.Store(b, db)
				ctx := context.Background()
				app := application.New(application.Deps{UoW: store, Clock: system.Clock{}, IDs: system.NewIDs()})
				eid, ids := seedPending(b, store, n)
				counter := &stmtCounter{}
				db.AddQueryHook(counter) //nolint:staticcheck // WithQueryHook returns a clone; the store holds this DB
				var stmts int64
				for b.Loop() {
					b.StopTimer()
					if _, err := db.NewUpdate().Table("memberships").Set("status = 'pending'").Set("cert_authorized = FALSE").
						Where("enterprise_id = ? AND id <> 'm-admin'", eid).Exec(ctx); err != nil {
						b.Fatal(err)
					}
					counter.n.Store(0)
					b.StartTimer()
					res, err := app.DecideBatch(ctx, application.Actor{UserID: "u-admin"}, eid, ids, application.Approve)
					if err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					stmts = counter.n.Load()
					for _, r := range res {
						if r.Err != nil {
							b.Fatalf("item %s: %v", r.ID, r.Err)
						}
					}
					b.StartTimer()
				}
				b.ReportMetric(float64(stmts), "statements/batch")
				b.ReportMetric(float64(n), "members/batch")
			})
		}
	}
}

// seedPending makes a verified enterprise with an admin and n pending join requests.
func seedPending(b testing.TB, store ports.UnitOfWork, n int) (string, []string) {
	b.Helper()
	ctx := context.Background()
	now := time.Now()
	v, err := enterprise.Start(enterprise.StartParams{ID: "v-bench", Initiator: enterprise.Initiator{UserID: "u-admin", Name: "管理", IDNumber: "110105194912310021", Verified: true},
		EnterpriseName: "基准企业", CreditCode: "91350100M000100Y43", LegalRepName: "张三", LegalRepIDNumber: "11010519491231002X",
		LegalRepPhone: "13800138000", LicenceFileID: "f", AgreementAccepted: true}, now)
	if err != nil {
		b.Fatal(err)
	}
	_ = v.RequestTransfer(enterprise.TransferRequest{ID: "t", AccountNumber: "6222021234567890", BankName: "银行", Province: "省", Amount: kernel.Fen(5)}, now)
	_ = v.TransferRemitted("t", now)
	_ = v.ConfirmTransfer(kernel.Fen(5), "scan", now)
	e, err := enterprise.NewFromVerification("e-bench", v, now)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, n)
	err = store.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		admin, _ := user.Register("u-admin", "13900000000", now)
		if err := tx.Users().Add(ctx, admin); err != nil {
			return err
		}
		if err := tx.Enterprises().Add(ctx, e); err != nil {
			return err
		}
		m, _ := membership.Founder("m-admin", "e-bench", "u-admin", membership.RoleAdmin, now)
		if err := tx.Memberships().Add(ctx, m); err != nil {
			return err
		}
		for i := range n {
			u, _ := user.Register(kernel.UserID(fmt.Sprintf("u%05d", i)), kernel.Phone(fmt.Sprintf("137%08d", i)), now)
			if err := tx.Users().Add(ctx, u); err != nil {
				return err
			}
			p, _ := membership.Apply(kernel.MembershipID(fmt.Sprintf("m%05d", i)), "e-bench", u.ID(), now)
			if err := tx.Memberships().Add(ctx, p); err != nil {
				return err
			}
			ids[i] = string(p.ID)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return "e-bench", ids
}

// TestBatchApproveStatementsAreBounded pins what the benchmark reports: the statement count of
// a batch does not grow with its size.
func TestBatchApproveStatementsAreBounded(t *testing.T) {
	for _, be := range testdb.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			counts := map[int]int64{}
			for _, n := range []int{3, 60} {
				db := be.Open(t)
				store := testdb.Store(t, db)
				app := application.New(application.Deps{UoW: store, Clock: system.Clock{}, IDs: system.NewIDs()})
				eid, ids := seedPending(t, store, n)
				counter := &stmtCounter{}
				db.AddQueryHook(counter) //nolint:staticcheck // WithQueryHook returns a clone; the store holds this DB
				if _, err := app.DecideBatch(context.Background(), application.Actor{UserID: "u-admin"}, eid, ids, application.Approve); err != nil {
					t.Fatal(err)
				}
				counts[n] = counter.n.Load()
			}
			if counts[3] != counts[60] || counts[60] > 6 {
				t.Fatalf("statements per batch: %v (must not grow with the batch)", counts)
			}
		})
	}
}

// TestBatchApproveOutboxBundle: a batch's events reach the outbox as one row (a bundle,
// sqlstore/bundle.go) in one INSERT on both databases, holding one event per member in the
// batch's order, each with its own message id.
func TestBatchApproveOutboxBundle(t *testing.T) {
	for _, be := range testdb.CountingBackends() {
		t.Run(be.Name, func(t *testing.T) {
			db, stmts := be.Open(t)
			store := testdb.Store(t, db)
			ctx := context.Background()
			app := application.New(application.Deps{UoW: store, Clock: system.Clock{}, IDs: system.NewIDs()})
			eid, ids := seedPending(t, store, 1000)
			if _, err := db.NewDelete().Table("watermill_outbox").Where("1 = 1").Exec(ctx); err != nil {
				t.Fatal(err)
			}
			stmts.Reset(true)
			res, err := app.DecideBatch(ctx, application.Actor{UserID: "u-admin"}, eid, ids, application.Approve)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res {
				if r.Err != nil {
					t.Fatalf("%s: %v", r.ID, r.Err)
				}
			}
			var inserts []int
			for _, q := range stmts.Full() {
				if strings.HasPrefix(q, "INSERT INTO watermill_outbox") {
					inserts = append(inserts, strings.Count(q, "),(")+1)
				}
			}
			if !slices.Equal(inserts, []int{1}) {
				t.Fatalf("outbox INSERTs of %v rows, want one of one row", inserts)
			}
			var payloads [][]byte
			if err := db.NewSelect().Table("watermill_outbox").Column("payload").OrderExpr(`"offset"`).Scan(ctx, &payloads); err != nil {
				t.Fatal(err)
			}
			if len(payloads) != 1 {
				t.Fatalf("%d outbox rows for a batch, want 1", len(payloads))
			}
			var env struct {
				Payload  []byte            `json:"payload"`
				Metadata map[string]string `json:"metadata"`
			}
			if err := json.Unmarshal(payloads[0], &env); err != nil {
				t.Fatal(err)
			}
			if env.Metadata["name"] != sqlstore.BundleEvent || env.Metadata["events"] != "1000" || env.Metadata["encoding"] != "s2" {
				t.Fatalf("outbox row metadata %v, want an s2 bundle of 1000", env.Metadata)
			}
			plain, err := s2.Decode(nil, env.Payload)
			if err != nil {
				t.Fatal(err)
			}
			var items []struct {
				UUID     string                  `json:"uuid"`
				Metadata map[string]string       `json:"metadata"`
				Payload  membership.JoinApproved `json:"payload"`
			}
			if err := json.Unmarshal(plain, &items); err != nil {
				t.Fatal(err)
			}
			if len(items) != len(ids) {
				t.Fatalf("a bundle of %d events for %d approvals", len(items), len(ids))
			}
			uuids := map[string]bool{}
			for i, it := range items {
				if string(it.Payload.MembershipID) != ids[i] || it.Metadata["name"] != "membership.join_approved" || it.UUID == "" || uuids[it.UUID] {
					t.Fatalf("bundle item %d: %+v (want %s, in the batch's order, with a new id)", i, it, ids[i])
				}
				uuids[it.UUID] = true
			}
		})
	}
}
