package contract

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

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

// pageSeed is what seedMemberPages wrote: the enterprise, its admin, and the expected listing
// of every membership by id.
type pageSeed struct {
	EnterpriseID kernel.EnterpriseID
	AdminID      kernel.UserID
	Want         map[kernel.MembershipID]ports.MemberListing
}

// seedMemberPages bulk-writes an enterprise "e-page" with an active admin and n more
// memberships in every state (active, pending, removed, rejected, invited without an account),
// their users half verified (with a real name) and half not, plus an enterprise "e-other" with
// a few members that must never show. The ids are ULIDs written in shuffled order with
// unrelated creation times, so the list order is the id order only.
func seedMemberPages(t testing.TB, store *sqlstore.Store, n int) pageSeed {
	t.Helper()
	ids := system.NewIDs()
	now := time.Now().UTC().Truncate(time.Microsecond)
	var b sqlstore.BulkSeed
	ent := func(id kernel.EnterpriseID, credit kernel.CreditCode) {
		b.Enterprises = append(b.Enterprises, enterprise.EnterpriseFromSnapshot(enterprise.EnterpriseSnapshot{
			ID: id, Name: "分页企业" + string(id), CreditCode: credit, LegalRepName: "张三", LegalRepIDNumber: "11010519491231002X",
			Method: enterprise.MethodLegalRepAuthorization, VerificationID: kernel.VerificationID("v-" + id), VerifiedAt: now,
		}))
	}
	ent("e-page", "91350100M000100Y43")
	ent("e-other", "91110000600037341L")
	seq := 0
	newUser := func(verified bool) *user.User {
		seq++
		s := user.Snapshot{ID: kernel.UserID(fmt.Sprintf("u-page-%05d", seq)), Phone: kernel.Phone(fmt.Sprintf("136%08d", seq)),
			RealName: user.RealNameUnverified, CreatedAt: now, UpdatedAt: now, Version: 1}
		if verified {
			s.RealName = user.RealNameVerified
			s.Identity = user.Identity{Name: fmt.Sprintf("成员%05d", seq), IDNumber: kernel.IDNumber(fmt.Sprintf("1101051949%08d", seq)),
				Method: "id2", VerifiedAt: now}
		}
		u := user.FromSnapshot(s)
		b.Users = append(b.Users, u)
		return u
	}
	ps := pageSeed{EnterpriseID: "e-page", Want: map[kernel.MembershipID]ports.MemberListing{}}
	add := func(eid kernel.EnterpriseID, i int, role membership.Role, st membership.Status) {
		m := &membership.Membership{ID: kernel.MembershipID(ids.NewID()), EnterpriseID: eid, Role: role, Status: st,
			CreatedAt: now.Add(-time.Duration(rand.IntN(100000)) * time.Second), UpdatedAt: now, Version: 1}
		l := ports.MemberListing{M: m}
		if st == membership.StatusInvited {
			m.InviteeName, m.InviteePhone = fmt.Sprintf("邀请%05d", i), kernel.Phone(fmt.Sprintf("135%08d", i))
			l.Name, l.Phone = m.InviteeName, m.InviteePhone
		} else {
			u := newUser(i%2 == 0)
			m.UserID = u.ID()
			l.Name, l.Phone, l.RealNameStatus = u.Identity().Name, u.Phone(), u.RealNameStatus()
		}
		if st == membership.StatusActive {
			m.JoinedAt, m.CertAuthorized = m.CreatedAt, true
		}
		b.Memberships = append(b.Memberships, m)
		if eid == ps.EnterpriseID {
			ps.Want[m.ID] = l
		}
	}
	add("e-page", 0, membership.RoleAdmin, membership.StatusActive)
	ps.AdminID = b.Memberships[0].UserID
	states := []membership.Status{membership.StatusActive, membership.StatusPending, membership.StatusRemoved, membership.StatusRejected, membership.StatusInvited}
	for i := 1; i <= n; i++ {
		add("e-page", i, membership.RoleMember, states[i%len(states)])
	}
	for i := n + 1; i <= n+5; i++ {
		add("e-other", i, membership.RoleMember, states[i%len(states)])
	}
	rand.Shuffle(len(b.Memberships), func(i, j int) { b.Memberships[i], b.Memberships[j] = b.Memberships[j], b.Memberships[i] })
	if err := store.Seed(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	return ps
}

// wantIDs are the seeded ids of e-page in the given states (all when none), newest (largest) first.
func (ps pageSeed) wantIDs(states ...membership.Status) []kernel.MembershipID {
	var out []kernel.MembershipID
	for id, l := range ps.Want {
		if len(states) == 0 || slices.Contains(states, l.M.Status) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out
}

// TestMembershipPages pages through a 120-member enterprise: every membership exactly once, in
// id order, with its person's display data, for every page size and status filter.
func TestMembershipPages(t *testing.T) {
	for _, be := range testdb.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			store := testdb.Store(t, be.Open(t))
			ps := seedMemberPages(t, store, 119)
			ctx := context.Background()
			page := func(states []membership.Status, before kernel.MembershipID, limit int) []ports.MemberListing {
				t.Helper()
				var ls []ports.MemberListing
				if err := store.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
					var err error
					ls, err = tx.Memberships().Page(ctx, ps.EnterpriseID, states, before, limit)
					return err
				}); err != nil {
					t.Fatal(err)
				}
				return ls
			}
			for _, tc := range []struct {
				name   string
				states []membership.Status
				limit  int
			}{
				{"every state, 7 a page", nil, 7},
				{"every state, 50 a page", nil, 50},
				{"every state, one page of 200", nil, 200},
				{"every state, 1 a page", nil, 1},
				{"active, 10 a page", []membership.Status{membership.StatusActive}, 10},
				{"pending and invited, 9 a page", []membership.Status{membership.StatusPending, membership.StatusInvited}, 9},
				{"removed, 24 a page (exactly one page)", []membership.Status{membership.StatusRemoved}, 24},
			} {
				t.Run(tc.name, func(t *testing.T) {
					want := ps.wantIDs(tc.states...)
					var got []kernel.MembershipID
					var before kernel.MembershipID
					for pages := 0; ; pages++ {
						if pages > len(want)+1 {
							t.Fatalf("no end after %d pages", pages)
						}
						ls := page(tc.states, before, tc.limit)
						if len(ls) > tc.limit {
							t.Fatalf("page of %d, limit %d", len(ls), tc.limit)
						}
						for _, l := range ls {
							w, ok := ps.Want[l.M.ID]
							if !ok {
								t.Fatalf("membership %s is not e-page's", l.M.ID)
							}
							if l.M.Status != w.M.Status || l.M.UserID != w.M.UserID || l.M.Role != w.M.Role || !l.M.CreatedAt.Equal(w.M.CreatedAt) ||
								l.Name != w.Name || l.Phone != w.Phone || l.RealNameStatus != w.RealNameStatus {
								t.Fatalf("listing %s = {%s %s %q %s %s}, want {%s %s %q %s %s}", l.M.ID, l.M.Status, l.M.UserID, l.Name, l.Phone,
									l.RealNameStatus, w.M.Status, w.M.UserID, w.Name, w.Phone, w.RealNameStatus)
							}
							got = append(got, l.M.ID)
						}
						if len(ls) < tc.limit {
							break
						}
						before = ls[len(ls)-1].M.ID
					}
					if !slices.Equal(got, want) {
						t.Fatalf("paged %d ids, want %d in id order (duplicates, gaps or order):\n got %v\nwant %v", len(got), len(want), got, want)
					}
				})
			}
			t.Run("stable: the same cursor gives the same page", func(t *testing.T) {
				first := page(nil, "", 13)
				a, b := page(nil, first[12].M.ID, 13), page(nil, first[12].M.ID, 13)
				if len(a) != 13 || !slices.EqualFunc(a, b, func(x, y ports.MemberListing) bool { return x.M.ID == y.M.ID }) {
					t.Fatalf("two reads of one page differ: %d vs %d", len(a), len(b))
				}
			})
			t.Run("a cursor past the end and another enterprise", func(t *testing.T) {
				if ls := page(nil, "0", 50); len(ls) != 0 {
					t.Fatalf("below every id: %d", len(ls))
				}
				var other []ports.MemberListing
				_ = store.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
					var err error
					other, err = tx.Memberships().Page(ctx, "e-other", nil, "", 50)
					return err
				})
				if len(other) != 5 {
					t.Fatalf("e-other has %d members, want 5", len(other))
				}
				for _, l := range other {
					if _, ok := ps.Want[l.M.ID]; ok {
						t.Fatalf("e-page's %s listed for e-other", l.M.ID)
					}
				}
			})
		})
	}
}

