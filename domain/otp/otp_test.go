package otp_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/kernel/kerneltest"
	"github.com/shuxinqian/server/domain/otp"
)

// t0 is a microsecond-aligned UTC instant, so kernel.OccurredAt leaves it untouched.
var t0 = time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)

const (
	testPhone kernel.Phone = "13800138000"
	rightHash string       = "hash-of-123456"
	wrongHash string       = "hash-of-654321"
)

// wantErr asserts the kind and the stable code of err.
var wantErr = kerneltest.WantErr

func issue(t *testing.T) *otp.Code {
	t.Helper()
	c, err := otp.Issue("code-1", testPhone, otp.PurposeLogin, rightHash, t0)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return c
}

func TestFigures(t *testing.T) {
	if otp.Digits != 6 || otp.TTL != 5*time.Minute || otp.MaxAttempts != 5 {
		t.Errorf("Digits/TTL/MaxAttempts = %d/%v/%d, want 6/5m/5", otp.Digits, otp.TTL, otp.MaxAttempts)
	}
	if otp.ResendInterval != 60*time.Second || otp.PerPhoneHour != 5 || otp.PerPhoneDay != 10 || otp.PerIPDay != 30 {
		t.Errorf("limits = %v/%d/%d/%d, want 60s/5/10/30", otp.ResendInterval, otp.PerPhoneHour, otp.PerPhoneDay, otp.PerIPDay)
	}
}

