package application

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/shuxinqian/server/domain/channel"
	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/otp"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
)

// Signatures that belong to the signer (issue 12): the personal key opens only with the signing
// password, for one operation; event certificates for one document; revocation; verification.

type trustDeps struct {
	tsa        ports.TimeStampAuthority
	revocation ports.RevocationSigner
	eventCA    ports.EventCertificateAuthority
	inspector  ports.SignatureInspector
	pdf        ports.PDFSignatureVerifier

	crlMu sync.Mutex
	crl   cachedCRL
}

type cachedCRL struct {
	der        []byte
	key        string
	thisUpdate time.Time
}

// CRL timing: a CRL is valid for a day and is regenerated after an hour at most (or at once when
// a revocation is recorded), so it is always well before its nextUpdate.
const (
	CRLValidity = 24 * time.Hour
	CRLRefresh  = time.Hour
)

// Revocation reason texts recorded on the aggregates.
const (
	reasonPasswordReset = "signing_password_reset"
	reasonReissue       = "reissue"
)

// personalKeyOwner binds a wrapped personal key to its holder and purpose.
func personalKeyOwner(uid kernel.UserID) string { return "user:" + string(uid) + "/personal-signing" }

// openPersonalKey unwraps the holder's personal key with the signing password, counting a wrong
// password towards the lock (5 tries, 30 minutes). It is the only way to the private key: the
// platform keeps no other copy.
func (a *App) openPersonalKey(ctx context.Context, uid kernel.UserID, password string, now time.Time) (ports.OneTimeSigner, error) {
	if password == "" {
		return ports.OneTimeSigner{}, kernel.Invalid("signing-password-required", "give your signing password (签署密码) to sign")
	}
	// The try is reserved under the user's row lock before the key is opened, so parallel
	// guesses cannot outrun the lock (it also checks the certificate is active and not locked).
	try, cert, err := a.reserveSigningTry(ctx, uid, now)
	if err != nil {
		return ports.OneTimeSigner{}, err
	}
	if len(password) > 64 {
		return ports.OneTimeSigner{}, signingTryWrong(try)
	}
	key, upgraded, err := a.keys.Unwrap(personalKeyOwner(uid), cert.WrappedKey, password)
	if kernel.CodeOf(err) == "signing-password-wrong" {
		return ports.OneTimeSigner{}, signingTryWrong(try)
	}
	if err != nil {
		return ports.OneTimeSigner{}, kernel.Internal(err)
	}
	if err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		return tx.Users().Update(ctx, uid, func(u *user.User) error {
			if c := u.Certificate(); c == nil || c.Serial != cert.Serial || c.Status != user.CertificateActive {
				return kernel.Conflict("certificate-changed", "the certificate changed meanwhile; try again")
			}
			u.SigningTryAccepted(try, now)
			if upgraded != nil {
				u.UpgradeWrappedKey(cert.Serial, upgraded, now)
			}
			return nil
		})
	}); err != nil {
		return ports.OneTimeSigner{}, err
	}
	return ports.OneTimeSigner{Signer: key, CertificateDER: cert.DER, ChainPEM: a.ca.ChainPEM()}, nil
}

// SignWithPersonalKey opens the caller's personal key with the signing password for one
// operation and hands it to sign (e.g. a PDF signer calling Signer.Sign(rand, digest, SHA256)).
// The key is never stored unwrapped and must not outlive sign. A wrong password counts
// towards the lock.
func (a *App) SignWithPersonalKey(ctx context.Context, actor Actor, signingPassword string, sign func(ports.OneTimeSigner) error) error {
	k, err := a.openPersonalKey(ctx, kernel.UserID(actor.UserID), signingPassword, a.clock.Now())
	if err != nil {
		return err
	}
	return sign(k)
}

// SignWithOrganisationKey lets an active member of the enterprise sign with the organisation
// key for one operation, after proving the member's own signing password (counted towards the
// member's lock). Seal grants (issue 15) are checked by the caller.
func (a *App) SignWithOrganisationKey(ctx context.Context, actor Actor, enterpriseID, signingPassword string, sign func(ports.OneTimeSigner) error) error {
	return a.withOrganisationKey(ctx, kernel.UserID(actor.UserID), kernel.EnterpriseID(enterpriseID), signingPassword, true, sign)
}

