package user_test

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/user"
)

// testCertificate is a complete certificate as the CA and the key store return it.
func testCertificate() user.Certificate {
	nb := time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)
	return user.Certificate{
		Serial:       "7f3a01",
		Subject:      "CN=SXQ-abc",
		NotBefore:    nb,
		NotAfter:     nb.Add(2 * 365 * 24 * time.Hour),
		DER:          []byte{0x30, 0x82, 0x01},
		PublicKeyDER: []byte{0x30, 0x59},
		WrappedKey:   []byte("wrapped-1"),
	}
}

// withCertificate returns a verified user holding an active certificate, with no pending events.
func withCertificate(t *testing.T) *user.User {
	t.Helper()
	u := verified(t)
	if err := u.IssueCertificate(testCertificate(), rnNow); err != nil {
		t.Fatalf("IssueCertificate: %v", err)
	}
	u.PullEvents()
	return u
}

func TestSigningFigures(t *testing.T) {
	if user.MaxSigningFailures != 5 || user.SigningLockout != 30*time.Minute {
		t.Errorf("figures changed: MaxSigningFailures=%d SigningLockout=%v", user.MaxSigningFailures, user.SigningLockout)
	}
	if user.CertificateActive != "active" || user.CertificateRevoked != "revoked" {
		t.Error("published certificate states changed")
	}
}

func TestCanSetSigningPassword(t *testing.T) {
	type certState string
	const (
		noCert      certState = "no certificate"
		activeCert  certState = "active certificate"
		revokedCert certState = "revoked certificate"
	)
	for _, rn := range []user.RealNameStatus{user.RealNameUnverified, user.RealNameVerifying, user.RealNameVerified} {
		for _, charging := range []bool{false, true} {
			for _, offers := range []bool{false, true} {
				for _, cs := range []certState{noCert, activeCert, revokedCert} {
					name := fmt.Sprintf("%s/charging=%v/offers=%v/%s", rn, charging, offers, cs)
					t.Run(name, func(t *testing.T) {
						s := user.Snapshot{ID: testID, Phone: testPhone, RealName: rn}
						switch cs {
						case activeCert:
							c := testCertificate()
							c.Status = user.CertificateActive
							s.Certificate = &c
						case revokedCert:
							c := testCertificate()
							c.Status = user.CertificateRevoked
							s.Certificate = &c
						}
						u := user.FromSnapshot(s)
						err := u.CanSetSigningPassword(charging, offers)
						switch {
						case rn != user.RealNameVerified:
							_ = wantErr(t, err, kernel.KindPrecondition, "real-name-required")
						case cs == activeCert:
							_ = wantErr(t, err, kernel.KindConflict, "signing-password-already-set")
						case charging && !offers:
							_ = wantErr(t, err, kernel.KindPrecondition, "personal-certificate-not-offered")
						default:
							if err != nil {
								t.Errorf("CanSetSigningPassword = %v, want nil", err)
							}
						}
					})
				}
			}
		}
	}
}

func TestValidateSigningPassword(t *testing.T) {
	cases := []struct {
		name, pw, confirm, code string // code "" means valid
	}{
		{"valid", "Passw0rd", "Passw0rd", ""},
		{"valid 32", "Ab1" + strings.Repeat("x", 29), "Ab1" + strings.Repeat("x", 29), ""},
		{"mismatch", "Passw0rd", "Passw0rD", "signing-password-mismatch"},
		{"confirmation empty", "Passw0rd", "", "signing-password-mismatch"},
		{"confirmation with a trailing space", "Passw0rd", "Passw0rd ", "signing-password-mismatch"},
		{"mismatch checked before strength", "weak", "weak2", "signing-password-mismatch"},
		{"no digit", "Abcdefgh", "Abcdefgh", "signing-password-too-weak"},
		{"no upper", "abcdefg1", "abcdefg1", "signing-password-too-weak"},
		{"no lower", "ABCDEFG1", "ABCDEFG1", "signing-password-too-weak"},
		{"digits only", "12345678", "12345678", "signing-password-too-weak"},
		{"too short", "Ab1", "Ab1", "password-length"},
		{"empty", "", "", "password-length"},
		{"too long", "Ab1" + strings.Repeat("x", 30), "Ab1" + strings.Repeat("x", 30), "password-length"},
		{"space", "Abcd 1234", "Abcd 1234", "password-invalid-characters"},
		{"non-ASCII", "Abcd1234密", "Abcd1234密", "password-invalid-characters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := user.ValidateSigningPassword(tc.pw, tc.confirm)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("ValidateSigningPassword = %v, want nil", err)
				}
				return
			}
			e := wantErr(t, err, kernel.KindInvalid, tc.code)
			if len(tc.pw) >= 3 && strings.Contains(e.Error(), tc.pw) {
				t.Errorf("error %q echoes the password", e.Error())
			}
		})
	}
}

