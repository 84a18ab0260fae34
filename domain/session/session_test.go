package session_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/kernel/kerneltest"
	"github.com/shuxinqian/server/domain/session"
)

// t0 is a microsecond-aligned UTC instant, so kernel.OccurredAt leaves it untouched.
var t0 = time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)

const (
	testID    kernel.SessionID = "01HSESSION"
	testUser  kernel.UserID    = "01HUSER"
	testToken                  = "sha256-of-token"
	month                      = 30 * 24 * time.Hour
)

// wantErr asserts the kind and the stable code of err.
var wantErr = kerneltest.WantErr

// wantInvalid asserts the single session-invalid error.
func wantInvalid(t *testing.T, err error) {
	t.Helper()
	e := wantErr(t, err, kernel.KindUnauthenticated, "session-invalid")
	if !errors.Is(err, session.ErrInvalid) {
		t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
	}
	if e.Message != session.ErrInvalid.Message || len(e.Details) != 0 {
		t.Errorf("error %q %v discloses more than ErrInvalid", e.Message, e.Details)
	}
}

func open(t *testing.T) *session.Session {
	t.Helper()
	s, err := session.Open(testID, testUser, testToken, t0)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestFigures(t *testing.T) {
	if session.TTL != month || session.SlideEvery != time.Hour {
		t.Errorf("TTL/SlideEvery = %v/%v, want 720h/1h", session.TTL, session.SlideEvery)
	}
}

func TestOpen(t *testing.T) {
	now := time.Date(2025, 3, 10, 17, 0, 0, 123456789, time.FixedZone("CST", 8*3600))
	s, err := session.Open(testID, testUser, testToken, now)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	at := kernel.OccurredAt(now)
	want := session.Snapshot{
		ID: testID, UserID: testUser, TokenHash: testToken,
		CreatedAt: at, LastSeenAt: at, ExpiresAt: at.Add(month),
	}
	if got := s.Snapshot(); !reflect.DeepEqual(got, want) {
		t.Errorf("Snapshot = %+v, want %+v", got, want)
	}
	if s.ID() != testID || s.UserID() != testUser || !s.ExpiresAt().Equal(t0.Add(123456*time.Microsecond).Add(month)) {
		t.Errorf("ID/UserID/ExpiresAt = %q/%q/%v", s.ID(), s.UserID(), s.ExpiresAt())
	}
	if evs := s.PullEvents(); len(evs) != 0 {
		t.Errorf("Open recorded %#v", evs)
	}
	if err := s.Check(now); err != nil {
		t.Errorf("Check right after Open = %v", err)
	}
}

func TestOpenIncomplete(t *testing.T) {
	cases := []struct {
		name  string
		id    kernel.SessionID
		user  kernel.UserID
		token string
	}{
		{"no id", "", testUser, testToken},
		{"no user", testID, "", testToken},
		{"no token hash", testID, testUser, ""},
		{"nothing", "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := session.Open(tc.id, tc.user, tc.token, t0)
			_ = wantErr(t, err, kernel.KindInvalid, "session-incomplete")
			if s != nil {
				t.Error("Open returned a session with an error")
			}
		})
	}
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name  string
		at    time.Time
		valid bool
	}{
		{"at open", t0, true},
		{"a day later", t0.Add(24 * time.Hour), true},
		{"1ns before expiry", t0.Add(month - time.Nanosecond), true},
		{"exactly at expiry", t0.Add(month), false},
		{"1ns after expiry", t0.Add(month + time.Nanosecond), false},
		{"a year later", t0.AddDate(1, 0, 0), false},
		{"at expiry in another zone", t0.Add(month).In(time.FixedZone("CST", 8*3600)), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			err := s.Check(tc.at)
			if tc.valid {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			wantInvalid(t, err)
		})
	}
}