// ResetSigningPassword is a forgotten signing password: the old certificate is revoked and a new
// one is issued over a new key wrapped under the new password, after an SMS code of purpose
// reset_signing_password and, when the user's channel verifies identities by face, a passed face
// check of the user's own identity (the first call without LivenessSessionID starts one).
type ResetSigningPassword struct {
	Password          string
	Confirmation      string
	Code              string
	LivenessSessionID string
}

// ResetResult answers ResetSigningPassword: the new certificate, or the face check to do first.
type ResetResult struct {
	Certificate *user.Certificate
	Liveness    *LivenessView
}

// ResetSigningPassword resets a forgotten signing password (see the type).
func (a *App) ResetSigningPassword(ctx context.Context, actor Actor, in ResetSigningPassword) (ResetResult, error) {
	now := a.clock.Now()
	uid := kernel.UserID(actor.UserID)
	if err := user.ValidateSigningPassword(in.Password, in.Confirmation); err != nil {
		return ResetResult{}, err
	}
	var u *user.User
	var face bool
	if err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		if u, err = tx.Users().Get(ctx, uid); err != nil {
			return err
		}
		c, _, err := currentChannel(ctx, tx, u)
		face = c != nil && c.Method() == channel.MethodFace
		return err
	}); err != nil {
		return ResetResult{}, err
	}
	if u.Certificate() == nil {
		return ResetResult{}, kernel.Precondition("certificate-missing", "no signing password to reset: set one")
	}
	if len(in.Code) != otp.Digits {
		return ResetResult{}, kernel.Invalid("sms-code-format", "the code is 6 digits (purpose reset_signing_password)")
	}
	id := u.Identity()
	reference := "reset-signing:" + string(uid)
	if face {
		if in.LivenessSessionID == "" {
			sess, err := a.liveness.Start(ctx, ports.LivenessRequest{Name: id.Name, IDNumber: id.IDNumber, Reference: reference})
			if err != nil {
				return ResetResult{}, providerError(err, "liveness-unavailable", "the face check service is unavailable; try again later")
			}
			return ResetResult{Liveness: &LivenessView{SessionID: sess.ID, URL: sess.URL}}, nil
		}
		res, err := a.liveness.Result(ctx, in.LivenessSessionID)
		if kernel.KindOf(err) == kernel.KindNotFound {
			return ResetResult{}, kernel.Invalid("liveness-not-passed", "the face check was not found; start the reset again")
		}
		if err != nil {
			return ResetResult{}, providerError(err, "liveness-unavailable", "the face check service is unavailable; try again later")
		}
		switch {
		case res.Status == ports.LivenessPending:
			return ResetResult{Liveness: &LivenessView{SessionID: in.LivenessSessionID}}, kernel.Precondition("liveness-pending", "finish the face check first")
		case res.Status != ports.LivenessPassed || res.Reference != reference || res.Name != id.Name || res.IDNumber != id.IDNumber:
			return ResetResult{}, kernel.Invalid("liveness-not-passed", "the face check did not pass for this account")
		}
	}
	if err := a.verifyCode(ctx, u.Phone(), otp.PurposeResetSigningPassword, in.Code, now); err != nil {
		return ResetResult{}, err
	}
	cert, err := a.reissuePersonal(ctx, u, in.Password, reasonPasswordReset, ports.ReasonKeyCompromise, now)
	return ResetResult{Certificate: cert}, err
}

// reissuePersonal generates a new key under password, has the CA certify it, and in one
// transaction installs it and records the old certificate's revocation.
func (a *App) reissuePersonal(ctx context.Context, u *user.User, password, reason string, code int, now time.Time) (*user.Certificate, error) {
	uid := u.ID()
	nc, err := a.newPersonalCertificate(ctx, u, password)
	if err != nil {
		return nil, err
	}
	var out *user.Certificate
	err = a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		var old string
		if err := tx.Users().Update(ctx, uid, func(u *user.User) error {
			var err error
			if old, err = u.ReissueCertificate(nc, reason, now); err != nil {
				return err
			}
			out = u.Certificate()
			return nil
		}); err != nil {
			return err
		}
		return tx.Revocations().Add(ctx, ports.Revocation{SerialHex: old, Reason: code, RevokedAt: now, Kind: "personal", Owner: string(uid)})
	})
	if err == nil {
		a.trust.invalidateCRL()
	}
	return out, err
}

