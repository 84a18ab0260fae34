package operator

import (
	"errors"
	"testing"
	"time"
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
