package user_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/kernel/kerneltest"
	"github.com/shuxinqian/server/domain/user"
)

// t0 is a microsecond-aligned UTC instant, so kernel.OccurredAt leaves it untouched.
var t0 = time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)

const (
	testID    kernel.UserID = "01HUSER"
	testPhone kernel.Phone  = "13800138000"
)

// wantErr asserts the kind and the stable code of err.
var wantErr = kerneltest.WantErr

// register creates a user and drains the registration event.
func register(t *testing.T) *user.User {
	t.Helper()
	u, err := user.Register(testID, testPhone, t0)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	u.PullEvents()
	return u
}

// registerWithPassword creates a user with a password set and no pending events.
func registerWithPassword(t *testing.T) *user.User {
	t.Helper()
	u := register(t)
	if err := u.SetPassword("hash-1", t0); err != nil {
		t.Fatalf("SetPassword: %v", err)
	}
	u.PullEvents()
	return u
}

func TestRegister(t *testing.T) {
	now := time.Date(2025, 3, 10, 17, 0, 0, 123456789, time.FixedZone("CST", 8*3600))
	u, err := user.Register(testID, testPhone, now)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	want := kernel.OccurredAt(now)
	if u.ID() != testID || u.Phone() != testPhone {
		t.Errorf("ID/Phone = %q/%q", u.ID(), u.Phone())
	}
	if u.HasPassword() || u.PasswordHash() != "" {
		t.Errorf("new user has a password: %q", u.PasswordHash())
	}
	if u.RealNameStatus() != user.RealNameUnverified {
		t.Errorf("RealNameStatus = %q, want %q", u.RealNameStatus(), user.RealNameUnverified)
	}
	if !u.CreatedAt().Equal(want) || u.CreatedAt().Location() != time.UTC || u.CreatedAt().Nanosecond()%1000 != 0 {
		t.Errorf("CreatedAt = %v, want %v in UTC truncated to µs", u.CreatedAt(), want)
	}
	if u.Version() != 0 {
		t.Errorf("Version = %d, want 0", u.Version())
	}
	if s := u.Snapshot(); !s.UpdatedAt.Equal(want) || s.FailedLogins != 0 || !s.LockedUntil.IsZero() {
		t.Errorf("Snapshot after Register = %+v", s)
	}

	evs := u.PullEvents()
	if len(evs) != 1 {
		t.Fatalf("events = %#v, want one user.registered", evs)
	}
	if evs[0].EventName() != "user.registered" {
		t.Errorf("EventName = %q, want user.registered", evs[0].EventName())
	}
	ev, ok := evs[0].(user.Registered)
	if !ok {
		t.Fatalf("event is %T, want user.Registered", evs[0])
	}
	if ev.UserID != testID || !ev.At.Equal(want) || ev.At.Location() != time.UTC {
		t.Errorf("Registered = %+v, want user %q at %v UTC", ev, testID, want)
	}
	if again := u.PullEvents(); len(again) != 0 {
		t.Errorf("second PullEvents = %#v, want none", again)
	}
}

func TestRegisterInvalid(t *testing.T) {
	cases := []struct {
		name  string
		id    kernel.UserID
		phone kernel.Phone
		code  string
	}{
		{"missing id", "", testPhone, "user-id-missing"},
		{"missing phone", testID, "", "phone-invalid"},
		{"missing both", "", "", "user-id-missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u, err := user.Register(tc.id, tc.phone, t0)
			_ = wantErr(t, err, kernel.KindInvalid, tc.code)
			if u != nil {
				t.Errorf("Register returned a user with an error: %+v", u.Snapshot())
			}
		})
	}
}

func TestEventNames(t *testing.T) {
	cases := []struct {
		ev   kernel.Event
		name string
	}{
		{user.Registered{}, "user.registered"},
		{user.LoggedIn{}, "user.logged_in"},
		{user.PasswordSet{}, "user.password_set"},
		{user.PasswordLocked{}, "user.password_locked"},
		{user.LoggedOut{}, "user.logged_out"},
	}
	for _, tc := range cases {
		if got := tc.ev.EventName(); got != tc.name {
			t.Errorf("%T.EventName() = %q, want %q", tc.ev, got, tc.name)
		}
	}
}

