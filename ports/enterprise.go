package ports

import (
	"context"
	"crypto"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// RegistryEntry is an enterprise as the business registry knows it.
type RegistryEntry struct {
	Name         string
	CreditCode   kernel.CreditCode
	LegalRepName string
}

// BusinessRegistry looks enterprises up by their full registered name.
type BusinessRegistry interface {
	// LookupByName finds the enterprise with exactly this name; none is kernel not-found
	// "registry-enterprise-not-found".
	LookupByName(ctx context.Context, name string) (RegistryEntry, error)
	// CheckLegalRep is the enterprise four-factor check (name, credit code, legal rep name and
	// ID number): true when the registry's legal rep has this ID number. An unknown credit
	// code is not-found "registry-enterprise-not-found".
	CheckLegalRep(ctx context.Context, code kernel.CreditCode, legalRepName string, id kernel.IDNumber) (bool, error)
}

// RemitRequest asks the bank to send a micro-deposit to a corporate account.
type RemitRequest struct {
	// Reference identifies the transfer; a retried request with the same reference must not
	// send money twice.
	Reference     string
	AccountNumber string
	AccountName   string // the enterprise's name: the bank checks it against the account
	BankName      string
	Province      string
	Branch        string
	Amount        kernel.Money
}

// RemitResult is the bank's answer.
type RemitResult struct {
	Remitted bool
	Reason   string // when not remitted: short, no personal data
	BankRef  string
	At       time.Time
}

// BankRemitter sends micro-deposits.
type BankRemitter interface {
	Remit(ctx context.Context, req RemitRequest) (RemitResult, error)
}

// LetterData fills the authorization letter 《数信签授权书》.
type LetterData struct {
	VerificationID string
	EnterpriseName string
	CreditCode     string
	LegalRepName   string
	// LegalRepIDMasked is the legal rep's ID number, masked: the letter never prints it in clear.
	LegalRepIDMasked string
	OperatorName     string // empty when the legal rep initiated
	Date             time.Time
	// SignatureImage (PNG) and SignedAt are set on the signed letter.
	SignatureImage []byte
	SignedAt       time.Time
}

// DocumentRenderer makes the platform's PDF documents.
type DocumentRenderer interface {
	// AuthorizationLetter renders the letter; with data.SignatureImage it is the signed letter.
	AuthorizationLetter(data LetterData) ([]byte, error)
	// AuthorizationLetterTemplate is the blank letter to print, sign and scan.
	AuthorizationLetterTemplate() ([]byte, error)
}

// DocumentSigner makes detached CMS (PKCS#7) signatures.
type DocumentSigner interface {
	// SignDetached signs content with key, embedding the signer's certificate (and chain) and a
	// signature time-stamp token from the platform's TSA.
	SignDetached(ctx context.Context, content []byte, key crypto.Signer, certDER []byte, chainPEM []byte) ([]byte, error)
	// VerifyDetached checks a detached signature over content against the CA chain.
	VerifyDetached(content, signature []byte, chainPEM []byte) error
}

// KeyGenerator makes fresh signing keys (for one-time signing certificates and organisation keys).
type KeyGenerator interface {
	// NewKey returns an ECDSA P-256 key and its PKIX public key DER.
	NewKey() (crypto.Signer, []byte, error)
	// MarshalKey / UnmarshalKey convert a key to and from PKCS#8 DER (to be sealed before storing).
	MarshalKey(key crypto.Signer) ([]byte, error)
	UnmarshalKey(der []byte) (crypto.Signer, error)
}
