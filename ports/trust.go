package ports

import (
	"context"
	"crypto"
	"time"
)

// Trust services: trusted time (RFC 3161), revocation (CRL, OCSP) and signature verification.
// Issue 15's PDF signing builds on OneTimeSigner (see application.SignWithPersonalKey and
// application.SignWithOrganisationKey) and on TimeStampAuthority.

// TimeStampAuthority gives RFC 3161 time-stamp tokens: the sandbox TSA in process, or a
// qualified TSA reached by URL.
type TimeStampAuthority interface {
	// Timestamp returns the DER of a TimeStampToken (a CMS ContentInfo of SignedData over TSTInfo)
	// over a SHA-256 digest. The token is checked (imprint, signature) before it is returned.
	Timestamp(ctx context.Context, sha256Digest []byte) ([]byte, error)
	// ChainPEM is the TSA certificate's chain (PEM, up to its root), to verify tokens offline.
	ChainPEM() []byte
}

// TimeStampResponder answers RFC 3161 time-stamp queries (application/timestamp-query →
// application/timestamp-reply): the sandbox TSA served at POST /api/v1/tsa.
type TimeStampResponder interface {
	Respond(ctx context.Context, query []byte) ([]byte, error)
}

// OneTimeSigner is a private key opened for one signing operation with its certificate. Sign
// is crypto.Signer's (a digest in, a signature out); the key is dropped when the callback that
// received it returns, so callers must not keep it.
type OneTimeSigner struct {
	Signer         crypto.Signer
	CertificateDER []byte
	// ChainPEM is the issuing chain (issuing CA, root) to embed beside the certificate.
	ChainPEM []byte
}

// Revocation reasons (RFC 5280 §5.3.1 CRLReason) the platform uses.
const (
	ReasonUnspecified          = 0
	ReasonKeyCompromise        = 1
	ReasonAffiliationChanged   = 3
	ReasonSuperseded           = 4
	ReasonCessationOfOperation = 5
)

// Revocation is one revoked certificate, recorded durably: the CRL and OCSP answers are built
// from these records, so every instance answers the same.
type Revocation struct {
	SerialHex string
	Reason    int
	RevokedAt time.Time
	// Kind is personal, organization or event; Owner the user or enterprise id.
	Kind  string
	Owner string
}

// RevocationRepository keeps the revocation records.
type RevocationRepository interface {
	// Add records a revocation; a serial already revoked keeps its first record (no error).
	Add(ctx context.Context, r Revocation) error
	// Get returns the revocation of a serial; ok is false when it is not revoked.
	Get(ctx context.Context, serialHex string) (r Revocation, ok bool, err error)
	// List returns every revocation, oldest first.
	List(ctx context.Context) ([]Revocation, error)
}

// RevocationSigner signs the CA's revocation information with the issuing CA key.
type RevocationSigner interface {
	// CRL returns a DER CRL listing revoked (reasons included), valid from now to nextUpdate.
	CRL(revoked []Revocation, now, nextUpdate time.Time) ([]byte, error)
	// OCSP answers a DER OCSP request; status tells whether a serial is revoked. A request for
	// another issuer is answered "unauthorized"; a malformed request "malformedRequest".
	OCSP(request []byte, status func(serialHex string) (Revocation, bool, error), now time.Time) ([]byte, error)
}

// EventCertificateRequest asks for an event certificate (事件证书): a certificate for a key made
// for one signing, binding the verified identity and the SHA-256 of the exact document signed.
type EventCertificateRequest struct {
	CertificateRequest
	DocumentSHA256 []byte
}

// EventCertificateAuthority issues event certificates.
type EventCertificateAuthority interface {
	IssueEvent(ctx context.Context, req EventCertificateRequest) (IssuedCertificate, error)
}

// SignatureReport is what a verifier found about one signature.
type SignatureReport struct {
	Signer            string // the signing certificate's subject
	CertificateSerial string // hex
	CertificateDER    []byte
	// SignedAt is the trusted time (the time-stamp token's genTime) when Timestamped, else the
	// signer's claimed signing time.
	SignedAt    time.Time
	Timestamped bool
	// CoversWholeDocument: the signature covers every byte given (always true for detached CMS).
	CoversWholeDocument bool
	// Intact: the content's digest and the signature value verify.
	Intact bool
	// ChainValid: the certificate chains to the platform CA and was valid at SignedAt.
	ChainValid bool
	// DocumentSHA256 is the hash an event certificate binds (empty for other certificates), and
	// DocumentBound tells whether it equals the signed content's hash.
	DocumentSHA256 string
	DocumentBound  bool
	Problems       []string
	// Kind is "seal" when the signing certificate is an organisation's (its subject names an
	// organisation), else "personal"; SignerName is the organisation's name or the person's.
	Kind       string
	SignerName string
	// ModifiedAfter: later revisions of a PDF changed more than adding signatures (and their
	// fields, appearances and validation data). Always false for a detached CMS.
	ModifiedAfter bool
}

// SignatureInspector reports on detached CMS signatures (never an error for a bad signature:
// the report says what is wrong; errors are for the platform's own failures).
type SignatureInspector interface {
	InspectDetached(content, signature []byte, caChainPEM, tsaChainPEM []byte) (SignatureReport, error)
}

// PDFSignatureVerifier reports on the signatures of a signed PDF (issue 15 plugs it in; until
// then the verification service answers 422 pdf-not-supported-yet).
type PDFSignatureVerifier interface {
	InspectPDF(ctx context.Context, pdf []byte, caChainPEM, tsaChainPEM []byte) ([]SignatureReport, error)
}
