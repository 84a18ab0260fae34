package ports

import (
	"context"
	"crypto"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// IdentityCheck is the outcome of checking a name and an ID number against the authority's
// records. Match=false is a normal answer (not an error); errors mean the check could not run.
type IdentityCheck struct {
	Match bool
	// Reason is a short, non-personal explanation when Match is false (e.g. "name and ID number do not match").
	Reason string
	// Reference is the provider's request id, kept as evidence.
	Reference string
}

// IdentityVerifier checks identities: id2 (name + ID number) and id3 (+ the phone's carrier record).
type IdentityVerifier interface {
	VerifyID2(ctx context.Context, name string, id kernel.IDNumber) (IdentityCheck, error)
	VerifyID3(ctx context.Context, name string, id kernel.IDNumber, phone kernel.Phone) (IdentityCheck, error)
}

// LivenessRequest starts a face liveness session for a claimed identity.
type LivenessRequest struct {
	Name     string
	IDNumber kernel.IDNumber
	// RedirectURL is where the provider's H5 page sends the person when done (may be empty).
	RedirectURL string
	// Reference is our own id for the session's purpose (e.g. "user:<id>"), echoed back by the provider.
	Reference string
}

// LivenessSession is a started session: the person opens URL to do the face check.
type LivenessSession struct {
	ID        string
	URL       string
	ExpiresAt time.Time
}

// LivenessStatus is where a session stands.
type LivenessStatus string

// Liveness statuses.
const (
	LivenessPending LivenessStatus = "pending"
	LivenessPassed  LivenessStatus = "passed"
	LivenessFailed  LivenessStatus = "failed"
)

// LivenessResult is what the provider says about a session. Name and IDNumber are the identity the
// provider actually verified; callers must compare them with the identity they expect.
type LivenessResult struct {
	Status    LivenessStatus
	Name      string
	IDNumber  kernel.IDNumber
	Reason    string
	Reference string
}

// LivenessVerifier runs face liveness sessions matched against the authority's photo.
type LivenessVerifier interface {
	Start(ctx context.Context, req LivenessRequest) (LivenessSession, error)
	// Result returns the session's state; an unknown session is kernel not-found "liveness-session-not-found".
	Result(ctx context.Context, sessionID string) (LivenessResult, error)
}

// CertificateRequest asks the CA for a certificate over a public key.
type CertificateRequest struct {
	// PublicKeyDER is the PKIX (SubjectPublicKeyInfo) DER of the key to certify.
	PublicKeyDER []byte
	// CommonName is the holder's name (a person's real name or an organisation's name).
	CommonName string
	// SubjectSerial is a stable pseudonymous identifier of the holder (never a clear ID number);
	// for organisations the unified social credit code.
	SubjectSerial string
	// Organization is set for organisation certificates.
	Organization string
	Validity     time.Duration
	// RequestID, when set, makes the request idempotent: the CA answers a repeated request ID
	// (with the same key, subject and RequestedAt) with the same certificate (the same serial
	// number and validity), so a retry after a crash between issuance and saving does not
	// certify the holder twice. The caller records the key and RequestedAt durably before
	// the first call (ports.EffectLog.Note).
	RequestID string
	// RequestedAt is when the request was first made (with RequestID): the validity starts there.
	RequestedAt time.Time
}

// IssuedCertificate is a certificate issued by the CA.
type IssuedCertificate struct {
	SerialHex string
	Subject   string
	NotBefore time.Time
	NotAfter  time.Time
	DER       []byte
}

// CertificateAuthority issues X.509 certificates.
type CertificateAuthority interface {
	IssuePersonal(ctx context.Context, req CertificateRequest) (IssuedCertificate, error)
	IssueOrganization(ctx context.Context, req CertificateRequest) (IssuedCertificate, error)
	// ChainPEM is the CA's certificate chain (root last), PEM encoded.
	ChainPEM() []byte
}

// KeyMaterial is a new key pair: its public key and the private key wrapped under the holder's
// password. There is no other copy of the private key.
type KeyMaterial struct {
	PublicKeyDER []byte // PKIX SubjectPublicKeyInfo
	Wrapped      []byte // opens only with the password (argon2id-derived key) and for its owner
}

// SigningKeys makes key pairs whose private key is kept wrapped under a key derived from a
// password (argon2id) and bound to its owner (e.g. "user:<id>/personal-signing"), so that only the
// holder of the password can sign, and a wrapped key copied to another owner does not open.
type SigningKeys interface {
	Generate(owner, password string) (KeyMaterial, error)
	// Unwrap opens the private key for one operation; a wrong password (or another owner) is the
	// kernel error "signing-password-wrong". upgraded, when not nil, is the key re-wrapped in the
	// current envelope format: store it in place of wrapped.
	Unwrap(owner string, wrapped []byte, password string) (key crypto.Signer, upgraded []byte, err error)
	// Rewrap re-encrypts the private key under a new password, proving the old one.
	Rewrap(owner string, wrapped []byte, oldPassword, newPassword string) ([]byte, error)
}

// FileStore keeps file contents by key (local disk by default).
type FileStore interface {
	Put(ctx context.Context, key string, data []byte) error
	// Get returns the contents; a missing key is kernel not-found "file-not-found".
	Get(ctx context.Context, key string) ([]byte, error)
	Delete(ctx context.Context, key string) error
}

// SignatureRenderer draws a signature appearance (transparent PNG) from a name.
type SignatureRenderer interface {
	RenderSignature(name string) ([]byte, error)
}
