package contract

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/seal"
	"github.com/shuxinqian/server/ports"
)

func newTestSeal(t *testing.T, id seal.ID, eid string, typ seal.Type, auto bool) *seal.Seal {
	t.Helper()
	s, err := seal.New(seal.NewParams{ID: id, EnterpriseID: kernel.EnterpriseID(eid), Type: typ, Template: seal.TemplateRoundStar,
		ImageFileID: kernel.FileID("f-" + string(id)), Automatic: auto, CreatedBy: "u-admin"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealRepository(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		eid, _ := seedPending(t, uow, 3) // e-bench, admin m-admin/u-admin, pending m00000..m00002 (u00000..)
		do := func(fn func(ctx context.Context, tx ports.Tx) error) error { return uow.Do(ctx, fn) }
		e := kernel.EnterpriseID(eid)
		before := outboxCount(t, db)

		official := newTestSeal(t, "s-1", eid, seal.TypeOfficial, true)
		contract := newTestSeal(t, "s-2", eid, seal.TypeContract, false)
		if err := do(func(ctx context.Context, tx ports.Tx) error {
			if err := tx.Seals().Add(ctx, official); err != nil {
				return err
			}
			return tx.Seals().Add(ctx, contract)
		}); err != nil {
			t.Fatal(err)
		}
		if got := outboxCount(t, db) - before; got != 2 {
			t.Fatalf("outbox: %d events, want 2 seal.created", got)
		}
		// One automatic seal per enterprise.
		dup := newTestSeal(t, "s-3", eid, seal.TypeOfficial, true)
		if err := do(func(ctx context.Context, tx ports.Tx) error { return tx.Seals().Add(ctx, dup) }); kernel.CodeOf(err) != "seal-automatic-exists" {
			t.Fatalf("second automatic seal: %v", err)
		}
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			if ok, err := tx.Seals().HasAutomatic(ctx, e); err != nil || !ok {
				t.Fatalf("has automatic: %v %v", ok, err)
			}
			if ok, _ := tx.Seals().HasAutomatic(ctx, "other"); ok {
				t.Fatal("another enterprise has no automatic seal")
			}
			if _, err := tx.Seals().Get(ctx, "other", "s-1"); kernel.CodeOf(err) != "seal-not-found" {
				t.Fatalf("another enterprise's id: %v", err)
			}
			return nil
		})

		// Grants: added, revoked, replaced; saved through Update and read back.
		exp := t0.Add(48 * time.Hour)
		if err := do(func(ctx context.Context, tx ports.Tx) error {
			return tx.Seals().Update(ctx, e, "s-2", func(s *seal.Seal) error {
				if _, err := s.GrantTo("g-1", "m00000", "u00000", exp, "u-admin", t0); err != nil {
					return err
				}
				if _, err := s.GrantTo("g-2", "m00001", "u00001", time.Time{}, "u-admin", t0); err != nil {
					return err
				}
				return s.Rename("合同章二号", "u-admin", t0)
			})
		}); err != nil {
			t.Fatal(err)
		}
		// The expired grant is replaced (revocation written before the new row: the open-grant
		// index allows one per member).
		later := exp.Add(time.Minute)
		if err := do(func(ctx context.Context, tx ports.Tx) error {
			return tx.Seals().Update(ctx, e, "s-2", func(s *seal.Seal) error {
				_, err := s.GrantTo("g-3", "m00000", "u00000", time.Time{}, "u-admin", later)
				return err
			})
		}); err != nil {
			t.Fatalf("replace an expired grant: %v", err)
		}
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			s, err := tx.Seals().Get(ctx, e, "s-2")
			if err != nil {
				t.Fatal(err)
			}
			gs := s.Grants()
			if s.Name() != "合同章二号" || s.Version() != 3 || len(gs) != 3 {
				t.Fatalf("seal after updates: %q v%d grants %+v", s.Name(), s.Version(), gs)
			}
			g1, _ := s.Grant("g-1")
			if !g1.ExpiresAt.Equal(exp) || g1.RevokeReason != seal.ReasonReplaced || !g1.RevokedAt.Equal(kernel.OccurredAt(later)) {
				t.Fatalf("g-1 %+v", g1)
			}
			if _, err := s.Authorize("u00000", later); err != nil {
				t.Fatalf("the new grant authorizes: %v", err)
			}
			return nil
		})

		// Removing a member revokes its grants on every seal, with events, in the caller's
		// transaction; a rolled-back transaction revokes nothing.
		if err := do(func(ctx context.Context, tx ports.Tx) error {
			return tx.Seals().Update(ctx, e, "s-1", func(s *seal.Seal) error {
				_, err := s.GrantTo("g-4", "m00001", "u00001", time.Time{}, "u-admin", later)
				return err
			})
		}); err != nil {
			t.Fatal(err)
		}
		rollback := kernel.Conflict("test-rollback", "roll back")
		if err := do(func(ctx context.Context, tx ports.Tx) error {
			n, err := tx.Seals().RevokeMemberGrants(ctx, e, "m00001", "u-admin", later)
			if err != nil || n != 2 {
				t.Fatalf("revoked %d %v", n, err)
			}
			return rollback
		}); !errors.Is(err, rollback) {
			t.Fatal(err)
		}
		mark := outboxCount(t, db)
		if err := do(func(ctx context.Context, tx ports.Tx) error {
			n, err := tx.Seals().RevokeMemberGrants(ctx, e, "m00001", "u-admin", later)
			if err == nil && n != 2 {
				t.Fatalf("revoked %d", n)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if got := outboxCount(t, db) - mark; got != 2 {
			t.Fatalf("outbox: %d, want 2 seal.grant_revoked", got)
		}
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			for _, id := range []seal.ID{"s-1", "s-2"} {
				s, _ := tx.Seals().Get(ctx, e, id)
				if _, err := s.Authorize("u00001", later); kernel.CodeOf(err) != "seal-not-granted" {
					t.Fatalf("%s still authorizes a removed member: %v", id, err)
				}
			}
			return nil
		})

		// List: cursor pagination, deleted seals left out.
		third := newTestSeal(t, "s-4", eid, seal.TypeHR, false)
		if err := do(func(ctx context.Context, tx ports.Tx) error {
			if err := tx.Seals().Add(ctx, third); err != nil {
				return err
			}
			return tx.Seals().Update(ctx, e, "s-4", func(s *seal.Seal) error { return s.Delete("u-admin", later) })
		}); err != nil {
			t.Fatal(err)
		}
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			page, err := tx.Seals().List(ctx, e, "", 1)
			if err != nil || len(page) != 1 || page[0].ID() != "s-1" || len(page[0].Grants()) != 1 {
				t.Fatalf("page 1: %v %v", page, err)
			}
			page, _ = tx.Seals().List(ctx, e, page[0].ID(), 10)
			if len(page) != 1 || page[0].ID() != "s-2" || len(page[0].Grants()) != 3 {
				t.Fatalf("page 2: %v", page)
			}
			if _, err := tx.Seals().Get(ctx, e, "s-4"); kernel.CodeOf(err) != "seal-not-found" {
				t.Fatalf("deleted seal: %v", err)
			}
			return nil
		})
		// Writes through a read-only unit of work fail.
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			if err := tx.Seals().Update(ctx, e, "s-1", func(*seal.Seal) error { return nil }); err == nil {
				t.Fatal("update through a read-only unit of work")
			}
			return nil
		})
	})
}