func TestSetPassword(t *testing.T) {
	u := register(t)

	// First set: Changed=false.
	at1 := t0.Add(time.Minute)
	if err := u.SetPassword("hash-1", at1); err != nil {
		t.Fatalf("SetPassword: %v", err)
	}
	if !u.HasPassword() || u.PasswordHash() != "hash-1" {
		t.Errorf("after first SetPassword: HasPassword=%v hash=%q", u.HasPassword(), u.PasswordHash())
	}
	if s := u.Snapshot(); !s.UpdatedAt.Equal(at1) {
		t.Errorf("UpdatedAt = %v, want %v", s.UpdatedAt, at1)
	}
	evs := u.PullEvents()
	if len(evs) != 1 || evs[0] != (user.PasswordSet{UserID: testID, Changed: false, At: at1}) {
		t.Errorf("events after first set = %#v, want PasswordSet{Changed:false}", evs)
	}
	if evs[0].EventName() != "user.password_set" {
		t.Errorf("EventName = %q", evs[0].EventName())
	}

	// Replace: Changed=true.
	at2 := t0.Add(2 * time.Minute)
	if err := u.SetPassword("hash-2", at2); err != nil {
		t.Fatalf("SetPassword: %v", err)
	}
	if u.PasswordHash() != "hash-2" {
		t.Errorf("hash = %q, want hash-2", u.PasswordHash())
	}
	evs = u.PullEvents()
	if len(evs) != 1 || evs[0] != (user.PasswordSet{UserID: testID, Changed: true, At: at2}) {
		t.Errorf("events after replace = %#v, want PasswordSet{Changed:true}", evs)
	}
}

func TestSetPasswordMissing(t *testing.T) {
	u := registerWithPassword(t)
	before := u.Snapshot()
	_ = wantErr(t, u.SetPassword("", t0.Add(time.Hour)), kernel.KindInvalid, "password-missing")
	if after := u.Snapshot(); after != before {
		t.Errorf("failed SetPassword changed the user: %+v → %+v", before, after)
	}
	if evs := u.PullEvents(); len(evs) != 0 {
		t.Errorf("failed SetPassword recorded %#v", evs)
	}
}

