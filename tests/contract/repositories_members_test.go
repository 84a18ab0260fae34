package contract

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/adapters/system"
	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/membership"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/testdb"
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
		// DecideMany answers per item; a failing item changes nothing. An id of another
		// enterprise is not found.
		var res map[kernel.MembershipID]error
		if err := do(func(ctx context.Context, tx ports.Tx) error {
			var err error
			res, err = tx.Memberships().DecideMany(ctx, kernel.EnterpriseID(eid), []kernel.MembershipID{"m00001", "m00000", "nope", "m00001"},
				membership.Approval("u-admin", t0))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if len(res) != 3 || res["m00001"] != nil || kernel.CodeOf(res["m00000"]) != "member-not-pending" || kernel.CodeOf(res["nope"]) != "member-not-found" {
			t.Fatalf("per-item results %v", res)
		}
		if err := do(func(ctx context.Context, tx ports.Tx) error {
			var err error
			res, err = tx.Memberships().DecideMany(ctx, "other", []kernel.MembershipID{"m00002"}, membership.Approval("u-admin", t0))
			return err
		}); err != nil || kernel.CodeOf(res["m00002"]) != "member-not-found" {
			t.Fatalf("another enterprise's request: %v %v", res, err)
		}
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			a, _ := tx.Memberships().GetByID(ctx, kernel.EnterpriseID(eid), "m00001")
			r, _ := tx.Memberships().GetByID(ctx, kernel.EnterpriseID(eid), "m00000")
			if a.Status != membership.StatusActive || !a.CertAuthorized || a.Version != 2 || r.Status != membership.StatusRejected {
				t.Fatalf("after batch: %+v %+v", a, r)
			}
			if o, _ := tx.Memberships().GetByID(ctx, kernel.EnterpriseID(eid), "m00002"); o.Status != membership.StatusPending || o.Version != 1 {
				t.Fatalf("decided through another enterprise: %+v", o)
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

// TestDecideManyMatchesDecide holds the bulk path to the aggregate: a request decided by
// DecideMany (one guarded UPDATE, membership.Decision's statement of the effect) reads back the
// same as one decided by Update with Membership.Decide, for an approval and a rejection, and
// writes the same event. Either way the person may apply again only after a rejection.
func TestDecideManyMatchesDecide(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		eid, _ := seedPending(t, uow, 4)
		e := kernel.EnterpriseID(eid)
		at := t0.Add(time.Hour)
		lastEvent := func() map[string]any {
			var payloads [][]byte
			if err := db.NewSelect().Table("watermill_outbox").Column("payload").OrderExpr(`"offset" DESC`).Limit(1).Scan(ctx, &payloads); err != nil || len(payloads) != 1 {
				t.Fatalf("outbox: %v", err)
			}
			var env struct {
				Payload  []byte            `json:"payload"`
				Metadata map[string]string `json:"metadata"`
			}
			if err := json.Unmarshal(payloads[0], &env); err != nil {
				t.Fatal(err)
			}
			ev := map[string]any{"name": env.Metadata["name"]}
			if err := json.Unmarshal(env.Payload, &ev); err != nil {
				t.Fatal(err)
			}
			return ev
		}
		for _, tc := range []struct {
			name           string
			d              membership.Decision
			single, bulk   kernel.MembershipID
			singleU, bulkU kernel.UserID
		}{
			{"approval", membership.Approval("u-admin", at), "m00000", "m00001", "u00000", "u00001"},
			{"rejection", membership.Rejection("u-admin", at), "m00002", "m00003", "u00002", "u00003"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
					return tx.Memberships().Update(ctx, e, tc.single, func(m *membership.Membership) error { return m.Decide(tc.d) })
				}); err != nil {
					t.Fatal(err)
				}
				singleEv := lastEvent()
				if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
					res, err := tx.Memberships().DecideMany(ctx, e, []kernel.MembershipID{tc.bulk}, tc.d)
					if err == nil && res[tc.bulk] != nil {
						err = res[tc.bulk]
					}
					return err
				}); err != nil {
					t.Fatal(err)
				}
				bulkEv := lastEvent()
				var one, many *membership.Membership
				_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
					one, _ = tx.Memberships().GetByID(ctx, e, tc.single)
					many, _ = tx.Memberships().GetByID(ctx, e, tc.bulk)
					return nil
				})
				if one == nil || many == nil {
					t.Fatal("decided requests not found")
				}
				if one.Status != tc.d.Status() || one.DecidedBy != "u-admin" || !one.UpdatedAt.Equal(tc.d.At()) {
					t.Fatalf("decided one by one: %+v", one)
				}
				// Everything but the request's own id and user.
				many.ID, many.UserID = one.ID, one.UserID
				many.Events, one.Events = kernel.Events{}, kernel.Events{}
				if !reflect.DeepEqual(one, many) {
					t.Fatalf("decided in bulk\n%+v\nbut one by one\n%+v", many, one)
				}
				if bulkEv["membership_id"] != string(tc.bulk) || bulkEv["user_id"] != string(tc.bulkU) || singleEv["user_id"] != string(tc.singleU) {
					t.Fatalf("events %v and %v", singleEv, bulkEv)
				}
				bulkEv["membership_id"], bulkEv["user_id"] = singleEv["membership_id"], singleEv["user_id"]
				if !reflect.DeepEqual(singleEv, bulkEv) {
					t.Fatalf("event in bulk %v, one by one %v", bulkEv, singleEv)
				}
				again, _ := membership.Apply("again-"+tc.bulk, e, tc.bulkU, at)
				err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error { return tx.Memberships().Add(ctx, again) })
				if tc.d.Admits() != (kernel.CodeOf(err) == "join-request-pending") || (!tc.d.Admits() && err != nil) {
					t.Fatalf("applying again after the %s: %v", tc.name, err)
				}
			})
		}
	})
}

