package membership_test

import (
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/kernel/kerneltest"
	"github.com/shuxinqian/server/domain/membership"
)

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.FixedZone("CST", 8*3600))

const (
	mid kernel.MembershipID = "01HMEMBERSHIP"
	eid kernel.EnterpriseID = "01HENTERPRISE"
	uid kernel.UserID       = "01HUSER"
)

// wantErr asserts the kind and the stable code of err.
func wantErr(t *testing.T, err error, kind kernel.Kind, code string) {
	t.Helper()
	_ = kerneltest.WantErr(t, err, kind, code)
}

func TestFounder(t *testing.T) {
	for _, role := range []membership.Role{membership.RoleLegalRep, membership.RoleAdmin, membership.RoleMember} {
		t.Run(string(role), func(t *testing.T) {
			m, err := membership.Founder(mid, eid, uid, role, t0)
			if err != nil {
				t.Fatal(err)
			}
			at := kernel.OccurredAt(t0)
			want := membership.Membership{ID: mid, EnterpriseID: eid, UserID: uid, Role: role, Status: membership.StatusActive,
				CertAuthorized: true, CreatedAt: at, UpdatedAt: at}
			if m != want {
				t.Fatalf("membership %+v, want %+v", m, want)
			}
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
		{"no role", mid, eid, uid, "", "membership-role-invalid"},
		{"unknown role", mid, eid, uid, "owner", "membership-role-invalid"},
		{"role in upper case", mid, eid, uid, "ADMIN", "membership-role-invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := membership.Founder(tc.id, tc.eid, tc.uid, tc.role, t0)
			wantErr(t, err, kernel.KindInvalid, tc.code)
			if m != (membership.Membership{}) {
				t.Fatalf("membership returned with the error: %+v", m)
			}
		})
	}
}

func TestRoleIsAdmin(t *testing.T) {
	for role, want := range map[membership.Role]bool{
		membership.RoleLegalRep: true,
		membership.RoleAdmin:    true,
		membership.RoleMember:   false,
		"":                      false,
		"owner":                 false,
	} {
		if got := role.IsAdmin(); got != want {
			t.Errorf("%q.IsAdmin() = %v, want %v", role, got, want)
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
		if got := (membership.Membership{Status: status}).Active(); got != want {
			t.Errorf("status %q: Active() = %v, want %v", status, got, want)
		}
	}
}
