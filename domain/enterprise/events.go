package enterprise

import (
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// Events carry no personal data: no names of people, ID numbers, phones or accounts.

// VerificationStarted: an enterprise verification was started.
type VerificationStarted struct {
	VerificationID kernel.VerificationID `json:"verification_id"`
	InitiatorID    kernel.UserID         `json:"initiator_id"`
	Role           Role                  `json:"role"`
	CreditCode     kernel.CreditCode     `json:"credit_code"`
	At             time.Time             `json:"at"`
}

// EventName implements kernel.Event.
func (VerificationStarted) EventName() string { return "enterprise.verification_started" }

// AuthorizationLinkIssued: a signing link was sent to the legal rep.
type AuthorizationLinkIssued struct {
	VerificationID kernel.VerificationID `json:"verification_id"`
	ExpiresAt      time.Time             `json:"expires_at"`
	At             time.Time             `json:"at"`
}

// EventName implements kernel.Event.
func (AuthorizationLinkIssued) EventName() string { return "enterprise.authorization_link_issued" }

// LegalRepPhoneChanged: the operator corrected the legal rep's phone.
type LegalRepPhoneChanged struct {
	VerificationID kernel.VerificationID `json:"verification_id"`
	At             time.Time             `json:"at"`
}

// EventName implements kernel.Event.
func (LegalRepPhoneChanged) EventName() string { return "enterprise.legal_rep_phone_changed" }

// AuthorizationLetterSigned: the legal rep signed the authorization letter.
type AuthorizationLetterSigned struct {
	VerificationID kernel.VerificationID `json:"verification_id"`
	Channel        string                `json:"channel"`
	LetterSHA256   string                `json:"letter_sha256"`
	At             time.Time             `json:"at"`
}

// EventName implements kernel.Event.
func (AuthorizationLetterSigned) EventName() string { return "enterprise.authorization_letter_signed" }

// BankTransferRequested: a micro-deposit must be sent (by the remittance consumer).
type BankTransferRequested struct {
	VerificationID kernel.VerificationID `json:"verification_id"`
	TransferID     string                `json:"transfer_id"`
	At             time.Time             `json:"at"`
}

// EventName implements kernel.Event.
func (BankTransferRequested) EventName() string { return "enterprise.bank_transfer_requested" }

// BankTransferConfirmed: the user confirmed the right amount.
type BankTransferConfirmed struct {
	VerificationID kernel.VerificationID `json:"verification_id"`
	TransferID     string                `json:"transfer_id"`
	At             time.Time             `json:"at"`
}

// EventName implements kernel.Event.
func (BankTransferConfirmed) EventName() string { return "enterprise.bank_transfer_confirmed" }

// EnterpriseVerified: the enterprise is verified (the organisation certificate follows).
type EnterpriseVerified struct {
	VerificationID kernel.VerificationID `json:"verification_id"`
	EnterpriseID   kernel.EnterpriseID   `json:"enterprise_id"`
	CreditCode     kernel.CreditCode     `json:"credit_code"`
	InitiatorID    kernel.UserID         `json:"initiator_id"`
	Role           Role                  `json:"role"`
	Method         Method                `json:"method"`
	At             time.Time             `json:"at"`
}

// EventName implements kernel.Event.
func (EnterpriseVerified) EventName() string { return "enterprise.verified" }

// OrgCertificateIssued: the organisation certificate was issued.
type OrgCertificateIssued struct {
	EnterpriseID kernel.EnterpriseID `json:"enterprise_id"`
	Serial       string              `json:"serial"`
	At           time.Time           `json:"at"`
}

// EventName implements kernel.Event.
func (OrgCertificateIssued) EventName() string { return "enterprise.org_certificate_issued" }

// OrgCertificateRevoked: the organisation certificate was revoked.
type OrgCertificateRevoked struct {
	EnterpriseID kernel.EnterpriseID `json:"enterprise_id"`
	Serial       string              `json:"serial"`
	Reason       string              `json:"reason"`
	At           time.Time           `json:"at"`
}

// EventName implements kernel.Event.
func (OrgCertificateRevoked) EventName() string { return "enterprise.org_certificate_revoked" }