func TestParsePurpose(t *testing.T) {
	valid := []struct {
		in   string
		want otp.Purpose
	}{
		{"login", otp.PurposeLogin},
		{"reset_password", otp.PurposeResetPassword},
		{"sign", otp.PurposeSign},
		{"verify_phone", otp.PurposeVerifyPhone},
		{"reset_signing_password", otp.PurposeResetSigningPassword},
	}
	for _, tc := range valid {
		got, err := otp.ParsePurpose(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParsePurpose(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if want := []otp.Purpose{otp.PurposeLogin, otp.PurposeResetPassword, otp.PurposeSign, otp.PurposeVerifyPhone, otp.PurposeResetSigningPassword}; !reflect.DeepEqual(otp.Purposes, want) {
		t.Errorf("Purposes = %q, want %q", otp.Purposes, want)
	}
	for _, p := range otp.Purposes {
		if got, err := otp.ParsePurpose(string(p)); err != nil || got != p {
			t.Errorf("ParsePurpose(%q) = %q, %v", p, got, err)
		}
	}

	for _, in := range []string{
		"", "LOGIN", "Login", " login", "login ", "log in", "reset-password", "resetPassword",
		"verify-phone", "signup", "register", "login\x00", "sign,login",
	} {
		t.Run(in, func(t *testing.T) {
			got, err := otp.ParsePurpose(in)
			_ = wantErr(t, err, kernel.KindInvalid, "sms-purpose-invalid")
			if got != "" {
				t.Errorf("ParsePurpose(%q) returned %q with an error", in, got)
			}
		})
	}
}

func TestIssue(t *testing.T) {
	now := time.Date(2025, 3, 10, 17, 0, 0, 123456789, time.FixedZone("CST", 8*3600))
	c, err := otp.Issue("code-1", testPhone, otp.PurposeSign, rightHash, now)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	created := kernel.OccurredAt(now)
	want := otp.Snapshot{
		ID: "code-1", Phone: testPhone, Purpose: otp.PurposeSign, Hash: rightHash,
		CreatedAt: created, ExpiresAt: created.Add(5 * time.Minute),
	}
	if got := c.Snapshot(); !reflect.DeepEqual(got, want) {
		t.Errorf("Snapshot = %+v, want %+v", got, want)
	}
	if c.ID() != "code-1" || !c.ExpiresAt().Equal(created.Add(otp.TTL)) {
		t.Errorf("ID/ExpiresAt = %q/%v", c.ID(), c.ExpiresAt())
	}
}

func TestIssueIncomplete(t *testing.T) {
	cases := []struct {
		name, id string
		phone    kernel.Phone
		purpose  otp.Purpose
		hash     string
	}{
		{"no id", "", testPhone, otp.PurposeLogin, rightHash},
		{"no phone", "c", "", otp.PurposeLogin, rightHash},
		{"no purpose", "c", testPhone, "", rightHash},
		{"no hash", "c", testPhone, otp.PurposeLogin, ""},
		{"nothing", "", "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := otp.Issue(tc.id, tc.phone, tc.purpose, tc.hash, t0)
			_ = wantErr(t, err, kernel.KindInvalid, "sms-code-incomplete")
			if c != nil {
				t.Errorf("Issue returned a code with an error")
			}
		})
	}
}

func TestVerifyRightCodeIsSingleUse(t *testing.T) {
	c := issue(t)
	at := t0.Add(time.Minute + 123456789) // not µs-aligned: UsedAt is normalised
	if err := c.Verify(rightHash, at); err != nil {
		t.Fatalf("Verify(right) = %v", err)
	}
	if got, want := c.Snapshot().UsedAt, kernel.OccurredAt(at); got != want {
		t.Errorf("UsedAt = %v, want %v", got, want)
	}
	if got := c.Snapshot().Attempts; got != 0 {
		t.Errorf("Attempts = %d, want 0", got)
	}
	for _, cand := range []string{rightHash, wrongHash} {
		err := c.Verify(cand, at.Add(time.Second))
		_ = wantErr(t, err, kernel.KindInvalid, "sms-code-used")
		if !errors.Is(err, otp.ErrUsed) {
			t.Errorf("errors.Is(%v, ErrUsed) = false", err)
		}
	}
	// Used wins over expired: the second use is reported as such even after the TTL.
	_ = wantErr(t, c.Verify(rightHash, t0.Add(time.Hour)), kernel.KindInvalid, "sms-code-used")
	if got := c.Snapshot().Attempts; got != 0 {
		t.Errorf("Attempts after reuse = %d, want 0 (reuse is not a wrong try)", got)
	}
}

func TestVerifyWrongCodes(t *testing.T) {
	c := issue(t)
	at := t0.Add(time.Minute)
	for i, left := range []int{4, 3, 2, 1} {
		err := c.Verify(wrongHash, at)
		e := wantErr(t, err, kernel.KindInvalid, "sms-code-wrong")
		if got, ok := e.Details["attempts_left"].(int); !ok || got != left {
			t.Errorf("wrong try %d: attempts_left = %#v, want %d", i+1, e.Details["attempts_left"], left)
		}
		if got := c.Snapshot().Attempts; got != i+1 {
			t.Errorf("wrong try %d: Attempts = %d", i+1, got)
		}
	}
	// The fifth wrong try kills the code.
	err := c.Verify(wrongHash, at)
	_ = wantErr(t, err, kernel.KindInvalid, "sms-code-exhausted")
	if !errors.Is(err, otp.ErrExhausted) {
		t.Errorf("errors.Is(%v, ErrExhausted) = false", err)
	}
	if got := c.Snapshot().Attempts; got != 5 {
		t.Errorf("Attempts = %d, want 5", got)
	}
	// Even the right code is refused now, and nothing more is counted or consumed.
	for _, cand := range []string{rightHash, wrongHash, ""} {
		_ = wantErr(t, c.Verify(cand, at), kernel.KindInvalid, "sms-code-exhausted")
	}
	s := c.Snapshot()
	if s.Attempts != 5 || !s.UsedAt.IsZero() {
		t.Errorf("after exhaustion Attempts=%d UsedAt=%v, want 5 and unused", s.Attempts, s.UsedAt)
	}
	// Exhausted wins over expired.
	_ = wantErr(t, c.Verify(rightHash, t0.Add(time.Hour)), kernel.KindInvalid, "sms-code-exhausted")
}

func TestVerifyRightCodeAfterWrongTries(t *testing.T) {
	// Up to MaxAttempts-1 wrong tries leave the code usable, once.
	for wrong := 0; wrong < otp.MaxAttempts; wrong++ {
		c := issue(t)
		for i := 0; i < wrong; i++ {
			_ = c.Verify(wrongHash, t0)
		}
		if err := c.Verify(rightHash, t0.Add(time.Second)); err != nil {
			t.Errorf("after %d wrong tries the right code = %v, want nil", wrong, err)
		}
		_ = wantErr(t, c.Verify(rightHash, t0.Add(2*time.Second)), kernel.KindInvalid, "sms-code-used")
	}
}

func TestVerifyWrongCandidates(t *testing.T) {
	// Anything but the exact hash is wrong: prefixes, extensions, case changes, empty.
	for _, cand := range []string{"", rightHash[:len(rightHash)-1], rightHash + "0", strings.ToUpper(rightHash), " " + rightHash} {
		c := issue(t)
		_ = wantErr(t, c.Verify(cand, t0), kernel.KindInvalid, "sms-code-wrong")
	}
}

func TestVerifyExpiry(t *testing.T) {
	cases := []struct {
		name string
		at   time.Time
		code string // "" means accepted
	}{
		{"at issue", t0, ""},
		{"4m59s", t0.Add(4*time.Minute + 59*time.Second), ""},
		{"1ns before TTL", t0.Add(otp.TTL - time.Nanosecond), ""},
		{"exactly TTL", t0.Add(otp.TTL), "sms-code-expired"},
		{"TTL+1ns", t0.Add(otp.TTL + time.Nanosecond), "sms-code-expired"},
		{"a day later", t0.Add(24 * time.Hour), "sms-code-expired"},
		{"exactly TTL in another zone", t0.Add(otp.TTL).In(time.FixedZone("CST", 8*3600)), "sms-code-expired"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, cand := range []string{rightHash, wrongHash} {
				c := issue(t)
				err := c.Verify(cand, tc.at)
				switch {
				case tc.code != "":
					_ = wantErr(t, err, kernel.KindInvalid, tc.code)
					if !errors.Is(err, otp.ErrExpired) {
						t.Errorf("errors.Is(%v, ErrExpired) = false", err)
					}
					s := c.Snapshot()
					if s.Attempts != 0 || !s.UsedAt.IsZero() {
						t.Errorf("expired code changed: Attempts=%d UsedAt=%v", s.Attempts, s.UsedAt)
					}
				case cand == rightHash:
					if err != nil {
						t.Errorf("Verify(right) = %v, want nil", err)
					}
				default:
					_ = wantErr(t, err, kernel.KindInvalid, "sms-code-wrong")
				}
			}
		})
	}
}

func TestVerifyExpiryWithUnalignedIssueTime(t *testing.T) {
	// The stored times are truncated to µs; the TTL runs from the stored time.
	now := t0.Add(999) // 999 ns past t0
	c, err := otp.Issue("c", testPhone, otp.PurposeLogin, rightHash, now)
	if err != nil {
		t.Fatal(err)
	}
	if !c.ExpiresAt().Equal(t0.Add(otp.TTL)) {
		t.Errorf("ExpiresAt = %v, want %v", c.ExpiresAt(), t0.Add(otp.TTL))
	}
	_ = wantErr(t, c.Verify(rightHash, t0.Add(otp.TTL)), kernel.KindInvalid, "sms-code-expired")
}

func TestErrorsAreDistinct(t *testing.T) {
	errs := map[string]*kernel.Error{
		"sms-code-not-requested": otp.ErrNotRequested,
		"sms-code-expired":       otp.ErrExpired,
		"sms-code-used":          otp.ErrUsed,
		"sms-code-exhausted":     otp.ErrExhausted,
	}
	for code, e := range errs {
		_ = wantErr(t, e, kernel.KindInvalid, code)
		for other, o := range errs {
			if other != code && errors.Is(e, o) {
				t.Errorf("errors.Is(%s, %s) = true", code, other)
			}
		}
	}
}

func TestCodeSnapshotRoundTrip(t *testing.T) {
	base := otp.Snapshot{
		ID: "code-9", Phone: testPhone, Purpose: otp.PurposeResetPassword, Hash: rightHash,
		CreatedAt: t0, ExpiresAt: t0.Add(otp.TTL),
	}
	cases := []struct {
		name   string
		mutate func(*otp.Snapshot)
		verify string // the code of Verify(rightHash, t0+1m); "" means accepted
	}{
		{"fresh", func(*otp.Snapshot) {}, ""},
		{"three wrong tries", func(s *otp.Snapshot) { s.Attempts = 3 }, ""},
		{"exhausted", func(s *otp.Snapshot) { s.Attempts = otp.MaxAttempts }, "sms-code-exhausted"},
		{"used", func(s *otp.Snapshot) { s.UsedAt = t0.Add(30 * time.Second) }, "sms-code-used"},
		{"expired", func(s *otp.Snapshot) { s.ExpiresAt = t0.Add(time.Minute) }, "sms-code-expired"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := base
			tc.mutate(&s)
			c := otp.FromSnapshot(s)
			if got := c.Snapshot(); !reflect.DeepEqual(got, s) {
				t.Errorf("round trip = %+v, want %+v", got, s)
			}
			if c.ID() != s.ID || !c.ExpiresAt().Equal(s.ExpiresAt) {
				t.Errorf("ID/ExpiresAt = %q/%v", c.ID(), c.ExpiresAt())
			}
			err := c.Verify(rightHash, t0.Add(time.Minute))
			if tc.verify == "" {
				if err != nil {
					t.Errorf("Verify = %v, want nil", err)
				}
				return
			}
			_ = wantErr(t, err, kernel.KindInvalid, tc.verify)
		})
	}
	t.Run("issued → snapshot → code", func(t *testing.T) {
		c := issue(t)
		_ = c.Verify(wrongHash, t0)
		s := c.Snapshot()
		back := otp.FromSnapshot(s)
		if got := back.Snapshot(); !reflect.DeepEqual(got, s) {
			t.Errorf("round trip = %+v, want %+v", got, s)
		}
		e := wantErr(t, back.Verify(wrongHash, t0), kernel.KindInvalid, "sms-code-wrong")
		if e.Details["attempts_left"] != 3 {
			t.Errorf("attempts_left = %v, want 3 (the count survives storage)", e.Details["attempts_left"])
		}
	})
}