func TestIssueCertificate(t *testing.T) {
	u := verified(t)
	if u.Certificate() != nil {
		t.Fatalf("Certificate before issuing = %+v, want nil", u.Certificate())
	}
	in := testCertificate()
	in.Status = user.CertificateRevoked // the aggregate decides the status
	in.IssuedAt = time.Unix(0, 0)       // and the issuing time
	at := time.Date(2026, 11, 26, 18, 0, 0, 987654321, cstZone)
	wantAt := kernel.OccurredAt(at)
	if err := u.IssueCertificate(in, at); err != nil {
		t.Fatalf("IssueCertificate: %v", err)
	}
	want := testCertificate()
	want.Status, want.IssuedAt = user.CertificateActive, wantAt
	got := u.Certificate()
	if !reflect.DeepEqual(got, &want) {
		t.Errorf("Certificate = %+v, want %+v", got, want)
	}
	if u.Snapshot().UpdatedAt != wantAt {
		t.Errorf("UpdatedAt = %v, want %v", u.Snapshot().UpdatedAt, wantAt)
	}
	evs := u.PullEvents()
	wantEv := user.CertificateIssued{UserID: testID, Serial: "7f3a01", NotAfter: want.NotAfter, At: wantAt}
	if len(evs) != 1 || !reflect.DeepEqual(evs[0], wantEv) {
		t.Errorf("events = %#v, want %#v", evs, wantEv)
	}

	// Certificate() returns a copy of the struct.
	got.Serial, got.Status = "changed", user.CertificateRevoked
	if c := u.Certificate(); c.Serial != "7f3a01" || c.Status != user.CertificateActive {
		t.Errorf("Certificate() exposes the aggregate's certificate: %+v", c)
	}

	// Twice → conflict, nothing changes.
	before := u.Snapshot()
	second := testCertificate()
	second.Serial = "other"
	_ = wantErr(t, u.IssueCertificate(second, at.Add(time.Hour)), kernel.KindConflict, "signing-password-already-set")
	if after := u.Snapshot(); !reflect.DeepEqual(after, before) {
		t.Errorf("refused IssueCertificate changed the user")
	}
	if evs := u.PullEvents(); len(evs) != 0 {
		t.Errorf("refused IssueCertificate recorded %#v", evs)
	}
	_ = wantErr(t, u.CanSetSigningPassword(false, false), kernel.KindConflict, "signing-password-already-set")
}

func TestIssueCertificateReplacesRevoked(t *testing.T) {
	old := testCertificate()
	old.Serial, old.Status = "old", user.CertificateRevoked
	u := user.FromSnapshot(user.Snapshot{ID: testID, Phone: testPhone, RealName: user.RealNameVerified,
		Signing: user.SigningState{Failures: 3}, Certificate: &old})
	if err := u.IssueCertificate(testCertificate(), rnNow); err != nil {
		t.Fatalf("IssueCertificate over a revoked one: %v", err)
	}
	if c := u.Certificate(); c.Serial != "7f3a01" || c.Status != user.CertificateActive {
		t.Errorf("Certificate = %+v", c)
	}
	if s := u.Snapshot().Signing; s != (user.SigningState{}) {
		t.Errorf("Signing = %+v, want reset by the new certificate", s)
	}
}

