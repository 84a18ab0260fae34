package enterprise_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/kernel"
)

func orgCert() enterprise.OrgCertificate {
	return enterprise.OrgCertificate{Serial: "5e01", Subject: "O=" + entName, NotBefore: t0, NotAfter: t0.Add(2 * 365 * 24 * time.Hour),
		DER: []byte{0x30, 0x82, 0x02}, KeyPKCS8: []byte{0x30, 0x81, 0x87}}
}

func newEnterprise(t *testing.T) *enterprise.Enterprise {
	t.Helper()
	e, err := enterprise.NewFromVerification(eid, signed(t), t0)
	mustOK(t, err)
	return e
}

func TestNewFromVerification(t *testing.T) {
	for _, tc := range []struct {
		name   string
		v      func(t *testing.T) *enterprise.Verification
		method enterprise.Method
	}{
		{"signed letter", signed, enterprise.MethodLegalRepAuthorization},
		{"confirmed transfer", func(t *testing.T) *enterprise.Verification {
			v := remitted(t, 37)
			mustOK(t, v.ConfirmTransfer(kernel.Fen(37), scan, t0.Add(2*time.Hour)))
			return v
		}, enterprise.MethodBankTransfer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 11, 26, 18, 0, 0, 999, time.FixedZone("CST", 8*3600))
			e, err := enterprise.NewFromVerification(eid, tc.v(t), now)
			mustOK(t, err)
			want := enterprise.EnterpriseSnapshot{ID: eid, Name: entName, CreditCode: credit, LegalRepName: repName, LegalRepIDNumber: repID,
				Method: tc.method, VerificationID: vid, VerifiedAt: kernel.OccurredAt(now)}
			if got := e.Snapshot(); !reflect.DeepEqual(got, want) {
				t.Fatalf("enterprise %+v, want %+v", got, want)
			}
			if e.ID() != eid || e.Name() != entName || e.CreditCode() != credit || e.LegalRepName() != repName ||
				e.LegalRepIDNumber() != repID || e.Method() != tc.method || e.VerificationID() != vid ||
				!e.VerifiedAt().Equal(kernel.OccurredAt(now)) || e.VerifiedAt().Location() != time.UTC || e.Certificate() != nil {
				t.Fatalf("accessors %+v", e.Snapshot())
			}
			if evs := e.PullEvents(); len(evs) != 0 {
				t.Fatalf("events %v (the verification records EnterpriseVerified)", eventNames(evs))
			}
		})
	}
	for _, tc := range []struct {
		name string
		id   kernel.EnterpriseID
		v    func(t *testing.T) *enterprise.Verification
	}{
		{"no id", "", signed},
		{"nothing signed", eid, func(t *testing.T) *enterprise.Verification { return started(t, legalRep()) }},
		{"face check passed, unsigned", eid, linkReady},
		{"transfer remitted, unconfirmed", eid, func(t *testing.T) *enterprise.Verification { return remitted(t, 37) }},
		{"already verified", eid, func(t *testing.T) *enterprise.Verification {
			v := signed(t)
			mustOK(t, v.Complete(eid, t0))
			return v
		}},
		{"superseded", eid, func(t *testing.T) *enterprise.Verification {
			v := signed(t)
			v.Supersede(t0)
			return v
		}},
	} {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			e, err := enterprise.NewFromVerification(tc.id, tc.v(t), t0)
			wantErr(t, err, kernel.KindPrecondition, "verification-not-ready")
			if e != nil {
				t.Fatalf("enterprise returned with the error: %+v", e.Snapshot())
			}
		})
	}
}

