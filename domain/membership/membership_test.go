package membership_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/kernel/kerneltest"
	"github.com/shuxinqian/server/domain/membership"
)

// t0 is deliberately not UTC and carries nanoseconds: the aggregate keeps UTC microseconds.
var (
	t0 = time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.FixedZone("CST", 8*3600))
	t1 = t0.Add(time.Hour)
	at = kernel.OccurredAt(t0)
	a1 = kernel.OccurredAt(t1)
)

const (
	mid     kernel.MembershipID = "01HMEMBERSHIP"
	eid     kernel.EnterpriseID = "01HENTERPRISE"
	uid     kernel.UserID       = "01HUSER"
	admin   kernel.UserID       = "01HADMIN"
	name                        = "李四"
	phone   kernel.Phone        = "13912345678"
	other   kernel.Phone        = "13700001111"
	badRole membership.Role     = "owner"
)

var allStatuses = []membership.Status{membership.StatusPending, membership.StatusInvited, membership.StatusActive,
	membership.StatusRejected, membership.StatusRemoved}

var allRoles = []membership.Role{membership.RoleLegalRep, membership.RoleAdmin, membership.RoleMember}

// wantErr asserts the kind and the stable code of err.
func wantErr(t *testing.T, err error, kind kernel.Kind, code string) {
	t.Helper()
	_ = kerneltest.WantErr(t, err, kind, code)
}

// state is a membership as a repository would load it, without pending events.
func state(status membership.Status, role membership.Role) *membership.Membership {
	m := &membership.Membership{ID: mid, EnterpriseID: eid, UserID: uid, Role: role, Status: status, CreatedAt: at, UpdatedAt: at, Version: 3}
	switch status {
	case membership.StatusActive:
		m.CertAuthorized, m.JoinedAt, m.DecidedBy = true, at, admin
	case membership.StatusInvited:
		m.UserID, m.InviteeName, m.InviteePhone, m.DecidedBy = "", name, phone, admin
	case membership.StatusRejected, membership.StatusRemoved:
		m.DecidedBy = admin
	}
	return m
}

// wantState compares every field but the pending events, which it drains and returns.
func wantState(t *testing.T, got *membership.Membership, want membership.Membership) []kernel.Event {
	t.Helper()
	if got == nil {
		t.Fatal("membership is nil")
	}
	evs := got.PullEvents()
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("membership\n got %+v\nwant %+v", *got, want)
	}
	return evs
}

func wantEvents(t *testing.T, got []kernel.Event, want ...kernel.Event) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("events\n got %#v\nwant %#v", got, want)
	}
}

// unchanged asserts that a refused transition left the membership as it was and recorded nothing.
func unchanged(t *testing.T, m *membership.Membership, before membership.Membership) {
	t.Helper()
	if evs := m.PullEvents(); len(evs) != 0 {
		t.Errorf("a refused transition recorded %v", evs)
	}
	if !reflect.DeepEqual(*m, before) {
		t.Errorf("a refused transition changed the membership\n got %+v\nwant %+v", *m, before)
	}
}

func TestRoleIsAdmin(t *testing.T) {
	for role, want := range map[membership.Role]bool{
		membership.RoleLegalRep: true,
		membership.RoleAdmin:    true,
		membership.RoleMember:   false,
		"":                      false,
		badRole:                 false,
		"ADMIN":                 false,
	} {
		if got := role.IsAdmin(); got != want {
			t.Errorf("%q.IsAdmin() = %v, want %v", role, got, want)
		}
	}
}

func TestStatusOpen(t *testing.T) {
	for status, want := range map[membership.Status]bool{
		membership.StatusPending:  true,
		membership.StatusInvited:  true,
		membership.StatusActive:   true,
		membership.StatusRejected: false,
		membership.StatusRemoved:  false,
		"":                        false,
	} {
		if got := status.Open(); got != want {
			t.Errorf("%q.Open() = %v, want %v", status, got, want)
		}
	}
}

