package user_test

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/user"
)

// cstZone is China Standard Time, the zone in which real-name failures are counted per day.
var cstZone = time.FixedZone("UTC+8", 8*3600)

// rnNow is a microsecond-aligned UTC instant: 2026-11-26 10:00 CST.
var rnNow = time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)

const (
	testName  = "张三丰"
	first17ID = "11010519491231002"
)

// testIDNumber is a valid resident identity number built from first17ID.
func testIDNumber(t *testing.T) kernel.IDNumber {
	t.Helper()
	c, err := kernel.IDNumberCheckChar(first17ID)
	if err != nil {
		t.Fatal(err)
	}
	n, err := kernel.ParseIDNumber(first17ID+string(c), rnNow)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func claim(t *testing.T) user.Identity {
	return user.Identity{Name: testName, IDNumber: testIDNumber(t), Method: "face"}
}

// started returns a registered user with a started real-name attempt and no pending events.
func started(t *testing.T, at time.Time) *user.User {
	t.Helper()
	u := register(t)
	if err := u.StartRealName(claim(t), at); err != nil {
		t.Fatalf("StartRealName: %v", err)
	}
	u.PullEvents()
	return u
}

// verified returns a user whose real name is verified, with no pending events.
func verified(t *testing.T) *user.User {
	t.Helper()
	u := started(t, rnNow)
	if err := u.RealNameSucceeded(rnNow); err != nil {
		t.Fatalf("RealNameSucceeded: %v", err)
	}
	u.PullEvents()
	return u
}

// failAttempt starts an attempt and fails it at the given time.
func failAttempt(t *testing.T, u *user.User, at time.Time) {
	t.Helper()
	if err := u.StartRealName(claim(t), at); err != nil {
		t.Fatalf("StartRealName at %v: %v", at, err)
	}
	u.RealNameFailed("name and ID number do not match", at)
}

func TestRealNameFigures(t *testing.T) {
	if user.MaxRealNameFailures != 5 {
		t.Errorf("MaxRealNameFailures = %d, want 5", user.MaxRealNameFailures)
	}
	if user.ConsentVersion == "" {
		t.Error("ConsentVersion is empty")
	}
}

func TestValidateRealName(t *testing.T) {
	cases := []struct {
		name, in, want string // want "" means refused
	}{
		{"two Han", "张三", "张三"},
		{"four Han", "欧阳娜娜", "欧阳娜娜"},
		{"middle dot", "阿卜杜勒·买买提", "阿卜杜勒·买买提"},
		{"bullet used as middle dot", "阿卜杜勒•买买提", "阿卜杜勒•买买提"},
		{"Latin with a space", "John Smith", "John Smith"},
		{"Latin with accents", "José Núñez", "José Núñez"},
		{"two Latin letters", "Li", "Li"},
		{"trimmed", "  张三\t\n", "张三"},
		{"Han outside the BMP", "王𠀀", "王𠀀"},
		{"exactly 30 runes", strings.Repeat("张", 30), strings.Repeat("张", 30)},
		{"30 runes after trimming", "  " + strings.Repeat("张", 30) + "  ", strings.Repeat("张", 30)},

		{"empty", "", ""},
		{"blank", "   ", ""},
		{"one rune", "张", ""},
		{"one rune after trimming", "  张  ", ""},
		{"one Latin letter", "A", ""},
		{"31 runes", strings.Repeat("张", 31), ""},
		{"100 runes", strings.Repeat("a", 100), ""},
		{"ASCII digit", "张三1", ""},
		{"digits only", "12", ""},
		{"full-width digit", "张三１", ""},
		{"emoji", "张三😀", ""},
		{"emoji only", "😀😀", ""},
		{"underscore", "张_三", ""},
		{"hyphen", "Jean-Luc", ""},
		{"full stop", "张.三", ""},
		{"apostrophe", "O'Neil", ""},
		{"inner tab", "张\t三", ""},
		{"inner newline", "张\n三", ""},
		{"ideographic space", "张　三", ""},
		{"NUL", "张\x00三", ""},
		{"angle brackets", "<张三>", ""},
		{"invalid UTF-8", "张\xff三", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := user.ValidateRealName(tc.in)
			if tc.want != "" {
				if err != nil || got != tc.want {
					t.Fatalf("ValidateRealName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
				}
				return
			}
			e := wantErr(t, err, kernel.KindInvalid, "real-name-invalid")
			if got != "" {
				t.Errorf("ValidateRealName(%q) = %q with an error, want empty", tc.in, got)
			}
			if strings.TrimSpace(tc.in) != "" && strings.Contains(e.Error(), strings.TrimSpace(tc.in)) {
				t.Errorf("error %q echoes the name", e.Error())
			}
		})
	}
}

func TestStartRealName(t *testing.T) {
	u := register(t)
	at := rnNow.Add(123456789 * time.Nanosecond)
	in := user.Identity{Name: "  " + testName + " ", IDNumber: testIDNumber(t), Method: "id2",
		VerifiedAt: rnNow} // a caller-supplied VerifiedAt is ignored
	if err := u.StartRealName(in, at); err != nil {
		t.Fatalf("StartRealName: %v", err)
	}
	want := user.Identity{Name: testName, IDNumber: testIDNumber(t), Method: "id2"}
	if got := u.Identity(); got != want {
		t.Errorf("Identity = %+v, want %+v", got, want)
	}
	if u.RealNameStatus() != user.RealNameUnverified {
		t.Errorf("RealNameStatus = %q, want unverified until an outcome", u.RealNameStatus())
	}
	if s := u.Snapshot(); s.UpdatedAt != kernel.OccurredAt(at) {
		t.Errorf("UpdatedAt = %v, want %v", s.UpdatedAt, kernel.OccurredAt(at))
	}
	if evs := u.PullEvents(); len(evs) != 0 {
		t.Errorf("StartRealName recorded %#v", evs)
	}

	t.Run("restart clears the liveness session and the last failure reason", func(t *testing.T) {
		u := register(t)
		failAttempt(t, u, rnNow)
		if err := u.StartRealName(claim(t), rnNow); err != nil {
			t.Fatal(err)
		}
		if err := u.AwaitLiveness("sess-1", "https://face.example/1", rnNow); err != nil {
			t.Fatal(err)
		}
		other := user.Identity{Name: "李四", IDNumber: testIDNumber(t), Method: "id3"}
		if err := u.StartRealName(other, rnNow.Add(time.Minute)); err != nil {
			t.Fatalf("restart: %v", err)
		}
		a := u.Attempt()
		if a.LivenessSessionID != "" || a.LivenessURL != "" || a.FailureReason != "" {
			t.Errorf("Attempt after restart = %+v, want liveness and reason cleared", a)
		}
		if a.Failures != 1 || a.FailuresDay != "2026-11-26" {
			t.Errorf("restart changed the failure count: %+v", a)
		}
		if u.Identity().Name != "李四" || u.Identity().Method != "id3" {
			t.Errorf("Identity after restart = %+v", u.Identity())
		}
	})
}

func TestStartRealNameRefusals(t *testing.T) {
	locked := func(t *testing.T) *user.User {
		u := register(t)
		for i := 0; i < user.MaxRealNameFailures; i++ {
			failAttempt(t, u, rnNow)
		}
		u.PullEvents()
		return u
	}
	cases := []struct {
		name string
		user func(*testing.T) *user.User
		in   func(*testing.T) user.Identity
		kind kernel.Kind
		code string
	}{
		{"bad name", register, func(t *testing.T) user.Identity {
			return user.Identity{Name: "张3", IDNumber: testIDNumber(t)}
		}, kernel.KindInvalid, "real-name-invalid"},
		{"missing name", register, func(t *testing.T) user.Identity {
			return user.Identity{IDNumber: testIDNumber(t)}
		}, kernel.KindInvalid, "real-name-invalid"},
		{"missing ID number", register, func(*testing.T) user.Identity {
			return user.Identity{Name: testName}
		}, kernel.KindInvalid, "id-number-format"},
		{"name checked before ID number", register, func(*testing.T) user.Identity {
			return user.Identity{}
		}, kernel.KindInvalid, "real-name-invalid"},
		{"verified identity cannot be changed", verified, func(*testing.T) user.Identity {
			return user.Identity{Name: "李四", IDNumber: "110105194912310029"}
		}, kernel.KindConflict, "real-name-already-verified"},
		{"verified, even with the same identity", verified, claim, kernel.KindConflict, "real-name-already-verified"},
		{"verified, before input validation", verified, func(*testing.T) user.Identity {
			return user.Identity{}
		}, kernel.KindConflict, "real-name-already-verified"},
		{"too many failures today", locked, claim, kernel.KindRateLimited, "real-name-attempts-exceeded"},
		{"too many failures, before input validation", locked, func(*testing.T) user.Identity {
			return user.Identity{}
		}, kernel.KindRateLimited, "real-name-attempts-exceeded"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.user(t)
			before := u.Snapshot()
			_ = wantErr(t, u.StartRealName(tc.in(t), rnNow.Add(time.Hour)), tc.kind, tc.code)
			if after := u.Snapshot(); !reflect.DeepEqual(after, before) {
				t.Errorf("refused StartRealName changed the user:\n%+v\n→\n%+v", before, after)
			}
			if evs := u.PullEvents(); len(evs) != 0 {
				t.Errorf("refused StartRealName recorded %#v", evs)
			}
		})
	}
}