func TestIssueCertificateRefusals(t *testing.T) {
	cases := []struct {
		name string
		user func(*testing.T) *user.User
		edit func(*user.Certificate)
		kind kernel.Kind
		code string
	}{
		{"unverified", register, func(*user.Certificate) {}, kernel.KindPrecondition, "real-name-required"},
		{"verifying", func(t *testing.T) *user.User {
			u := started(t, rnNow)
			if err := u.AwaitLiveness("s", "u", rnNow); err != nil {
				t.Fatal(err)
			}
			return u
		}, func(*user.Certificate) {}, kernel.KindPrecondition, "real-name-required"},
		{"unverified before incomplete", register, func(c *user.Certificate) { *c = user.Certificate{} },
			kernel.KindPrecondition, "real-name-required"},
		{"existing before incomplete", withCertificate, func(c *user.Certificate) { *c = user.Certificate{} },
			kernel.KindConflict, "signing-password-already-set"},
		{"missing serial", verified, func(c *user.Certificate) { c.Serial = "" }, kernel.KindInvalid, "certificate-incomplete"},
		{"missing DER", verified, func(c *user.Certificate) { c.DER = nil }, kernel.KindInvalid, "certificate-incomplete"},
		{"empty DER", verified, func(c *user.Certificate) { c.DER = []byte{} }, kernel.KindInvalid, "certificate-incomplete"},
		{"missing wrapped key", verified, func(c *user.Certificate) { c.WrappedKey = nil }, kernel.KindInvalid, "certificate-incomplete"},
		{"empty certificate", verified, func(c *user.Certificate) { *c = user.Certificate{} }, kernel.KindInvalid, "certificate-incomplete"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.user(t)
			u.PullEvents()
			before := u.Snapshot()
			c := testCertificate()
			tc.edit(&c)
			_ = wantErr(t, u.IssueCertificate(c, rnNow.Add(time.Hour)), tc.kind, tc.code)
			if after := u.Snapshot(); !reflect.DeepEqual(after, before) {
				t.Errorf("refused IssueCertificate changed the user")
			}
			if evs := u.PullEvents(); len(evs) != 0 {
				t.Errorf("refused IssueCertificate recorded %#v", evs)
			}
		})
	}
}

func TestCanUseSigningKeyWithoutCertificate(t *testing.T) {
	revoked := testCertificate()
	revoked.Status = user.CertificateRevoked
	locked := user.SigningState{LockedUntil: rnNow.Add(time.Hour)}
	cases := []struct {
		name string
		snap user.Snapshot
	}{
		{"no certificate", user.Snapshot{RealName: user.RealNameVerified}},
		{"revoked certificate", user.Snapshot{RealName: user.RealNameVerified, Certificate: &revoked}},
		{"no certificate while locked", user.Snapshot{RealName: user.RealNameVerified, Signing: locked}},
		{"revoked certificate while locked", user.Snapshot{RealName: user.RealNameVerified, Signing: locked, Certificate: &revoked}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.snap.ID, tc.snap.Phone = testID, testPhone
			u := user.FromSnapshot(tc.snap)
			e := wantErr(t, u.CanUseSigningKey(rnNow), kernel.KindPrecondition, "certificate-missing")
			if e.RetryAfter != 0 {
				t.Errorf("RetryAfter = %v, want 0", e.RetryAfter)
			}
			_ = wantErr(t, u.RewrapSigningKey([]byte("w"), false, rnNow), kernel.KindPrecondition, "certificate-missing")
			_ = wantErr(t, u.RewrapSigningKey(nil, true, rnNow), kernel.KindPrecondition, "certificate-missing")
			if evs := u.PullEvents(); len(evs) != 0 {
				t.Errorf("refusals recorded %#v", evs)
			}
		})
	}
}