func TestActive(t *testing.T) {
	for status, want := range map[membership.Status]bool{
		membership.StatusActive:   true,
		membership.StatusPending:  false,
		membership.StatusInvited:  false,
		membership.StatusRejected: false,
		membership.StatusRemoved:  false,
		"":                        false,
	} {
		if got := (&membership.Membership{Status: status}).Active(); got != want {
			t.Errorf("status %q: Active() = %v, want %v", status, got, want)
		}
	}
}

func TestParseAssignableRole(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want membership.Role
		code string
	}{
		{"admin", membership.RoleAdmin, ""},
		{"member", membership.RoleMember, ""},
		{"legal_rep", "", "role-not-assignable"},
		{"", "", "role-invalid"},
		{"owner", "", "role-invalid"},
		{"ADMIN", "", "role-invalid"},
		{" admin", "", "role-invalid"},
		{"legal-rep", "", "role-invalid"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := membership.ParseAssignableRole(tc.in)
			if tc.code != "" {
				wantErr(t, err, kernel.KindInvalid, tc.code)
			} else if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("role %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	for _, st := range allStatuses {
		got, err := membership.ParseStatus(string(st))
		if err != nil || got != st {
			t.Errorf("ParseStatus(%q) = %q, %v", st, got, err)
		}
	}
	for _, in := range []string{"", "Active", "ACTIVE", " active", "deleted", "approved", "all"} {
		got, err := membership.ParseStatus(in)
		wantErr(t, err, kernel.KindInvalid, "member-status-invalid")
		if got != "" {
			t.Errorf("ParseStatus(%q) = %q with the error", in, got)
		}
	}
}

func TestFounder(t *testing.T) {
	for _, role := range allRoles {
		t.Run(string(role), func(t *testing.T) {
			m, err := membership.Founder(mid, eid, uid, role, t0)
			if err != nil {
				t.Fatal(err)
			}
			evs := wantState(t, m, membership.Membership{ID: mid, EnterpriseID: eid, UserID: uid, Role: role,
				Status: membership.StatusActive, CertAuthorized: true, JoinedAt: at, CreatedAt: at, UpdatedAt: at})
			wantEvents(t, evs) // the enterprise's verification tells the story
			if m.CreatedAt.Location() != time.UTC || m.CreatedAt.Nanosecond()%1000 != 0 {
				t.Errorf("created at %v: want UTC to the microsecond", m.CreatedAt)
			}
			if !m.Active() {
				t.Error("a founder is not active")
			}
		})
	}
	for _, tc := range []struct {
		name string
		id   kernel.MembershipID
		eid  kernel.EnterpriseID
		uid  kernel.UserID
		role membership.Role
		code string
	}{
		{"no id", "", eid, uid, membership.RoleAdmin, "membership-incomplete"},
		{"no enterprise", mid, "", uid, membership.RoleAdmin, "membership-incomplete"},
		{"no user", mid, eid, "", membership.RoleAdmin, "membership-incomplete"},
		{"no role", mid, eid, uid, "", "role-invalid"},
		{"unknown role", mid, eid, uid, badRole, "role-invalid"},
		{"role in upper case", mid, eid, uid, "ADMIN", "role-invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := membership.Founder(tc.id, tc.eid, tc.uid, tc.role, t0)
			wantErr(t, err, kernel.KindInvalid, tc.code)
			if m != nil {
				t.Fatalf("membership returned with the error: %+v", m)
			}
		})
	}
}