func TestAwaitLiveness(t *testing.T) {
	t.Run("needs a started attempt", func(t *testing.T) {
		u := register(t)
		_ = wantErr(t, u.AwaitLiveness("sess", "https://face.example", rnNow), kernel.KindPrecondition, "real-name-not-started")
		if u.RealNameStatus() != user.RealNameUnverified || u.Attempt() != (user.Attempt{}) {
			t.Errorf("refused AwaitLiveness changed the user: %q %+v", u.RealNameStatus(), u.Attempt())
		}
	})
	t.Run("refused after a failed attempt cleared the claim", func(t *testing.T) {
		u := register(t)
		failAttempt(t, u, rnNow)
		_ = wantErr(t, u.AwaitLiveness("sess", "https://face.example", rnNow), kernel.KindPrecondition, "real-name-not-started")
	})
	t.Run("refused once verified", func(t *testing.T) {
		u := verified(t)
		_ = wantErr(t, u.AwaitLiveness("sess", "https://face.example", rnNow), kernel.KindConflict, "real-name-already-verified")
		if u.RealNameStatus() != user.RealNameVerified {
			t.Errorf("RealNameStatus = %q, want verified", u.RealNameStatus())
		}
	})
	t.Run("moves to verifying", func(t *testing.T) {
		u := started(t, rnNow)
		at := rnNow.Add(time.Second)
		if err := u.AwaitLiveness("sess-1", "https://face.example/1", at); err != nil {
			t.Fatalf("AwaitLiveness: %v", err)
		}
		if u.RealNameStatus() != user.RealNameVerifying {
			t.Errorf("RealNameStatus = %q, want verifying", u.RealNameStatus())
		}
		a := u.Attempt()
		if a.LivenessSessionID != "sess-1" || a.LivenessURL != "https://face.example/1" {
			t.Errorf("Attempt = %+v", a)
		}
		if u.Snapshot().UpdatedAt != at {
			t.Errorf("UpdatedAt = %v, want %v", u.Snapshot().UpdatedAt, at)
		}
		if u.Identity().Name != testName {
			t.Errorf("Identity = %+v, want the claim kept", u.Identity())
		}
		if evs := u.PullEvents(); len(evs) != 0 {
			t.Errorf("AwaitLiveness recorded %#v", evs)
		}
	})
}

