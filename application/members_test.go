package application_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/mock/gomock"

	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/membership"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
)

const (
	memEnt       kernel.EnterpriseID = "e1"
	inviteeName                      = "李四"
	inviteePhone kernel.Phone        = "13700001111"
	u2Phone      kernel.Phone        = "13700002222"
)

var (
	errDB          = errors.New("database down")
	errEntNotFound = kernel.NotFound("enterprise-not-found", "no such enterprise")
	errNoMember    = kernel.NotFound("membership-not-found", "no membership")
	errMemNotFound = kernel.NotFound("member-not-found", "no such member of this enterprise")
)

// mem is a membership of memEnt as the repository loads it (no pending events). An invited one
// has the invitee's name and phone and no user.
func mem(id kernel.MembershipID, uid kernel.UserID, role membership.Role, status membership.Status) *membership.Membership {
	t := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	m := &membership.Membership{ID: id, EnterpriseID: memEnt, UserID: uid, Role: role, Status: status, CreatedAt: t, UpdatedAt: t, Version: 1}
	switch status {
	case membership.StatusActive:
		m.CertAuthorized, m.JoinedAt = true, t
	case membership.StatusInvited:
		m.UserID, m.InviteeName, m.InviteePhone = "", inviteeName, inviteePhone
	}
	return m
}

// actorIs makes the actor u1 hold this membership of memEnt (nil: none at all).
func actorIs(f *vfixture, m *membership.Membership) {
	if m == nil {
		f.members.EXPECT().Current(gomock.Any(), memEnt, kernel.UserID("u1")).Return(nil, errNoMember)
		return
	}
	m.UserID = "u1"
	f.members.EXPECT().Current(gomock.Any(), memEnt, kernel.UserID("u1")).Return(m, nil)
}

// access is who the actor is in memEnt, and what an operation for admins answers then.
var adminAccess = []struct {
	name  string
	actor *membership.Membership
	kind  kernel.Kind
	code  string
}{
	{"not a member", nil, kernel.KindNotFound, "enterprise-not-found"},
	{"a pending applicant", mem("me", "u1", membership.RoleMember, membership.StatusPending), kernel.KindNotFound, "enterprise-not-found"},
	{"an invited admin", mem("me", "u1", membership.RoleAdmin, membership.StatusInvited), kernel.KindNotFound, "enterprise-not-found"},
	{"a removed admin", mem("me", "u1", membership.RoleAdmin, membership.StatusRemoved), kernel.KindNotFound, "enterprise-not-found"},
	{"a plain member", mem("me", "u1", membership.RoleMember, membership.StatusActive), kernel.KindForbidden, "admin-only"},
}

func activeAdmin() *membership.Membership {
	return mem("me", "u1", membership.RoleAdmin, membership.StatusActive)
}

// u2 is a verified user other than the actor.
func u2(t *testing.T, f *vfixture) *user.User {
	t.Helper()
	return verifiedUser(t, "u2", u2Phone, inviteeName, repID, f.now)
}

// updates serves Update of one membership id from m, as the repository would.
func updates(f *vfixture, m *membership.Membership) {
	f.members.EXPECT().Update(gomock.Any(), memEnt, m.ID, gomock.Any()).DoAndReturn(
		func(_ context.Context, _ kernel.EnterpriseID, _ kernel.MembershipID, fn func(*membership.Membership) error) error {
			return fn(m)
		})
}

// wantErrCode asserts the kind and the stable code of err.
func wantErrCode(t *testing.T, err error, kind kernel.Kind, code string) {
	t.Helper()
	_ = wantKernelErr(t, err, kind, code)
}

func wantNoErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("err %v (kind %v, code %s)", err, kernel.KindOf(err), kernel.CodeOf(err))
	}
}