func TestApply(t *testing.T) {
	m, err := membership.Apply(mid, eid, uid, t0)
	if err != nil {
		t.Fatal(err)
	}
	evs := wantState(t, m, membership.Membership{ID: mid, EnterpriseID: eid, UserID: uid, Role: membership.RoleMember,
		Status: membership.StatusPending, CreatedAt: at, UpdatedAt: at})
	wantEvents(t, evs, membership.JoinRequested{MembershipID: mid, EnterpriseID: eid, UserID: uid, At: at})
	if m.Active() || m.CertAuthorized {
		t.Error("a join request grants access")
	}

	for _, tc := range []struct {
		name string
		id   kernel.MembershipID
		eid  kernel.EnterpriseID
		uid  kernel.UserID
	}{
		{"no id", "", eid, uid},
		{"no enterprise", mid, "", uid},
		{"no user", mid, eid, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := membership.Apply(tc.id, tc.eid, tc.uid, t0)
			wantErr(t, err, kernel.KindInvalid, "membership-incomplete")
			if m != nil {
				t.Fatalf("membership returned with the error: %+v", m)
			}
		})
	}
}

func TestAddExisting(t *testing.T) {
	for _, role := range allRoles {
		t.Run(string(role), func(t *testing.T) {
			m, err := membership.AddExisting(mid, eid, uid, role, admin, t0)
			if err != nil {
				t.Fatal(err)
			}
			evs := wantState(t, m, membership.Membership{ID: mid, EnterpriseID: eid, UserID: uid, Role: role,
				Status: membership.StatusActive, CertAuthorized: true, DecidedBy: admin, JoinedAt: at, CreatedAt: at, UpdatedAt: at})
			wantEvents(t, evs, membership.MemberAdded{MembershipID: mid, EnterpriseID: eid, UserID: uid, Role: role, At: at})
		})
	}
	for _, tc := range []struct {
		name string
		id   kernel.MembershipID
		eid  kernel.EnterpriseID
		uid  kernel.UserID
		role membership.Role
		code string
	}{
		{"no id", "", eid, uid, membership.RoleMember, "membership-incomplete"},
		{"no enterprise", mid, "", uid, membership.RoleMember, "membership-incomplete"},
		{"no user", mid, eid, "", membership.RoleMember, "membership-incomplete"},
		{"no role", mid, eid, uid, "", "role-invalid"},
		{"unknown role", mid, eid, uid, badRole, "role-invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := membership.AddExisting(tc.id, tc.eid, tc.uid, tc.role, admin, t0)
			wantErr(t, err, kernel.KindInvalid, tc.code)
			if m != nil {
				t.Fatalf("membership returned with the error: %+v", m)
			}
		})
	}
}

func TestInvite(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		role     membership.Role
	}{
		{"member", name, membership.RoleMember},
		{"admin", name, membership.RoleAdmin},
		{"name with surrounding space", "  " + name + "\t", membership.RoleMember},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := membership.Invite(mid, eid, tc.in, phone, tc.role, admin, t0)
			if err != nil {
				t.Fatal(err)
			}
			evs := wantState(t, m, membership.Membership{ID: mid, EnterpriseID: eid, InviteeName: name, InviteePhone: phone,
				Role: tc.role, Status: membership.StatusInvited, DecidedBy: admin, CreatedAt: at, UpdatedAt: at})
			wantEvents(t, evs, membership.MemberInvited{MembershipID: mid, EnterpriseID: eid, Role: tc.role, At: at})
			if m.Active() || m.CertAuthorized || m.UserID != "" {
				t.Error("an invitation grants access")
			}
		})
	}
	for _, tc := range []struct {
		name  string
		id    kernel.MembershipID
		eid   kernel.EnterpriseID
		in    string
		phone kernel.Phone
		role  membership.Role
		code  string
	}{
		{"no name", mid, eid, "", phone, membership.RoleMember, "invitee-incomplete"},
		{"blank name", mid, eid, " \t ", phone, membership.RoleMember, "invitee-incomplete"},
		{"no phone", mid, eid, name, "", membership.RoleMember, "invitee-incomplete"},
		{"no id", "", eid, name, phone, membership.RoleMember, "membership-incomplete"},
		{"no enterprise", mid, "", name, phone, membership.RoleMember, "membership-incomplete"},
		{"unknown role", mid, eid, name, phone, badRole, "role-invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := membership.Invite(tc.id, tc.eid, tc.in, tc.phone, tc.role, admin, t0)
			wantErr(t, err, kernel.KindInvalid, tc.code)
			if m != nil {
				t.Fatalf("membership returned with the error: %+v", m)
			}
		})
	}
}

