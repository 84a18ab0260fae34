package application_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"go.uber.org/mock/gomock"

	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/membership"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/ports/mocks"
)

// holder is a verified user with an active personal certificate whose key is wrapped as "W".
func holder(t *testing.T, f *fixture) *user.User {
	t.Helper()
	u := onChannel(t, f, nil, false)
	if err := u.StartRealName(user.Identity{Name: "张三", IDNumber: validID, Method: "id2"}, f.now); err != nil {
		t.Fatal(err)
	}
	if err := u.RealNameSucceeded(f.now); err != nil {
		t.Fatal(err)
	}
	if err := u.IssueCertificate(user.Certificate{Serial: "s1", DER: []byte("D"), WrappedKey: []byte("W")}, f.now); err != nil {
		t.Fatal(err)
	}
	u.PullEvents()
	return u
}

func TestSignWithPersonalKey(t *testing.T) {
	const owner = "user:u1/personal-signing"
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	t.Run("the signing password opens the key for the callback only", func(t *testing.T) {
		f := newFixture(t)
		holder(t, f)
		f.keys.EXPECT().Unwrap(owner, []byte("W"), "Sign1234x").Return(key, nil, nil)
		f.ca.EXPECT().ChainPEM().Return([]byte("CHAIN"))
		called := 0
		err := f.app.SignWithPersonalKey(context.Background(), actor, "Sign1234x", func(k ports.OneTimeSigner) error {
			called++
			if k.Signer != key || string(k.CertificateDER) != "D" || string(k.ChainPEM) != "CHAIN" {
				t.Fatalf("signer %+v", k)
			}
			return nil
		})
		if err != nil || called != 1 {
			t.Fatalf("err %v, called %d", err, called)
		}
	})
	t.Run("an old envelope is re-wrapped bound to its owner", func(t *testing.T) {
		f := newFixture(t)
		u := holder(t, f)
		f.keys.EXPECT().Unwrap(owner, []byte("W"), "Sign1234x").Return(key, []byte("W2"), nil)
		f.ca.EXPECT().ChainPEM().Return(nil)
		if err := f.app.SignWithPersonalKey(context.Background(), actor, "Sign1234x", func(ports.OneTimeSigner) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if string(u.Certificate().WrappedKey) != "W2" {
			t.Fatal("the upgraded envelope was not stored")
		}
	})
	t.Run("a wrong password counts towards the lock and signs nothing", func(t *testing.T) {
		f := newFixture(t)
		u := holder(t, f)
		f.keys.EXPECT().Unwrap(owner, []byte("W"), gomock.Any()).Return(nil, nil, kernel.Invalid("signing-password-wrong", "wrong")).Times(user.MaxSigningFailures)
		for left := user.MaxSigningFailures - 1; left >= 0; left-- {
			err := f.app.SignWithPersonalKey(context.Background(), actor, "Wrong0000x", func(ports.OneTimeSigner) error {
				t.Fatal("signed with a wrong password")
				return nil
			})
			var ke *kernel.Error
			if !errors.As(err, &ke) {
				t.Fatalf("err %v", err)
			}
			if left > 0 && (ke.Code != "signing-password-wrong" || ke.Details["attempts_left"] != left) {
				t.Fatalf("err %v details %v, want %d left", err, ke.Details, left)
			}
			if left == 0 && ke.Code != "signing-locked" {
				t.Fatalf("fifth wrong try: %v", err)
			}
		}
		// Locked: the right password is not even tried (Unwrap is not called again).
		err := f.app.SignWithPersonalKey(context.Background(), actor, "Sign1234x", func(ports.OneTimeSigner) error { return nil })
		if kernel.CodeOf(err) != "signing-locked" || u.CanUseSigningKey(f.now) == nil {
			t.Fatalf("locked: %v", err)
		}
	})
	t.Run("no password: nothing is unwrapped", func(t *testing.T) {
		f := newFixture(t)
		holder(t, f)
		err := f.app.SignWithPersonalKey(context.Background(), actor, "", func(ports.OneTimeSigner) error { return nil })
		if kernel.CodeOf(err) != "signing-password-required" {
			t.Fatalf("err %v", err)
		}
	})
}

func TestVerifySignaturesStatusAtSigningTime(t *testing.T) {
	signedAt := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		revoked     *ports.Revocation
		timestamped bool
		status      string
		trusted     bool
	}{
		"never revoked":                    {nil, true, "good", true},
		"revoked after the signing":        {&ports.Revocation{SerialHex: "aa", RevokedAt: signedAt.Add(time.Hour)}, true, "good", true},
		"revoked before the signing":       {&ports.Revocation{SerialHex: "aa", RevokedAt: signedAt.Add(-time.Hour)}, true, "revoked", false},
		"revoked, no trusted signing time": {&ports.Revocation{SerialHex: "aa", RevokedAt: signedAt.Add(time.Hour)}, false, "unknown", false},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			inspector := mocks.NewMockSignatureInspector(f.ctrl)
			revs := mocks.NewMockRevocationRepository(f.ctrl)
			tsa := mocks.NewMockTimeStampAuthority(f.ctrl)
			f.tx.EXPECT().Revocations().Return(revs).AnyTimes()
			app := application.New(application.Deps{UoW: f.uow, Clock: f.clock, CA: f.ca, Inspector: inspector, TSA: tsa})
			f.ca.EXPECT().ChainPEM().Return([]byte("CA")).AnyTimes()
			tsa.EXPECT().ChainPEM().Return([]byte("TSA")).AnyTimes()
			inspector.EXPECT().InspectDetached([]byte("doc"), []byte("sig"), []byte("CA"), []byte("TSA")).Return(ports.SignatureReport{
				CertificateSerial: "aa", SignedAt: signedAt, Timestamped: tc.timestamped, Intact: true, ChainValid: true, CoversWholeDocument: true}, nil)
			if tc.revoked != nil {
				revs.EXPECT().Get(gomock.Any(), "aa").Return(*tc.revoked, true, nil)
			} else {
				revs.EXPECT().Get(gomock.Any(), "aa").Return(ports.Revocation{}, false, nil)
			}
			out, err := app.VerifySignatures(context.Background(), []byte("doc"), []byte("sig"), nil)
			if err != nil || len(out) != 1 || out[0].CertificateStatus != tc.status || out[0].Trusted != tc.trusted {
				t.Fatalf("%+v %v", out, err)
			}
		})
	}
	t.Run("a PDF without a PDF verifier", func(t *testing.T) {
		f := newFixture(t)
		f.ca.EXPECT().ChainPEM().Return([]byte("CA")).AnyTimes()
		_, err := f.app.VerifySignatures(context.Background(), nil, nil, []byte("%PDF-"))
		if kernel.CodeOf(err) != "pdf-not-supported-yet" || kernel.KindOf(err) != kernel.KindPrecondition {
			t.Fatalf("err %v", err)
		}
	})
}

