package contract

import (
	"context"
	"sync"
	"testing"

	"github.com/shuxinqian/server/adapters/document"
	"github.com/shuxinqian/server/adapters/filestore"
	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/adapters/system"
	"github.com/shuxinqian/server/application/seals"
	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/seal"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/fakes"
)

// TestOfficialSealOnVerification: the consumer of EnterpriseVerified makes exactly one official
// seal however often, and however concurrently, the event is delivered.
func TestOfficialSealOnVerification(t *testing.T) {
	r, err := document.NewSealRenderer()
	if err != nil {
		t.Fatal(err)
	}
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		eid, _ := seedPending(t, uow, 0)
		files, err := filestore.NewLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		svc := seals.New(seals.Deps{UoW: uow, Clock: fakes.NewClock(t0), IDs: system.NewIDs(), Files: files, Renderer: r})
		ev := &enterprise.EnterpriseVerified{EnterpriseID: kernel.EnterpriseID(eid), InitiatorID: "u-admin", At: t0}
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = svc.CreateOfficialSeal(ctx, ev) }()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("delivery: %v", err)
			}
		}
		if err := svc.CreateOfficialSeal(ctx, ev); err != nil { // a redelivery after the fact
			t.Fatal(err)
		}
		list, _, err := svc.List(ctx, "u-admin", kernel.EnterpriseID(eid), "", 10)
		if err != nil || len(list) != 1 {
			t.Fatalf("seals %v %v", list, err)
		}
		sl := list[0]
		if sl.Type() != seal.TypeOfficial || !sl.Automatic() || sl.Template() != seal.TemplateRoundStar || sl.Name() != "公章" {
			t.Fatalf("official seal %+v", sl.Snapshot())
		}
		png, err := svc.Image(ctx, "u-admin", kernel.EnterpriseID(eid), string(sl.ID()))
		if err != nil || seal.CheckImage(png) != nil {
			t.Fatalf("image: %v", err)
		}
	})
}