func TestSigningLockout(t *testing.T) {
	u := withCertificate(t)
	if err := u.CanUseSigningKey(rnNow); err != nil {
		t.Fatalf("CanUseSigningKey with a fresh certificate: %v", err)
	}

	// Failures 1–4 leave 4..1 tries and do not lock.
	for i := 1; i <= 4; i++ {
		at := rnNow.Add(time.Duration(i) * time.Second)
		if left := u.SigningPasswordFailed(at); left != user.MaxSigningFailures-i {
			t.Errorf("failure %d: tries left = %d, want %d", i, left, user.MaxSigningFailures-i)
		}
		if err := u.CanUseSigningKey(at); err != nil {
			t.Fatalf("after %d failures CanUseSigningKey = %v, want nil", i, err)
		}
		if s := u.Snapshot(); s.Signing.Failures != i || !s.UpdatedAt.Equal(at) {
			t.Errorf("after %d failures Signing=%+v UpdatedAt=%v", i, s.Signing, s.UpdatedAt)
		}
		if evs := u.PullEvents(); len(evs) != 0 {
			t.Errorf("failure %d recorded %#v", i, evs)
		}
	}

	// The fifth locks for 30 minutes and answers 0 tries left.
	lockAt := rnNow.Add(time.Minute + 700*time.Nanosecond)
	lockAtUTC := kernel.OccurredAt(lockAt)
	until := lockAtUTC.Add(30 * time.Minute)
	if left := u.SigningPasswordFailed(lockAt); left != 0 {
		t.Errorf("fifth failure: tries left = %d, want 0", left)
	}
	if s := u.Snapshot().Signing; s != (user.SigningState{LockedUntil: until}) {
		t.Errorf("Signing = %+v, want failures reset and locked until %v", s, until)
	}
	evs := u.PullEvents()
	wantEv := user.SigningLocked{UserID: testID, Until: until, At: lockAtUTC}
	if len(evs) != 1 || evs[0] != wantEv {
		t.Fatalf("events = %#v, want %#v", evs, wantEv)
	}

	cases := []struct {
		name  string
		at    time.Time
		retry time.Duration // 0: usable
	}{
		{"at once", lockAtUTC, 30 * time.Minute},
		{"1s later", lockAtUTC.Add(time.Second), 30*time.Minute - time.Second},
		{"29m later", lockAtUTC.Add(29 * time.Minute), time.Minute},
		{"1ns before the end", until.Add(-time.Nanosecond), time.Nanosecond},
		{"exactly 30m later", until, 0},
		{"31m later", lockAtUTC.Add(31 * time.Minute), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := u.CanUseSigningKey(tc.at)
			if tc.retry == 0 {
				if err != nil {
					t.Fatalf("CanUseSigningKey = %v, want nil", err)
				}
				return
			}
			e := wantErr(t, err, kernel.KindRateLimited, "signing-locked")
			if e.RetryAfter != tc.retry {
				t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, tc.retry)
			}
		})
	}

	// After the lock the count restarts: 4 more failures leave 4..1 tries again, the fifth relocks.
	for i := 1; i <= 4; i++ {
		if left := u.SigningPasswordFailed(until.Add(time.Duration(i) * time.Second)); left != user.MaxSigningFailures-i {
			t.Errorf("after the lock, failure %d: tries left = %d", i, left)
		}
	}
	if err := u.CanUseSigningKey(until.Add(time.Minute)); err != nil {
		t.Errorf("4 failures after the lock: %v, want nil", err)
	}
	if left := u.SigningPasswordFailed(until.Add(time.Minute)); left != 0 {
		t.Errorf("relock: tries left = %d, want 0", left)
	}
	e := wantErr(t, u.CanUseSigningKey(until.Add(time.Minute)), kernel.KindRateLimited, "signing-locked")
	if e.RetryAfter != 30*time.Minute {
		t.Errorf("second lock RetryAfter = %v, want 30m", e.RetryAfter)
	}
}