func TestRealNameSucceeded(t *testing.T) {
	for _, viaLiveness := range []bool{false, true} {
		name := "id check"
		if viaLiveness {
			name = "face check"
		}
		t.Run(name, func(t *testing.T) {
			u := register(t)
			failAttempt(t, u, rnNow)
			failAttempt(t, u, rnNow)
			if err := u.StartRealName(claim(t), rnNow); err != nil {
				t.Fatal(err)
			}
			if viaLiveness {
				if err := u.AwaitLiveness("sess", "https://face.example", rnNow); err != nil {
					t.Fatal(err)
				}
			}
			u.PullEvents()
			at := time.Date(2026, 11, 26, 18, 0, 0, 987654321, cstZone)
			wantAt := kernel.OccurredAt(at)
			if err := u.RealNameSucceeded(at); err != nil {
				t.Fatalf("RealNameSucceeded: %v", err)
			}
			if u.RealNameStatus() != user.RealNameVerified {
				t.Errorf("RealNameStatus = %q, want verified", u.RealNameStatus())
			}
			wantID := user.Identity{Name: testName, IDNumber: testIDNumber(t), Method: "face", VerifiedAt: wantAt}
			if got := u.Identity(); got != wantID {
				t.Errorf("Identity = %+v, want %+v", got, wantID)
			}
			if u.Identity().VerifiedAt.Location() != time.UTC {
				t.Errorf("VerifiedAt = %v, want UTC", u.Identity().VerifiedAt)
			}
			if got := u.Attempt(); got != (user.Attempt{}) {
				t.Errorf("Attempt = %+v, want cleared (failures included)", got)
			}
			if got := u.FailuresLeft(at); got != user.MaxRealNameFailures {
				t.Errorf("FailuresLeft = %d, want %d", got, user.MaxRealNameFailures)
			}
			if u.Snapshot().UpdatedAt != wantAt {
				t.Errorf("UpdatedAt = %v, want %v", u.Snapshot().UpdatedAt, wantAt)
			}
			evs := u.PullEvents()
			want := user.RealNameWasVerified{UserID: testID, Method: "face", At: wantAt}
			if len(evs) != 1 || evs[0] != want {
				t.Fatalf("events = %#v, want %#v", evs, want)
			}
			if evs[0].EventName() != "user.real_name_verified" {
				t.Errorf("EventName = %q", evs[0].EventName())
			}

			// Verified is final.
			_ = wantErr(t, u.RealNameSucceeded(at), kernel.KindConflict, "real-name-already-verified")
			_ = wantErr(t, u.CanAttemptRealName(at), kernel.KindConflict, "real-name-already-verified")
			before := u.Snapshot()
			u.RealNameFailed("late failure", at.Add(time.Minute))
			if after := u.Snapshot(); !reflect.DeepEqual(after, before) {
				t.Errorf("RealNameFailed changed a verified user:\n%+v\n→\n%+v", before, after)
			}
			if evs := u.PullEvents(); len(evs) != 0 {
				t.Errorf("verified user recorded %#v", evs)
			}
		})
	}
	t.Run("needs a started attempt", func(t *testing.T) {
		u := register(t)
		_ = wantErr(t, u.RealNameSucceeded(rnNow), kernel.KindPrecondition, "real-name-not-started")
		if u.RealNameStatus() != user.RealNameUnverified {
			t.Errorf("RealNameStatus = %q", u.RealNameStatus())
		}
		if evs := u.PullEvents(); len(evs) != 0 {
			t.Errorf("refused RealNameSucceeded recorded %#v", evs)
		}
	})
	t.Run("refused after a failure cleared the claim", func(t *testing.T) {
		u := register(t)
		failAttempt(t, u, rnNow)
		u.PullEvents()
		_ = wantErr(t, u.RealNameSucceeded(rnNow), kernel.KindPrecondition, "real-name-not-started")
		if evs := u.PullEvents(); len(evs) != 0 {
			t.Errorf("refused RealNameSucceeded recorded %#v", evs)
		}
	})
}

