package operator

import (
	"errors"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// RFC 6238 appendix B vectors (SHA-1 secret "12345678901234567890"), truncated to 6 digits.
func TestTOTPVectors(t *testing.T) {
	secret := []byte("12345678901234567890")
	for _, c := range []struct {
		unix int64
		want string
	}{{59, "287082"}, {1111111109, "081804"}, {1111111111, "050471"}, {1234567890, "005924"}, {2000000000, "279037"}, {20000000000, "353130"}} {
		if got := Code(secret, Step(time.Unix(c.unix, 0))); got != c.want {
			t.Errorf("T=%d: code %s, want %s", c.unix, got, c.want)
		}
	}
}

func newOp(t *testing.T) (*Operator, []byte, time.Time) {
	t.Helper()
	secret := []byte("0123456789abcdefghij")
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	o, err := New("op1", "Alice", "hash", secret, RoleSupport, now)
	if err != nil {
		t.Fatal(err)
	}
	if o.Username() != "alice" {
		t.Fatalf("username %q", o.Username())
	}
	return o, secret, now
}

func TestLoginTOTPOnceSkewAndLock(t *testing.T) {
	o, secret, now := newOp(t)
	code := Code(secret, Step(now))
	if err := o.Login(true, code, now); err != nil {
		t.Fatalf("first login: %v", err)
	}
	if err := o.Login(true, code, now.Add(10*time.Second)); !errors.Is(err, ErrTOTPReused) {
		t.Fatalf("reused code: %v", err)
	}
	// The previous step's code is older than the accepted one: refused as well.
	if err := o.Login(true, Code(secret, Step(now)-1), now.Add(10*time.Second)); !errors.Is(err, ErrTOTPReused) {
		t.Fatalf("older code: %v", err)
	}
	// One step of skew is accepted, two are not.
	later := now.Add(2 * TOTPPeriod)
	if err := o.Login(true, Code(secret, Step(later)+1), later); err != nil {
		t.Fatalf("skew +1: %v", err)
	}
	if err := o.Login(true, Code(secret, Step(later)+3), later); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("skew +3: %v", err)
	}
	// Failures since the last success: 1 (the far code). Three more, then the 5th locks.
	for i := 0; i < 3; i++ {
		if err := o.Login(false, Code(secret, Step(later)+1), later); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	if err := o.Login(true, "", later); !errors.Is(err, ErrLocked) {
		t.Fatalf("5th failure: %v", err)
	}
	next := later.Add(3 * TOTPPeriod)
	if err := o.Login(true, Code(secret, Step(next)), next); !errors.Is(err, ErrLocked) {
		t.Fatalf("right code while locked: %v", err)
	}
	after := later.Add(LockFor + time.Second)
	if err := o.Login(true, Code(secret, Step(after)), after); err != nil {
		t.Fatalf("after the lock: %v", err)
	}
}

func TestPermissionTable(t *testing.T) {
	if !RoleFinance.Can(PermRefund) || !RoleAdmin.Can(PermRefund) || RoleSupport.Can(PermRefund) {
		t.Fatal("refund: admin and finance only")
	}
	if RoleSupport.Can(PermChannels) || RoleFinance.Can(PermAudit) {
		t.Fatal("channels and audit are admin's")
	}
}

func TestSessionIdleAndMax(t *testing.T) {
	now := time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
	s, err := OpenSession("s", "op", "h", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(now.Add(SessionIdle)); err == nil {
		t.Fatal("idle session accepted")
	}
	at := now
	for at.Before(now.Add(SessionMax - SessionIdle)) {
		at = at.Add(20 * time.Minute)
		if err := s.Check(at); err != nil {
			t.Fatalf("used session refused at %v: %v", at.Sub(now), err)
		}
		s.Touch(at)
	}
	if err := s.Check(now.Add(SessionMax)); err == nil {
		t.Fatal("session older than SessionMax accepted")
	}
}

func newRole(t *testing.T, id ID, role Role) *Operator {
	t.Helper()
	o, err := New(id, "user-"+string(id), "hash", []byte("0123456789abcdefghij"), role, time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// Disabling and demoting: never oneself, never the last active admin; other roles come and go;
// no-ops report no change.
func TestOperatorDisableAndChangeRoleKeepAnAdmin(t *testing.T) {
	for _, c := range []struct {
		name   string
		role   Role
		by     ID
		admins Admins
		act    func(o *Operator, by ID, admins Admins) (bool, error)
		want   error
	}{
		{"disable another admin", RoleAdmin, "a2", 2, func(o *Operator, by ID, n Admins) (bool, error) { return o.Disable(by, n) }, nil},
		{"disable the last admin", RoleAdmin, "a2", 1, func(o *Operator, by ID, n Admins) (bool, error) { return o.Disable(by, n) }, ErrLastAdmin},
		{"disable oneself", RoleAdmin, "op", 3, func(o *Operator, by ID, n Admins) (bool, error) { return o.Disable(by, n) }, ErrSelfChange},
		{"disable a support operator with no admin count", RoleSupport, "a2", 0, func(o *Operator, by ID, n Admins) (bool, error) { return o.Disable(by, n) }, nil},
		{"demote another admin", RoleAdmin, "a2", 2, func(o *Operator, by ID, n Admins) (bool, error) { return o.ChangeRole(by, RoleFinance, n) }, nil},
		{"demote the last admin", RoleAdmin, "a2", 1, func(o *Operator, by ID, n Admins) (bool, error) { return o.ChangeRole(by, RoleSupport, n) }, ErrLastAdmin},
		{"demote oneself", RoleAdmin, "op", 5, func(o *Operator, by ID, n Admins) (bool, error) { return o.ChangeRole(by, RoleSupport, n) }, ErrSelfChange},
		{"promote", RoleSupport, "a2", 1, func(o *Operator, by ID, n Admins) (bool, error) { return o.ChangeRole(by, RoleAdmin, n) }, nil},
		{"finance to support", RoleFinance, "a2", 1, func(o *Operator, by ID, n Admins) (bool, error) { return o.ChangeRole(by, RoleSupport, n) }, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := newRole(t, "op", c.role)
			before := o.Snapshot()
			changed, err := c.act(o, c.by, c.admins)
			if !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
			if err != nil {
				if changed || o.Role() != before.Role || o.Active() != before.Active {
					t.Fatal("a refused change changed the operator")
				}
				return
			}
			if !changed || (o.Role() == before.Role && o.Active() == before.Active) {
				t.Fatalf("nothing changed: %+v", o.Snapshot())
			}
		})
	}
	o := newRole(t, "op", RoleAdmin)
	if changed, err := o.ChangeRole("a2", RoleAdmin, 1); changed || err != nil {
		t.Fatalf("same role: %v %v", changed, err)
	}
	if _, err := o.ChangeRole("a2", "root", 2); kernel.CodeOf(err) != "operator-role-invalid" {
		t.Fatalf("bad role: %v", err)
	}
	if _, err := o.Disable("a2", 2); err != nil {
		t.Fatal(err)
	}
	// A disabled admin does not count: demoting or disabling it again needs no other admin.
	if changed, err := o.Disable("a2", 0); changed || err != nil {
		t.Fatalf("disable twice: %v %v", changed, err)
	}
	if changed, err := o.ChangeRole("a2", RoleSupport, 0); !changed || err != nil {
		t.Fatalf("demote a disabled admin: %v %v", changed, err)
	}
	if !o.Enable() || !o.Active() || o.Enable() {
		t.Fatal("enable")
	}
}

// Unlock clears a lock and the failures; a successful login records its time; TOTP rotation
// and password reset validate their input and change the factor.
func TestOperatorUnlockRotateResetAndLastLogin(t *testing.T) {
	o, secret, now := newOp(t)
	for i := 0; i < MaxFailures; i++ {
		_ = o.Login(false, "000000", now)
	}
	if err := o.CheckLocked(now); !errors.Is(err, ErrLocked) {
		t.Fatalf("not locked: %v", err)
	}
	if !o.Unlock(now) || o.CheckLocked(now) != nil || o.FailedCount() != 0 || !o.LockedUntil().IsZero() {
		t.Fatalf("unlock: %+v", o.Snapshot())
	}
	if o.Unlock(now) {
		t.Fatal("unlocking an unlocked account reported a change")
	}
	if !o.LastLoginAt().IsZero() {
		t.Fatal("last login before any")
	}
	if err := o.Login(true, Code(secret, Step(now)), now); err != nil {
		t.Fatal(err)
	}
	if !o.LastLoginAt().Equal(now) {
		t.Fatalf("last login %v", o.LastLoginAt())
	}
	if err := o.RotateTOTP([]byte("short")); kernel.CodeOf(err) != "operator-totp-secret-short" {
		t.Fatalf("short secret: %v", err)
	}
	fresh := []byte("ZYXWVUTSRQPONMLKJIHG")
	if err := o.RotateTOTP(fresh); err != nil {
		t.Fatal(err)
	}
	later := now.Add(2 * TOTPPeriod)
	if err := o.Login(true, Code(secret, Step(later)), later); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("old secret still works: %v", err)
	}
	if err := o.Login(true, Code(fresh, Step(later)), later); err != nil {
		t.Fatalf("new secret: %v", err)
	}
	if err := o.ResetPassword(""); kernel.CodeOf(err) != "operator-password-missing" {
		t.Fatalf("empty hash: %v", err)
	}
	if err := o.ResetPassword("hash2"); err != nil || o.PasswordHash() != "hash2" {
		t.Fatalf("reset %v %q", err, o.PasswordHash())
	}
}
