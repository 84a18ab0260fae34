// Package ports declares the interfaces the application depends on. Every implementation, driving
// or driven, lives in adapters/. This package imports only the domain and the standard library.
package ports

//go:generate go tool mockgen -typed -destination=mocks/mocks.go -package=mocks github.com/shuxinqian/server/ports Clock,IDs,Random,PasswordHasher,Secrets,Cipher,SMSSender,UnitOfWork,Tx,UserRepository,CodeRepository,SessionRepository,AuditLog,Inbox,ChannelRepository,FileRepository,SignatureRepository,ConsentLog,IdentityVerifier,LivenessVerifier,CertificateAuthority,SigningKeys,FileStore,SignatureRenderer,QRCoder,BusinessRegistry,BankRemitter,DocumentRenderer,DocumentSigner,KeyGenerator,VerificationRepository,EnterpriseRepository,MembershipRepository,OrderRepository,QuotaLedger,PaymentAnomalies,IdempotencyKeys,PaymentGateway,InvoiceRepository,InvoiceIssuer,TimeStampAuthority,RevocationRepository,RevocationSigner,EventCertificateAuthority,SignatureInspector,PDFSignatureVerifier,EffectLog,AttemptCounter,RefundRepository,QuotaUsage,RefundGateway

import (
	"context"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/otp"
	"github.com/shuxinqian/server/domain/session"
	"github.com/shuxinqian/server/domain/user"
)

// Clock tells the time. Tests control it.
type Clock interface {
	Now() time.Time
}

// IDs makes new unique, roughly time-ordered identifiers.
type IDs interface {
	NewID() string
}

// Random gives cryptographically secure randomness.
type Random interface {
	// Digits returns n decimal digits (SMS codes).
	Digits(n int) (string, error)
	// Token returns a URL-safe token of the given number of random bytes (session tokens: 32).
	Token(bytes int) (string, error)
	// IntN returns a uniform integer in [0, n).
	IntN(n int) (int, error)
}

// PasswordHasher hashes and checks passwords (argon2id in production).
type PasswordHasher interface {
	Hash(plain string) (string, error)
	// Verify compares in constant time; a malformed hash is an error, a mismatch is (false, nil).
	Verify(hash, plain string) (bool, error)
}

// Secrets derives keyed digests from the platform's secret key: SMS code hashes and the blind
// indexes used to look personal data up without storing it in clear.
type Secrets interface {
	// Digest returns a hex HMAC-SHA256 of value under a key derived for the given domain
	// (e.g. "otp", "phone", "ip"). Stable for the life of the key.
	Digest(domain, value string) string
}

// Cipher encrypts personal data at rest (AES-256-GCM). aad binds a ciphertext to where it is
// stored (e.g. "users.phone"), so a value copied to another column does not open.
type Cipher interface {
	Seal(plaintext []byte, aad string) ([]byte, error)
	Open(ciphertext []byte, aad string) ([]byte, error)
}

// SMS is one text message.
type SMS struct {
	Phone kernel.Phone
	// Template names the provider template ("login_code", "welcome"...); Params fill it.
	Template string
	Params   map[string]string
	// Text is the rendered message (what the sandbox shows; real providers render templates).
	Text string
	// IdempotencyKey lets a sender drop a retried message it already sent (may be empty).
	IdempotencyKey string
}

// SMSSender sends text messages.
type SMSSender interface {
	Send(ctx context.Context, msg SMS) error
}

