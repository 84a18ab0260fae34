package contract

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/shuxinqian/server/adapters/ca"
	"github.com/shuxinqian/server/adapters/crypto"
	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/adapters/system"
	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/ports"
)

// crashingCA has the real CA issue every request and remembers each certificate; the first
// answer is lost: the process "crashes" after the CA issued and before the certificate was saved.
type crashingCA struct {
	ports.CertificateAuthority
	mu     sync.Mutex
	issued []*x509.Certificate
}

func (c *crashingCA) IssueOrganization(ctx context.Context, req ports.CertificateRequest) (ports.IssuedCertificate, error) {
	got, err := c.CertificateAuthority.IssueOrganization(ctx, req)
	if err != nil {
		return got, err
	}
	cert, err := x509.ParseCertificate(got.DER)
	if err != nil {
		return got, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.issued = append(c.issued, cert)
	if len(c.issued) == 1 {
		return ports.IssuedCertificate{}, errors.New("crash after issuing, before saving")
	}
	return got, nil
}

// A consumer crash between the CA's issuance and the save does not certify the enterprise
// twice: the retry repeats the request noted durably (same key, request id and time), and the
// CA answers it with the same certificate (same serial and validity).
func TestOrgCertificateSurvivesACrashBetweenIssueAndSave(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		seedPending(t, uow, 0)
		real, err := ca.Open(ca.Config{Dir: filepath.Join(t.TempDir(), "ca")})
		if err != nil {
			t.Fatal(err)
		}
		authority := &crashingCA{CertificateAuthority: real}
		app := application.New(application.Deps{UoW: uow, Clock: system.Clock{}, IDs: system.NewIDs(), CA: authority, KeyGen: crypto.KeyGen{}})
		ev := &enterprise.EnterpriseVerified{VerificationID: "v-bench", EnterpriseID: "e-bench", CreditCode: "91350100M000100Y43"}
		if err := app.IssueOrgCertificate(ctx, ev); err == nil {
			t.Fatal("the crash did not fail the first delivery")
		}
		for range 2 { // the redelivery, then a duplicate delivery
			if err := app.IssueOrgCertificate(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
		var saved *enterprise.OrgCertificate
		if err := uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			e, err := tx.Enterprises().Get(ctx, "e-bench")
			saved = e.Certificate()
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if saved == nil {
			t.Fatal("no certificate saved")
		}
		if len(authority.issued) != 2 {
			t.Fatalf("the CA was asked %d times, want 2 (the lost answer and the retry)", len(authority.issued))
		}
		first, retry := authority.issued[0], authority.issued[1]
		if first.SerialNumber.Cmp(retry.SerialNumber) != 0 || !first.NotBefore.Equal(retry.NotBefore) || !first.NotAfter.Equal(retry.NotAfter) ||
			!bytes.Equal(first.RawSubjectPublicKeyInfo, retry.RawSubjectPublicKeyInfo) || !bytes.Equal(first.RawSubject, retry.RawSubject) {
			t.Fatalf("the retry certified anew: serials %x / %x, validity %s / %s", first.SerialNumber, retry.SerialNumber, first.NotBefore, retry.NotBefore)
		}
		if !bytes.Equal(saved.DER, retry.Raw) {
			t.Fatal("the saved certificate is not the CA's answer")
		}
		key, err := crypto.KeyGen{}.UnmarshalKey(saved.KeyPKCS8)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := x509.MarshalPKIXPublicKey(key.Public())
		if err != nil || !bytes.Equal(pub, retry.RawSubjectPublicKeyInfo) {
			t.Fatalf("the saved key is not the certified one (%v)", err)
		}
		// Another enterprise's request gets another serial.
		other, err := real.IssueOrganization(ctx, ports.CertificateRequest{PublicKeyDER: pub, CommonName: "其他企业", Organization: "其他企业",
			SubjectSerial: "91350100M000100Y43", RequestID: "org-certificate/e-other", RequestedAt: first.NotBefore})
		if err != nil {
			t.Fatal(err)
		}
		if o, _ := x509.ParseCertificate(other.DER); o == nil || o.SerialNumber.Cmp(first.SerialNumber) == 0 {
			t.Fatal("two request ids got one serial")
		}
	})
}