// queryCapture keeps the text of the last statement bun ran.
type queryCapture struct{ last string }

func (c *queryCapture) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}
func (c *queryCapture) AfterQuery(_ context.Context, e *bun.QueryEvent) { c.last = e.Query }

// queryPlan is SQLite's EXPLAIN QUERY PLAN of q, its steps joined by "; ". A prepared
// statement's placeholders are all bound to arg.
func queryPlan(t *testing.T, db *sqlstore.DB, q string, arg ...any) string {
	t.Helper()
	var args []any
	if len(arg) > 0 {
		for range strings.Count(q, "?") {
			args = append(args, arg[0])
		}
	}
	rows, err := db.DB.DB.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer func() { _ = rows.Close() }()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "; ")
}

// TestMemberPagesUseTheirIndexes: on SQLite (which uses a partial index only when the query
// states its condition) the members list of one status other than active reads the partial
// memberships_enterprise_status_page; the active members and every status together page through
// memberships_enterprise_page; none sorts.
func TestMemberPagesUseTheirIndexes(t *testing.T) {
	db := testdb.SQLite(t)
	uow := testdb.Store(t, db)
	ctx := context.Background()
	eid, _ := seedPending(t, uow, 3)
	if _, err := db.ExecContext(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	c := &queryCapture{}
	db.AddQueryHook(c) //nolint:staticcheck // WithQueryHook returns a clone; the store holds this DB
	for _, tc := range []struct {
		states []membership.Status
		index  string
	}{
		{[]membership.Status{membership.StatusActive}, "memberships_enterprise_page"},
		{[]membership.Status{membership.StatusPending}, "memberships_enterprise_status_page"},
		{[]membership.Status{membership.StatusRejected, membership.StatusRemoved}, "memberships_enterprise_"}, // either way, no sort
		{nil, "memberships_enterprise_page"},
		{[]membership.Status{membership.StatusActive, membership.StatusPending}, "memberships_enterprise_page"},
	} {
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			_, err := tx.Memberships().Page(ctx, kernel.EnterpriseID(eid), tc.states, "m99999", 20)
			return err
		})
		text := queryPlan(t, db, c.last)
		if !strings.Contains(text, "INDEX "+tc.index) || strings.Contains(text, "TEMP B-TREE") {
			t.Errorf("members of %v: plan %q, want %s without a sort", tc.states, text, tc.index)
		}
	}
}

// TestMembershipsOfAPersonUseTheirIndexes: on an analysed SQLite database a person's memberships
// (ListByUser), their membership of one enterprise (Current) and their enterprises (ListOfMember,
// GET /me) are index lookups: the open memberships through memberships_open_key, which leads
// with the person, the closed ones through the partial memberships_user_closed; no statement
// reads the table through. Approving a request adds no entry to memberships_user_closed
// (its open_key stays), which the index's predicate is for.
func TestMembershipsOfAPersonUseTheirIndexes(t *testing.T) {
	db, stmts := testdb.CountingSQLite(t)
	uow := testdb.Store(t, db)
	ctx := context.Background()
	eid, ids := seedPending(t, uow, 200)
	app := application.New(application.Deps{UoW: uow, Clock: system.Clock{}, IDs: system.NewIDs()})
	if _, err := app.DecideBatch(ctx, application.Actor{UserID: "u-admin"}, eid, ids[:100], application.Approve); err != nil {
		t.Fatal(err)
	}
	if _, err := app.DecideBatch(ctx, application.Actor{UserID: "u-admin"}, eid, ids[100:150], application.Reject); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	var closed int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM memberships INDEXED BY memberships_user_closed WHERE user_id IS NOT NULL AND open_key IS NULL").
		Scan(&closed); err != nil || closed != 50 {
		t.Fatalf("memberships_user_closed holds %d entries (%v), want the 50 rejected requests", closed, err)
	}
	stmts.Reset(true)
	if err := uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		for _, uid := range []kernel.UserID{"u00007", "u00120", "u00170"} { // approved, rejected, pending
			if ms, err := tx.Memberships().ListByUser(ctx, uid); err != nil || len(ms) != 1 {
				return fmt.Errorf("ListByUser(%s): %d, %w", uid, len(ms), err)
			}
			if _, err := tx.Memberships().Current(ctx, kernel.EnterpriseID(eid), uid); err != nil {
				return fmt.Errorf("Current(%s): %w", uid, err)
			}
		}
		es, err := tx.Enterprises().ListOfMember(ctx, "u00007")
		if err != nil || len(es) != 1 {
			return fmt.Errorf("ListOfMember: %d, %w", len(es), err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	explained := 0
	for _, q := range stmts.Full() {
		if !strings.Contains(q, "memberships") {
			continue
		}
		text := queryPlan(t, db, q, "u00007")
		if !strings.Contains(text, "memberships_open_key") || strings.Contains(text, "SCAN m ") || strings.HasSuffix(text, "SCAN m") ||
			strings.Contains(text, "SCAN memberships") {
			t.Errorf("%s\nplan %q: want memberships_open_key, no scan of the table", q, text)
		}
		explained++
	}
	if explained != 7 {
		t.Fatalf("%d statements on memberships, want 7 (3 ListByUser, 3 Current, 1 ListOfMember)", explained)
	}
}