// UnitOfWork runs a function in one database transaction. Events drained from aggregates saved
// through the transaction's repositories are written to the outbox in that same transaction.
// The commit error is returned: a failed commit is a failed unit of work.
type UnitOfWork interface {
	// Do runs fn in a read-write transaction; fn's error rolls back.
	Do(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// Read runs fn without a transaction, for queries; writes through it fail.
	Read(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// Autocommit runs fn without a transaction of its own, for a write that is one statement and
	// atomic by itself (e.g. AuditLog.AppendOnce): no BEGIN and no COMMIT beyond the statement's.
	// fn must not record domain events (they need the outbox in a transaction): that is an
	// error, reported after fn's statements ran.
	Autocommit(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
}

// Tx gives the repositories bound to one unit of work.
type Tx interface {
	Users() UserRepository
	Codes() CodeRepository
	Sessions() SessionRepository
	Audit() AuditLog
	Inbox() Inbox
	Channels() ChannelRepository
	Files() FileRepository
	Signatures() SignatureRepository
	Consents() ConsentLog
	Verifications() VerificationRepository
	Enterprises() EnterpriseRepository
	Memberships() MembershipRepository
	Orders() OrderRepository
	Quota() QuotaLedger
	Anomalies() PaymentAnomalies
	Idempotency() IdempotencyKeys
	Invoices() InvoiceRepository
	Revocations() RevocationRepository
	Seals() SealRepository
	SignFlows() SignFlowRepository
	Effects() EffectLog
	Attempts() AttemptCounter
	Refunds() RefundRepository
	QuotaUsage() QuotaUsage
	// The platform console (application/operators).
	Operators() OperatorRepository
	OperatorAudit() OperatorAuditLog
	Banners() BannerRepository
	DeadLetters() DeadLetterQueue
	ChannelAdmin() ChannelAdmin
	Console() ConsoleDirectory
	Webhooks() WebhookRepository
}

// UserRepository stores users. Phones are kept encrypted with a blind index.
type UserRepository interface {
	// Add inserts a new user; a taken phone is a kernel conflict "phone-taken".
	Add(ctx context.Context, u *user.User) error
	// Get loads a user; missing → kernel not-found "user-not-found".
	Get(ctx context.Context, id kernel.UserID) (*user.User, error)
	// GetByPhone loads a user by phone; missing → "user-not-found".
	GetByPhone(ctx context.Context, phone kernel.Phone) (*user.User, error)
	// Update loads the user under a row lock, applies fn and saves it with its events. A
	// verified ID number already verified by another account is the conflict "id-number-taken".
	Update(ctx context.Context, id kernel.UserID, fn func(u *user.User) error) error
	// IDNumberTaken reports whether another account has verified this ID number.
	IDNumberTaken(ctx context.Context, id kernel.IDNumber, except kernel.UserID) (bool, error)
	// GetByIDNumber finds the account that verified this ID number; none → "user-not-found".
	GetByIDNumber(ctx context.Context, id kernel.IDNumber) (*user.User, error)
}

// CodeRepository stores SMS codes (hashed) and the sending history that the limits count.
type CodeRepository interface {
	// LockPhone serialises code issuing and checking for one phone until the transaction ends.
	LockPhone(ctx context.Context, phone kernel.Phone) error
	// History returns the sendings to the phone and from the client IP since the given time.
	History(ctx context.Context, phone kernel.Phone, clientIP string, since time.Time) (otp.History, error)
	// Add stores a newly issued code, recording the client IP (as a digest) for the limits.
	Add(ctx context.Context, c *otp.Code, clientIP string) error
	// Latest returns the newest code for phone and purpose, or otp.ErrNotRequested.
	Latest(ctx context.Context, phone kernel.Phone, purpose otp.Purpose) (*otp.Code, error)
	// Save writes back a code's attempts and use.
	Save(ctx context.Context, c *otp.Code) error
}

// SessionRepository stores sessions by the hash of their token.
type SessionRepository interface {
	Add(ctx context.Context, s *session.Session) error
	// GetByTokenHash loads a session; unknown → session.ErrInvalid.
	GetByTokenHash(ctx context.Context, tokenHash string) (*session.Session, error)
	// Save writes back expiry, last use and revocation, with its events.
	Save(ctx context.Context, s *session.Session) error
	// RevokeAllForUser revokes every open session of a user but one (except may be empty), with
	// an event each; it returns how many.
	RevokeAllForUser(ctx context.Context, id kernel.UserID, except kernel.SessionID, reason string, now time.Time) (int, error)
}

// AuditEntry is one line of a user's account activity.
type AuditEntry struct {
	ID        string
	MessageID string // the event's message id; unique, so a redelivery cannot add a second line
	UserID    kernel.UserID
	Action    string // the event name, e.g. "user.logged_in"
	Detail    string // short, never personal data
	At        time.Time
}

// AuditLog keeps the account activity written by the audit consumer.
type AuditLog interface {
	Append(ctx context.Context, e AuditEntry) error
	// AppendOnce inserts the entry unless an entry of its message id exists (message ids are
	// unique): the insert is its own idempotency record, one statement that needs no transaction
	// (UnitOfWork.Autocommit). It reports whether the entry was new.
	AppendOnce(ctx context.Context, e AuditEntry) (bool, error)
	// ListByUser returns the newest entries first, at most limit.
	ListByUser(ctx context.Context, id kernel.UserID, limit int) ([]AuditEntry, error)
}

// Inbox records which messages a consumer has handled, in the same transaction as the effect,
// so that a redelivered message changes nothing.
type Inbox interface {
	// MarkProcessed returns true the first time (consumer, messageID) is seen, false after.
	MarkProcessed(ctx context.Context, consumer, messageID string) (bool, error)
}

// AttemptCounter counts attempts per key in fixed windows, durably and atomically, so limits
// hold across instances and restarts.
type AttemptCounter interface {
	// Hit counts one attempt for key in the window that contains now and returns the count
	// including this one and when the window ends.
	Hit(ctx context.Context, key string, window time.Duration, now time.Time) (count int, resetAt time.Time, err error)
}