func TestRealNameFailed(t *testing.T) {
	for _, viaLiveness := range []bool{false, true} {
		u := started(t, rnNow)
		if viaLiveness {
			if err := u.AwaitLiveness("sess", "https://face.example", rnNow); err != nil {
				t.Fatal(err)
			}
		}
		at := rnNow.Add(time.Minute + 500*time.Nanosecond)
		wantAt := kernel.OccurredAt(at)
		u.RealNameFailed("the face check failed", at)
		if u.RealNameStatus() != user.RealNameUnverified {
			t.Errorf("liveness=%v: RealNameStatus = %q, want unverified", viaLiveness, u.RealNameStatus())
		}
		if got := u.Identity(); got != (user.Identity{}) {
			t.Errorf("liveness=%v: Identity = %+v, want the claim cleared", viaLiveness, got)
		}
		wantAttempt := user.Attempt{FailureReason: "the face check failed", FailuresDay: "2026-11-26", Failures: 1}
		if got := u.Attempt(); got != wantAttempt {
			t.Errorf("liveness=%v: Attempt = %+v, want %+v", viaLiveness, got, wantAttempt)
		}
		if u.Snapshot().UpdatedAt != wantAt {
			t.Errorf("liveness=%v: UpdatedAt = %v, want %v", viaLiveness, u.Snapshot().UpdatedAt, wantAt)
		}
		evs := u.PullEvents()
		want := user.RealNameWasRejected{UserID: testID, Reason: "the face check failed", At: wantAt}
		if len(evs) != 1 || evs[0] != want {
			t.Fatalf("liveness=%v: events = %#v, want %#v", viaLiveness, evs, want)
		}
		if evs[0].EventName() != "user.real_name_failed" {
			t.Errorf("EventName = %q", evs[0].EventName())
		}
	}
}