func TestSetPasswordResetsFailures(t *testing.T) {
	t.Run("counter", func(t *testing.T) {
		u := registerWithPassword(t)
		for i := 0; i < user.MaxPasswordFailures-1; i++ {
			u.PasswordFailed(t0.Add(time.Duration(i) * time.Second))
		}
		if got := u.Snapshot().FailedLogins; got != user.MaxPasswordFailures-1 {
			t.Fatalf("FailedLogins = %d, want %d", got, user.MaxPasswordFailures-1)
		}
		if err := u.SetPassword("hash-2", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got := u.Snapshot().FailedLogins; got != 0 {
			t.Errorf("FailedLogins after SetPassword = %d, want 0", got)
		}
		// The counter really restarted: one more failure does not lock.
		u.PasswordFailed(t0.Add(2 * time.Minute))
		if err := u.CanTryPassword(t0.Add(2 * time.Minute)); err != nil {
			t.Errorf("CanTryPassword after reset + 1 failure: %v", err)
		}
	})
	t.Run("lock", func(t *testing.T) {
		u := registerWithPassword(t)
		for i := 0; i < user.MaxPasswordFailures; i++ {
			u.PasswordFailed(t0)
		}
		_ = wantErr(t, u.CanTryPassword(t0.Add(time.Minute)), kernel.KindRateLimited, "password-locked")
		if err := u.SetPassword("hash-2", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := u.CanTryPassword(t0.Add(time.Minute)); err != nil {
			t.Errorf("CanTryPassword after SetPassword: %v, want nil (lock lifted)", err)
		}
		if s := u.Snapshot(); !s.LockedUntil.IsZero() || s.FailedLogins != 0 {
			t.Errorf("after SetPassword LockedUntil=%v FailedLogins=%d", s.LockedUntil, s.FailedLogins)
		}
	})
}

func TestCanTryPasswordNotSet(t *testing.T) {
	u := register(t)
	e := wantErr(t, u.CanTryPassword(t0), kernel.KindPrecondition, "password-not-set")
	if e.RetryAfter != 0 {
		t.Errorf("RetryAfter = %v, want 0", e.RetryAfter)
	}
}

func TestPasswordLockout(t *testing.T) {
	if user.MaxPasswordFailures != 5 || user.PasswordLockout != 15*time.Minute {
		t.Fatalf("figures changed: MaxPasswordFailures=%d PasswordLockout=%v", user.MaxPasswordFailures, user.PasswordLockout)
	}
	u := registerWithPassword(t)

	// Failures 1–4 do not lock and record nothing.
	for i := 1; i <= 4; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		u.PasswordFailed(at)
		if err := u.CanTryPassword(at); err != nil {
			t.Fatalf("after %d failures CanTryPassword = %v, want nil", i, err)
		}
		if got := u.Snapshot().FailedLogins; got != i {
			t.Errorf("after %d failures FailedLogins = %d", i, got)
		}
		if evs := u.PullEvents(); len(evs) != 0 {
			t.Errorf("failure %d recorded %#v", i, evs)
		}
	}

	// The fifth locks for exactly 15 minutes.
	lockAt := t0.Add(time.Minute)
	u.PasswordFailed(lockAt)
	until := lockAt.Add(15 * time.Minute)
	evs := u.PullEvents()
	if len(evs) != 1 {
		t.Fatalf("events after 5th failure = %#v, want one user.password_locked", evs)
	}
	if evs[0].EventName() != "user.password_locked" ||
		evs[0] != (user.PasswordLocked{UserID: testID, Until: until, At: lockAt}) {
		t.Errorf("event = %#v, want PasswordLocked until %v at %v", evs[0], until, lockAt)
	}
	if s := u.Snapshot(); !s.LockedUntil.Equal(until) || s.FailedLogins != 0 || !s.UpdatedAt.Equal(lockAt) {
		t.Errorf("after lock: LockedUntil=%v FailedLogins=%d UpdatedAt=%v", s.LockedUntil, s.FailedLogins, s.UpdatedAt)
	}

	cases := []struct {
		name  string
		at    time.Time
		retry time.Duration // 0: allowed
	}{
		{"at once", lockAt, 15 * time.Minute},
		{"1s later", lockAt.Add(time.Second), 15*time.Minute - time.Second},
		{"10m later", lockAt.Add(10 * time.Minute), 5 * time.Minute},
		{"1ns before the end", until.Add(-time.Nanosecond), time.Nanosecond},
		{"exactly 15m later", until, 0},
		{"16m later", lockAt.Add(16 * time.Minute), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := u.CanTryPassword(tc.at)
			if tc.retry == 0 {
				if err != nil {
					t.Fatalf("CanTryPassword = %v, want nil", err)
				}
				return
			}
			e := wantErr(t, err, kernel.KindRateLimited, "password-locked")
			if e.RetryAfter != tc.retry {
				t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, tc.retry)
			}
		})
	}

	// The counter restarted: after the lock ends, 4 more failures do not lock again.
	for i := 0; i < 4; i++ {
		u.PasswordFailed(until.Add(time.Duration(i) * time.Second))
	}
	if err := u.CanTryPassword(until.Add(time.Minute)); err != nil {
		t.Errorf("4 failures after the lock ended: %v, want nil", err)
	}
	u.PasswordFailed(until.Add(time.Minute))
	e := wantErr(t, u.CanTryPassword(until.Add(time.Minute)), kernel.KindRateLimited, "password-locked")
	if e.RetryAfter != 15*time.Minute {
		t.Errorf("second lock RetryAfter = %v, want 15m", e.RetryAfter)
	}
}

func TestLoggedIn(t *testing.T) {
	cases := []struct {
		name     string
		failures int
	}{
		{"clean", 0},
		{"after failures", 3},
		{"while locked", user.MaxPasswordFailures},
	}
	for _, tc := range cases {
		for _, method := range []string{"sms", "password"} {
			t.Run(tc.name+"/"+method, func(t *testing.T) {
				u := registerWithPassword(t)
				for i := 0; i < tc.failures; i++ {
					u.PasswordFailed(t0)
				}
				u.PullEvents()
				at := t0.Add(time.Minute)
				u.LoggedIn(method, at)
				s := u.Snapshot()
				if s.FailedLogins != 0 || !s.LockedUntil.IsZero() || !s.UpdatedAt.Equal(at) {
					t.Errorf("after LoggedIn: %+v", s)
				}
				if err := u.CanTryPassword(at); err != nil {
					t.Errorf("CanTryPassword after LoggedIn: %v", err)
				}
				evs := u.PullEvents()
				if len(evs) != 1 || evs[0].EventName() != "user.logged_in" ||
					evs[0] != (user.LoggedIn{UserID: testID, Method: method, At: at}) {
					t.Errorf("events = %#v, want LoggedIn{%q}", evs, method)
				}
			})
		}
	}
}