func TestApproveAndReject(t *testing.T) {
	t.Run("approve a pending request", func(t *testing.T) {
		m := state(membership.StatusPending, membership.RoleMember)
		want := *m
		if err := m.Approve(admin, t1); err != nil {
			t.Fatal(err)
		}
		want.Status, want.CertAuthorized, want.DecidedBy, want.JoinedAt, want.UpdatedAt = membership.StatusActive, true, admin, a1, a1
		evs := wantState(t, m, want)
		wantEvents(t, evs, membership.JoinApproved{MembershipID: mid, EnterpriseID: eid, UserID: uid, At: a1})
		if !m.Active() {
			t.Error("an approved member is not active")
		}
	})
	t.Run("reject a pending request", func(t *testing.T) {
		m := state(membership.StatusPending, membership.RoleMember)
		want := *m
		if err := m.Reject(admin, t1); err != nil {
			t.Fatal(err)
		}
		want.Status, want.DecidedBy, want.UpdatedAt = membership.StatusRejected, admin, a1
		evs := wantState(t, m, want)
		wantEvents(t, evs, membership.JoinRejected{MembershipID: mid, EnterpriseID: eid, UserID: uid, At: a1})
		if m.Active() || m.CertAuthorized || !m.JoinedAt.IsZero() {
			t.Errorf("a rejected request grants access: %+v", m)
		}
	})
	decisions := map[string]func(m *membership.Membership) error{
		"approve": func(m *membership.Membership) error { return m.Approve(admin, t1) },
		"reject":  func(m *membership.Membership) error { return m.Reject(admin, t1) },
	}
	for _, st := range allStatuses {
		if st == membership.StatusPending {
			continue
		}
		for d, decide := range decisions {
			t.Run(d+" "+string(st), func(t *testing.T) {
				m := state(st, membership.RoleMember)
				before := *m
				err := decide(m)
				wantErr(t, err, kernel.KindConflict, "member-not-pending")
				if !errors.Is(err, membership.ErrNotPending) {
					t.Errorf("errors.Is(%v, ErrNotPending) = false", err)
				}
				unchanged(t, m, before)
			})
		}
	}
}

func TestActivateInvite(t *testing.T) {
	for _, tc := range []struct {
		name, verified string
		role           membership.Role
	}{
		{"member", name, membership.RoleMember},
		{"admin", name, membership.RoleAdmin},
		{"verified name with surrounding space", " " + name + " ", membership.RoleMember},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := state(membership.StatusInvited, tc.role)
			want := *m
			if err := m.ActivateInvite(uid, tc.verified, phone, t1); err != nil {
				t.Fatal(err)
			}
			want.UserID, want.Status, want.CertAuthorized, want.JoinedAt, want.UpdatedAt = uid, membership.StatusActive, true, a1, a1
			evs := wantState(t, m, want)
			wantEvents(t, evs, membership.MemberAdded{MembershipID: mid, EnterpriseID: eid, UserID: uid, Role: tc.role, At: a1})
		})
	}
	for _, tc := range []struct {
		name, verified string
		uid            kernel.UserID
		phone          kernel.Phone
	}{
		{"another name", "王五", uid, phone},
		{"a name that only contains the invitee's", name + "明", uid, phone},
		{"no name", "", uid, phone},
		{"another phone", name, uid, other},
		{"no phone", name, uid, ""},
		{"no user", name, "", phone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := state(membership.StatusInvited, membership.RoleMember)
			before := *m
			err := m.ActivateInvite(tc.uid, tc.verified, tc.phone, t1)
			wantErr(t, err, kernel.KindPrecondition, "invitee-mismatch")
			unchanged(t, m, before)
		})
	}
	for _, st := range allStatuses {
		if st == membership.StatusInvited {
			continue
		}
		t.Run("from "+string(st), func(t *testing.T) {
			m := state(st, membership.RoleMember)
			m.InviteeName, m.InviteePhone = name, phone // even with matching invitee data
			before := *m
			err := m.ActivateInvite(uid, name, phone, t1)
			wantErr(t, err, kernel.KindConflict, "member-not-invited")
			unchanged(t, m, before)
		})
	}
}