// TestMembersStatementsPerPage pins the members list's cost: the same number of statements
// for the first, a middle and the last page, whatever the page size (the caller's membership
// and the page: no per-member user or certificate read).
func TestMembersStatementsPerPage(t *testing.T) {
	for _, be := range testdb.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			db := be.Open(t)
			store := testdb.Store(t, db)
			ps := seedMemberPages(t, store, 119)
			app := application.New(application.Deps{UoW: store, Clock: system.Clock{}, IDs: system.NewIDs()})
			counter := &stmtCounter{}
			db.AddQueryHook(counter) //nolint:staticcheck // WithQueryHook returns a clone; the store holds this DB
			all := ps.wantIDs()
			var counts []int64
			for _, limit := range []int{1, 10, 50, 200} {
				for _, before := range []kernel.MembershipID{"", all[len(all)/2], all[max(len(all)-limit-1, 0)]} {
					counter.n.Store(0)
					vs, err := app.Members(context.Background(), application.Actor{UserID: string(ps.AdminID)}, string(ps.EnterpriseID), nil, string(before), limit)
					if err != nil {
						t.Fatal(err)
					}
					if len(vs) == 0 {
						t.Fatalf("limit %d before %q: empty page", limit, before)
					}
					counts = append(counts, counter.n.Load())
				}
			}
			for _, c := range counts {
				if c != counts[0] {
					t.Fatalf("statements per page vary: %v", counts)
				}
			}
			// The caller's membership, then the page.
			if counts[0] != 2 {
				t.Fatalf("%d statements per page, want 2", counts[0])
			}
		})
	}
}