func TestSigningPasswordAccepted(t *testing.T) {
	t.Run("resets the count", func(t *testing.T) {
		u := withCertificate(t)
		for i := 0; i < 4; i++ {
			_ = u.SigningPasswordFailed(rnNow)
		}
		at := rnNow.Add(time.Minute + 1)
		u.SigningPasswordAccepted(at)
		s := u.Snapshot()
		if s.Signing != (user.SigningState{}) || s.UpdatedAt != kernel.OccurredAt(at) {
			t.Errorf("after accepted: Signing=%+v UpdatedAt=%v", s.Signing, s.UpdatedAt)
		}
		// The count really restarted: 4 more failures leave 4..1 tries and do not lock.
		for i := 1; i <= 4; i++ {
			if left := u.SigningPasswordFailed(at); left != user.MaxSigningFailures-i {
				t.Errorf("failure %d after reset: tries left = %d", i, left)
			}
		}
		if err := u.CanUseSigningKey(at); err != nil {
			t.Errorf("CanUseSigningKey = %v, want nil", err)
		}
		if evs := u.PullEvents(); len(evs) != 0 {
			t.Errorf("events = %#v, want none", evs)
		}
	})
	t.Run("no failures is a no-op", func(t *testing.T) {
		u := withCertificate(t)
		before := u.Snapshot()
		u.SigningPasswordAccepted(rnNow.Add(time.Hour))
		if after := u.Snapshot(); !reflect.DeepEqual(after, before) {
			t.Errorf("SigningPasswordAccepted with no failures changed the user")
		}
	})
}

func TestRewrapSigningKey(t *testing.T) {
	for _, byCode := range []bool{false, true} {
		t.Run(fmt.Sprintf("byCode=%v", byCode), func(t *testing.T) {
			u := withCertificate(t)
			for i := 0; i < 3; i++ {
				_ = u.SigningPasswordFailed(rnNow)
			}
			at := rnNow.Add(time.Hour + 1)
			wantAt := kernel.OccurredAt(at)
			if err := u.RewrapSigningKey([]byte("wrapped-2"), byCode, at); err != nil {
				t.Fatalf("RewrapSigningKey: %v", err)
			}
			c := u.Certificate()
			if !bytes.Equal(c.WrappedKey, []byte("wrapped-2")) {
				t.Errorf("WrappedKey = %q, want wrapped-2", c.WrappedKey)
			}
			orig := testCertificate()
			if c.Serial != orig.Serial || !bytes.Equal(c.DER, orig.DER) ||
				c.Status != user.CertificateActive {
				t.Errorf("RewrapSigningKey changed more than the wrapped key: %+v", c)
			}
			s := u.Snapshot()
			if s.Signing != (user.SigningState{}) || s.UpdatedAt != wantAt {
				t.Errorf("Signing=%+v UpdatedAt=%v", s.Signing, s.UpdatedAt)
			}
			evs := u.PullEvents()
			want := user.SigningPasswordChanged{UserID: testID, BySMSCode: byCode, At: wantAt}
			if len(evs) != 1 || evs[0] != want {
				t.Errorf("events = %#v, want %#v", evs, want)
			}
		})
	}
	t.Run("empty wrapped key", func(t *testing.T) {
		for _, w := range [][]byte{nil, {}} {
			u := withCertificate(t)
			before := u.Snapshot()
			_ = wantErr(t, u.RewrapSigningKey(w, false, rnNow), kernel.KindInvalid, "certificate-incomplete")
			if after := u.Snapshot(); !reflect.DeepEqual(after, before) {
				t.Errorf("refused RewrapSigningKey changed the user")
			}
			if evs := u.PullEvents(); len(evs) != 0 {
				t.Errorf("refused RewrapSigningKey recorded %#v", evs)
			}
		}
	})
	t.Run("without a certificate", func(t *testing.T) {
		u := verified(t)
		_ = wantErr(t, u.RewrapSigningKey([]byte("w"), true, rnNow), kernel.KindPrecondition, "certificate-missing")
		if u.Certificate() != nil {
			t.Error("RewrapSigningKey created a certificate")
		}
	})
}