func TestFailuresCountedPerCSTDay(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return tm
	}
	cases := []struct {
		name     string
		failures []string
		check    string
		day      string // FailuresDay after the failures
		count    int    // Failures after the failures
		left     int    // FailuresLeft at check
		retry    time.Duration
	}{
		{"15:59Z is 23:59 CST of the 26th", []string{"2026-11-26T15:59:00Z"}, "2026-11-26T15:59:30Z",
			"2026-11-26", 1, 4, 0},
		{"16:00Z is 00:00 CST of the 27th", []string{"2026-11-26T16:00:00Z"}, "2026-11-26T16:00:00Z",
			"2026-11-27", 1, 4, 0},
		{"a failure of the 26th does not count on the 27th", []string{"2026-11-26T15:59:00Z"}, "2026-11-26T16:00:00Z",
			"2026-11-26", 1, 5, 0},
		{"00:00 CST starts the day", []string{"2026-11-25T16:00:00Z"}, "2026-11-26T15:59:59Z",
			"2026-11-26", 1, 4, 0},
		{"the counter restarts on a new day", []string{
			"2026-11-26T15:00:00Z", "2026-11-26T15:10:00Z", "2026-11-26T15:20:00Z", "2026-11-26T15:59:59.999999Z",
			"2026-11-26T16:00:00Z",
		}, "2026-11-26T16:00:01Z", "2026-11-27", 1, 4, 0},
		{"the UTC date does not matter", []string{
			"2026-11-26T01:00:00Z", "2026-11-26T23:00:00Z", // CST 26th 09:00 and CST 27th 07:00
		}, "2026-11-27T00:00:00Z", "2026-11-27", 1, 4, 0},
		{"five on the same CST day across UTC dates", []string{
			"2026-11-25T16:00:00Z", "2026-11-25T20:00:00Z", "2026-11-26T00:00:00Z", "2026-11-26T08:00:00Z",
			"2026-11-26T15:59:00Z",
		}, "2026-11-26T15:59:30Z", "2026-11-26", 5, 0, 30 * time.Second},
		{"new year in CST", []string{"2026-12-31T16:00:00Z"}, "2026-12-31T16:00:00Z", "2027-01-01", 1, 4, 0},
		{"times in other zones", []string{
			"2026-11-26T10:59:00-05:00", "2026-11-26T23:59:00+08:00", "2026-11-27T00:59:00+09:00",
			"2026-11-26T15:59:00Z", "2026-11-26T16:59:00+01:00",
		}, "2026-11-26T11:00:00-05:00", "2026-11-26", 5, 5, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := register(t)
			for _, f := range tc.failures {
				failAttempt(t, u, at(f))
			}
			a := u.Attempt()
			if a.FailuresDay != tc.day || a.Failures != tc.count {
				t.Errorf("Attempt = %+v, want day %s count %d", a, tc.day, tc.count)
			}
			now := at(tc.check)
			if got := u.FailuresLeft(now); got != tc.left {
				t.Errorf("FailuresLeft(%s) = %d, want %d", tc.check, got, tc.left)
			}
			err := u.CanAttemptRealName(now)
			if tc.retry == 0 {
				if err != nil {
					t.Errorf("CanAttemptRealName(%s) = %v, want nil", tc.check, err)
				}
				return
			}
			e := wantErr(t, err, kernel.KindRateLimited, "real-name-attempts-exceeded")
			if e.RetryAfter != tc.retry {
				t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, tc.retry)
			}
		})
	}
}