func TestSearchEnterprises(t *testing.T) {
	e := enterprise.EnterpriseFromSnapshot(enterprise.EnterpriseSnapshot{ID: memEnt, Name: entName, CreditCode: entCredit})
	for _, tc := range []struct {
		name, in, want string
	}{
		{"exact name", entName, entName},
		{"surrounding space is trimmed", "  " + entName + "\n", entName},
		{"100 characters", strings.Repeat("企", 100), strings.Repeat("企", 100)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newVerificationFixture(t)
			f.ents.EXPECT().SearchByName(gomock.Any(), tc.want).Return([]*enterprise.Enterprise{e}, nil)
			got, err := f.app.SearchEnterprises(context.Background(), tc.in)
			wantNoErr(t, err)
			if len(got) != 1 || got[0] != e {
				t.Fatalf("found %v", got)
			}
		})
	}
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"blank", " \t "},
		{"101 characters", strings.Repeat("企", 101)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newVerificationFixture(t) // no search expected
			got, err := f.app.SearchEnterprises(context.Background(), tc.in)
			wantErrCode(t, err, kernel.KindInvalid, "enterprise-name-invalid")
			if got != nil {
				t.Fatalf("found %v with the error", got)
			}
		})
	}
	t.Run("nothing found", func(t *testing.T) {
		f := newVerificationFixture(t)
		f.ents.EXPECT().SearchByName(gomock.Any(), entName).Return(nil, nil)
		got, err := f.app.SearchEnterprises(context.Background(), entName)
		if err != nil || len(got) != 0 {
			t.Fatalf("found %v, %v", got, err)
		}
	})
	t.Run("a failing store", func(t *testing.T) {
		f := newVerificationFixture(t)
		f.ents.EXPECT().SearchByName(gomock.Any(), entName).Return(nil, errDB)
		if _, err := f.app.SearchEnterprises(context.Background(), entName); !errors.Is(err, errDB) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestApplyToJoin(t *testing.T) {
	e := enterprise.EnterpriseFromSnapshot(enterprise.EnterpriseSnapshot{ID: memEnt, Name: entName})
	unverified := func(t *testing.T, f *vfixture) *user.User {
		u, err := user.Register("u1", phone, f.now.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	claimed := func(t *testing.T, f *vfixture) *user.User {
		u := unverified(t, f)
		if err := u.StartRealName(user.Identity{Name: opName, IDNumber: validID, Method: "face"}, f.now); err != nil {
			t.Fatal(err)
		}
		if err := u.AwaitLiveness("ls1", "https://face.test/ls1", f.now); err != nil {
			t.Fatal(err)
		}
		return u
	}
	verified := func(t *testing.T, f *vfixture) *user.User {
		return verifiedUser(t, "u1", phone, opName, validID, f.now)
	}
	cur := func(st membership.Status) *membership.Membership { return mem("old", "u1", membership.RoleMember, st) }
	for _, tc := range []struct {
		name       string
		user       func(*testing.T, *vfixture) *user.User
		entErr     error
		current    *membership.Membership
		currentErr error
		kind       kernel.Kind
		code       string // "" applies
	}{
		{"unverified", unverified, nil, nil, nil, kernel.KindForbidden, "real-name-required"},
		{"still verifying", claimed, nil, nil, nil, kernel.KindForbidden, "real-name-required"},
		{"unknown enterprise", verified, errEntNotFound, nil, nil, kernel.KindNotFound, "enterprise-not-found"},
		{"already active", verified, nil, cur(membership.StatusActive), nil, kernel.KindConflict, "already-member"},
		{"already an active admin", verified, nil, mem("old", "u1", membership.RoleAdmin, membership.StatusActive), nil, kernel.KindConflict, "already-member"},
		{"a request pending", verified, nil, cur(membership.StatusPending), nil, kernel.KindConflict, "join-request-pending"},
		{"first request", verified, nil, nil, errNoMember, 0, ""},
		{"again after a rejection", verified, nil, cur(membership.StatusRejected), nil, 0, ""},
		{"again after a removal", verified, nil, cur(membership.StatusRemoved), nil, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newVerificationFixture(t)
			f.users.EXPECT().Get(gomock.Any(), kernel.UserID("u1")).Return(tc.user(t, f), nil)
			verifiedActor := tc.kind != kernel.KindForbidden
			if verifiedActor {
				f.ents.EXPECT().Get(gomock.Any(), memEnt).Return(e, tc.entErr)
			}
			if verifiedActor && tc.entErr == nil {
				f.members.EXPECT().Current(gomock.Any(), memEnt, kernel.UserID("u1")).Return(tc.current, tc.currentErr)
			}
			var added *membership.Membership
			if tc.code == "" {
				f.members.EXPECT().Add(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, m *membership.Membership) error {
					added = m
					return nil
				})
			}
			m, err := f.app.ApplyToJoin(context.Background(), actor, string(memEnt))
			if tc.code != "" {
				wantErrCode(t, err, tc.kind, tc.code)
				if f.commits != 0 {
					t.Error("a refused request committed")
				}
				return
			}
			wantNoErr(t, err)
			if m == nil || m != added || m.ID != "idb" || m.EnterpriseID != memEnt || m.UserID != "u1" ||
				m.Status != membership.StatusPending || m.Role != membership.RoleMember || m.CertAuthorized || f.commits != 1 {
				t.Fatalf("membership %+v (added %p) commits %d", m, added, f.commits)
			}
			want := []kernel.Event{membership.JoinRequested{MembershipID: "idb", EnterpriseID: memEnt, UserID: "u1", At: f.now}}
			if evs := m.PullEvents(); !reflect.DeepEqual(evs, want) {
				t.Errorf("events %v, want %v", evs, want)
			}
		})
	}
	t.Run("a failing store", func(t *testing.T) {
		f := newVerificationFixture(t)
		f.users.EXPECT().Get(gomock.Any(), kernel.UserID("u1")).Return(verified(t, f), nil)
		f.ents.EXPECT().Get(gomock.Any(), memEnt).Return(e, nil)
		f.members.EXPECT().Current(gomock.Any(), memEnt, kernel.UserID("u1")).Return(nil, errDB)
		if _, err := f.app.ApplyToJoin(context.Background(), actor, string(memEnt)); !errors.Is(err, errDB) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("the store refuses a second open request", func(t *testing.T) {
		f := newVerificationFixture(t)
		f.users.EXPECT().Get(gomock.Any(), kernel.UserID("u1")).Return(verified(t, f), nil)
		f.ents.EXPECT().Get(gomock.Any(), memEnt).Return(e, nil)
		f.members.EXPECT().Current(gomock.Any(), memEnt, kernel.UserID("u1")).Return(nil, errNoMember)
		f.members.EXPECT().Add(gomock.Any(), gomock.Any()).Return(kernel.Conflict("join-request-pending", "raced"))
		_, err := f.app.ApplyToJoin(context.Background(), actor, string(memEnt))
		wantErrCode(t, err, kernel.KindConflict, "join-request-pending")
	})
}

func TestMembers(t *testing.T) {
	st := func(s ...membership.Status) []membership.Status { return s }
	for _, tc := range []struct {
		name   string
		role   membership.Role
		states []string
		want   []membership.Status // passed to List; nil: every state
		code   string
	}{
		{"admin, every state", membership.RoleAdmin, nil, nil, ""},
		{"admin, pending and invited", membership.RoleAdmin, []string{"pending", "invited"}, st(membership.StatusPending, membership.StatusInvited), ""},
		{"admin, removed", membership.RoleAdmin, []string{"removed"}, st(membership.StatusRemoved), ""},
		{"legal rep, rejected", membership.RoleLegalRep, []string{"rejected"}, st(membership.StatusRejected), ""},
		{"member, no filter: the active ones", membership.RoleMember, nil, st(membership.StatusActive), ""},
		{"member, active", membership.RoleMember, []string{"active"}, st(membership.StatusActive), ""},
		{"member, pending", membership.RoleMember, []string{"pending"}, nil, "admin-only"},
		{"member, invited", membership.RoleMember, []string{"invited"}, nil, "admin-only"},
		{"member, rejected", membership.RoleMember, []string{"rejected"}, nil, "admin-only"},
		{"member, removed", membership.RoleMember, []string{"removed"}, nil, "admin-only"},
		{"member, active and removed", membership.RoleMember, []string{"active", "removed"}, nil, "admin-only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newVerificationFixture(t)
			actorIs(f, mem("me", "u1", tc.role, membership.StatusActive))
			if tc.code != "" {
				_, err := f.app.Members(context.Background(), actor, string(memEnt), tc.states, "", 0)
				wantErrCode(t, err, kernel.KindForbidden, tc.code)
				return
			}
			active := mem("m1", "u2", membership.RoleMember, membership.StatusActive)
			invited := mem("m2", "", membership.RoleAdmin, membership.StatusInvited)
			// One page read with the users' display data joined: no user read one by one.
			f.members.EXPECT().Page(gomock.Any(), memEnt, gomock.Any(), kernel.MembershipID("m9"), 2).DoAndReturn(
				func(_ context.Context, _ kernel.EnterpriseID, states []membership.Status, _ kernel.MembershipID, _ int) ([]ports.MemberListing, error) {
					if !reflect.DeepEqual(states, tc.want) {
						t.Errorf("listed states %v, want %v", states, tc.want)
					}
					return []ports.MemberListing{
						{M: active, Name: inviteeName, Phone: u2Phone, RealNameStatus: user.RealNameVerified},
						{M: invited, Name: invited.InviteeName, Phone: invited.InviteePhone},
					}, nil
				})
			got, err := f.app.Members(context.Background(), actor, string(memEnt), tc.states, "m9", 2)
			wantNoErr(t, err)
			want := []application.MemberView{
				{M: active, Name: inviteeName, PhoneMasked: "137****2222"},
				{M: invited, Name: inviteeName, PhoneMasked: "137****1111"},
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("views %+v, want %+v", got, want)
			}
		})
	}
	t.Run("an unknown state", func(t *testing.T) {
		f := newVerificationFixture(t) // refused before any read
		_, err := f.app.Members(context.Background(), actor, string(memEnt), []string{"active", "deleted"}, "", 0)
		wantErrCode(t, err, kernel.KindInvalid, "member-status-invalid")
	})
	for _, a := range adminAccess {
		if a.code == "admin-only" {
			continue // a member lists the active ones
		}
		t.Run(a.name, func(t *testing.T) {
			f := newVerificationFixture(t)
			actorIs(f, a.actor)
			_, err := f.app.Members(context.Background(), actor, string(memEnt), nil, "", 0)
			wantErrCode(t, err, a.kind, a.code)
		})
	}
	for _, limit := range []int{-1, application.MemberListLimit + 1} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			f := newVerificationFixture(t) // refused before any read
			_, err := f.app.Members(context.Background(), actor, string(memEnt), nil, "", limit)
			wantErrCode(t, err, kernel.KindInvalid, "limit-invalid")
		})
	}
	t.Run("a failing list", func(t *testing.T) {
		f := newVerificationFixture(t)
		actorIs(f, activeAdmin())
		f.members.EXPECT().Page(gomock.Any(), memEnt, gomock.Any(), kernel.MembershipID(""), application.MemberPageSize).Return(nil, errDB)
		if _, err := f.app.Members(context.Background(), actor, string(memEnt), nil, "", 0); !errors.Is(err, errDB) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestMember(t *testing.T) {
	for _, tc := range []struct {
		name   string
		role   membership.Role
		target membership.Status
		ok     bool
	}{
		{"admin sees an active member", membership.RoleAdmin, membership.StatusActive, true},
		{"admin sees a pending request", membership.RoleAdmin, membership.StatusPending, true},
		{"legal rep sees a removed member", membership.RoleLegalRep, membership.StatusRemoved, true},
		{"member sees an active member", membership.RoleMember, membership.StatusActive, true},
		{"member does not see a pending request", membership.RoleMember, membership.StatusPending, false},
		{"member does not see a rejected request", membership.RoleMember, membership.StatusRejected, false},
		{"member does not see a removed member", membership.RoleMember, membership.StatusRemoved, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newVerificationFixture(t)
			actorIs(f, mem("me", "u1", tc.role, membership.StatusActive))
			m := mem("m1", "u2", membership.RoleMember, tc.target)
			f.members.EXPECT().GetByID(gomock.Any(), memEnt, kernel.MembershipID("m1")).Return(m, nil)
			if tc.ok {
				f.users.EXPECT().Get(gomock.Any(), kernel.UserID("u2")).Return(u2(t, f), nil)
			}
			v, err := f.app.Member(context.Background(), actor, string(memEnt), "m1")
			if !tc.ok {
				wantErrCode(t, err, kernel.KindNotFound, "member-not-found")
				return
			}
			wantNoErr(t, err)
			if v.M != m || v.Name != inviteeName || v.PhoneMasked != "137****2222" {
				t.Fatalf("view %+v", v)
			}
		})
	}
	t.Run("an invitation shows the invitee", func(t *testing.T) {
		f := newVerificationFixture(t)
		actorIs(f, activeAdmin())
		m := mem("m1", "", membership.RoleMember, membership.StatusInvited)
		f.members.EXPECT().GetByID(gomock.Any(), memEnt, kernel.MembershipID("m1")).Return(m, nil)
		v, err := f.app.Member(context.Background(), actor, string(memEnt), "m1")
		wantNoErr(t, err)
		if v.Name != inviteeName || v.PhoneMasked != "137****1111" || strings.Contains(v.PhoneMasked, string(inviteePhone)) {
			t.Fatalf("view %+v", v)
		}
	})
	t.Run("of another enterprise", func(t *testing.T) {
		f := newVerificationFixture(t)
		actorIs(f, activeAdmin())
		f.members.EXPECT().GetByID(gomock.Any(), memEnt, kernel.MembershipID("x9")).Return(nil, errMemNotFound)
		_, err := f.app.Member(context.Background(), actor, string(memEnt), "x9")
		wantErrCode(t, err, kernel.KindNotFound, "member-not-found")
	})
	for _, a := range adminAccess {
		if a.code == "admin-only" {
			continue
		}
		t.Run(a.name, func(t *testing.T) {
			f := newVerificationFixture(t)
			actorIs(f, a.actor)
			_, err := f.app.Member(context.Background(), actor, string(memEnt), "m1")
			wantErrCode(t, err, a.kind, a.code)
		})
	}
}

func TestParseDecision(t *testing.T) {
	for in, want := range map[string]application.Decision{"approve": application.Approve, "reject": application.Reject} {
		if d, err := application.ParseDecision(in); err != nil || d != want {
			t.Errorf("ParseDecision(%q) = %q, %v", in, d, err)
		}
	}
	for _, in := range []string{"", "Approve", "approved", "accept", " reject"} {
		d, err := application.ParseDecision(in)
		wantErrCode(t, err, kernel.KindInvalid, "decision-invalid")
		if d != "" {
			t.Errorf("ParseDecision(%q) = %q with the error", in, d)
		}
	}
}

func TestDecide(t *testing.T) {
	for _, tc := range []struct {
		name     string
		d        application.Decision
		from     membership.Status
		want     membership.Status
		wantCert bool
		event    string
		code     string
	}{
		{"approve a pending request", application.Approve, membership.StatusPending, membership.StatusActive, true, "membership.join_approved", ""},
		{"reject a pending request", application.Reject, membership.StatusPending, membership.StatusRejected, false, "membership.join_rejected", ""},
		{"approve an active member", application.Approve, membership.StatusActive, "", false, "", "member-not-pending"},
		{"approve a rejected request", application.Approve, membership.StatusRejected, "", false, "", "member-not-pending"},
		{"approve an invitation", application.Approve, membership.StatusInvited, "", false, "", "member-not-pending"},
		{"approve a removed member", application.Approve, membership.StatusRemoved, "", false, "", "member-not-pending"},
		{"reject an active member", application.Reject, membership.StatusActive, "", false, "", "member-not-pending"},
		{"reject a rejected request", application.Reject, membership.StatusRejected, "", false, "", "member-not-pending"},
		{"reject an invitation", application.Reject, membership.StatusInvited, "", false, "", "member-not-pending"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newVerificationFixture(t)
			actorIs(f, activeAdmin())
			m := mem("m1", "u2", membership.RoleMember, tc.from)
			updates(f, m)
			if tc.code == "" {
				f.users.EXPECT().Get(gomock.Any(), kernel.UserID("u2")).Return(u2(t, f), nil)
			}
			v, err := f.app.Decide(context.Background(), actor, string(memEnt), "m1", tc.d)
			if tc.code != "" {
				wantErrCode(t, err, kernel.KindConflict, tc.code)
				if f.commits != 0 || len(m.PullEvents()) != 0 {
					t.Error("a refused decision committed or recorded events")
				}
				return
			}
			wantNoErr(t, err)
			if v.M != m || m.Status != tc.want || m.CertAuthorized != tc.wantCert || m.DecidedBy != "u1" || !m.UpdatedAt.Equal(f.now) ||
				v.Name != inviteeName || f.commits != 1 {
				t.Fatalf("view %+v membership %+v commits %d", v, m, f.commits)
			}
			if evs := m.PullEvents(); len(evs) != 1 || evs[0].EventName() != tc.event {
				t.Errorf("events %v, want %s", evs, tc.event)
			}
		})
	}
	for _, a := range adminAccess {
		t.Run(a.name, func(t *testing.T) {
			f := newVerificationFixture(t) // no update expected
			actorIs(f, a.actor)
			_, err := f.app.Decide(context.Background(), actor, string(memEnt), "m1", application.Approve)
			wantErrCode(t, err, a.kind, a.code)
		})
	}
	t.Run("legal rep decides", func(t *testing.T) {
		f := newVerificationFixture(t)
		actorIs(f, mem("me", "u1", membership.RoleLegalRep, membership.StatusActive))
		updates(f, mem("m1", "u2", membership.RoleMember, membership.StatusPending))
		f.users.EXPECT().Get(gomock.Any(), kernel.UserID("u2")).Return(u2(t, f), nil)
		_, err := f.app.Decide(context.Background(), actor, string(memEnt), "m1", application.Reject)
		wantNoErr(t, err)
	})
	t.Run("of another enterprise", func(t *testing.T) {
		f := newVerificationFixture(t)
		actorIs(f, activeAdmin())
		f.members.EXPECT().Update(gomock.Any(), memEnt, kernel.MembershipID("x9"), gomock.Any()).Return(errMemNotFound)
		_, err := f.app.Decide(context.Background(), actor, string(memEnt), "x9", application.Approve)
		wantErrCode(t, err, kernel.KindNotFound, "member-not-found")
	})
}

// batchStore answers DecideMany from the enterprise's memberships, as the repository would:
// the aggregate's Decide error or not-found per id.
func batchStore(t *testing.T, f *vfixture, ms ...*membership.Membership) {
	byID := map[kernel.MembershipID]*membership.Membership{}
	for _, m := range ms {
		byID[m.ID] = m
	}
	f.members.EXPECT().DecideMany(gomock.Any(), memEnt, gomock.Any(), gomock.Any()).DoAndReturn(
		func(_ context.Context, _ kernel.EnterpriseID, ids []kernel.MembershipID, d membership.Decision) (map[kernel.MembershipID]error, error) {
			if len(ids) == 0 || len(ids) > application.BatchLimit {
				t.Errorf("DecideMany with %d ids", len(ids))
			}
			out := make(map[kernel.MembershipID]error, len(ids))
			for _, id := range ids {
				m := byID[id]
				if m == nil {
					out[id] = errMemNotFound
					continue
				}
				out[id] = m.Decide(d)
			}
			return out, nil
		})
}

func TestDecideBatch(t *testing.T) {
	type item struct {
		id     kernel.MembershipID
		status membership.Status // of a success
		kind   kernel.Kind
		code   string // of a failure
	}
	for _, tc := range []struct {
		name  string
		d     application.Decision
		items []item
	}{
		{"approve", application.Approve, []item{
			{"p1", membership.StatusActive, 0, ""},
			{"a1", "", kernel.KindConflict, "member-not-pending"},
			{"p2", membership.StatusActive, 0, ""},
			{"x9", "", kernel.KindNotFound, "member-not-found"}, // another enterprise's
			{"r1", "", kernel.KindConflict, "member-not-pending"},
			{"i1", "", kernel.KindConflict, "member-not-pending"},
		}},
		{"reject", application.Reject, []item{
			{"x9", "", kernel.KindNotFound, "member-not-found"},
			{"p1", membership.StatusRejected, 0, ""},
			{"d1", "", kernel.KindConflict, "member-not-pending"},
			{"p2", membership.StatusRejected, 0, ""},
		}},
		{"every item fails alone", application.Approve, []item{
			{"a1", "", kernel.KindConflict, "member-not-pending"},
			{"x9", "", kernel.KindNotFound, "member-not-found"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newVerificationFixture(t)
			actorIs(f, activeAdmin())
			store := map[kernel.MembershipID]*membership.Membership{
				"p1": mem("p1", "u2", membership.RoleMember, membership.StatusPending),
				"p2": mem("p2", "u3", membership.RoleMember, membership.StatusPending),
				"a1": mem("a1", "u4", membership.RoleMember, membership.StatusActive),
				"r1": mem("r1", "u5", membership.RoleMember, membership.StatusRejected),
				"d1": mem("d1", "u6", membership.RoleMember, membership.StatusRemoved),
				"i1": mem("i1", "", membership.RoleMember, membership.StatusInvited),
			}
			var all []*membership.Membership
			for _, m := range store {
				all = append(all, m)
			}
			batchStore(t, f, all...)
			ids := make([]string, len(tc.items))
			for i, it := range tc.items {
				ids[i] = string(it.id)
			}
			res, err := f.app.DecideBatch(context.Background(), actor, string(memEnt), ids, tc.d)
			wantNoErr(t, err)
			if len(res) != len(tc.items) || f.commits != 1 {
				t.Fatalf("results %+v commits %d", res, f.commits)
			}
			for i, it := range tc.items {
				r := res[i]
				if r.ID != it.id {
					t.Errorf("result %d is %s, want %s", i, r.ID, it.id)
				}
				if it.code != "" {
					wantErrCode(t, r.Err, it.kind, it.code)
					if r.Status != "" {
						t.Errorf("%s failed with status %q", r.ID, r.Status)
					}
					continue
				}
				if r.Err != nil || r.Status != it.status {
					t.Errorf("%s: %+v, want %s", r.ID, r, it.status)
				}
				m := store[it.id]
				if m.Status != it.status || m.DecidedBy != "u1" || !m.UpdatedAt.Equal(f.now) || m.CertAuthorized != (it.status == membership.StatusActive) {
					t.Errorf("%s stored %+v", it.id, m)
				}
			}
		})
	}
	for _, tc := range []struct {
		name string
		n    int
	}{{"no ids", 0}, {"1001 ids", application.BatchLimit + 1}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newVerificationFixture(t) // refused before any read
			ids := make([]string, tc.n)
			for i := range ids {
				ids[i] = fmt.Sprintf("m%d", i)
			}
			res, err := f.app.DecideBatch(context.Background(), actor, string(memEnt), ids, application.Approve)
			e := wantKernelErr(t, err, kernel.KindInvalid, "batch-size-invalid")
			if e.Details["max"] != application.BatchLimit || res != nil {
				t.Errorf("details %v results %v", e.Details, res)
			}
		})
	}
	t.Run("1000 ids", func(t *testing.T) {
		f := newVerificationFixture(t)
		actorIs(f, activeAdmin())
		ids := make([]string, application.BatchLimit)
		var ms []*membership.Membership
		for i := range ids {
			ids[i] = fmt.Sprintf("m%d", i)
			ms = append(ms, mem(kernel.MembershipID(ids[i]), kernel.UserID("v"+ids[i]), membership.RoleMember, membership.StatusPending))
		}
		batchStore(t, f, ms...)
		res, err := f.app.DecideBatch(context.Background(), actor, string(memEnt), ids, application.Approve)
		wantNoErr(t, err)
		if len(res) != application.BatchLimit {
			t.Fatalf("%d results", len(res))
		}
		for _, r := range res {
			if r.Err != nil || r.Status != membership.StatusActive {
				t.Fatalf("result %+v", r)
			}
		}
	})
	for _, a := range adminAccess {
		t.Run(a.name, func(t *testing.T) {
			f := newVerificationFixture(t)
			actorIs(f, a.actor)
			res, err := f.app.DecideBatch(context.Background(), actor, string(memEnt), []string{"p1"}, application.Approve)
			wantErrCode(t, err, a.kind, a.code)
			if res != nil {
				t.Errorf("results %v with the error", res)
			}
		})
	}
	t.Run("a failing store fails the batch", func(t *testing.T) {
		f := newVerificationFixture(t)
		actorIs(f, activeAdmin())
		f.members.EXPECT().DecideMany(gomock.Any(), memEnt, []kernel.MembershipID{"p1", "p2"}, gomock.Any()).Return(nil, errDB)
		res, err := f.app.DecideBatch(context.Background(), actor, string(memEnt), []string{"p1", "p2"}, application.Approve)
		if !errors.Is(err, errDB) || res != nil || f.commits != 0 {
			t.Fatalf("results %v err %v commits %d", res, err, f.commits)
		}
	})
}

