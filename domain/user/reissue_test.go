package user_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/user"
)

func TestReissueCertificate(t *testing.T) {
	u := withCertificate(t)
	// Locked by wrong passwords: a reset clears the lock.
	for range user.MaxSigningFailures {
		u.SigningPasswordFailed(rnNow)
	}
	u.PullEvents()
	next := testCertificate()
	next.Serial, next.WrappedKey = "7f3a02", []byte("wrapped-2")
	old, err := u.ReissueCertificate(next, "signing_password_reset", rnNow.Add(time.Minute))
	if err != nil || old != "7f3a01" {
		t.Fatalf("old %q err %v", old, err)
	}
	c := u.Certificate()
	if c.Serial != "7f3a02" || c.Status != user.CertificateActive || !bytes.Equal(c.WrappedKey, []byte("wrapped-2")) {
		t.Fatalf("certificate %+v", c)
	}
	if err := u.CanUseSigningKey(rnNow.Add(time.Minute)); err != nil {
		t.Fatalf("still locked: %v", err)
	}
	evs := u.PullEvents()
	if len(evs) != 3 {
		t.Fatalf("events %v", evs)
	}
	if r, ok := evs[0].(user.PersonalCertificateRevoked); !ok || r.Serial != "7f3a01" || r.Reason != "signing_password_reset" {
		t.Fatalf("first event %#v", evs[0])
	}
	// Refusals: the same serial, an incomplete certificate, no certificate at all.
	same := testCertificate()
	same.Serial = "7f3a02"
	if _, err := u.ReissueCertificate(same, "x", rnNow); kernel.CodeOf(err) != "certificate-incomplete" {
		t.Fatalf("same serial: %v", err)
	}
	if _, err := u.ReissueCertificate(user.Certificate{Serial: "z"}, "x", rnNow); kernel.CodeOf(err) != "certificate-incomplete" {
		t.Fatalf("incomplete: %v", err)
	}
	if _, err := verified(t).ReissueCertificate(next, "x", rnNow); kernel.CodeOf(err) != "certificate-missing" {
		t.Fatalf("no certificate: %v", err)
	}
}

func TestRevokeCertificateAndUpgrade(t *testing.T) {
	u := withCertificate(t)
	u.UpgradeWrappedKey("other-serial", []byte("v2"), rnNow)
	if !bytes.Equal(u.Certificate().WrappedKey, []byte("wrapped-1")) {
		t.Fatal("upgraded another certificate's key")
	}
	u.UpgradeWrappedKey("7f3a01", []byte("v2"), rnNow)
	if !bytes.Equal(u.Certificate().WrappedKey, []byte("v2")) || len(u.PullEvents()) != 0 {
		t.Fatal("upgrade not stored, or it recorded an event")
	}
	serial, err := u.RevokeCertificate("reissue", rnNow)
	if err != nil || serial != "7f3a01" || u.Certificate().Status != user.CertificateRevoked {
		t.Fatalf("revoke %q %v", serial, err)
	}
	if err := u.CanUseSigningKey(rnNow); kernel.CodeOf(err) != "certificate-missing" {
		t.Fatalf("a revoked key signs: %v", err)
	}
	if _, err := u.RevokeCertificate("again", rnNow); kernel.CodeOf(err) != "certificate-missing" {
		t.Fatalf("revoked twice: %v", err)
	}
}