// ReissueCertificate issues the caller a new personal certificate over a new key (proving the
// current signing password, which wraps the new key too) and revokes the old one (superseded).
func (a *App) ReissueCertificate(ctx context.Context, actor Actor, signingPassword string) (*user.Certificate, error) {
	now := a.clock.Now()
	uid := kernel.UserID(actor.UserID)
	if _, err := a.openPersonalKey(ctx, uid, signingPassword, now); err != nil {
		return nil, err
	}
	u, err := a.loadUser(ctx, uid)
	if err != nil {
		return nil, err
	}
	return a.reissuePersonal(ctx, u, signingPassword, reasonReissue, ports.ReasonSuperseded, now)
}

// RevokeOrganisationCertificate revokes an enterprise's organisation certificate (enterprise
// deactivation from the operations console, or before a re-issue) and records the reason
// (an RFC 5280 CRLReason code, e.g. ports.ReasonCessationOfOperation).
func (a *App) RevokeOrganisationCertificate(ctx context.Context, enterpriseID string, reasonCode int) (string, error) {
	now := a.clock.Now()
	var serial string
	err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		if err := tx.Enterprises().Update(ctx, kernel.EnterpriseID(enterpriseID), func(e *enterprise.Enterprise) error {
			var err error
			serial, err = e.RevokeCertificate(fmt.Sprintf("crl-reason-%d", reasonCode), now)
			return err
		}); err != nil {
			return err
		}
		return tx.Revocations().Add(ctx, ports.Revocation{SerialHex: serial, Reason: reasonCode, RevokedAt: now, Kind: "organization", Owner: enterpriseID})
	})
	if err == nil {
		a.trust.invalidateCRL()
	}
	return serial, err
}

func (t *trustDeps) invalidateCRL() {
	t.crlMu.Lock()
	t.crl = cachedCRL{}
	t.crlMu.Unlock()
}

// CRL returns the issuing CA's current CRL (DER), built from the revocation records: every
// instance answers the same list. It is regenerated when a revocation is recorded and at least
// hourly (it is valid for a day).
func (a *App) CRL(ctx context.Context) ([]byte, error) {
	now := a.clock.Now().UTC().Truncate(time.Second)
	var list []ports.Revocation
	if err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		list, err = tx.Revocations().List(ctx)
		return err
	}); err != nil {
		return nil, err
	}
	key := fmt.Sprint(len(list))
	if n := len(list); n > 0 {
		key += "/" + list[n-1].SerialHex
	}
	t := &a.trust
	t.crlMu.Lock()
	defer t.crlMu.Unlock()
	if t.crl.der != nil && t.crl.key == key && now.Sub(t.crl.thisUpdate) < CRLRefresh && !now.Before(t.crl.thisUpdate) {
		return t.crl.der, nil
	}
	der, err := t.revocation.CRL(list, now, now.Add(CRLValidity))
	if err != nil {
		return nil, kernel.Internal(err)
	}
	t.crl = cachedCRL{der: der, key: key, thisUpdate: now}
	return der, nil
}

// OCSP answers an OCSP request (DER) from the revocation records.
func (a *App) OCSP(ctx context.Context, request []byte) ([]byte, error) {
	resp, err := a.trust.revocation.OCSP(request, func(serial string) (r ports.Revocation, ok bool, err error) {
		err = a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			r, ok, err = tx.Revocations().Get(ctx, serial)
			return err
		})
		return r, ok, err
	}, a.clock.Now())
	if err != nil {
		return nil, kernel.Internal(err)
	}
	return resp, nil
}

// TSAChainPEM is the time-stamping authority's certificate chain.
func (a *App) TSAChainPEM() []byte {
	if a.trust.tsa == nil {
		return nil
	}
	return a.trust.tsa.ChainPEM()
}