func TestFailuresLeftCountdown(t *testing.T) {
	u := register(t)
	for i := 0; i < user.MaxRealNameFailures; i++ {
		if got := u.FailuresLeft(rnNow); got != user.MaxRealNameFailures-i {
			t.Errorf("after %d failures FailuresLeft = %d, want %d", i, got, user.MaxRealNameFailures-i)
		}
		if err := u.CanAttemptRealName(rnNow); err != nil {
			t.Fatalf("after %d failures CanAttemptRealName = %v", i, err)
		}
		failAttempt(t, u, rnNow.Add(time.Duration(i)*time.Minute))
	}
	if got := u.FailuresLeft(rnNow); got != 0 {
		t.Errorf("FailuresLeft = %d, want 0", got)
	}
	_ = wantErr(t, u.CanAttemptRealName(rnNow), kernel.KindRateLimited, "real-name-attempts-exceeded")
	// A late outcome (a face check ending after the lock) still counts, never below zero left.
	u.RealNameFailed("late", rnNow.Add(time.Hour))
	if a := u.Attempt(); a.Failures != user.MaxRealNameFailures+1 {
		t.Errorf("Failures = %d, want %d", a.Failures, user.MaxRealNameFailures+1)
	}
	if got := u.FailuresLeft(rnNow); got != 0 {
		t.Errorf("FailuresLeft = %d, want 0 (never negative)", got)
	}
	evs := u.PullEvents()
	if len(evs) != user.MaxRealNameFailures+1 {
		t.Errorf("events = %d, want one user.real_name_failed per failure", len(evs))
	}
}

func TestRealNameRetryAfterCSTMidnight(t *testing.T) {
	// Five failures during the CST day of 2026-11-26, which ends at 2026-11-26T16:00Z.
	midnight := time.Date(2026, 11, 27, 0, 0, 0, 0, cstZone)
	if !midnight.Equal(time.Date(2026, 11, 26, 16, 0, 0, 0, time.UTC)) {
		t.Fatal("test setup: CST midnight")
	}
	u := register(t)
	for i := 0; i < user.MaxRealNameFailures; i++ {
		failAttempt(t, u, time.Date(2026, 11, 26, 0, 0, 0, 0, cstZone).Add(time.Duration(i)*time.Hour))
	}
	ny := time.FixedZone("UTC-5", -5*3600)
	cases := []struct {
		name  string
		now   time.Time
		retry time.Duration // 0: allowed
	}{
		{"CST 05:00", time.Date(2026, 11, 26, 5, 0, 0, 0, cstZone), 19 * time.Hour},
		{"CST 10:00 in UTC", time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC), 14 * time.Hour},
		{"CST 10:00 in UTC-5", time.Date(2026, 11, 25, 21, 0, 0, 0, ny), 14 * time.Hour},
		{"CST 23:30", time.Date(2026, 11, 26, 23, 30, 0, 0, cstZone), 30 * time.Minute},
		{"CST 23:59 (15:59Z)", time.Date(2026, 11, 26, 15, 59, 0, 0, time.UTC), time.Minute},
		{"with nanoseconds", time.Date(2026, 11, 26, 15, 59, 59, 250, time.UTC), time.Second - 250*time.Nanosecond},
		{"1ns before midnight", midnight.Add(-time.Nanosecond), time.Nanosecond},
		{"at midnight", midnight, 0},
		{"at midnight in UTC", time.Date(2026, 11, 26, 16, 0, 0, 0, time.UTC), 0},
		{"next day", midnight.Add(5 * time.Hour), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := u.CanAttemptRealName(tc.now)
			if tc.retry == 0 {
				if err != nil {
					t.Fatalf("CanAttemptRealName = %v, want nil", err)
				}
				if got := u.FailuresLeft(tc.now); got != user.MaxRealNameFailures {
					t.Errorf("FailuresLeft = %d, want %d", got, user.MaxRealNameFailures)
				}
				return
			}
			e := wantErr(t, err, kernel.KindRateLimited, "real-name-attempts-exceeded")
			if e.RetryAfter != tc.retry {
				t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, tc.retry)
			}
			if !tc.now.Add(e.RetryAfter).Equal(midnight) {
				t.Errorf("now + RetryAfter = %v, want CST midnight %v", tc.now.Add(e.RetryAfter), midnight)
			}
		})
	}
}

