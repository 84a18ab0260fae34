package contract

import (
	"context"
	"sync"
	"testing"

	"github.com/shuxinqian/server/adapters/bank"
	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/adapters/system"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/testdb"
)

// The durable sandbox bank keeps its transfers in the database: another instance (or the same
// one after a restart) sees them, and a repeated reference returns the first result there too,
// also when two instances remit it at once.
func TestSandboxBankIsDurableAndIdempotentAcrossInstances(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ ports.UnitOfWork) {
		ctx := context.Background()
		first := bank.NewDurableSandbox(system.Clock{}, testdb.Store(t, db).SandboxBank())
		second := bank.NewDurableSandbox(system.Clock{}, testdb.Store(t, db).SandboxBank()) // another process
		req := ports.RemitRequest{Reference: "v1/t1", AccountNumber: "6222 0212 3456 7890", AccountName: "数信科技有限公司",
			BankName: "工商银行", Province: "福建", Amount: kernel.Fen(37)}
		var wg sync.WaitGroup
		results := make([]ports.RemitResult, 4)
		for i := range results {
			wg.Go(func() {
				s := first
				if i%2 == 1 {
					s = second
				}
				r, err := s.Remit(ctx, req)
				if err != nil {
					t.Error(err)
				}
				results[i] = r
			})
		}
		wg.Wait()
		for _, r := range results[1:] {
			if r.BankRef != results[0].BankRef || !r.At.Equal(results[0].At) || !r.Remitted {
				t.Fatalf("results differ: %+v", results)
			}
		}
		failed, err := second.Remit(ctx, ports.RemitRequest{Reference: "v2/t1", AccountNumber: "6222021234560000", BankName: "工商银行", Amount: kernel.Fen(5)})
		if err != nil || failed.Remitted || failed.Reason != bank.ReasonAccountNotFound {
			t.Fatalf("not-found account: %+v %v", failed, err)
		}
		restarted := bank.NewDurableSandbox(system.Clock{}, testdb.Store(t, db).SandboxBank())
		all := restarted.All()
		if len(all) != 2 || all[0].Reference != "v2/t1" && all[1].Reference != "v2/t1" {
			t.Fatalf("transfers after a restart: %+v", all)
		}
		ts := restarted.Transfers("v1/t1")
		if len(ts) != 1 || ts[0].Amount != kernel.Fen(37) || ts[0].AccountMasked != "****7890" || ts[0].BankRef != results[0].BankRef {
			t.Fatalf("transfer %+v", ts)
		}
		if ts, err := testdb.Store(t, db).SandboxBank().List(ctx, "v2/", 10); err != nil || len(ts) != 1 || ts[0].Reference != "v2/t1" {
			t.Fatalf("by prefix: %+v %v", ts, err)
		}
	})
}
