package contract

import (
	"context"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/membership"
	"github.com/shuxinqian/server/ports"
)

func TestMembershipRepository(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		eid, _ := seedPending(t, uow, 3) // e-bench, admin u-admin, pending m00000..m00002
		do := func(fn func(ctx context.Context, tx ports.Tx) error) error { return uow.Do(ctx, fn) }

		// One open membership per person: a second request is refused, a rejected one may re-apply.
		dup, _ := membership.Apply("m-dup", kernel.EnterpriseID(eid), "u00000", t0)
		if err := do(func(ctx context.Context, tx ports.Tx) error { return tx.Memberships().Add(ctx, dup) }); kernel.CodeOf(err) != "join-request-pending" {
			t.Fatalf("second open request: %v", err)
		}
		if err := do(func(ctx context.Context, tx ports.Tx) error {
			return tx.Memberships().Update(ctx, kernel.EnterpriseID(eid), "m00000", func(m *membership.Membership) error { return m.Reject("u-admin", t0) })
		}); err != nil {
			t.Fatal(err)
		}
		again, _ := membership.Apply("m-again", kernel.EnterpriseID(eid), "u00000", t0.Add(time.Minute))
		if err := do(func(ctx context.Context, tx ports.Tx) error { return tx.Memberships().Add(ctx, again) }); err != nil {
			t.Fatalf("re-apply after rejection: %v", err)
		}
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			cur, err := tx.Memberships().Current(ctx, kernel.EnterpriseID(eid), "u00000")
			if err != nil || cur.ID != "m-again" || cur.Status != membership.StatusPending {
				t.Fatalf("current %+v %v", cur, err)
			}
			rejected, _ := tx.Memberships().Page(ctx, kernel.EnterpriseID(eid), []membership.Status{membership.StatusRejected}, "", 10)
			if len(rejected) != 1 || rejected[0].M.ID != "m00000" {
				t.Fatalf("rejected list %+v", rejected)
			}
			if n, _ := tx.Memberships().CountAdmins(ctx, kernel.EnterpriseID(eid)); n != 1 {
				t.Fatalf("admins %d", n)
			}
			if _, err := tx.Memberships().GetByID(ctx, "other", "m00001"); kernel.CodeOf(err) != "member-not-found" {
				t.Fatalf("another enterprise's id: %v", err)
			}
			return nil
		})
		// UpdateMany answers per item; a failing item changes nothing.
		var res map[kernel.MembershipID]error
		if err := do(func(ctx context.Context, tx ports.Tx) error {
			var err error
			res, err = tx.Memberships().UpdateMany(ctx, kernel.EnterpriseID(eid), []kernel.MembershipID{"m00001", "m00000", "nope", "m00001"},
				func(m *membership.Membership) error { return m.Approve("u-admin", t0) })
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if res["m00001"] != nil || kernel.CodeOf(res["m00000"]) != "member-not-pending" || kernel.CodeOf(res["nope"]) != "member-not-found" {
			t.Fatalf("per-item results %v", res)
		}
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			a, _ := tx.Memberships().GetByID(ctx, kernel.EnterpriseID(eid), "m00001")
			r, _ := tx.Memberships().GetByID(ctx, kernel.EnterpriseID(eid), "m00000")
			if a.Status != membership.StatusActive || !a.CertAuthorized || a.Version != 2 || r.Status != membership.StatusRejected {
				t.Fatalf("after batch: %+v %+v", a, r)
			}
			return nil
		})
		// Invitations: encrypted, one open per phone and enterprise, found by phone.
		inv, _ := membership.Invite("m-inv", kernel.EnterpriseID(eid), "孙七", "13100000004", membership.RoleMember, "u-admin", t0)
		if err := do(func(ctx context.Context, tx ports.Tx) error { return tx.Memberships().Add(ctx, inv) }); err != nil {
			t.Fatal(err)
		}
		inv2, _ := membership.Invite("m-inv2", kernel.EnterpriseID(eid), "孙七", "13100000004", membership.RoleMember, "u-admin", t0)
		if err := do(func(ctx context.Context, tx ports.Tx) error { return tx.Memberships().Add(ctx, inv2) }); kernel.CodeOf(err) != "already-invited" {
			t.Fatalf("second invite: %v", err)
		}
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			got, err := tx.Memberships().OpenInvites(ctx, "13100000004")
			if err != nil || len(got) != 1 || got[0].InviteeName != "孙七" || got[0].InviteePhone != "13100000004" || got[0].UserID != "" {
				t.Fatalf("invites %+v %v", got, err)
			}
			return nil
		})
		var enc []byte
		if err := db.NewSelect().Table("memberships").Column("invitee_phone_enc").Where("id = 'm-inv'").Scan(ctx, &enc); err != nil ||
			len(enc) == 0 || string(enc) == "13100000004" {
			t.Fatalf("invitee phone in clear: %v", err)
		}
	})
}
