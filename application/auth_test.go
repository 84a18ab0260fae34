package application_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/mock/gomock"

	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/otp"
	"github.com/shuxinqian/server/domain/session"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
)

const phone = kernel.Phone("13800138000")

func codeHash(purpose otp.Purpose, code string) string {
	return "otp:" + string(phone) + "|" + string(purpose) + "|" + code
}

func TestRequestCodeStoresHashAndSendsAfterCommit(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.random.EXPECT().Digits(6).Return("123456", nil)
	gomock.InOrder(
		f.codes.EXPECT().LockPhone(gomock.Any(), phone).Return(nil),
		f.codes.EXPECT().History(gomock.Any(), phone, "10.0.0.1", f.now.Add(-24*time.Hour)).Return(otp.History{}, nil),
		f.codes.EXPECT().Add(gomock.Any(), gomock.Any(), "10.0.0.1").DoAndReturn(func(_ context.Context, c *otp.Code, _ string) error {
			s := c.Snapshot()
			if s.Hash != codeHash(otp.PurposeLogin, "123456") || s.Purpose != otp.PurposeLogin || !s.ExpiresAt.Equal(f.now.Add(5*time.Minute)) {
				t.Errorf("stored code %+v", s)
			}
			return nil
		}),
		f.sms.EXPECT().Send(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, m ports.SMS) error {
			if f.commits != 1 {
				t.Error("SMS sent before the code was committed")
			}
			if m.Phone != phone || !strings.Contains(m.Text, "123456") {
				t.Errorf("sms %+v", m)
			}
			return nil
		}),
	)
	res, err := f.app.RequestCode(ctx, application.RequestCode{Phone: "+86 138-0013-8000", Purpose: "login", ClientIP: "10.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExpiresIn != 5*time.Minute || res.ResendAfter != time.Minute {
		t.Fatalf("res %+v", res)
	}
}

func TestRequestCodeRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, phone, purpose, code string
		actor                      *application.Actor
		history                    *otp.History
	}{
		{name: "bad phone", phone: "12345", purpose: "login", code: "phone-invalid"},
		{name: "bad purpose", phone: "13800138000", purpose: "payment", code: "sms-purpose-invalid"},
		{name: "sign needs login", phone: "13800138000", purpose: "sign", code: "login-required"},
		{name: "resend too soon", phone: "13800138000", purpose: "login", code: "sms-resend-too-soon",
			history: &otp.History{Phone: []otp.Sent{{Purpose: otp.PurposeLogin, At: time.Date(2026, 11, 26, 7, 59, 30, 0, time.UTC)}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.history != nil {
				f.random.EXPECT().Digits(6).Return("123456", nil)
				f.codes.EXPECT().LockPhone(gomock.Any(), phone).Return(nil)
				f.codes.EXPECT().History(gomock.Any(), phone, gomock.Any(), gomock.Any()).Return(*tc.history, nil)
			}
			// No Add and no Send are expected: gomock fails the test if they happen.
			_, err := f.app.RequestCode(context.Background(), application.RequestCode{Phone: tc.phone, Purpose: tc.purpose, Actor: tc.actor})
			if kernel.CodeOf(err) != tc.code {
				t.Fatalf("err = %v, want code %s", err, tc.code)
			}
		})
	}
}

func TestRequestCodeSendFailureIsUnavailable(t *testing.T) {
	f := newFixture(t)
	f.random.EXPECT().Digits(6).Return("123456", nil)
	f.codes.EXPECT().LockPhone(gomock.Any(), phone).Return(nil)
	f.codes.EXPECT().History(gomock.Any(), phone, gomock.Any(), gomock.Any()).Return(otp.History{}, nil)
	f.codes.EXPECT().Add(gomock.Any(), gomock.Any(), gomock.Any()).Return(nil)
	f.sms.EXPECT().Send(gomock.Any(), gomock.Any()).Return(errors.New("provider down"))
	_, err := f.app.RequestCode(context.Background(), application.RequestCode{Phone: "13800138000", Purpose: "login"})
	if kernel.KindOf(err) != kernel.KindUnavailable || kernel.CodeOf(err) != "sms-unavailable" {
		t.Fatalf("err = %v", err)
	}
}

