package enterprise

import (
	"bytes"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// OrgCertificate is the organisation certificate and its key (sealed by the store).
type OrgCertificate struct {
	Serial    string
	Subject   string
	NotBefore time.Time
	NotAfter  time.Time
	DER       []byte
	KeyPKCS8  []byte // the organisation's private key; the store keeps it encrypted
	IssuedAt  time.Time
}

// Enterprise is a verified enterprise.
type Enterprise struct {
	kernel.Events

	id               kernel.EnterpriseID
	name             string
	creditCode       kernel.CreditCode
	legalRepName     string
	legalRepIDNumber kernel.IDNumber
	method           Method
	verificationID   kernel.VerificationID
	verifiedAt       time.Time
	cert             *OrgCertificate
	deactivatedAt    time.Time
}

// NewFromVerification creates the enterprise a completed verification proved.
func NewFromVerification(id kernel.EnterpriseID, v *Verification, now time.Time) (*Enterprise, error) {
	if id == "" || !v.ReadyToComplete() {
		return nil, kernel.Precondition("verification-not-ready", "the verification has no signed letter or confirmed transfer")
	}
	return &Enterprise{id: id, name: v.enterpriseName, creditCode: v.creditCode, legalRepName: v.legalRepName,
		legalRepIDNumber: v.legalRepIDNumber, method: v.method, verificationID: v.id, verifiedAt: kernel.OccurredAt(now)}, nil
}

// EnterpriseSnapshot is the persisted form of an Enterprise.
type EnterpriseSnapshot struct {
	ID               kernel.EnterpriseID
	Name             string
	CreditCode       kernel.CreditCode
	LegalRepName     string
	LegalRepIDNumber kernel.IDNumber
	Method           Method
	VerificationID   kernel.VerificationID
	VerifiedAt       time.Time
	Certificate      *OrgCertificate
	// DeactivatedAt is when the platform deactivated the enterprise (zero: active).
	DeactivatedAt time.Time
}

// Snapshot returns the persisted form.
func (e *Enterprise) Snapshot() EnterpriseSnapshot {
	return EnterpriseSnapshot{ID: e.id, Name: e.name, CreditCode: e.creditCode, LegalRepName: e.legalRepName,
		LegalRepIDNumber: e.legalRepIDNumber, Method: e.method, VerificationID: e.verificationID, VerifiedAt: e.verifiedAt,
		Certificate: e.Certificate(), DeactivatedAt: e.deactivatedAt}
}

// EnterpriseFromSnapshot rehydrates an Enterprise (adapters only).
func EnterpriseFromSnapshot(s EnterpriseSnapshot) *Enterprise {
	e := &Enterprise{id: s.ID, name: s.Name, creditCode: s.CreditCode, legalRepName: s.LegalRepName, legalRepIDNumber: s.LegalRepIDNumber,
		method: s.Method, verificationID: s.VerificationID, verifiedAt: s.VerifiedAt, deactivatedAt: s.DeactivatedAt}
	if s.Certificate != nil {
		c := s.Certificate.clone()
		e.cert = &c
	}
	return e
}

func (c OrgCertificate) clone() OrgCertificate {
	c.DER, c.KeyPKCS8 = bytes.Clone(c.DER), bytes.Clone(c.KeyPKCS8)
	return c
}

// Accessors.
func (e *Enterprise) ID() kernel.EnterpriseID               { return e.id }
func (e *Enterprise) Name() string                          { return e.name }
func (e *Enterprise) CreditCode() kernel.CreditCode         { return e.creditCode }
func (e *Enterprise) LegalRepName() string                  { return e.legalRepName }
func (e *Enterprise) LegalRepIDNumber() kernel.IDNumber     { return e.legalRepIDNumber }
func (e *Enterprise) Method() Method                        { return e.method }
func (e *Enterprise) VerificationID() kernel.VerificationID { return e.verificationID }
func (e *Enterprise) VerifiedAt() time.Time                 { return e.verifiedAt }

// Certificate returns the organisation certificate, or nil while it is being issued.
func (e *Enterprise) Certificate() *OrgCertificate {
	if e.cert == nil {
		return nil
	}
	c := e.cert.clone()
	return &c
}

// IssueCertificate installs the organisation certificate once.
func (e *Enterprise) IssueCertificate(c OrgCertificate, now time.Time) error {
	if e.cert != nil {
		return kernel.Conflict("org-certificate-exists", "the organisation certificate is already issued")
	}
	if e.Deactivated() {
		return kernel.Precondition("enterprise-deactivated", "the enterprise is deactivated")
	}
	if c.Serial == "" || len(c.DER) == 0 || len(c.KeyPKCS8) == 0 {
		return kernel.Invalid("certificate-incomplete", "certificate needs a serial, DER and a key")
	}
	now = kernel.OccurredAt(now)
	c = c.clone()
	c.IssuedAt = now
	e.cert = &c
	e.Record(OrgCertificateIssued{EnterpriseID: e.id, Serial: c.Serial, At: now})
	return nil
}

// RevokeCertificate revokes the organisation certificate (deactivation, re-issue): its key is
// dropped with it, and the caller records the revocation with the CA. It returns the serial.
func (e *Enterprise) RevokeCertificate(reason string, now time.Time) (string, error) {
	if e.cert == nil {
		return "", kernel.Precondition("org-certificate-missing", "the enterprise has no organisation certificate")
	}
	now = kernel.OccurredAt(now)
	serial := e.cert.Serial
	clear(e.cert.KeyPKCS8)
	e.cert = nil
	e.Record(OrgCertificateRevoked{EnterpriseID: e.id, Serial: serial, Reason: reason, At: now})
	return serial, nil
}

// DeactivatedAt is when the platform deactivated the enterprise (zero while active).
func (e *Enterprise) DeactivatedAt() time.Time { return e.deactivatedAt }

// Deactivated reports whether the platform deactivated the enterprise.
func (e *Enterprise) Deactivated() bool { return !e.deactivatedAt.IsZero() }

// Deactivate ends the enterprise on the platform (the operations console): its organisation
// certificate, if issued, is revoked (the caller records the revocation with the CA; serial is
// "" when there was none) and no new one is issued.
func (e *Enterprise) Deactivate(reason string, now time.Time) (serial string, err error) {
	if e.Deactivated() {
		return "", kernel.Conflict("enterprise-deactivated", "the enterprise is already deactivated")
	}
	if e.cert != nil {
		if serial, err = e.RevokeCertificate(reason, now); err != nil {
			return "", err
		}
	}
	now = kernel.OccurredAt(now)
	e.deactivatedAt = now
	e.Record(Deactivated{EnterpriseID: e.id, Reason: reason, At: now})
	return serial, nil
}

// Deactivated: the platform deactivated an enterprise.
type Deactivated struct {
	EnterpriseID kernel.EnterpriseID `json:"enterprise_id"`
	Reason       string              `json:"reason"`
	At           time.Time           `json:"at"`
}

// EventName implements kernel.Event.
func (Deactivated) EventName() string { return "enterprise.deactivated" }