func TestRealNameEventsCarryNoPersonalData(t *testing.T) {
	idn := testIDNumber(t)
	u := register(t)
	failAttempt(t, u, rnNow)
	if err := u.StartRealName(claim(t), rnNow); err != nil {
		t.Fatal(err)
	}
	if err := u.AwaitLiveness("sess", "https://face.example/s", rnNow); err != nil {
		t.Fatal(err)
	}
	u.RealNameFailed("the face check failed", rnNow)
	if err := u.StartRealName(claim(t), rnNow); err != nil {
		t.Fatal(err)
	}
	if err := u.RealNameSucceeded(rnNow); err != nil {
		t.Fatal(err)
	}
	u.SwitchChannel("q86804", rnNow)
	if err := u.IssueCertificate(testCertificate(), rnNow); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < user.MaxSigningFailures; i++ {
		_ = u.SigningPasswordFailed(rnNow)
	}
	if err := u.RewrapSigningKey([]byte("wrapped-2"), true, rnNow); err != nil {
		t.Fatal(err)
	}

	evs := u.PullEvents()
	wantNames := []string{
		"user.real_name_failed", "user.real_name_failed", "user.real_name_verified", "user.channel_switched",
		"user.certificate_issued", "user.signing_locked", "user.signing_password_changed",
	}
	var names []string
	for _, ev := range evs {
		names = append(names, ev.EventName())
	}
	if !reflect.DeepEqual(names, wantNames) {
		t.Fatalf("events = %v, want %v", names, wantNames)
	}
	secrets := []string{testName, "张", idn.String(), first17ID, "19491231", idn.Masked()}
	for _, ev := range evs {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("marshal %s: %v", ev.EventName(), err)
		}
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("%s = %s contains personal data %q", ev.EventName(), b, s)
			}
		}
	}
}

func TestIdentityEventsJSON(t *testing.T) {
	at := time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)
	cases := []struct {
		ev   kernel.Event
		name string
		keys []string
	}{
		{user.RealNameWasVerified{UserID: testID, Method: "id2", At: at}, "user.real_name_verified",
			[]string{"at", "method", "user_id"}},
		{user.RealNameWasRejected{UserID: testID, Reason: "r", At: at}, "user.real_name_failed",
			[]string{"at", "reason", "user_id"}},
		{user.ChannelSwitched{UserID: testID, ChannelCode: "q86804", At: at}, "user.channel_switched",
			[]string{"at", "channel_code", "user_id"}},
		{user.CertificateIssued{UserID: testID, Serial: "01", NotAfter: at, At: at}, "user.certificate_issued",
			[]string{"at", "not_after", "serial", "user_id"}},
		{user.SigningLocked{UserID: testID, Until: at, At: at}, "user.signing_locked",
			[]string{"at", "until", "user_id"}},
		{user.SigningPasswordChanged{UserID: testID, BySMSCode: true, At: at}, "user.signing_password_changed",
			[]string{"at", "by_sms_code", "user_id"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.ev.EventName(); got != tc.name {
				t.Errorf("%T.EventName() = %q, want %q", tc.ev, got, tc.name)
			}
			b, err := json.Marshal(tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			var keys []string
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if !reflect.DeepEqual(keys, tc.keys) {
				t.Errorf("%s JSON keys = %v, want %v", tc.name, keys, tc.keys)
			}
			if m["user_id"] != string(testID) || m["at"] != "2026-11-26T02:00:00Z" {
				t.Errorf("%s JSON = %s", tc.name, b)
			}
		})
	}
}

func TestSwitchChannel(t *testing.T) {
	u := register(t)
	if u.ChannelCode() != "" {
		t.Errorf("new user ChannelCode = %q, want none", u.ChannelCode())
	}
	steps := []struct {
		code  string
		event bool
	}{
		{"q86804", true},
		{"q86804", false}, // no change, no event
		{"q10001", true},
		{"", true}, // leaving every channel
		{"", false},
	}
	for i, st := range steps {
		at := rnNow.Add(time.Duration(i+1)*time.Minute + 1)
		before := u.Snapshot().UpdatedAt
		u.SwitchChannel(st.code, at)
		if u.ChannelCode() != st.code {
			t.Errorf("step %d: ChannelCode = %q, want %q", i, u.ChannelCode(), st.code)
		}
		evs := u.PullEvents()
		if !st.event {
			if len(evs) != 0 {
				t.Errorf("step %d: events = %#v, want none", i, evs)
			}
			if u.Snapshot().UpdatedAt != before {
				t.Errorf("step %d: no-op switch touched UpdatedAt", i)
			}
			continue
		}
		want := user.ChannelSwitched{UserID: testID, ChannelCode: st.code, At: kernel.OccurredAt(at)}
		if len(evs) != 1 || evs[0] != want {
			t.Errorf("step %d: events = %#v, want %#v", i, evs, want)
		}
		if u.Snapshot().UpdatedAt != kernel.OccurredAt(at) {
			t.Errorf("step %d: UpdatedAt = %v", i, u.Snapshot().UpdatedAt)
		}
	}
}

