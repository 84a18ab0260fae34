package enterprise

import (
	"bytes"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// Snapshot is the persisted form of a Verification.
type Snapshot struct {
	ID               kernel.VerificationID
	InitiatorID      kernel.UserID
	Role             Role
	EnterpriseName   string
	CreditCode       kernel.CreditCode
	LegalRepName     string
	LegalRepIDNumber kernel.IDNumber
	LegalRepPhone    kernel.Phone
	LicenceFileID    kernel.FileID
	AgreementAt      time.Time
	Method           Method
	Status           Status
	Links            []Link
	LinkSendsDay     string
	LinkSendsToday   int
	Signing          *Signing
	Transfer         *Transfer
	TransfersDay     string
	TransfersToday   int
	EnterpriseID     kernel.EnterpriseID
	CreatedAt        time.Time
	UpdatedAt        time.Time
	Version          int64
}

// Snapshot returns the persisted form.
func (v *Verification) Snapshot() Snapshot {
	return Snapshot{ID: v.id, InitiatorID: v.initiatorID, Role: v.role, EnterpriseName: v.enterpriseName, CreditCode: v.creditCode,
		LegalRepName: v.legalRepName, LegalRepIDNumber: v.legalRepIDNumber, LegalRepPhone: v.legalRepPhone,
		LicenceFileID: v.licenceFileID, AgreementAt: v.agreementAt, Method: v.method, Status: v.status, Links: v.Links(),
		LinkSendsDay: v.linkSendsDay, LinkSendsToday: v.linkSendsToday, Signing: v.Signing(), Transfer: v.Transfer(),
		TransfersDay: v.transfersDay, TransfersToday: v.transfersToday, EnterpriseID: v.enterpriseID,
		CreatedAt: v.createdAt, UpdatedAt: v.updatedAt, Version: v.version}
}

// FromSnapshot rehydrates a Verification (adapters only).
func FromSnapshot(s Snapshot) *Verification {
	v := &Verification{id: s.ID, initiatorID: s.InitiatorID, role: s.Role, enterpriseName: s.EnterpriseName, creditCode: s.CreditCode,
		legalRepName: s.LegalRepName, legalRepIDNumber: s.LegalRepIDNumber, legalRepPhone: s.LegalRepPhone,
		licenceFileID: s.LicenceFileID, agreementAt: s.AgreementAt, method: s.Method, status: s.Status,
		links: append([]Link(nil), s.Links...), linkSendsDay: s.LinkSendsDay, linkSendsToday: s.LinkSendsToday,
		transfersDay: s.TransfersDay, transfersToday: s.TransfersToday, enterpriseID: s.EnterpriseID,
		createdAt: s.CreatedAt, updatedAt: s.UpdatedAt, version: s.Version}
	if s.Signing != nil {
		c := *s.Signing
		c.CertDER = bytes.Clone(c.CertDER)
		v.signing = &c
	}
	if s.Transfer != nil {
		c := *s.Transfer
		v.transfer = &c
	}
	return v
}