func TestEventTimesAreNormalised(t *testing.T) {
	local := time.Date(2025, 3, 10, 17, 0, 0, 987654321, time.FixedZone("CST", 8*3600))
	want := time.Date(2025, 3, 10, 9, 0, 0, 987654000, time.UTC)
	u := register(t)
	if err := u.SetPassword("h", local); err != nil {
		t.Fatal(err)
	}
	u.LoggedIn("sms", local)
	for i := 0; i < user.MaxPasswordFailures; i++ {
		u.PasswordFailed(local)
	}
	for _, ev := range u.PullEvents() {
		var at time.Time
		switch e := ev.(type) {
		case user.PasswordSet:
			at = e.At
		case user.LoggedIn:
			at = e.At
		case user.PasswordLocked:
			at = e.At
			if e.Until != want.Add(user.PasswordLockout) {
				t.Errorf("PasswordLocked.Until = %v, want %v", e.Until, want.Add(user.PasswordLockout))
			}
		default:
			t.Fatalf("unexpected event %#v", ev)
		}
		if at != want {
			t.Errorf("%s.At = %v, want %v (UTC, µs)", ev.EventName(), at, want)
		}
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	full := user.Snapshot{
		ID:           testID,
		Phone:        testPhone,
		PasswordHash: "hash",
		FailedLogins: 3,
		LockedUntil:  t0.Add(15 * time.Minute),
		RealName:     user.RealNameVerified,
		CreatedAt:    t0.Add(-48 * time.Hour),
		UpdatedAt:    t0,
		Version:      7,
	}
	t.Run("snapshot → user → snapshot", func(t *testing.T) {
		u := user.FromSnapshot(full)
		if got := u.Snapshot(); !reflect.DeepEqual(got, full) {
			t.Errorf("round trip = %+v, want %+v", got, full)
		}
		if u.ID() != full.ID || u.Phone() != full.Phone || u.PasswordHash() != "hash" || !u.HasPassword() ||
			u.RealNameStatus() != user.RealNameVerified || !u.CreatedAt().Equal(full.CreatedAt) || u.Version() != 7 {
			t.Errorf("accessors disagree with snapshot %+v", full)
		}
		if evs := u.PullEvents(); len(evs) != 0 {
			t.Errorf("FromSnapshot recorded %#v", evs)
		}
		// The lock is live after rehydration.
		e := wantErr(t, u.CanTryPassword(t0), kernel.KindRateLimited, "password-locked")
		if e.RetryAfter != 15*time.Minute {
			t.Errorf("RetryAfter = %v, want 15m", e.RetryAfter)
		}
	})
	t.Run("user → snapshot → user", func(t *testing.T) {
		u := registerWithPassword(t)
		u.PasswordFailed(t0.Add(time.Second))
		u.PasswordFailed(t0.Add(2 * time.Second))
		s := u.Snapshot()
		if s.FailedLogins != 2 || s.PasswordHash != "hash-1" || s.RealName != user.RealNameUnverified {
			t.Errorf("Snapshot = %+v", s)
		}
		back := user.FromSnapshot(s)
		if got := back.Snapshot(); !reflect.DeepEqual(got, s) {
			t.Errorf("round trip = %+v, want %+v", got, s)
		}
		// The failure counter survives: 3 more lock.
		for i := 0; i < 3; i++ {
			back.PasswordFailed(t0.Add(time.Minute))
		}
		_ = wantErr(t, back.CanTryPassword(t0.Add(time.Minute)), kernel.KindRateLimited, "password-locked")
	})
	t.Run("empty real-name status defaults to unverified", func(t *testing.T) {
		s := full
		s.RealName = ""
		u := user.FromSnapshot(s)
		if u.RealNameStatus() != user.RealNameUnverified || u.Snapshot().RealName != user.RealNameUnverified {
			t.Errorf("RealNameStatus = %q, want %q", u.RealNameStatus(), user.RealNameUnverified)
		}
	})
	t.Run("other real-name statuses are kept", func(t *testing.T) {
		for _, rn := range []user.RealNameStatus{user.RealNameUnverified, user.RealNameVerifying, user.RealNameVerified} {
			s := full
			s.RealName = rn
			if got := user.FromSnapshot(s).RealNameStatus(); got != rn {
				t.Errorf("RealNameStatus = %q, want %q", got, rn)
			}
		}
	})
	t.Run("zero snapshot", func(t *testing.T) {
		u := user.FromSnapshot(user.Snapshot{})
		if u.HasPassword() {
			t.Error("zero snapshot has a password")
		}
		_ = wantErr(t, u.CanTryPassword(t0), kernel.KindPrecondition, "password-not-set")
	})
}