// SignatureVerdict is one signature as the verification service reports it.
type SignatureVerdict struct {
	Signer              string
	CertificateSerial   string
	SignedAt            time.Time
	Timestamped         bool
	CoversWholeDocument bool
	Intact              bool
	// CertificateStatus at the signing time: good, revoked (before the signing time) or
	// unknown (no trusted signing time and no record).
	CertificateStatus string
	RevokedAt         time.Time // when revoked, even after the signing
	Trusted           bool
	DocumentSHA256    string // the hash an event certificate binds
	Problems          []string
	// Kind is "seal" (an organisation's certificate) or "personal"; SignerName the
	// organisation's or the person's name from the certificate.
	Kind       string
	SignerName string
	// ModifiedAfter: later revisions of the PDF changed more than adding signatures.
	ModifiedAfter bool
}

// Limits of the verification service.
const MaxVerifiedBytes = 20 << 20

// VerifySignatures verifies a detached CMS signature over content, or a signed PDF (through the
// PDF verifier port, when one is plugged in).
func (a *App) VerifySignatures(ctx context.Context, content, signature, pdf []byte) ([]SignatureVerdict, error) {
	caChain := a.ca.ChainPEM()
	var reports []ports.SignatureReport
	switch {
	case pdf != nil && (content != nil || signature != nil):
		return nil, kernel.Invalid("verification-input-ambiguous", "give file (a signed PDF), or content and signature (a detached CMS), not both")
	case pdf != nil:
		if a.trust.pdf == nil {
			return nil, kernel.Precondition("pdf-not-supported-yet", "verifying signed PDFs is not available yet; verify a detached CMS (content + signature)")
		}
		r, err := a.trust.pdf.InspectPDF(ctx, pdf, caChain, a.TSAChainPEM())
		if err != nil {
			return nil, err
		}
		reports = r
	case content == nil || signature == nil:
		return nil, kernel.Invalid("verification-input-missing", "give content and signature (a detached CMS), or file (a signed PDF)")
	default:
		r, err := a.trust.inspector.InspectDetached(content, signature, caChain, a.TSAChainPEM())
		if err != nil {
			return nil, kernel.Internal(err)
		}
		reports = []ports.SignatureReport{r}
	}
	now := a.clock.Now()
	out := make([]SignatureVerdict, 0, len(reports))
	for _, r := range reports {
		v := SignatureVerdict{Signer: r.Signer, CertificateSerial: r.CertificateSerial, SignedAt: r.SignedAt, Timestamped: r.Timestamped,
			CoversWholeDocument: r.CoversWholeDocument, Intact: r.Intact, DocumentSHA256: r.DocumentSHA256, Problems: r.Problems,
			CertificateStatus: "unknown", Kind: r.Kind, SignerName: r.SignerName, ModifiedAfter: r.ModifiedAfter}
		if v.Kind == "" && r.CertificateDER != nil { // a detached CMS: the inspector does not tell
			if c, err := parseCert(r.CertificateDER); err == nil {
				v.Kind, v.SignerName = certificateKind(c)
			}
		}
		if r.CertificateSerial != "" && r.ChainValid {
			var rev ports.Revocation
			var revoked bool
			if err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
				var err error
				rev, revoked, err = tx.Revocations().Get(ctx, r.CertificateSerial)
				return err
			}); err != nil {
				return nil, err
			}
			switch {
			case revoked && !rev.RevokedAt.After(r.SignedAt):
				v.CertificateStatus, v.RevokedAt = "revoked", rev.RevokedAt
				v.Problems = append(v.Problems, "the certificate was revoked before the signing time")
			case revoked:
				v.CertificateStatus, v.RevokedAt = "good", rev.RevokedAt // revoked later: the signature stands
				if !r.Timestamped {
					v.CertificateStatus = "unknown"
					v.Problems = append(v.Problems, "the certificate is revoked and the signing time is not time-stamped")
				}
			default:
				v.CertificateStatus = "good"
			}
		}
		// Without a time-stamp the signing time is only the signer's claim: trust it only while
		// the certificate is still valid now.
		timeOK := r.Timestamped
		if !timeOK {
			if c, err := parseCert(r.CertificateDER); err == nil && now.Before(c.NotAfter) {
				timeOK = true
			}
		}
		v.Trusted = r.Intact && r.ChainValid && v.CertificateStatus == "good" && timeOK && (r.DocumentSHA256 == "" || r.DocumentBound)
		out = append(out, v)
	}
	return out, nil
}

// documentHash is the SHA-256 of a document, hex.
func documentHash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