func TestTouch(t *testing.T) {
	cases := []struct {
		name    string
		at      time.Time
		changed bool
	}{
		{"at once", t0, false},
		{"1m later", t0.Add(time.Minute), false},
		{"1h-1ns later", t0.Add(time.Hour - time.Nanosecond), false},
		{"exactly 1h later", t0.Add(time.Hour), true},
		{"2h later", t0.Add(2 * time.Hour), true},
		{"29 days later", t0.Add(29 * 24 * time.Hour), true},
		{"clock behind", t0.Add(-time.Hour), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			before := s.Snapshot()
			if got := s.Touch(tc.at); got != tc.changed {
				t.Fatalf("Touch = %v, want %v", got, tc.changed)
			}
			after := s.Snapshot()
			if !tc.changed {
				if !reflect.DeepEqual(after, before) {
					t.Errorf("Touch without change modified the session: %+v → %+v", before, after)
				}
				return
			}
			want := before
			want.LastSeenAt = tc.at
			want.ExpiresAt = tc.at.Add(month)
			if !reflect.DeepEqual(after, want) {
				t.Errorf("after Touch = %+v, want %+v", after, want)
			}
			if !s.ExpiresAt().Equal(tc.at.Add(month)) {
				t.Errorf("ExpiresAt = %v, want %v", s.ExpiresAt(), tc.at.Add(month))
			}
			if evs := s.PullEvents(); len(evs) != 0 {
				t.Errorf("Touch recorded %#v", evs)
			}
		})
	}
}

func TestTouchSlides(t *testing.T) {
	s := open(t)
	// Used every 50 minutes: only every second use writes.
	var writes []time.Time
	for i := 1; i <= 6; i++ {
		at := t0.Add(time.Duration(i) * 50 * time.Minute)
		if s.Touch(at) {
			writes = append(writes, at)
		}
	}
	want := []time.Time{t0.Add(100 * time.Minute), t0.Add(200 * time.Minute), t0.Add(300 * time.Minute)}
	if !reflect.DeepEqual(writes, want) {
		t.Errorf("writes at %v, want %v", writes, want)
	}
	if got := s.Snapshot().LastSeenAt; !got.Equal(t0.Add(300 * time.Minute)) {
		t.Errorf("LastSeenAt = %v", got)
	}

	// A session used regularly outlives the first 30 days.
	s = open(t)
	for d := 1; d <= 60; d++ {
		at := t0.Add(time.Duration(d) * 24 * time.Hour)
		if err := s.Check(at); err != nil {
			t.Fatalf("day %d: Check = %v", d, err)
		}
		if !s.Touch(at) {
			t.Fatalf("day %d: Touch = false", d)
		}
	}
	last := t0.Add(60 * 24 * time.Hour)
	if !s.ExpiresAt().Equal(last.Add(month)) {
		t.Errorf("ExpiresAt = %v, want %v", s.ExpiresAt(), last.Add(month))
	}
	if err := s.Check(last.Add(month - time.Nanosecond)); err != nil {
		t.Errorf("Check just before the slid expiry = %v", err)
	}
	wantInvalid(t, s.Check(last.Add(month)))
	// The original expiry no longer applies.
	if err := s.Check(t0.Add(month)); err != nil {
		t.Errorf("Check at the original expiry = %v, want nil", err)
	}
}

func TestTouchNormalisesTime(t *testing.T) {
	s := open(t)
	at := time.Date(2025, 3, 10, 19, 0, 0, 999, time.FixedZone("CST", 8*3600)) // t0+2h+999ns
	if !s.Touch(at) {
		t.Fatal("Touch = false")
	}
	want := t0.Add(2 * time.Hour)
	snap := s.Snapshot()
	if snap.LastSeenAt != want || snap.ExpiresAt != want.Add(month) {
		t.Errorf("LastSeenAt/ExpiresAt = %v/%v, want %v/%v (UTC, µs)", snap.LastSeenAt, snap.ExpiresAt, want, want.Add(month))
	}
}

func TestRevoke(t *testing.T) {
	s := open(t)
	at := t0.Add(time.Hour + 999) // not µs-aligned: the event time is normalised
	s.Revoke("logout", at)
	wantInvalid(t, s.Check(at))
	wantInvalid(t, s.Check(t0)) // even "before" the revocation, once revoked

	s.Revoke("enterprise-removed", at.Add(time.Hour))
	evs := s.PullEvents()
	if len(evs) != 1 {
		t.Fatalf("events = %#v, want one session.revoked", evs)
	}
	want := session.Revoked{SessionID: testID, UserID: testUser, Reason: "logout", At: t0.Add(time.Hour)}
	if evs[0] != want {
		t.Errorf("event = %#v, want %#v", evs[0], want)
	}
	if evs[0].EventName() != "session.revoked" {
		t.Errorf("EventName = %q", evs[0].EventName())
	}
	if got := s.Snapshot().RevokedAt; got != t0.Add(time.Hour) {
		t.Errorf("RevokedAt = %v, want the first revocation %v", got, t0.Add(time.Hour))
	}
	if again := s.PullEvents(); len(again) != 0 {
		t.Errorf("second PullEvents = %#v", again)
	}
	// Revoking again after the events were drained records nothing either.
	s.Revoke("logout", at.Add(2*time.Hour))
	if evs := s.PullEvents(); len(evs) != 0 {
		t.Errorf("Revoke of a revoked session recorded %#v", evs)
	}
}