func TestRemove(t *testing.T) {
	for _, tc := range []struct {
		name        string
		status      membership.Status
		role        membership.Role
		otherAdmins int
		kind        kernel.Kind
		code        string
	}{
		{"a member", membership.StatusActive, membership.RoleMember, 1, 0, ""},
		{"a member: other admins do not matter", membership.StatusActive, membership.RoleMember, 0, 0, ""},
		{"an admin with another admin", membership.StatusActive, membership.RoleAdmin, 1, 0, ""},
		{"an admin with many others", membership.StatusActive, membership.RoleAdmin, 5, 0, ""},
		{"the last admin", membership.StatusActive, membership.RoleAdmin, 0, kernel.KindPrecondition, "cannot-remove-last-admin"},
		{"an admin, a miscount", membership.StatusActive, membership.RoleAdmin, -1, kernel.KindPrecondition, "cannot-remove-last-admin"},
		{"the legal rep", membership.StatusActive, membership.RoleLegalRep, 3, kernel.KindPrecondition, "cannot-remove-legal-rep"},
		{"the legal rep, last admin", membership.StatusActive, membership.RoleLegalRep, 0, kernel.KindPrecondition, "cannot-remove-legal-rep"},
		{"a pending request", membership.StatusPending, membership.RoleMember, 1, kernel.KindConflict, "member-not-active"},
		{"an invitation", membership.StatusInvited, membership.RoleAdmin, 1, kernel.KindConflict, "member-not-active"},
		{"a rejected request", membership.StatusRejected, membership.RoleMember, 1, kernel.KindConflict, "member-not-active"},
		{"a removed member", membership.StatusRemoved, membership.RoleMember, 1, kernel.KindConflict, "member-not-active"},
		{"a removed admin, no others", membership.StatusRemoved, membership.RoleAdmin, 0, kernel.KindConflict, "member-not-active"},
		{"a removed legal rep", membership.StatusRemoved, membership.RoleLegalRep, 0, kernel.KindConflict, "member-not-active"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := state(tc.status, tc.role)
			before := *m
			err := m.Remove(admin, tc.otherAdmins, t1)
			if tc.code != "" {
				wantErr(t, err, tc.kind, tc.code)
				if tc.code == "member-not-active" && !errors.Is(err, membership.ErrNotActive) {
					t.Errorf("errors.Is(%v, ErrNotActive) = false", err)
				}
				unchanged(t, m, before)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := before
			want.Status, want.DecidedBy, want.UpdatedAt = membership.StatusRemoved, admin, a1
			want.CertAuthorized, want.CertRevokedAt = false, a1 // revoked in the same step
			evs := wantState(t, m, want)
			wantEvents(t, evs, membership.MemberRemoved{MembershipID: mid, EnterpriseID: eid, UserID: uid, CertAuthorizationRevoked: true, At: a1})
			if m.Active() {
				t.Error("a removed member is active")
			}
			// Removing twice is refused.
			wantErr(t, m.Remove(admin, tc.otherAdmins, t1), kernel.KindConflict, "member-not-active")
		})
	}
}

func TestEventNames(t *testing.T) {
	for ev, want := range map[kernel.Event]string{
		membership.JoinRequested{}: "membership.join_requested",
		membership.JoinApproved{}:  "membership.join_approved",
		membership.JoinRejected{}:  "membership.join_rejected",
		membership.MemberInvited{}: "membership.invited",
		membership.MemberAdded{}:   "membership.added",
		membership.MemberRemoved{}: "membership.removed",
	} {
		if got := ev.EventName(); got != want {
			t.Errorf("%T.EventName() = %q, want %q", ev, got, want)
		}
	}
}