func issued(t *testing.T, f *fixture, purpose otp.Purpose, code string) *otp.Code {
	t.Helper()
	c, err := otp.Issue("c1", phone, purpose, codeHash(purpose, code), f.now.Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLoginByCodeRegistersOnFirstUse(t *testing.T) {
	f := newFixture(t)
	c := issued(t, f, otp.PurposeLogin, "654321")
	f.codes.EXPECT().LockPhone(gomock.Any(), phone).Return(nil)
	f.codes.EXPECT().Latest(gomock.Any(), phone, otp.PurposeLogin).Return(c, nil)
	f.codes.EXPECT().Save(gomock.Any(), c).Return(nil)
	f.users.EXPECT().GetByPhone(gomock.Any(), phone).Return(nil, kernel.NotFound("user-not-found", "x"))
	var added *user.User
	f.users.EXPECT().Add(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, u *user.User) error { added = u; return nil })
	f.random.EXPECT().Token(32).Return("tok", nil)
	f.sessions.EXPECT().Add(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, s *session.Session) error {
		if s.Snapshot().TokenHash != application.HashToken("tok") || s.Snapshot().TokenHash == "tok" {
			t.Error("session must store the token's hash, not the token")
		}
		return nil
	})
	res, err := f.app.Login(context.Background(), application.Login{Phone: "13800138000", Code: "654321"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Registered || res.Token != "tok" || added == nil || added.Phone() != phone {
		t.Fatalf("res %+v added %+v", res, added)
	}
	if !res.ExpiresAt.Equal(f.now.Add(30 * 24 * time.Hour)) {
		t.Fatalf("expires %v", res.ExpiresAt)
	}
	// The code's use and the session are one transaction (issue 14: fewer commits per login).
	if f.commits != 1 {
		t.Fatalf("commits %d, want 1", f.commits)
	}
}

func TestLoginByWrongCodeCountsTheTryAndOpensNothing(t *testing.T) {
	f := newFixture(t)
	c := issued(t, f, otp.PurposeLogin, "654321")
	f.codes.EXPECT().LockPhone(gomock.Any(), phone).Return(nil)
	f.codes.EXPECT().Latest(gomock.Any(), phone, otp.PurposeLogin).Return(c, nil)
	f.codes.EXPECT().Save(gomock.Any(), c).Return(nil)
	_, err := f.app.Login(context.Background(), application.Login{Phone: "13800138000", Code: "000000"})
	if kernel.CodeOf(err) != "sms-code-wrong" {
		t.Fatalf("err = %v", err)
	}
	if c.Snapshot().Attempts != 1 || f.commits != 1 {
		t.Fatalf("the wrong try must be committed: attempts=%d commits=%d", c.Snapshot().Attempts, f.commits)
	}
}

func TestLoginInputErrors(t *testing.T) {
	for _, tc := range []struct {
		in   application.Login
		code string
	}{
		{application.Login{Phone: "13800138000"}, "login-credentials-missing"},
		{application.Login{Phone: "13800138000", Code: "123456", Password: "x"}, "login-ambiguous"},
		{application.Login{Phone: "abc", Code: "123456"}, "phone-invalid"},
		{application.Login{Phone: "13800138000", Code: "12"}, "sms-code-format"},
	} {
		f := newFixture(t)
		if _, err := f.app.Login(context.Background(), tc.in); kernel.CodeOf(err) != tc.code {
			t.Errorf("%+v: err = %v, want %s", tc.in, err, tc.code)
		}
	}
}

func userWithPassword(t *testing.T, f *fixture) *user.User {
	t.Helper()
	u, _ := user.Register("u1", phone, f.now.Add(-time.Hour))
	if err := u.SetPassword("HASH", f.now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	u.PullEvents()
	return u
}

func TestLoginByPassword(t *testing.T) {
	t.Run("right password opens a session", func(t *testing.T) {
		f := newFixture(t)
		u := userWithPassword(t, f)
		f.users.EXPECT().GetByPhone(gomock.Any(), phone).Return(u, nil)
		f.passwords.EXPECT().Verify("HASH", "Secret123").Return(true, nil)
		f.users.EXPECT().Update(gomock.Any(), u.ID(), gomock.Any()).DoAndReturn(func(_ context.Context, _ kernel.UserID, fn func(*user.User) error) error {
			return fn(u)
		})
		f.random.EXPECT().Token(32).Return("tok", nil)
		f.sessions.EXPECT().Add(gomock.Any(), gomock.Any()).Return(nil)
		res, err := f.app.Login(context.Background(), application.Login{Phone: "13800138000", Password: "Secret123"})
		if err != nil || res.Token != "tok" || res.Registered {
			t.Fatalf("res %+v err %v", res, err)
		}
	})
	t.Run("wrong password counts a failure and answers like an unknown phone", func(t *testing.T) {
		f := newFixture(t)
		u := userWithPassword(t, f)
		f.users.EXPECT().GetByPhone(gomock.Any(), phone).Return(u, nil)
		f.passwords.EXPECT().Verify("HASH", "Wrong1234").Return(false, nil)
		f.users.EXPECT().Update(gomock.Any(), u.ID(), gomock.Any()).DoAndReturn(func(_ context.Context, _ kernel.UserID, fn func(*user.User) error) error {
			return fn(u)
		})
		_, err := f.app.Login(context.Background(), application.Login{Phone: "13800138000", Password: "Wrong1234"})
		// Two commits: the attempt count, then the failure on the user.
		if kernel.CodeOf(err) != "credentials-invalid" || u.Snapshot().FailedLogins != 1 || f.commits != 2 {
			t.Fatalf("err %v failed=%d commits=%d", err, u.Snapshot().FailedLogins, f.commits)
		}
	})
	t.Run("unknown phone", func(t *testing.T) {
		f := newFixture(t)
		f.users.EXPECT().GetByPhone(gomock.Any(), phone).Return(nil, kernel.NotFound("user-not-found", "x"))
		f.passwords.EXPECT().Hash(gomock.Any()).Return("DUMMY", nil)
		f.passwords.EXPECT().Verify("DUMMY", "Secret123").Return(false, nil) // same cost as a real check
		_, err := f.app.Login(context.Background(), application.Login{Phone: "13800138000", Password: "Secret123"})
		if kernel.CodeOf(err) != "credentials-invalid" {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("locked account is refused before hashing", func(t *testing.T) {
		f := newFixture(t)
		u := userWithPassword(t, f)
		for range user.MaxPasswordFailures {
			u.PasswordFailed(f.now)
		}
		f.users.EXPECT().GetByPhone(gomock.Any(), phone).Return(u, nil)
		_, err := f.app.Login(context.Background(), application.Login{Phone: "13800138000", Password: "Secret123"})
		var ke *kernel.Error
		if !errors.As(err, &ke) || ke.Code != "password-locked" || ke.RetryAfter != 15*time.Minute {
			t.Fatalf("err %v", err)
		}
	})
}

func TestSetPassword(t *testing.T) {
	t.Run("weak password is refused before the code is spent", func(t *testing.T) {
		f := newFixture(t)
		err := f.app.SetPassword(context.Background(), application.Actor{UserID: "u1"}, "123456", "weakpass")
		if kernel.CodeOf(err) != "password-too-weak" {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("changing the password revokes the other sessions", func(t *testing.T) {
		f := newFixture(t)
		u := userWithPassword(t, f)
		c := issued(t, f, otp.PurposeResetPassword, "111111")
		f.users.EXPECT().Get(gomock.Any(), kernel.UserID("u1")).Return(u, nil)
		f.passwords.EXPECT().Hash("NewSecret9").Return("NEWHASH", nil)
		f.codes.EXPECT().LockPhone(gomock.Any(), phone).Return(nil)
		f.codes.EXPECT().Latest(gomock.Any(), phone, otp.PurposeResetPassword).Return(c, nil)
		f.codes.EXPECT().Save(gomock.Any(), c).Return(nil)
		f.users.EXPECT().Update(gomock.Any(), u.ID(), gomock.Any()).DoAndReturn(func(_ context.Context, _ kernel.UserID, fn func(*user.User) error) error {
			return fn(u)
		})
		f.sessions.EXPECT().RevokeAllForUser(gomock.Any(), u.ID(), kernel.SessionID("s-current"), "password_changed", f.now).Return(2, nil)
		if err := f.app.SetPassword(context.Background(), application.Actor{UserID: "u1", SessionID: "s-current"}, "111111", "NewSecret9"); err != nil {
			t.Fatal(err)
		}
		if u.PasswordHash() != "NEWHASH" {
			t.Fatal("password not replaced")
		}
	})
	t.Run("a login code cannot set a password", func(t *testing.T) {
		f := newFixture(t)
		u := userWithPassword(t, f)
		f.users.EXPECT().Get(gomock.Any(), kernel.UserID("u1")).Return(u, nil)
		f.passwords.EXPECT().Hash("NewSecret9").Return("NEWHASH", nil)
		f.codes.EXPECT().LockPhone(gomock.Any(), phone).Return(nil)
		f.codes.EXPECT().Latest(gomock.Any(), phone, otp.PurposeResetPassword).Return(nil, otp.ErrNotRequested)
		err := f.app.SetPassword(context.Background(), application.Actor{UserID: "u1"}, "111111", "NewSecret9")
		if kernel.CodeOf(err) != "sms-code-not-requested" || u.PasswordHash() != "HASH" {
			t.Fatalf("err %v", err)
		}
	})
}

func TestAuthenticate(t *testing.T) {
	f := newFixture(t)
	s, _ := session.Open("s1", "u1", application.HashToken("tok"), f.now.Add(-2*time.Hour))
	f.sessions.EXPECT().GetByTokenHash(gomock.Any(), application.HashToken("tok")).Return(s, nil).Times(2)
	f.sessions.EXPECT().Save(gomock.Any(), gomock.Any()).Return(nil) // slid once: last use was 2 h ago
	a, err := f.app.Authenticate(context.Background(), "tok")
	if err != nil || a.UserID != "u1" || a.SessionID != "s1" {
		t.Fatalf("actor %+v err %v", a, err)
	}
	if _, err := f.app.Authenticate(context.Background(), ""); kernel.CodeOf(err) != "session-invalid" {
		t.Fatalf("empty token: %v", err)
	}
	if _, err := f.app.Authenticate(context.Background(), strings.Repeat("x", 200)); kernel.CodeOf(err) != "session-invalid" {
		t.Fatalf("long token: %v", err)
	}
}

// Issue 11 item 8: password attempts are counted per phone and per IP before any hash runs;
// beyond the limits the answer is 429 with a retry time, and no argon2 check happens.
func TestLoginByPasswordAttemptLimits(t *testing.T) {
	t.Run("per phone", func(t *testing.T) {
		f := newFixture(t)
		f.users.EXPECT().GetByPhone(gomock.Any(), phone).Return(nil, kernel.NotFound("user-not-found", "x")).Times(application.LoginAttemptsPerPhone)
		f.passwords.EXPECT().Hash(gomock.Any()).Return("DUMMY", nil)
		f.passwords.EXPECT().Verify("DUMMY", gomock.Any()).Return(false, nil).Times(application.LoginAttemptsPerPhone)
		for i := range application.LoginAttemptsPerPhone + 3 {
			_, err := f.app.Login(context.Background(), application.Login{Phone: "13800138000", Password: "Guess1234", ClientIP: fmt.Sprintf("10.0.0.%d", i)})
			want := "credentials-invalid"
			if i >= application.LoginAttemptsPerPhone {
				want = "login-rate-limited"
			}
			if kernel.CodeOf(err) != want {
				t.Fatalf("attempt %d: %v, want %s", i+1, err, want)
			}
		}
	})
	t.Run("per IP", func(t *testing.T) {
		f := newFixture(t)
		f.users.EXPECT().GetByPhone(gomock.Any(), gomock.Any()).Return(nil, kernel.NotFound("user-not-found", "x")).Times(application.LoginAttemptsPerIP)
		f.passwords.EXPECT().Hash(gomock.Any()).Return("DUMMY", nil)
		f.passwords.EXPECT().Verify("DUMMY", gomock.Any()).Return(false, nil).Times(application.LoginAttemptsPerIP)
		for i := range application.LoginAttemptsPerIP + 2 {
			_, err := f.app.Login(context.Background(), application.Login{Phone: fmt.Sprintf("138%08d", i), Password: "Guess1234", ClientIP: "10.0.0.1"})
			if i >= application.LoginAttemptsPerIP {
				var ke *kernel.Error
				if !errors.As(err, &ke) || ke.Code != "login-rate-limited" || ke.RetryAfter <= 0 {
					t.Fatalf("attempt %d: %v", i+1, err)
				}
			} else if kernel.CodeOf(err) != "credentials-invalid" {
				t.Fatalf("attempt %d: %v", i+1, err)
			}
		}
	})
}
