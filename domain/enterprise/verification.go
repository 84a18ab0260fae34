// Package enterprise holds enterprise verification (企业认证) and the verified Enterprise.
package enterprise

import (
	"bytes"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// Figures of DESIGN.md §3 and §7.
const (
	LinkTTL            = 7 * 24 * time.Hour
	LinkResendInterval = 60 * time.Second
	LinkSendsPerDay    = 10
	TransferConfirmTTL = 7 * 24 * time.Hour
	TransferWrongTries = 3
	TransfersPerDay    = 3
	MinDepositFen      = 1
	MaxDepositFen      = 99
)

// Role of the initiator.
type Role string

// Initiator roles.
const (
	RoleLegalRep Role = "legal_rep"
	RoleOperator Role = "operator"
)

// Method of verification.
type Method string

// Methods.
const (
	MethodLegalRepAuthorization Method = "legal_rep_authorization"
	MethodBankTransfer          Method = "bank_transfer"
)

// Status of a verification.
type Status string

// Statuses.
const (
	StatusInProgress Status = "in_progress"
	StatusVerified   Status = "verified"
	// StatusSuperseded: another verification of the same credit code finished first.
	StatusSuperseded Status = "superseded"
)

// Link is a signing link texted to the legal rep (operator-initiated authorization).
type Link struct {
	Token           string // the capability; stored encrypted and as a hash
	Phone           kernel.Phone
	IssuedAt        time.Time
	ExpiresAt       time.Time
	UsedAt          time.Time
	RevokedAt       time.Time
	PhoneVerifiedAt time.Time
	LivenessSession string
	LivenessURL     string
	LivenessPassed  time.Time
}

// Evidence is what proves the legal rep signed.
type Evidence struct {
	Channel         string // "app" or "link"
	OTPVerifiedAt   time.Time
	LivenessSession string // link only
	IP              string
	UserAgent       string
	// PhoneCheck names how the phone was proved ("sms-code:verify_phone" on the link, then the
	// "sms-code:sign" code bound to the document hash) and when.
	PhoneCheck      string    `json:",omitempty"`
	PhoneVerifiedAt time.Time `json:",omitzero"`
	// LivenessResultID is the face check provider's result reference (link only).
	LivenessResultID string `json:",omitempty"`
	// CertificateKind is "personal" (the signer's own key, opened by the signing password) or
	// "event" (a key made for this one signing and destroyed, its certificate binding
	// DocumentSHA256).
	CertificateKind string `json:",omitempty"`
	DocumentSHA256  string `json:",omitempty"`
}

// Signing is the signed authorization letter.
type Signing struct {
	SignedAt     time.Time
	LetterKey    string // storage key of the signed PDF
	SignatureKey string // storage key of the detached CMS signature (DER)
	LetterSHA256 string
	CertSerial   string
	CertDER      []byte
	Evidence     Evidence
}

// TransferStatus is the state of a micro-deposit.
type TransferStatus string

// Transfer states.
const (
	TransferRemitting   TransferStatus = "remitting"
	TransferRemitted    TransferStatus = "remitted"
	TransferRemitFailed TransferStatus = "remit_failed"
	TransferConfirmed   TransferStatus = "confirmed"
	TransferFailed      TransferStatus = "failed" // 3 wrong amounts, or expired
)

// Transfer is one micro-deposit to the corporate account.
type Transfer struct {
	ID            string
	AccountNumber string // stored encrypted; shown as its last 4 digits
	BankName      string
	Province      string
	Branch        string
	Amount        kernel.Money
	Status        TransferStatus
	RequestedAt   time.Time
	RemittedAt    time.Time
	FailureReason string
	WrongTries    int
	ScanFileID    kernel.FileID
}

// Verification is one attempt to verify an enterprise.
type Verification struct {
	kernel.Events

	id               kernel.VerificationID
	initiatorID      kernel.UserID
	role             Role
	enterpriseName   string
	creditCode       kernel.CreditCode
	legalRepName     string
	legalRepIDNumber kernel.IDNumber
	legalRepPhone    kernel.Phone
	licenceFileID    kernel.FileID
	agreementAt      time.Time
	method           Method
	status           Status
	links            []Link
	linkSendsDay     string
	linkSendsToday   int
	signing          *Signing
	transfer         *Transfer
	transfersDay     string
	transfersToday   int
	enterpriseID     kernel.EnterpriseID
	createdAt        time.Time
	updatedAt        time.Time
	version          int64
}

// Initiator is the verified identity of the user starting a verification.
type Initiator struct {
	UserID   kernel.UserID
	Name     string
	IDNumber kernel.IDNumber
	Verified bool
}

// StartParams are what the initiator gives (manual §5.1/§5.2).
type StartParams struct {
	ID                kernel.VerificationID
	Initiator         Initiator
	EnterpriseName    string
	CreditCode        kernel.CreditCode
	LegalRepName      string // from the business registry
	LegalRepIDNumber  kernel.IDNumber
	LegalRepPhone     kernel.Phone
	LicenceFileID     kernel.FileID
	AgreementAccepted bool
}

var cst = time.FixedZone("CST", 8*3600)

func day(t time.Time) string { return t.In(cst).Format("2006-01-02") }

// Start opens a verification. The initiator is the legal rep when the initiator's verified
// identity is the legal rep's (name and ID number), else an operator.
func Start(p StartParams, now time.Time) (*Verification, error) {
	switch {
	case !p.Initiator.Verified:
		return nil, kernel.Forbidden("real-name-required", "verify your real name before verifying an enterprise")
	case !p.AgreementAccepted:
		return nil, kernel.Invalid("agreement-required", "accept the agreement (agreement_accepted: true)")
	case p.ID == "" || p.EnterpriseName == "" || p.CreditCode.IsZero() || p.LegalRepName == "":
		return nil, kernel.Invalid("verification-incomplete", "enterprise name, credit code and legal representative are required")
	case p.LegalRepIDNumber.IsZero():
		return nil, kernel.Invalid("id-number-format", "the legal representative's ID number is required")
	case p.LegalRepPhone.IsZero():
		return nil, kernel.Invalid("phone-invalid", "the legal representative's phone is required")
	case p.LicenceFileID == "":
		return nil, kernel.Invalid("business-licence-required", "upload the business licence first")
	}
	role := RoleOperator
	if p.Initiator.Name == p.LegalRepName && p.Initiator.IDNumber == p.LegalRepIDNumber {
		role = RoleLegalRep
	}
	now = kernel.OccurredAt(now)
	v := &Verification{id: p.ID, initiatorID: p.Initiator.UserID, role: role, enterpriseName: p.EnterpriseName,
		creditCode: p.CreditCode, legalRepName: p.LegalRepName, legalRepIDNumber: p.LegalRepIDNumber,
		legalRepPhone: p.LegalRepPhone, licenceFileID: p.LicenceFileID, agreementAt: now,
		method: MethodLegalRepAuthorization, status: StatusInProgress, createdAt: now, updatedAt: now}
	v.Record(VerificationStarted{VerificationID: v.id, InitiatorID: v.initiatorID, Role: role, CreditCode: v.creditCode, At: now})
	return v, nil
}

// Accessors.
func (v *Verification) ID() kernel.VerificationID         { return v.id }
func (v *Verification) InitiatorID() kernel.UserID        { return v.initiatorID }
func (v *Verification) Role() Role                        { return v.role }
func (v *Verification) EnterpriseName() string            { return v.enterpriseName }
func (v *Verification) CreditCode() kernel.CreditCode     { return v.creditCode }
func (v *Verification) LegalRepName() string              { return v.legalRepName }
func (v *Verification) LegalRepIDNumber() kernel.IDNumber { return v.legalRepIDNumber }
func (v *Verification) LegalRepPhone() kernel.Phone       { return v.legalRepPhone }
func (v *Verification) LicenceFileID() kernel.FileID      { return v.licenceFileID }
func (v *Verification) Method() Method                    { return v.method }
func (v *Verification) Status() Status                    { return v.status }
func (v *Verification) EnterpriseID() kernel.EnterpriseID { return v.enterpriseID }
func (v *Verification) CreatedAt() time.Time              { return v.createdAt }
func (v *Verification) Version() int64                    { return v.version }

// Signing returns the signed letter, or nil.
func (v *Verification) Signing() *Signing {
	if v.signing == nil {
		return nil
	}
	s := *v.signing
	s.CertDER = bytes.Clone(s.CertDER)
	return &s
}

// Transfer returns the current micro-deposit, or nil.
func (v *Verification) Transfer() *Transfer {
	if v.transfer == nil {
		return nil
	}
	t := *v.transfer
	return &t
}

// CurrentLink returns the newest signing link, or nil.
func (v *Verification) CurrentLink() *Link {
	if len(v.links) == 0 {
		return nil
	}
	l := v.links[len(v.links)-1]
	return &l
}

// Links returns every link issued (for the store).
func (v *Verification) Links() []Link { return append([]Link(nil), v.links...) }

func (v *Verification) mustBeOpen() error {
	switch v.status {
	case StatusVerified:
		return kernel.Conflict("verification-finished", "this verification is finished")
	case StatusSuperseded:
		return kernel.Conflict("enterprise-already-verified", "this enterprise was verified by another verification; ask its admin to add you instead")
	}
	return nil
}

func (v *Verification) touch(now time.Time) time.Time {
	now = kernel.OccurredAt(now)
	v.updatedAt = now
	return now
}
