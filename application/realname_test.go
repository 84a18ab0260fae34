package application_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/mock/gomock"

	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/channel"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
)

const validID = kernel.IDNumber("11010519491231002X")

func newChannel(t *testing.T, code string, method channel.RealNameMethod, certService bool) *channel.Channel {
	t.Helper()
	c, err := channel.New(channel.Snapshot{ID: "c-" + kernel.ChannelID(code), Code: code, Name: "渠道" + code, QRToken: "0123456789abcdef",
		Active: true, PersonalCertService: certService, Method: method})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// onChannel makes a registered user on a channel, with the platform's charging switch.
func onChannel(t *testing.T, f *fixture, c *channel.Channel, charging bool) *user.User {
	t.Helper()
	u, _ := user.Register("u1", phone, f.now.Add(-time.Hour))
	if c != nil {
		u.SwitchChannel(c.Code(), f.now.Add(-time.Hour))
		f.channels.EXPECT().GetByCode(gomock.Any(), c.Code()).Return(c, nil).AnyTimes()
	}
	u.PullEvents()
	f.channels.EXPECT().Platform(gomock.Any()).Return(channel.Platform{ChargingEnabled: charging, DefaultMethod: channel.MethodID2}, nil).AnyTimes()
	f.users.EXPECT().Get(gomock.Any(), kernel.UserID("u1")).Return(u, nil).AnyTimes()
	f.users.EXPECT().Update(gomock.Any(), kernel.UserID("u1"), gomock.Any()).DoAndReturn(
		func(_ context.Context, _ kernel.UserID, fn func(*user.User) error) error { return fn(u) }).AnyTimes()
	return u
}

var actor = application.Actor{UserID: "u1", SessionID: "s1"}

func TestStartRealNameID2(t *testing.T) {
	t.Run("a match verifies and keeps the consent", func(t *testing.T) {
		f := newFixture(t)
		u := onChannel(t, f, newChannel(t, "q1", channel.MethodID2, true), true)
		f.users.EXPECT().IDNumberTaken(gomock.Any(), validID, kernel.UserID("u1")).Return(false, nil)
		f.identity.EXPECT().VerifyID2(gomock.Any(), "张三", validID).Return(ports.IdentityCheck{Match: true, Reference: "r1"}, nil)
		f.consents.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, c ports.Consent) error {
			if c.UserID != "u1" || c.Scope != "real_name" || c.Version != user.ConsentVersion || c.ClientIP != "10.0.0.9" {
				t.Errorf("consent %+v", c)
			}
			return nil
		})
		v, err := f.app.StartRealName(context.Background(), actor, application.StartRealName{Name: "张三", IDNumber: "11010519491231002x", Consent: true, ClientIP: "10.0.0.9"})
		if err != nil || v.Status != user.RealNameVerified || v.IDNumberMasked != "110***********002X" {
			t.Fatalf("view %+v err %v", v, err)
		}
		if u.RealNameStatus() != user.RealNameVerified || u.Identity().Method != "id2" {
			t.Fatalf("user %+v", u.Snapshot())
		}
	})
	t.Run("a mismatch is a counted failure", func(t *testing.T) {
		f := newFixture(t)
		u := onChannel(t, f, nil, false) // no channel: the platform default (id2)
		f.users.EXPECT().IDNumberTaken(gomock.Any(), validID, kernel.UserID("u1")).Return(false, nil)
		f.identity.EXPECT().VerifyID2(gomock.Any(), "张三", validID).Return(ports.IdentityCheck{Match: false, Reason: "name and ID number do not match"}, nil)
		f.consents.EXPECT().Append(gomock.Any(), gomock.Any()).Return(nil)
		_, err := f.app.StartRealName(context.Background(), actor, application.StartRealName{Name: "张三", IDNumber: string(validID), Consent: true})
		var ke *kernel.Error
		if !errors.As(err, &ke) || ke.Code != "real-name-mismatch" || ke.Details["attempts_left"] != 4 {
			t.Fatalf("err %v", err)
		}
		if u.RealNameStatus() != user.RealNameUnverified || u.FailuresLeft(f.now) != 4 || f.commits != 1 {
			t.Fatalf("failure not recorded: %+v commits=%d", u.Snapshot().Attempt, f.commits)
		}
	})
	t.Run("id3 sends the account phone", func(t *testing.T) {
		f := newFixture(t)
		onChannel(t, f, newChannel(t, "q3", channel.MethodID3, true), true)
		f.users.EXPECT().IDNumberTaken(gomock.Any(), validID, kernel.UserID("u1")).Return(false, nil)
		f.identity.EXPECT().VerifyID3(gomock.Any(), "张三", validID, phone).Return(ports.IdentityCheck{Match: true}, nil)
		f.consents.EXPECT().Append(gomock.Any(), gomock.Any()).Return(nil)
		if _, err := f.app.StartRealName(context.Background(), actor, application.StartRealName{Name: "张三", IDNumber: string(validID), Consent: true}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("provider down: 503, nothing counted", func(t *testing.T) {
		f := newFixture(t)
		u := onChannel(t, f, nil, false)
		f.users.EXPECT().IDNumberTaken(gomock.Any(), validID, kernel.UserID("u1")).Return(false, nil)
		f.identity.EXPECT().VerifyID2(gomock.Any(), gomock.Any(), gomock.Any()).Return(ports.IdentityCheck{}, errors.New("timeout"))
		_, err := f.app.StartRealName(context.Background(), actor, application.StartRealName{Name: "张三", IDNumber: string(validID), Consent: true})
		if kernel.KindOf(err) != kernel.KindUnavailable || u.FailuresLeft(f.now) != 5 || f.commits != 0 {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("refusals call no provider", func(t *testing.T) {
		for _, tc := range []struct {
			in    application.StartRealName
			taken bool
			code  string
		}{
			{application.StartRealName{Name: "张三", IDNumber: string(validID)}, false, "consent-required"},
			{application.StartRealName{Name: "张三", IDNumber: "11010519491231002Y", Consent: true}, false, "id-number-format"},
			{application.StartRealName{Name: "张三", IDNumber: "110105194912310021", Consent: true}, false, "id-number-checksum"},
			{application.StartRealName{Name: "张", IDNumber: string(validID), Consent: true}, false, "real-name-invalid"},
			{application.StartRealName{Name: "张三", IDNumber: string(validID), Consent: true}, true, "id-number-taken"},
		} {
			f := newFixture(t)
			onChannel(t, f, nil, false)
			f.users.EXPECT().IDNumberTaken(gomock.Any(), gomock.Any(), gomock.Any()).Return(tc.taken, nil).AnyTimes()
			_, err := f.app.StartRealName(context.Background(), actor, tc.in)
			if kernel.CodeOf(err) != tc.code {
				t.Errorf("%+v: err %v, want %s", tc.in, err, tc.code)
			}
		}
	})
}

func TestFaceRealName(t *testing.T) {
	start := func(t *testing.T, f *fixture) *user.User {
		u := onChannel(t, f, newChannel(t, "qf", channel.MethodFace, true), true)
		f.users.EXPECT().IDNumberTaken(gomock.Any(), validID, kernel.UserID("u1")).Return(false, nil)
		f.liveness.EXPECT().Start(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, r ports.LivenessRequest) (ports.LivenessSession, error) {
			if r.Name != "张三" || r.IDNumber != validID || r.Reference != "user:u1" {
				t.Errorf("liveness request %+v", r)
			}
			return ports.LivenessSession{ID: "sess1", URL: "https://face.test/sess1"}, nil
		})
		f.consents.EXPECT().Append(gomock.Any(), gomock.Any()).Return(nil)
		v, err := f.app.StartRealName(context.Background(), actor, application.StartRealName{Name: "张三", IDNumber: string(validID), Consent: true})
		if err != nil || v.Status != user.RealNameVerifying || v.Liveness == nil || v.Liveness.SessionID != "sess1" {
			t.Fatalf("view %+v err %v", v, err)
		}
		return u
	}
	for _, tc := range []struct {
		name   string
		result ports.LivenessResult
		want   user.RealNameStatus
	}{
		{"pending stays verifying", ports.LivenessResult{Status: ports.LivenessPending}, user.RealNameVerifying},
		{"passed as the claimed person verifies", ports.LivenessResult{Status: ports.LivenessPassed, Name: "张三", IDNumber: validID}, user.RealNameVerified},
		{"passed as another person fails", ports.LivenessResult{Status: ports.LivenessPassed, Name: "李四", IDNumber: validID}, user.RealNameUnverified},
		{"failed fails", ports.LivenessResult{Status: ports.LivenessFailed, Reason: "face did not match"}, user.RealNameUnverified},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			u := start(t, f)
			f.liveness.EXPECT().Result(gomock.Any(), "sess1").Return(tc.result, nil)
			v, err := f.app.RealName(context.Background(), actor)
			if err != nil || v.Status != tc.want || u.RealNameStatus() != tc.want {
				t.Fatalf("view %+v user %s err %v", v, u.RealNameStatus(), err)
			}
		})
	}
}

func TestSigningPasswordIssuesCertificate(t *testing.T) {
	verified := func(t *testing.T, f *fixture, c *channel.Channel, charging bool) *user.User {
		u := onChannel(t, f, c, charging)
		if err := u.StartRealName(user.Identity{Name: "张三", IDNumber: validID, Method: "id2"}, f.now); err != nil {
			t.Fatal(err)
		}
		if err := u.RealNameSucceeded(f.now); err != nil {
			t.Fatal(err)
		}
		u.PullEvents()
		return u
	}
	t.Run("issued by the CA with a pseudonymous subject", func(t *testing.T) {
		f := newFixture(t)
		u := verified(t, f, newChannel(t, "q1", channel.MethodID2, true), true)
		f.keys.EXPECT().Generate(gomock.Any(), "Sign1234x").Return(ports.KeyMaterial{PublicKeyDER: []byte("PUB"), Wrapped: []byte("W")}, nil)
		f.ca.EXPECT().IssuePersonal(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, r ports.CertificateRequest) (ports.IssuedCertificate, error) {
			if r.CommonName != "张三" || string(r.PublicKeyDER) != "PUB" || r.SubjectSerial == "" || r.SubjectSerial == string(validID) {
				t.Errorf("request %+v", r)
			}
			return ports.IssuedCertificate{SerialHex: "abc", Subject: "CN=张三", DER: []byte("DER"), NotAfter: f.now.Add(time.Hour)}, nil
		})
		c, created, _, err := f.app.SigningPassword(context.Background(), actor, application.SetSigningPassword{Password: "Sign1234x", Confirmation: "Sign1234x"})
		if err != nil || !created || c.Serial != "abc" || string(u.Certificate().WrappedKey) != "W" {
			t.Fatalf("cert %+v err %v", c, err)
		}
	})
	t.Run("refused before any key is made", func(t *testing.T) {
		for _, tc := range []struct {
			name     string
			channel  *channel.Channel
			charging bool
			verify   bool
			code     string
		}{
			{"unverified", nil, false, false, "real-name-required"},
			{"channel without the service while charging", newChannel(t, "q2", channel.MethodID2, false), true, true, "personal-certificate-not-offered"},
			{"no channel while charging", nil, true, true, "personal-certificate-not-offered"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				f := newFixture(t)
				if tc.verify {
					verified(t, f, tc.channel, tc.charging)
				} else {
					onChannel(t, f, tc.channel, tc.charging)
				}
				// No Generate and no IssuePersonal expected.
				_, _, _, err := f.app.SigningPassword(context.Background(), actor, application.SetSigningPassword{Password: "Sign1234x", Confirmation: "Sign1234x"})
				if kernel.CodeOf(err) != tc.code {
					t.Fatalf("err %v want %s", err, tc.code)
				}
			})
		}
	})
	t.Run("charging off: any verified user may", func(t *testing.T) {
		f := newFixture(t)
		verified(t, f, nil, false)
		f.keys.EXPECT().Generate(gomock.Any(), gomock.Any()).Return(ports.KeyMaterial{PublicKeyDER: []byte("P"), Wrapped: []byte("W")}, nil)
		f.ca.EXPECT().IssuePersonal(gomock.Any(), gomock.Any()).Return(ports.IssuedCertificate{SerialHex: "s", DER: []byte("D")}, nil)
		if _, _, _, err := f.app.SigningPassword(context.Background(), actor, application.SetSigningPassword{Password: "Sign1234x", Confirmation: "Sign1234x"}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("CA down: 503 and no certificate", func(t *testing.T) {
		f := newFixture(t)
		u := verified(t, f, nil, false)
		f.keys.EXPECT().Generate(gomock.Any(), gomock.Any()).Return(ports.KeyMaterial{PublicKeyDER: []byte("P"), Wrapped: []byte("W")}, nil)
		f.ca.EXPECT().IssuePersonal(gomock.Any(), gomock.Any()).Return(ports.IssuedCertificate{}, errors.New("hsm offline"))
		_, _, _, err := f.app.SigningPassword(context.Background(), actor, application.SetSigningPassword{Password: "Sign1234x", Confirmation: "Sign1234x"})
		if kernel.KindOf(err) != kernel.KindUnavailable || u.Certificate() != nil {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("wrong old password counts towards the lock", func(t *testing.T) {
		f := newFixture(t)
		u := verified(t, f, nil, false)
		_ = u.IssueCertificate(user.Certificate{Serial: "s", DER: []byte("D"), WrappedKey: []byte("W")}, f.now)
		f.keys.EXPECT().Rewrap(gomock.Any(), []byte("W"), "Wrong0000x", "Next5678y").Return(nil, kernel.Invalid("signing-password-wrong", "wrong"))
		_, _, _, err := f.app.SigningPassword(context.Background(), actor, application.SetSigningPassword{Password: "Next5678y", Confirmation: "Next5678y", OldPassword: "Wrong0000x"})
		var ke *kernel.Error
		if !errors.As(err, &ke) || ke.Code != "signing-password-wrong" || ke.Details["attempts_left"] != 4 {
			t.Fatalf("err %v", err)
		}
	})
}