func TestSignWithOrganisationKey(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	setup := func(t *testing.T, authorized bool) (*fixture, *application.App, *mocks.MockKeyGenerator) {
		f := newFixture(t)
		holder(t, f)
		ms := mocks.NewMockMembershipRepository(f.ctrl)
		es := mocks.NewMockEnterpriseRepository(f.ctrl)
		kg := mocks.NewMockKeyGenerator(f.ctrl)
		f.tx.EXPECT().Memberships().Return(ms).AnyTimes()
		f.tx.EXPECT().Enterprises().Return(es).AnyTimes()
		m, _ := membership.Founder("m1", "e1", "u1", membership.RoleMember, f.now)
		m.CertAuthorized = authorized
		ms.EXPECT().Current(gomock.Any(), kernel.EnterpriseID("e1"), kernel.UserID("u1")).Return(m, nil).AnyTimes()
		es.EXPECT().Get(gomock.Any(), kernel.EnterpriseID("e1")).Return(enterprise.EnterpriseFromSnapshot(enterprise.EnterpriseSnapshot{ID: "e1",
			Certificate: &enterprise.OrgCertificate{Serial: "o1", DER: []byte("ORG"), KeyPKCS8: []byte("PKCS8")}}), nil).AnyTimes()
		app := application.New(application.Deps{UoW: f.uow, Clock: f.clock, CA: f.ca, Keys: f.keys, KeyGen: kg})
		return f, app, kg
	}
	t.Run("an authorized member with the own signing password", func(t *testing.T) {
		f, app, kg := setup(t, true)
		f.keys.EXPECT().Unwrap("user:u1/personal-signing", []byte("W"), "Sign1234x").Return(key, nil, nil)
		f.ca.EXPECT().ChainPEM().Return([]byte("CHAIN")).AnyTimes()
		kg.EXPECT().UnmarshalKey([]byte("PKCS8")).Return(key, nil)
		var got ports.OneTimeSigner
		if err := app.SignWithOrganisationKey(context.Background(), actor, "e1", "Sign1234x", func(k ports.OneTimeSigner) error { got = k; return nil }); err != nil {
			t.Fatal(err)
		}
		if string(got.CertificateDER) != "ORG" || got.Signer == nil {
			t.Fatalf("signer %+v", got)
		}
	})
	t.Run("a member not authorized to use the organisation certificate", func(t *testing.T) {
		_, app, _ := setup(t, false)
		err := app.SignWithOrganisationKey(context.Background(), actor, "e1", "Sign1234x", func(ports.OneTimeSigner) error {
			t.Fatal("signed")
			return nil
		})
		if kernel.CodeOf(err) != "org-certificate-not-authorized" {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("a wrong own password: no organisation key", func(t *testing.T) {
		f, app, _ := setup(t, true)
		f.keys.EXPECT().Unwrap(gomock.Any(), gomock.Any(), "Wrong0000x").Return(nil, nil, kernel.Invalid("signing-password-wrong", "wrong"))
		err := app.SignWithOrganisationKey(context.Background(), actor, "e1", "Wrong0000x", func(ports.OneTimeSigner) error {
			t.Fatal("signed")
			return nil
		})
		if kernel.CodeOf(err) != "signing-password-wrong" {
			t.Fatalf("err %v", err)
		}
	})
}