func TestAddMember(t *testing.T) {
	verified := func(name string) func(*testing.T, *vfixture) (*user.User, error) {
		return func(t *testing.T, f *vfixture) (*user.User, error) {
			return verifiedUser(t, "u2", inviteePhone, name, repID, f.now), nil
		}
	}
	claimed := func(t *testing.T, f *vfixture) (*user.User, error) {
		u, err := user.Register("u2", inviteePhone, f.now.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if err := u.StartRealName(user.Identity{Name: inviteeName, IDNumber: repID, Method: "id2"}, f.now); err != nil {
			t.Fatal(err)
		}
		return u, nil
	}
	nobody := func(*testing.T, *vfixture) (*user.User, error) { return nil, kernel.NotFound("user-not-found", "none") }
	for _, tc := range []struct {
		name       string
		inName     string
		inPhone    string
		role       string
		found      func(*testing.T, *vfixture) (*user.User, error)
		current    *membership.Membership // the found user's membership; nil: none
		wantStatus membership.Status
		code       string
	}{
		{"a verified user with that name is added", inviteeName, string(inviteePhone), "member", verified(inviteeName), nil, membership.StatusActive, ""},
		{"as admin", inviteeName, string(inviteePhone), "admin", verified(inviteeName), nil, membership.StatusActive, ""},
		{"name and phone are normalised", " " + inviteeName + " ", "+86 137-0000-1111", "member", verified(inviteeName), nil, membership.StatusActive, ""},
		{"after a rejection", inviteeName, string(inviteePhone), "member", verified(inviteeName),
			mem("old", "u2", membership.RoleMember, membership.StatusRejected), membership.StatusActive, ""},
		{"after a removal", inviteeName, string(inviteePhone), "admin", verified(inviteeName),
			mem("old", "u2", membership.RoleMember, membership.StatusRemoved), membership.StatusActive, ""},
		{"a verified user with another name is only invited", inviteeName, string(inviteePhone), "member", verified("王五"), nil, membership.StatusInvited, ""},
		{"an unverified user is invited", inviteeName, string(inviteePhone), "member", claimed, nil, membership.StatusInvited, ""},
		{"an unknown phone is invited", inviteeName, string(inviteePhone), "admin", nobody, nil, membership.StatusInvited, ""},
		{"a pending request must be approved instead", inviteeName, string(inviteePhone), "admin", verified(inviteeName),
			mem("old", "u2", membership.RoleMember, membership.StatusPending), "", "join-request-pending"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newVerificationFixture(t)
			actorIs(f, activeAdmin())
			u, uerr := tc.found(t, f)
			f.users.EXPECT().GetByPhone(gomock.Any(), inviteePhone).Return(u, uerr)
			matches := uerr == nil && u.RealNameStatus() == user.RealNameVerified && u.Identity().Name == inviteeName
			if matches {
				cur, cerr := tc.current, error(errNoMember)
				if cur != nil {
					cerr = nil
				}
				f.members.EXPECT().Current(gomock.Any(), memEnt, kernel.UserID("u2")).Return(cur, cerr)
			}
			var added *membership.Membership
			if tc.code == "" {
				f.members.EXPECT().Add(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, m *membership.Membership) error {
					added = m
					return nil
				})
			}
			if tc.code == "" && tc.wantStatus == membership.StatusActive {
				f.users.EXPECT().Get(gomock.Any(), kernel.UserID("u2")).Return(u, nil)
			}
			v, err := f.app.AddMember(context.Background(), actor, string(memEnt), tc.inName, tc.inPhone, tc.role)
			if tc.code != "" {
				wantErrCode(t, err, kernel.KindConflict, tc.code)
				if f.commits != 0 {
					t.Error("committed")
				}
				return
			}
			wantNoErr(t, err)
			m := v.M
			if m == nil || m != added || m.ID != "idb" || m.EnterpriseID != memEnt || m.Status != tc.wantStatus ||
				m.Role != membership.Role(tc.role) || m.DecidedBy != "u1" || f.commits != 1 {
				t.Fatalf("view %+v membership %+v commits %d", v, m, f.commits)
			}
			evs := m.PullEvents()
			if tc.wantStatus == membership.StatusActive {
				if m.UserID != "u2" || !m.CertAuthorized || m.InviteeName != "" || m.InviteePhone != "" {
					t.Errorf("added %+v", m)
				}
				want := []kernel.Event{membership.MemberAdded{MembershipID: "idb", EnterpriseID: memEnt, UserID: "u2", Role: m.Role, At: f.now}}
				if !reflect.DeepEqual(evs, want) {
					t.Errorf("events %v, want %v", evs, want)
				}
			} else {
				if m.UserID != "" || m.CertAuthorized || m.InviteeName != inviteeName || m.InviteePhone != inviteePhone {
					t.Errorf("invited %+v", m)
				}
				want := []kernel.Event{membership.MemberInvited{MembershipID: "idb", EnterpriseID: memEnt, Role: m.Role, At: f.now}}
				if !reflect.DeepEqual(evs, want) {
					t.Errorf("events %v, want %v", evs, want)
				}
			}
			if v.Name != inviteeName || v.PhoneMasked != "137****1111" {
				t.Errorf("view %+v", v)
			}
		})
	}
	for _, tc := range []struct {
		name, inName, inPhone, role string
		code                        string
	}{
		{"legal rep is not assignable", inviteeName, string(inviteePhone), "legal_rep", "role-not-assignable"},
		{"unknown role", inviteeName, string(inviteePhone), "owner", "role-invalid"},
		{"no role", inviteeName, string(inviteePhone), "", "role-invalid"},
		{"bad phone", inviteeName, "12345", "member", "phone-invalid"},
		{"no phone", inviteeName, "", "member", "phone-invalid"},
		{"no name", "", string(inviteePhone), "member", "real-name-invalid"},
		{"one character", "李", string(inviteePhone), "member", "real-name-invalid"},
		{"digits in the name", "李4", string(inviteePhone), "member", "real-name-invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newVerificationFixture(t) // refused before any read
			_, err := f.app.AddMember(context.Background(), actor, string(memEnt), tc.inName, tc.inPhone, tc.role)
			wantErrCode(t, err, kernel.KindInvalid, tc.code)
		})
	}
	for _, a := range adminAccess {
		t.Run(a.name, func(t *testing.T) {
			f := newVerificationFixture(t)
			actorIs(f, a.actor)
			_, err := f.app.AddMember(context.Background(), actor, string(memEnt), inviteeName, string(inviteePhone), "member")
			wantErrCode(t, err, a.kind, a.code)
		})
	}
	t.Run("the store refuses a second open membership", func(t *testing.T) {
		f := newVerificationFixture(t)
		actorIs(f, activeAdmin())
		f.users.EXPECT().GetByPhone(gomock.Any(), inviteePhone).Return(nil, kernel.NotFound("user-not-found", "none"))
		f.members.EXPECT().Add(gomock.Any(), gomock.Any()).Return(kernel.Conflict("already-invited", "open invitation"))
		_, err := f.app.AddMember(context.Background(), actor, string(memEnt), inviteeName, string(inviteePhone), "member")
		wantErrCode(t, err, kernel.KindConflict, "already-invited")
	})
	t.Run("a failing membership lookup", func(t *testing.T) {
		f := newVerificationFixture(t)
		actorIs(f, activeAdmin())
		f.users.EXPECT().GetByPhone(gomock.Any(), inviteePhone).Return(verifiedUser(t, "u2", inviteePhone, inviteeName, repID, f.now), nil)
		f.members.EXPECT().Current(gomock.Any(), memEnt, kernel.UserID("u2")).Return(nil, errDB)
		if _, err := f.app.AddMember(context.Background(), actor, string(memEnt), inviteeName, string(inviteePhone), "member"); !errors.Is(err, errDB) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("a failing user lookup", func(t *testing.T) {
		f := newVerificationFixture(t)
		actorIs(f, activeAdmin())
		f.users.EXPECT().GetByPhone(gomock.Any(), inviteePhone).Return(nil, errDB)
		if _, err := f.app.AddMember(context.Background(), actor, string(memEnt), inviteeName, string(inviteePhone), "member"); !errors.Is(err, errDB) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestRemoveMember(t *testing.T) {
	for _, tc := range []struct {
		name   string
		target *membership.Membership
		admins int // active admins and legal reps, the actor included
		kind   kernel.Kind
		code   string
	}{
		{"a member", mem("m1", "u2", membership.RoleMember, membership.StatusActive), 1, 0, ""},
		{"an admin while another remains", mem("m1", "u2", membership.RoleAdmin, membership.StatusActive), 2, 0, ""},
		{"oneself while another admin remains", mem("me", "u1", membership.RoleAdmin, membership.StatusActive), 2, 0, ""},
		{"the last admin", mem("m1", "u2", membership.RoleAdmin, membership.StatusActive), 1, kernel.KindPrecondition, "cannot-remove-last-admin"},
		{"oneself, the last admin", mem("me", "u1", membership.RoleAdmin, membership.StatusActive), 1, kernel.KindPrecondition, "cannot-remove-last-admin"},
		{"the legal rep", mem("m1", "u2", membership.RoleLegalRep, membership.StatusActive), 3, kernel.KindPrecondition, "cannot-remove-legal-rep"},
		{"a pending request", mem("m1", "u2", membership.RoleMember, membership.StatusPending), 1, kernel.KindConflict, "member-not-active"},
		{"an invitation", mem("m1", "", membership.RoleAdmin, membership.StatusInvited), 1, kernel.KindConflict, "member-not-active"},
		{"a rejected request", mem("m1", "u2", membership.RoleMember, membership.StatusRejected), 1, kernel.KindConflict, "member-not-active"},
		{"a removed member", mem("m1", "u2", membership.RoleMember, membership.StatusRemoved), 1, kernel.KindConflict, "member-not-active"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newVerificationFixture(t)
			me := activeAdmin()
			if tc.target.ID == "me" {
				me = tc.target
			}
			target := tc.target
			gomock.InOrder(
				f.ents.EXPECT().Lock(gomock.Any(), memEnt).Return(nil),
				f.members.EXPECT().Current(gomock.Any(), memEnt, kernel.UserID("u1")).Return(me, nil),
				f.members.EXPECT().CountAdmins(gomock.Any(), memEnt).Return(tc.admins, nil),
				f.members.EXPECT().Update(gomock.Any(), memEnt, target.ID, gomock.Any()).DoAndReturn(
					func(_ context.Context, _ kernel.EnterpriseID, _ kernel.MembershipID, fn func(*membership.Membership) error) error {
						return fn(target)
					}),
			)
			if tc.code == "" { // the seal grants end in the same unit of work, after the removal
				f.seals.EXPECT().RevokeMemberGrants(gomock.Any(), memEnt, target.ID, kernel.UserID("u1"), f.now).Return(2, nil)
			}
			err := f.app.RemoveMember(context.Background(), actor, string(memEnt), string(target.ID))
			if tc.code != "" {
				wantErrCode(t, err, tc.kind, tc.code)
				if f.commits != 0 || len(target.PullEvents()) != 0 {
					t.Error("a refused removal committed or recorded events")
				}
				return
			}
			wantNoErr(t, err)
			if target.Status != membership.StatusRemoved || target.CertAuthorized || !target.CertRevokedAt.Equal(f.now) ||
				target.DecidedBy != "u1" || f.commits != 1 {
				t.Fatalf("removed %+v commits %d", target, f.commits)
			}
			want := []kernel.Event{membership.MemberRemoved{MembershipID: target.ID, EnterpriseID: memEnt, UserID: target.UserID,
				CertAuthorizationRevoked: true, At: f.now}}
			if evs := target.PullEvents(); !reflect.DeepEqual(evs, want) {
				t.Errorf("events %v, want %v", evs, want)
			}
		})
	}
	for _, a := range adminAccess {
		t.Run(a.name, func(t *testing.T) {
			f := newVerificationFixture(t) // no count, no update
			f.ents.EXPECT().Lock(gomock.Any(), memEnt).Return(nil)
			actorIs(f, a.actor)
			err := f.app.RemoveMember(context.Background(), actor, string(memEnt), "m1")
			wantErrCode(t, err, a.kind, a.code)
		})
	}
	t.Run("of another enterprise", func(t *testing.T) {
		f := newVerificationFixture(t)
		actorIs(f, activeAdmin())
		f.ents.EXPECT().Lock(gomock.Any(), memEnt).Return(nil)
		f.members.EXPECT().CountAdmins(gomock.Any(), memEnt).Return(2, nil)
		f.members.EXPECT().Update(gomock.Any(), memEnt, kernel.MembershipID("x9"), gomock.Any()).Return(errMemNotFound)
		wantErrCode(t, f.app.RemoveMember(context.Background(), actor, string(memEnt), "x9"), kernel.KindNotFound, "member-not-found")
	})
	t.Run("failing to revoke the seal grants fails the removal", func(t *testing.T) {
		f := newVerificationFixture(t)
		actorIs(f, activeAdmin())
		f.ents.EXPECT().Lock(gomock.Any(), memEnt).Return(nil)
		f.members.EXPECT().CountAdmins(gomock.Any(), memEnt).Return(1, nil)
		f.members.EXPECT().Update(gomock.Any(), memEnt, kernel.MembershipID("m1"), gomock.Any()).Return(nil)
		f.seals.EXPECT().RevokeMemberGrants(gomock.Any(), memEnt, kernel.MembershipID("m1"), kernel.UserID("u1"), f.now).Return(0, errDB)
		if err := f.app.RemoveMember(context.Background(), actor, string(memEnt), "m1"); !errors.Is(err, errDB) || f.commits != 0 {
			t.Fatalf("err %v commits %d", err, f.commits)
		}
	})
	t.Run("a failing lock", func(t *testing.T) {
		f := newVerificationFixture(t)
		f.ents.EXPECT().Lock(gomock.Any(), memEnt).Return(errDB)
		if err := f.app.RemoveMember(context.Background(), actor, string(memEnt), "m1"); !errors.Is(err, errDB) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("a failing count", func(t *testing.T) {
		f := newVerificationFixture(t)
		actorIs(f, activeAdmin())
		f.ents.EXPECT().Lock(gomock.Any(), memEnt).Return(nil)
		f.members.EXPECT().CountAdmins(gomock.Any(), memEnt).Return(0, errDB)
		if err := f.app.RemoveMember(context.Background(), actor, string(memEnt), "m1"); !errors.Is(err, errDB) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestActivateInvitations(t *testing.T) {
	invite := func(id kernel.MembershipID, eid kernel.EnterpriseID, name string) *membership.Membership {
		m := mem(id, "", membership.RoleMember, membership.StatusInvited)
		m.EnterpriseID, m.InviteeName = eid, name
		return m
	}
	ev := &user.RealNameWasVerified{UserID: "u2", Method: "id2", At: time.Now()}
	t.Run("invitations under the verified name activate, others stay", func(t *testing.T) {
		f := newVerificationFixture(t)
		u := verifiedUser(t, "u2", inviteePhone, inviteeName, repID, f.now)
		mine1, mine2 := invite("i1", "e1", inviteeName), invite("i2", "e2", inviteeName)
		other := invite("i3", "e3", "王五") // the previous owner of the number, say
		taken := invite("i4", "e4", inviteeName)
		f.users.EXPECT().Get(gomock.Any(), kernel.UserID("u2")).Return(u, nil)
		f.members.EXPECT().OpenInvites(gomock.Any(), inviteePhone).Return([]*membership.Membership{mine1, other, mine2, taken}, nil)
		f.members.EXPECT().Current(gomock.Any(), gomock.Any(), kernel.UserID("u2")).Return(nil, errNoMember).Times(3)
		for _, m := range []*membership.Membership{mine1, mine2} {
			f.members.EXPECT().Update(gomock.Any(), m.EnterpriseID, m.ID, gomock.Any()).DoAndReturn(
				func(_ context.Context, _ kernel.EnterpriseID, _ kernel.MembershipID, fn func(*membership.Membership) error) error {
					return fn(m)
				})
		}
		// Revoked between the read and the lock: it is no longer an invitation, and is skipped.
		f.members.EXPECT().Update(gomock.Any(), kernel.EnterpriseID("e4"), kernel.MembershipID("i4"), gomock.Any()).DoAndReturn(
			func(_ context.Context, _ kernel.EnterpriseID, _ kernel.MembershipID, fn func(*membership.Membership) error) error {
				fresh := *taken
				fresh.Status = membership.StatusRemoved
				return fn(&fresh)
			})
		wantNoErr(t, f.app.ActivateInvitations(context.Background(), ev))
		for _, m := range []*membership.Membership{mine1, mine2} {
			if m.Status != membership.StatusActive || m.UserID != "u2" || !m.CertAuthorized || !m.JoinedAt.Equal(f.now) {
				t.Errorf("invitation %s: %+v", m.ID, m)
			}
			want := []kernel.Event{membership.MemberAdded{MembershipID: m.ID, EnterpriseID: m.EnterpriseID, UserID: "u2", Role: membership.RoleMember, At: f.now}}
			if evs := m.PullEvents(); !reflect.DeepEqual(evs, want) {
				t.Errorf("events %v, want %v", evs, want)
			}
		}
		if other.Status != membership.StatusInvited || other.UserID != "" || taken.Status != membership.StatusInvited {
			t.Errorf("untouched invitations changed: %+v %+v", other, taken)
		}
		if f.commits != 1 {
			t.Errorf("commits %d", f.commits)
		}
	})
	t.Run("no invitations", func(t *testing.T) {
		f := newVerificationFixture(t)
		f.users.EXPECT().Get(gomock.Any(), kernel.UserID("u2")).Return(verifiedUser(t, "u2", inviteePhone, inviteeName, repID, f.now), nil)
		f.members.EXPECT().OpenInvites(gomock.Any(), inviteePhone).Return(nil, nil)
		wantNoErr(t, f.app.ActivateInvitations(context.Background(), ev))
	})
	t.Run("a user no longer verified is skipped", func(t *testing.T) {
		f := newVerificationFixture(t) // no invitation lookup
		u, err := user.Register("u2", inviteePhone, f.now)
		if err != nil {
			t.Fatal(err)
		}
		f.users.EXPECT().Get(gomock.Any(), kernel.UserID("u2")).Return(u, nil)
		wantNoErr(t, f.app.ActivateInvitations(context.Background(), ev))
	})
	t.Run("a person who applied meanwhile keeps the request; the invitation stays open", func(t *testing.T) {
		f := newVerificationFixture(t)
		f.users.EXPECT().Get(gomock.Any(), kernel.UserID("u2")).Return(verifiedUser(t, "u2", inviteePhone, inviteeName, repID, f.now), nil)
		inv := invite("i1", "e1", inviteeName)
		f.members.EXPECT().OpenInvites(gomock.Any(), inviteePhone).Return([]*membership.Membership{inv}, nil)
		f.members.EXPECT().Current(gomock.Any(), kernel.EnterpriseID("e1"), kernel.UserID("u2")).Return(mem("p1", "u2", membership.RoleMember, membership.StatusPending), nil)
		// No Update: the open join request would clash with an activated invitation.
		wantNoErr(t, f.app.ActivateInvitations(context.Background(), ev))
		if inv.Status != membership.StatusInvited {
			t.Fatalf("invitation changed: %+v", inv)
		}
	})
	t.Run("a failing update is retried", func(t *testing.T) {
		f := newVerificationFixture(t)
		f.users.EXPECT().Get(gomock.Any(), kernel.UserID("u2")).Return(verifiedUser(t, "u2", inviteePhone, inviteeName, repID, f.now), nil)
		f.members.EXPECT().OpenInvites(gomock.Any(), inviteePhone).Return([]*membership.Membership{invite("i1", "e1", inviteeName)}, nil)
		f.members.EXPECT().Current(gomock.Any(), kernel.EnterpriseID("e1"), kernel.UserID("u2")).Return(nil, errNoMember)
		f.members.EXPECT().Update(gomock.Any(), kernel.EnterpriseID("e1"), kernel.MembershipID("i1"), gomock.Any()).Return(errDB)
		if err := f.app.ActivateInvitations(context.Background(), ev); !errors.Is(err, errDB) || f.commits != 0 {
			t.Fatalf("err %v commits %d", err, f.commits)
		}
	})
	t.Run("a failing user read is retried", func(t *testing.T) {
		f := newVerificationFixture(t)
		f.users.EXPECT().Get(gomock.Any(), kernel.UserID("u2")).Return(nil, errDB)
		if err := f.app.ActivateInvitations(context.Background(), ev); !errors.Is(err, errDB) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("a failing invitation lookup is retried", func(t *testing.T) {
		f := newVerificationFixture(t)
		f.users.EXPECT().Get(gomock.Any(), kernel.UserID("u2")).Return(verifiedUser(t, "u2", inviteePhone, inviteeName, repID, f.now), nil)
		f.members.EXPECT().OpenInvites(gomock.Any(), inviteePhone).Return(nil, errDB)
		if err := f.app.ActivateInvitations(context.Background(), ev); !errors.Is(err, errDB) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestNotifyMember(t *testing.T) {
	e := enterprise.EnterpriseFromSnapshot(enterprise.EnterpriseSnapshot{ID: memEnt, Name: entName})
	for _, tc := range []struct {
		what  string
		m     *membership.Membership
		phone kernel.Phone
		text  string // a part of the text
	}{
		{"approved", mem("m1", "u2", membership.RoleMember, membership.StatusActive), u2Phone, "申请已通过"},
		{"rejected", mem("m1", "u2", membership.RoleMember, membership.StatusRejected), u2Phone, "申请未通过"},
		{"added", mem("m1", "u2", membership.RoleMember, membership.StatusActive), u2Phone, "您已加入"},
		{"removed", mem("m1", "u2", membership.RoleMember, membership.StatusRemoved), u2Phone, "机构证书授权已同步失效"},
		{"invited", mem("m1", "", membership.RoleMember, membership.StatusInvited), inviteePhone, "完成实名认证后即可加入"},
	} {
		t.Run(tc.what, func(t *testing.T) {
			f := newVerificationFixture(t)
			f.ents.EXPECT().Get(gomock.Any(), memEnt).Return(e, nil)
			f.members.EXPECT().GetByID(gomock.Any(), memEnt, kernel.MembershipID("m1")).Return(tc.m, nil)
			if tc.m.UserID != "" {
				f.users.EXPECT().Get(gomock.Any(), kernel.UserID("u2")).Return(u2(t, f), nil)
			}
			f.sms.EXPECT().Send(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, s ports.SMS) error {
				if s.Phone != tc.phone || s.Template != "member_"+tc.what || s.IdempotencyKey != "msg-1" || s.Params["enterprise"] != entName {
					t.Errorf("sms %+v", s)
				}
				if !strings.HasPrefix(s.Text, "【数信签】") || !strings.Contains(s.Text, entName) || !strings.Contains(s.Text, tc.text) ||
					strings.Contains(s.Text, "%s") {
					t.Errorf("text %q", s.Text)
				}
				return nil
			})
			wantNoErr(t, f.app.NotifyMember(context.Background(), "msg-1", memEnt, "m1", tc.what))
		})
	}
	t.Run("an unknown enterprise sends nothing", func(t *testing.T) {
		f := newVerificationFixture(t)
		f.ents.EXPECT().Get(gomock.Any(), memEnt).Return(nil, errEntNotFound)
		wantErrCode(t, f.app.NotifyMember(context.Background(), "msg-1", memEnt, "m1", "approved"), kernel.KindNotFound, "enterprise-not-found")
	})
	t.Run("an unknown membership sends nothing", func(t *testing.T) {
		f := newVerificationFixture(t)
		f.ents.EXPECT().Get(gomock.Any(), memEnt).Return(e, nil)
		f.members.EXPECT().GetByID(gomock.Any(), memEnt, kernel.MembershipID("m1")).Return(nil, errMemNotFound)
		wantErrCode(t, f.app.NotifyMember(context.Background(), "msg-1", memEnt, "m1", "approved"), kernel.KindNotFound, "member-not-found")
	})
	t.Run("an unknown notification sends nothing", func(t *testing.T) {
		f := newVerificationFixture(t)
		wantErrCode(t, f.app.NotifyMember(context.Background(), "msg-1", memEnt, "m1", "promoted"), kernel.KindInternal, "internal")
	})
	t.Run("no phone on record is skipped", func(t *testing.T) {
		f := newVerificationFixture(t) // no SMS expected
		m := mem("m1", "", membership.RoleMember, membership.StatusInvited)
		m.InviteePhone = ""
		f.ents.EXPECT().Get(gomock.Any(), memEnt).Return(e, nil)
		f.members.EXPECT().GetByID(gomock.Any(), memEnt, kernel.MembershipID("m1")).Return(m, nil)
		wantNoErr(t, f.app.NotifyMember(context.Background(), "msg-1", memEnt, "m1", "invited"))
	})
	t.Run("a failing sender is retried", func(t *testing.T) {
		f := newVerificationFixture(t)
		f.ents.EXPECT().Get(gomock.Any(), memEnt).Return(e, nil)
		f.members.EXPECT().GetByID(gomock.Any(), memEnt, kernel.MembershipID("m1")).Return(mem("m1", "", membership.RoleMember, membership.StatusInvited), nil)
		f.sms.EXPECT().Send(gomock.Any(), gomock.Any()).Return(errDB)
		if err := f.app.NotifyMember(context.Background(), "msg-1", memEnt, "m1", "invited"); !errors.Is(err, errDB) {
			t.Fatalf("err %v", err)
		}
	})
}