func TestIssueCertificate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *enterprise.OrgCertificate)
	}{
		{"no serial", func(c *enterprise.OrgCertificate) { c.Serial = "" }},
		{"no DER", func(c *enterprise.OrgCertificate) { c.DER = nil }},
		{"no key", func(c *enterprise.OrgCertificate) { c.KeyPKCS8 = []byte{} }},
	} {
		t.Run("incomplete: "+tc.name, func(t *testing.T) {
			e := newEnterprise(t)
			c := orgCert()
			tc.change(&c)
			wantErr(t, e.IssueCertificate(c, t0), kernel.KindInvalid, "certificate-incomplete")
			if e.Certificate() != nil || len(e.PullEvents()) != 0 {
				t.Fatal("state changed on refusal")
			}
		})
	}
	t.Run("issued once", func(t *testing.T) {
		e := newEnterprise(t)
		now := t0.Add(time.Minute + 1)
		mustOK(t, e.IssueCertificate(orgCert(), now))
		want := orgCert()
		want.IssuedAt = kernel.OccurredAt(now)
		if got := e.Certificate(); got == nil || !reflect.DeepEqual(*got, want) {
			t.Fatalf("certificate %+v, want %+v", got, want)
		}
		evs := e.PullEvents()
		ev, ok := evs[0].(enterprise.OrgCertificateIssued)
		if len(evs) != 1 || !ok || ev.EnterpriseID != eid || ev.Serial != "5e01" || !ev.At.Equal(want.IssuedAt) {
			t.Fatalf("events %#v", evs)
		}
		other := orgCert()
		other.Serial = "5e02"
		wantErr(t, e.IssueCertificate(other, now.Add(time.Hour)), kernel.KindConflict, "org-certificate-exists")
		if e.Certificate().Serial != "5e01" || len(e.PullEvents()) != 0 {
			t.Fatal("second certificate installed")
		}
	})
	t.Run("bytes are copied, not shared", func(t *testing.T) {
		e := newEnterprise(t)
		in := orgCert()
		mustOK(t, e.IssueCertificate(in, t0))
		in.DER[0], in.KeyPKCS8[0] = 0xff, 0xff
		check := func(what string) {
			t.Helper()
			if c := e.Certificate(); c.DER[0] != 0x30 || c.KeyPKCS8[0] != 0x30 {
				t.Fatalf("%s reaches the aggregate's bytes", what)
			}
		}
		check("the caller's certificate")
		c := e.Certificate()
		c.DER[0], c.KeyPKCS8[0] = 0xff, 0xff
		check("Certificate()")
		s := e.Snapshot()
		s.Certificate.DER[0], s.Certificate.KeyPKCS8[0] = 0xff, 0xff
		check("Snapshot()")
		s = e.Snapshot()
		r := enterprise.EnterpriseFromSnapshot(s)
		s.Certificate.DER[0], s.Certificate.KeyPKCS8[0] = 0xff, 0xff
		if c := r.Certificate(); c.DER[0] != 0x30 || c.KeyPKCS8[0] != 0x30 {
			t.Fatal("EnterpriseFromSnapshot keeps the snapshot's bytes")
		}
	})
}

func TestEnterpriseSnapshotRoundTrip(t *testing.T) {
	plain := newEnterprise(t)
	withCert := newEnterprise(t)
	mustOK(t, withCert.IssueCertificate(orgCert(), t0))
	for name, e := range map[string]*enterprise.Enterprise{"no certificate": plain, "with certificate": withCert} {
		t.Run(name, func(t *testing.T) {
			s := e.Snapshot()
			r := enterprise.EnterpriseFromSnapshot(s)
			if got := r.Snapshot(); !reflect.DeepEqual(got, s) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, s)
			}
			if len(r.PullEvents()) != 0 {
				t.Fatal("EnterpriseFromSnapshot recorded events")
			}
		})
	}
	// A rehydrated enterprise with a certificate still refuses a second one.
	r := enterprise.EnterpriseFromSnapshot(withCert.Snapshot())
	wantErr(t, r.IssueCertificate(orgCert(), t0), kernel.KindConflict, "org-certificate-exists")
	// And one without may get its first.
	r = enterprise.EnterpriseFromSnapshot(plain.Snapshot())
	mustOK(t, r.IssueCertificate(orgCert(), t0))
}