func TestRevokeExpired(t *testing.T) {
	// An expired session can still be revoked (the store keeps the reason), once.
	s := open(t)
	s.Revoke("expired-cleanup", t0.Add(2*month))
	s.Revoke("expired-cleanup", t0.Add(3*month))
	if evs := s.PullEvents(); len(evs) != 1 {
		t.Errorf("events = %#v, want one", evs)
	}
	wantInvalid(t, s.Check(t0.Add(2*month)))
}

func TestCheckSameErrorForExpiredAndRevoked(t *testing.T) {
	expired := open(t)
	revoked := open(t)
	revoked.Revoke("logout", t0)
	e1 := expired.Check(t0.Add(month))
	e2 := revoked.Check(t0)
	wantInvalid(t, e1)
	wantInvalid(t, e2)
	if e1.Error() != e2.Error() || !reflect.DeepEqual(e1, e2) {
		t.Errorf("expired and revoked are distinguishable: %#v vs %#v", e1, e2)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	base := session.Snapshot{
		ID: testID, UserID: testUser, TokenHash: testToken,
		CreatedAt: t0.Add(-48 * time.Hour), LastSeenAt: t0.Add(-2 * time.Hour), ExpiresAt: t0.Add(month - 2*time.Hour),
	}
	cases := []struct {
		name   string
		mutate func(*session.Snapshot)
		valid  bool // Check(t0)
	}{
		{"live", func(*session.Snapshot) {}, true},
		{"revoked", func(s *session.Snapshot) { s.RevokedAt = t0.Add(-time.Hour) }, false},
		{"expired", func(s *session.Snapshot) { s.ExpiresAt = t0 }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap := base
			tc.mutate(&snap)
			s := session.FromSnapshot(snap)
			if got := s.Snapshot(); !reflect.DeepEqual(got, snap) {
				t.Errorf("round trip = %+v, want %+v", got, snap)
			}
			if s.ID() != snap.ID || s.UserID() != snap.UserID || !s.ExpiresAt().Equal(snap.ExpiresAt) {
				t.Errorf("accessors disagree with %+v", snap)
			}
			if evs := s.PullEvents(); len(evs) != 0 {
				t.Errorf("FromSnapshot recorded %#v", evs)
			}
			if err := s.Check(t0); tc.valid {
				if err != nil {
					t.Errorf("Check = %v, want nil", err)
				}
			} else {
				wantInvalid(t, err)
			}
		})
	}
	t.Run("rehydrated lastSeen governs Touch", func(t *testing.T) {
		s := session.FromSnapshot(base) // last seen 2h ago
		if !s.Touch(t0) {
			t.Error("Touch 2h after LastSeenAt = false")
		}
		snap := base
		snap.LastSeenAt = t0.Add(-30 * time.Minute)
		if session.FromSnapshot(snap).Touch(t0) {
			t.Error("Touch 30m after LastSeenAt = true")
		}
	})
	t.Run("rehydrated revocation is not recorded again", func(t *testing.T) {
		snap := base
		snap.RevokedAt = t0.Add(-time.Hour)
		s := session.FromSnapshot(snap)
		s.Revoke("logout", t0)
		if evs := s.PullEvents(); len(evs) != 0 {
			t.Errorf("Revoke of a stored revoked session recorded %#v", evs)
		}
		if got := s.Snapshot().RevokedAt; !got.Equal(snap.RevokedAt) {
			t.Errorf("RevokedAt = %v, want %v", got, snap.RevokedAt)
		}
	})
	t.Run("opened → snapshot → session", func(t *testing.T) {
		s := open(t)
		s.Touch(t0.Add(3 * time.Hour))
		snap := s.Snapshot()
		if got := session.FromSnapshot(snap).Snapshot(); !reflect.DeepEqual(got, snap) {
			t.Errorf("round trip = %+v, want %+v", got, snap)
		}
	})
}