func TestIdentitySnapshotRoundTrip(t *testing.T) {
	cert := testCertificate()
	cert.Status = user.CertificateActive
	cert.IssuedAt = rnNow
	full := user.Snapshot{
		ID:          testID,
		Phone:       testPhone,
		RealName:    user.RealNameVerified,
		CreatedAt:   rnNow.Add(-48 * time.Hour),
		UpdatedAt:   rnNow,
		Version:     3,
		Identity:    user.Identity{Name: testName, IDNumber: testIDNumber(t), Method: "face", VerifiedAt: rnNow},
		Attempt:     user.Attempt{LivenessSessionID: "s", LivenessURL: "u", FailureReason: "r", FailuresDay: "2026-11-26", Failures: 2},
		ChannelCode: "q86804",
		Signing:     user.SigningState{Failures: 3, LockedUntil: rnNow.Add(time.Minute)},
		Certificate: &cert,
	}
	t.Run("snapshot → user → snapshot", func(t *testing.T) {
		u := user.FromSnapshot(full)
		if got := u.Snapshot(); !reflect.DeepEqual(got, full) {
			t.Errorf("round trip =\n%+v\nwant\n%+v", got, full)
		}
		if u.Identity() != full.Identity || u.Attempt() != full.Attempt || u.ChannelCode() != "q86804" {
			t.Errorf("accessors = %+v %+v %q", u.Identity(), u.Attempt(), u.ChannelCode())
		}
		if got := u.Certificate(); !reflect.DeepEqual(got, &cert) {
			t.Errorf("Certificate = %+v, want %+v", got, cert)
		}
		if evs := u.PullEvents(); len(evs) != 0 {
			t.Errorf("FromSnapshot recorded %#v", evs)
		}
		// The rules see the rehydrated state.
		_ = wantErr(t, u.StartRealName(claim(t), rnNow), kernel.KindConflict, "real-name-already-verified")
		e := wantErr(t, u.CanUseSigningKey(rnNow), kernel.KindRateLimited, "signing-locked")
		if e.RetryAfter != time.Minute {
			t.Errorf("RetryAfter = %v, want 1m", e.RetryAfter)
		}
		if got := u.FailuresLeft(rnNow); got != 3 {
			t.Errorf("FailuresLeft = %d, want 3", got)
		}
	})
	t.Run("user → snapshot → user", func(t *testing.T) {
		u := register(t)
		failAttempt(t, u, rnNow)
		if err := u.StartRealName(claim(t), rnNow); err != nil {
			t.Fatal(err)
		}
		if err := u.AwaitLiveness("sess", "https://face.example", rnNow); err != nil {
			t.Fatal(err)
		}
		u.SwitchChannel("q86804", rnNow)
		s := u.Snapshot()
		back := user.FromSnapshot(s)
		if got := back.Snapshot(); !reflect.DeepEqual(got, s) {
			t.Errorf("round trip =\n%+v\nwant\n%+v", got, s)
		}
		if back.RealNameStatus() != user.RealNameVerifying || back.Attempt().LivenessSessionID != "sess" ||
			back.Identity().Name != testName || back.ChannelCode() != "q86804" || back.FailuresLeft(rnNow) != 4 {
			t.Errorf("rehydrated state = %q %+v %+v %q", back.RealNameStatus(), back.Attempt(), back.Identity(), back.ChannelCode())
		}
		if err := back.RealNameSucceeded(rnNow); err != nil {
			t.Errorf("RealNameSucceeded after rehydration: %v", err)
		}
		if back.Certificate() != nil {
			t.Errorf("Certificate = %+v, want nil", back.Certificate())
		}
	})
}