// Events travel through the outbox and the broker: they never carry the invitee's name or phone.
func TestEventsCarryNoPersonalData(t *testing.T) {
	var evs []kernel.Event
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	inv, err := membership.Invite(mid, eid, name, phone, membership.RoleAdmin, admin, t0)
	must(err)
	must(inv.ActivateInvite(uid, name, phone, t1))
	must(inv.Remove(admin, 1, t1))
	evs = append(evs, inv.PullEvents()...)
	app, err := membership.Apply("m2", eid, uid, t0)
	must(err)
	must(app.Approve(admin, t1))
	evs = append(evs, app.PullEvents()...)
	rej, err := membership.Apply("m3", eid, uid, t0)
	must(err)
	must(rej.Reject(admin, t1))
	evs = append(evs, rej.PullEvents()...)
	added, err := membership.AddExisting("m4", eid, uid, membership.RoleMember, admin, t0)
	must(err)
	evs = append(evs, added.PullEvents()...)
	if len(evs) != 8 {
		t.Fatalf("%d events, want 8: %v", len(evs), evs)
	}
	names := map[string]bool{}
	for _, ev := range evs {
		names[ev.EventName()] = true
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		for _, secret := range []string{name, string(phone), phone.Masked(), phone.String()[7:]} {
			if strings.Contains(s, secret) {
				t.Errorf("%s carries personal data %q: %s", ev.EventName(), secret, s)
			}
		}
		var fields map[string]any
		if err := json.Unmarshal(b, &fields); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"membership_id", "enterprise_id", "at"} {
			if _, ok := fields[key]; !ok {
				t.Errorf("%s has no %q: %s", ev.EventName(), key, s)
			}
		}
		for key := range fields {
			if strings.Contains(key, "name") || strings.Contains(key, "phone") {
				t.Errorf("%s has a personal field %q: %s", ev.EventName(), key, s)
			}
		}
	}
	if len(names) != 6 {
		t.Errorf("event types %v, want all six", names)
	}
}

// A Decision states what deciding does, for a store that applies it to many requests at once:
// the same guard, status, decider, time (UTC microseconds, as the aggregate keeps it) and event
// that Decide gives one request.
func TestDecision(t *testing.T) {
	for _, tc := range []struct {
		d      membership.Decision
		status membership.Status
		admits bool
		event  kernel.Event
	}{
		{membership.Approval(admin, t1), membership.StatusActive, true, membership.JoinApproved{MembershipID: mid, EnterpriseID: eid, UserID: uid, At: a1}},
		{membership.Rejection(admin, t1), membership.StatusRejected, false, membership.JoinRejected{MembershipID: mid, EnterpriseID: eid, UserID: uid, At: a1}},
	} {
		d := tc.d
		if d.Requires() != membership.StatusPending || d.Status() != tc.status || d.Admits() != tc.admits ||
			d.DecidedBy() != admin || !d.At().Equal(a1) || d.At().Location() != time.UTC {
			t.Errorf("%s: requires %s, status %s, admits %t, by %s, at %v", tc.status, d.Requires(), d.Status(), d.Admits(), d.DecidedBy(), d.At())
		}
		if ev := d.Event(mid, eid, uid); !reflect.DeepEqual(ev, tc.event) {
			t.Errorf("%s: event %+v, want %+v", tc.status, ev, tc.event)
		}
		m := state(membership.StatusPending, membership.RoleMember)
		if err := m.Decide(d); err != nil || m.Status != d.Status() || m.CertAuthorized != d.Admits() || !m.UpdatedAt.Equal(d.At()) {
			t.Errorf("%s: decided %+v, %v", tc.status, m, err)
		}
	}
}