// BenchmarkMembersPage lists the first and the last page (50 members) of an enterprise of 5,000
// members through the application, as GET …/members?limit=50[&before=…] does. Issue 14: the
// last page costs the same as the first (within 2×).
func BenchmarkMembersPage(b *testing.B) {
	for _, be := range testdb.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			db := be.Open(b)
			store := testdb.Store(b, db)
			ps := seedMemberPages(b, store, 4999)
			app := application.New(application.Deps{UoW: store, Clock: system.Clock{}, IDs: system.NewIDs()})
			all := ps.wantIDs()
			counter := &stmtCounter{}
			db.AddQueryHook(counter) //nolint:staticcheck // WithQueryHook returns a clone; the store holds this DB
			for _, p := range []struct {
				name   string
				before kernel.MembershipID
			}{{"first", ""}, {"last", all[len(all)-application.MemberPageSize-1]}} {
				b.Run(p.name, func(b *testing.B) {
					ctx := context.Background()
					actor := application.Actor{UserID: string(ps.AdminID)}
					var stmts int64
					for b.Loop() {
						counter.n.Store(0)
						vs, err := app.Members(ctx, actor, string(ps.EnterpriseID), nil, string(p.before), application.MemberPageSize)
						if err != nil {
							b.Fatal(err)
						}
						if len(vs) != application.MemberPageSize {
							b.Fatalf("page of %d", len(vs))
						}
						stmts = counter.n.Load()
					}
					b.ReportMetric(float64(stmts), "statements/page")
				})
			}
		})
	}
}
