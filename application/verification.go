package application

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/file"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/membership"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
)

// LegalRepCertValidity is the life of the one-time certificate that signs an authorization letter.
const LegalRepCertValidity = 24 * time.Hour

// RegistryLookup finds an enterprise in the business registry by its full name.
func (a *App) RegistryLookup(ctx context.Context, name string) (ports.RegistryEntry, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 100 {
		return ports.RegistryEntry{}, kernel.Invalid("registry-name-invalid", "give the enterprise's full registered name (up to 100 characters)")
	}
	e, err := a.registry.LookupByName(ctx, name)
	return e, providerError(err, "registry-unavailable", "the business registry is unavailable; try again later")
}

// StartVerification is POST /enterprise-verifications.
type StartVerification struct {
	EnterpriseName    string
	LegalRepIDNumber  string
	LegalRepPhone     string
	LicenceFileID     string
	AgreementAccepted bool
}

// LinkView is the signing link the operator shares with the legal rep.
type LinkView struct {
	URL       string
	ExpiresAt time.Time
}

// VerificationView is what the initiator sees of a verification.
type VerificationView struct {
	V        *enterprise.Verification
	NextStep string
	Link     *LinkView // operator-initiated authorization only
}

// ErrEnterpriseVerified: a credit code is verified once; others join.
var ErrEnterpriseVerified = kernel.Conflict("enterprise-already-verified",
	"this enterprise is already verified on the platform; apply to join it instead").WithDetail("hint", "join")

func (a *App) linkURL(token string) string {
	return a.settings.PublicBaseURL + "/a/" + token
}

func (a *App) view(v *enterprise.Verification) VerificationView {
	vw := VerificationView{V: v, NextStep: nextStep(v)}
	if l := v.CurrentLink(); l != nil && v.Status() == enterprise.StatusInProgress && l.RevokedAt.IsZero() && l.UsedAt.IsZero() &&
		v.Method() == enterprise.MethodLegalRepAuthorization {
		vw.Link = &LinkView{URL: a.linkURL(l.Token), ExpiresAt: l.ExpiresAt}
	}
	return vw
}

func nextStep(v *enterprise.Verification) string {
	switch v.Status() {
	case enterprise.StatusVerified:
		return "done"
	case enterprise.StatusSuperseded:
		return "join_existing_enterprise"
	}
	if v.Method() == enterprise.MethodBankTransfer {
		t := v.Transfer()
		switch {
		case t == nil || t.Status == enterprise.TransferFailed || t.Status == enterprise.TransferRemitFailed:
			return "start_bank_transfer"
		case t.Status == enterprise.TransferRemitting:
			return "wait_for_transfer"
		default:
			return "confirm_transfer_amount"
		}
	}
	if v.Role() == enterprise.RoleLegalRep {
		return "sign_in_app"
	}
	return "legal_rep_signs_by_link"
}

// StartVerification opens an enterprise verification (manual §5.1, §5.2).
func (a *App) StartVerification(ctx context.Context, actor Actor, in StartVerification) (VerificationView, error) {
	now := a.clock.Now()
	uid := kernel.UserID(actor.UserID)
	if !in.AgreementAccepted {
		return VerificationView{}, kernel.Invalid("agreement-required", "accept the agreement (agreement_accepted: true)")
	}
	if strings.TrimSpace(in.LicenceFileID) == "" {
		return VerificationView{}, kernel.Invalid("business-licence-required", "upload the business licence first")
	}
	legalID, err := kernel.ParseIDNumber(in.LegalRepIDNumber, now)
	if err != nil {
		return VerificationView{}, err
	}
	legalPhone, err := kernel.ParsePhone(in.LegalRepPhone)
	if err != nil {
		return VerificationView{}, err
	}
	var u *user.User
	if err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		if u, err = tx.Users().Get(ctx, uid); err != nil {
			return err
		}
		if u.RealNameStatus() != user.RealNameVerified {
			return kernel.Forbidden("real-name-required", "verify your real name before verifying an enterprise")
		}
		_, err = ownFile(ctx, tx, uid, kernel.FileID(in.LicenceFileID), file.PurposeBusinessLicence)
		return err
	}); err != nil {
		return VerificationView{}, err
	}
	entry, err := a.RegistryLookup(ctx, in.EnterpriseName)
	if err != nil {
		return VerificationView{}, err
	}
	if err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		_, err := tx.Enterprises().GetByCreditCode(ctx, entry.CreditCode)
		switch {
		case err == nil:
			return ErrEnterpriseVerified
		case kernel.KindOf(err) == kernel.KindNotFound:
			return nil
		}
		return err
	}); err != nil {
		return VerificationView{}, err
	}
	// The legal rep's ID number must be the registry's legal rep's (enterprise four-factor check),
	// and must belong to that person (id2 against the authority).
	same, err := a.registry.CheckLegalRep(ctx, entry.CreditCode, entry.LegalRepName, legalID)
	if err != nil {
		return VerificationView{}, providerError(err, "registry-unavailable", "the business registry is unavailable; try again later")
	}
	if !same {
		return VerificationView{}, kernel.Invalid("legal-rep-mismatch", "the ID number is not the legal representative's on record")
	}
	check, err := a.identity.VerifyID2(ctx, entry.LegalRepName, legalID)
	if err != nil {
		return VerificationView{}, providerError(err, "identity-unavailable", "the identity check service is unavailable; try again later")
	}
	if !check.Match {
		return VerificationView{}, kernel.Invalid("legal-rep-mismatch", "the ID number is not the legal representative's on record")
	}
	id := u.Identity()
	v, err := enterprise.Start(enterprise.StartParams{ID: kernel.VerificationID(a.ids.NewID()),
		Initiator:      enterprise.Initiator{UserID: uid, Name: id.Name, IDNumber: id.IDNumber, Verified: true},
		EnterpriseName: entry.Name, CreditCode: entry.CreditCode, LegalRepName: entry.LegalRepName, LegalRepIDNumber: legalID,
		LegalRepPhone: legalPhone, LicenceFileID: kernel.FileID(in.LicenceFileID), AgreementAccepted: true}, now)
	if err != nil {
		return VerificationView{}, err
	}
	var token string
	if v.Role() == enterprise.RoleOperator {
		if token, err = a.random.Token(32); err != nil {
			return VerificationView{}, kernel.Internal(err)
		}
		if err := v.IssueLink(token, now); err != nil {
			return VerificationView{}, err
		}
	}
	// The link is texted by the consumer of AuthorizationLinkIssued (TextAuthorizationLink).
	if err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error { return tx.Verifications().Add(ctx, v) }); err != nil {
		return VerificationView{}, err
	}
	return a.view(v), nil
}

// TextAuthorizationLink is the consumer of AuthorizationLinkIssued: it texts the link to the
// legal rep. The event carries no token (the outbox is not a place for capabilities): the link
// is read back, and a link replaced meanwhile is not sent. The message id is the SMS
// idempotency key, so a redelivery does not text twice.
func (a *App) TextAuthorizationLink(ctx context.Context, messageID string, ev *enterprise.AuthorizationLinkIssued) error {
	var v *enterprise.Verification
	var operator string
	if err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		if v, err = tx.Verifications().Get(ctx, ev.VerificationID); err != nil {
			return err
		}
		u, err := tx.Users().Get(ctx, v.InitiatorID())
		if err != nil {
			return err
		}
		operator = u.Identity().Name
		return nil
	}); err != nil {
		return err
	}
	l := v.CurrentLink()
	if l == nil || !l.ExpiresAt.Equal(ev.ExpiresAt) || !l.RevokedAt.IsZero() || !l.UsedAt.IsZero() {
		return nil // replaced or used meanwhile: the newer link has its own event
	}
	url := a.linkURL(l.Token)
	return a.once(ctx, "authorization-link/"+messageID, func(ctx context.Context) error {
		return a.sms.Send(ctx, ports.SMS{Phone: l.Phone, Template: "authorization_link", IdempotencyKey: messageID,
			Params: map[string]string{"enterprise": v.EnterpriseName(), "url": url},
			Text: fmt.Sprintf("【数信签】%s邀请您以法定代表人身份为%s签署《数信签授权书》，请在7天内打开 %s 完成签署。",
				kernel.MaskName(operator), v.EnterpriseName(), url)})
	})
}

// initiatorVerification loads a verification the caller started; others' are not found.
func (a *App) initiatorVerification(ctx context.Context, tx ports.Tx, actor Actor, id string) (*enterprise.Verification, error) {
	v, err := tx.Verifications().Get(ctx, kernel.VerificationID(id))
	if err != nil {
		return nil, err
	}
	if v.InitiatorID() != kernel.UserID(actor.UserID) {
		return nil, kernel.NotFound("verification-not-found", "no such enterprise verification")
	}
	return v, nil
}

// Verification returns one of the caller's verifications.
func (a *App) Verification(ctx context.Context, actor Actor, id string) (VerificationView, error) {
	var v *enterprise.Verification
	err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		v, err = a.initiatorVerification(ctx, tx, actor, id)
		return err
	})
	if err != nil {
		return VerificationView{}, err
	}
	return a.view(v), nil
}

// ResendAuthorizationLink sends a new signing link (the old one dies).
func (a *App) ResendAuthorizationLink(ctx context.Context, actor Actor, id string) (VerificationView, error) {
	return a.relink(ctx, actor, id, func(v *enterprise.Verification, token string, now time.Time) error {
		return v.IssueLink(token, now)
	})
}

// ChangeLegalRepPhone corrects the legal rep's phone and resends the link to it.
func (a *App) ChangeLegalRepPhone(ctx context.Context, actor Actor, id, phone string) (VerificationView, error) {
	p, err := kernel.ParsePhone(phone)
	if err != nil {
		return VerificationView{}, err
	}
	return a.relink(ctx, actor, id, func(v *enterprise.Verification, token string, now time.Time) error {
		return v.ChangeLegalRepPhone(p, token, now)
	})
}

func (a *App) relink(ctx context.Context, actor Actor, id string, change func(*enterprise.Verification, string, time.Time) error) (VerificationView, error) {
	now := a.clock.Now()
	token, err := a.random.Token(32)
	if err != nil {
		return VerificationView{}, kernel.Internal(err)
	}
	var v *enterprise.Verification
	err = a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		cur, err := a.initiatorVerification(ctx, tx, actor, id)
		if err != nil {
			return err
		}
		// Counted per credit code and initiator in the same transaction: a refused request
		// counts nothing.
		if err := countDeposit(ctx, tx, "deposit-transfer", cur.CreditCode(), kernel.UserID(actor.UserID), DepositTransfersPerDay, now); err != nil {
			return err
		}
		return tx.Verifications().Update(ctx, kernel.VerificationID(id), func(cur *enterprise.Verification) error {
			v = cur
			return change(cur, token, now)
		})
	})
	if err != nil {
		return VerificationView{}, err
	}
	return a.view(v), nil
}

// AuthorizationLetterTemplate is the blank 《数信签授权书》.
func (a *App) AuthorizationLetterTemplate() ([]byte, error) {
	b, err := a.docs.AuthorizationLetterTemplate()
	if err != nil {
		return nil, kernel.Internal(err)
	}
	return b, nil
}

func (a *App) letterData(ctx context.Context, tx ports.Tx, v *enterprise.Verification) (ports.LetterData, error) {
	d := ports.LetterData{VerificationID: string(v.ID()), EnterpriseName: v.EnterpriseName(), CreditCode: string(v.CreditCode()),
		LegalRepName: v.LegalRepName(), LegalRepIDMasked: v.LegalRepIDNumber().Masked(), Date: v.CreatedAt()}
	if v.Role() == enterprise.RoleOperator {
		u, err := tx.Users().Get(ctx, v.InitiatorID())
		if err != nil {
			return d, err
		}
		d.OperatorName = u.Identity().Name
	}
	return d, nil
}

// AuthorizationLetter returns the letter of a verification: the signed one once signed.
func (a *App) AuthorizationLetter(ctx context.Context, actor Actor, id string) ([]byte, error) {
	var v *enterprise.Verification
	var data ports.LetterData
	if err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		if v, err = a.initiatorVerification(ctx, tx, actor, id); err != nil {
			return err
		}
		data, err = a.letterData(ctx, tx, v)
		return err
	}); err != nil {
		return nil, err
	}
	return a.letterOf(ctx, v, data)
}

func (a *App) letterOf(ctx context.Context, v *enterprise.Verification, data ports.LetterData) ([]byte, error) {
	if s := v.Signing(); s != nil {
		b, err := a.files.Get(ctx, s.LetterKey)
		if err != nil {
			return nil, kernel.Internal(err)
		}
		return b, nil
	}
	b, err := a.docs.AuthorizationLetter(data)
	if err != nil {
		return nil, kernel.Internal(err)
	}
	return b, nil
}

// AuthorizationLetterSignature returns the detached CMS signature of the signed letter.
func (a *App) AuthorizationLetterSignature(ctx context.Context, actor Actor, id string) ([]byte, error) {
	var v *enterprise.Verification
	if err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		v, err = a.initiatorVerification(ctx, tx, actor, id)
		return err
	}); err != nil {
		return nil, err
	}
	s := v.Signing()
	if s == nil {
		return nil, kernel.NotFound("letter-not-signed", "the authorization letter is not signed yet")
	}
	b, err := a.files.Get(ctx, s.SignatureKey)
	if err != nil {
		return nil, kernel.Internal(err)
	}
	return b, nil
}

// letterSigner signs the rendered letter: it returns the detached CMS and the certificate used.
type letterSigner func(ctx context.Context, pdf []byte) (p7s []byte, cert ports.IssuedCertificate, err error)

// personalLetterSigner signs with the legal rep's own personal key, opened for this one
// operation by the signing password.
func (a *App) personalLetterSigner(k ports.OneTimeSigner, serial string) letterSigner {
	return func(ctx context.Context, pdf []byte) ([]byte, ports.IssuedCertificate, error) {
		p7s, err := a.signer.SignDetached(ctx, pdf, k.Signer, k.CertificateDER, k.ChainPEM)
		if err != nil {
			return nil, ports.IssuedCertificate{}, signError(err)
		}
		return p7s, ports.IssuedCertificate{SerialHex: serial, DER: k.CertificateDER}, nil
	}
}

// eventLetterSigner signs with an event certificate (事件证书): a key made for this one signing,
// certified for the legal rep's verified identity and the SHA-256 of the exact PDF signed, and
// dropped when the signing is done (it is never stored).
func (a *App) eventLetterSigner(v *enterprise.Verification) letterSigner {
	return func(ctx context.Context, pdf []byte) ([]byte, ports.IssuedCertificate, error) {
		key, pub, err := a.keygen.NewKey()
		if err != nil {
			return nil, ports.IssuedCertificate{}, kernel.Internal(err)
		}
		sum := sha256.Sum256(pdf)
		cert, err := a.trust.eventCA.IssueEvent(ctx, ports.EventCertificateRequest{CertificateRequest: ports.CertificateRequest{
			PublicKeyDER: pub, CommonName: v.LegalRepName(), SubjectSerial: a.subjectPseudonym(v.LegalRepIDNumber())}, DocumentSHA256: sum[:]})
		if err != nil {
			return nil, ports.IssuedCertificate{}, providerError(err, "ca-unavailable", "the certificate authority is unavailable; try again later")
		}
		p7s, err := a.signer.SignDetached(ctx, pdf, key, cert.DER, a.ca.ChainPEM())
		if err != nil {
			return nil, ports.IssuedCertificate{}, signError(err)
		}
		return p7s, cert, nil
	}
}

// signError keeps an unavailable time-stamping authority a 503; anything else is the platform's fault.
func signError(err error) error {
	if kernel.KindOf(err) == kernel.KindUnavailable {
		return err
	}
	return kernel.Internal(err)
}

// signLetter renders the signed letter, signs the PDF bytes (detached CMS, time-stamped) with
// sign and stores both.
func (a *App) signLetter(ctx context.Context, v *enterprise.Verification, data ports.LetterData, png []byte, ev enterprise.Evidence, sign letterSigner, now time.Time) (enterprise.Signing, []string, error) {
	data.SignatureImage, data.SignedAt = png, now
	pdf, err := a.docs.AuthorizationLetter(data)
	if err != nil {
		return enterprise.Signing{}, nil, kernel.Internal(err)
	}
	p7s, cert, err := sign(ctx, pdf)
	if err != nil {
		return enterprise.Signing{}, nil, err
	}
	sum := sha256.Sum256(pdf)
	base := "verifications/" + string(v.ID()) + "/letter-" + a.ids.NewID()
	keys := []string{base + "-pdf", base + "-p7s"}
	if err := a.files.Put(ctx, keys[0], pdf); err != nil {
		return enterprise.Signing{}, nil, kernel.Internal(err)
	}
	if err := a.files.Put(ctx, keys[1], p7s); err != nil {
		_ = a.files.Delete(ctx, keys[0])
		return enterprise.Signing{}, nil, kernel.Internal(err)
	}
	if ev.CertificateKind == "event" {
		ev.DocumentSHA256 = hex.EncodeToString(sum[:])
	}
	return enterprise.Signing{LetterKey: keys[0], SignatureKey: keys[1], LetterSHA256: hex.EncodeToString(sum[:]),
		CertSerial: cert.SerialHex, CertDER: cert.DER, Evidence: ev}, keys, nil
}

// finish signs (or confirms) and completes a verification in one transaction: the enterprise
// is created (a credit code once: the first to finish wins), with its founding memberships.
// apply records the proof on the verification (signing or confirmation).
func (a *App) finish(ctx context.Context, id kernel.VerificationID, apply func(v *enterprise.Verification) error, now time.Time) (*enterprise.Verification, error) {
	var done *enterprise.Verification
	var proofErr error
	err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		return tx.Verifications().Update(ctx, id, func(v *enterprise.Verification) error {
			if err := apply(v); err != nil {
				if kernel.CodeOf(err) == "transfer-amount-wrong" || kernel.CodeOf(err) == "transfer-failed" || kernel.CodeOf(err) == "transfer-expired" {
					proofErr = err // the counted try must be saved
					return nil
				}
				return err
			}
			done = v
			if !v.ReadyToComplete() {
				return nil
			}
			if _, err := tx.Enterprises().GetByCreditCode(ctx, v.CreditCode()); err == nil {
				return ErrEnterpriseVerified
			} else if kernel.KindOf(err) != kernel.KindNotFound {
				return err
			}
			e, err := enterprise.NewFromVerification(kernel.EnterpriseID(a.ids.NewID()), v, now)
			if err != nil {
				return err
			}
			if err := tx.Enterprises().Add(ctx, e); err != nil {
				return err
			}
			if err := v.Complete(e.ID(), now); err != nil {
				return err
			}
			return a.foundingMembers(ctx, tx, v, e, now)
		})
	})
	if kernel.CodeOf(err) == "enterprise-already-verified" {
		// Another verification of this credit code finished first: this one is superseded.
		_ = a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			return tx.Verifications().Update(ctx, id, func(v *enterprise.Verification) error { v.Supersede(now); return nil })
		})
		return nil, ErrEnterpriseVerified
	}
	if err != nil {
		return nil, err
	}
	return done, proofErr
}

// foundingMembers: the initiator becomes admin (legal_rep when the initiator is the legal rep);
// the legal rep, when the legal rep has an account, becomes a legal_rep member.
func (a *App) foundingMembers(ctx context.Context, tx ports.Tx, v *enterprise.Verification, e *enterprise.Enterprise, now time.Time) error {
	role := membership.RoleAdmin
	if v.Role() == enterprise.RoleLegalRep {
		role = membership.RoleLegalRep
	}
	m, err := membership.Founder(kernel.MembershipID(a.ids.NewID()), e.ID(), v.InitiatorID(), role, now)
	if err != nil {
		return err
	}
	if err := tx.Memberships().Add(ctx, m); err != nil {
		return err
	}
	if v.Role() == enterprise.RoleLegalRep {
		return nil
	}
	rep, err := tx.Users().GetByIDNumber(ctx, v.LegalRepIDNumber())
	if kernel.KindOf(err) == kernel.KindNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	if rep.ID() == v.InitiatorID() {
		return nil // one membership per person: the initiator is already admin
	}
	m, err = membership.Founder(kernel.MembershipID(a.ids.NewID()), e.ID(), rep.ID(), membership.RoleLegalRep, now)
	if err != nil {
		return err
	}
	return tx.Memberships().Add(ctx, m)
}

// SignInApp is the legal rep's in-app signing (manual §5.1.1): a signature appearance, an SMS
// code of purpose sign, and the signing password, which opens the legal rep's own personal key
// for this one signing. A legal rep without a personal certificate sets a signing password first
// (the platform never signs in the app with a key it made itself).
func (a *App) SignInApp(ctx context.Context, actor Actor, id, signatureID, code, signingPassword, ip, ua string) (VerificationView, error) {
	now := a.clock.Now()
	uid := kernel.UserID(actor.UserID)
	var v *enterprise.Verification
	var data ports.LetterData
	var u *user.User
	var sigKey string
	if err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		if v, err = a.initiatorVerification(ctx, tx, actor, id); err != nil {
			return err
		}
		if err := v.CanSignInApp(uid); err != nil {
			return err
		}
		if u, err = tx.Users().Get(ctx, uid); err != nil {
			return err
		}
		sig, err := tx.Signatures().Get(ctx, uid, signatureID)
		if err != nil {
			return err
		}
		rec, err := tx.Files().Get(ctx, sig.FileID)
		if err != nil {
			return err
		}
		sigKey = rec.StorageKey
		data, err = a.letterData(ctx, tx, v)
		return err
	}); err != nil {
		return VerificationView{}, err
	}
	if c := u.Certificate(); c == nil || c.Status != user.CertificateActive {
		return VerificationView{}, kernel.Precondition("certificate-missing",
			"set a signing password first: the letter is signed with your own personal certificate").WithDetail("hint", "set_signing_password")
	}
	if len(code) != 6 {
		return VerificationView{}, kernel.Invalid("sms-code-format", "the code is 6 digits (purpose sign)")
	}
	key, err := a.openPersonalKey(ctx, uid, signingPassword, now)
	if err != nil {
		return VerificationView{}, err
	}
	if err := a.verifyCode(ctx, u.Phone(), "sign", code, now); err != nil {
		return VerificationView{}, err
	}
	png, err := a.files.Get(ctx, sigKey)
	if err != nil {
		return VerificationView{}, kernel.Internal(err)
	}
	signing, keys, err := a.signLetter(ctx, v, data, png, enterprise.Evidence{Channel: "app", OTPVerifiedAt: now, IP: ip, UserAgent: truncate(ua, 256),
		PhoneCheck: "sms-code:sign", PhoneVerifiedAt: now, CertificateKind: "personal"}, a.personalLetterSigner(key, u.Certificate().Serial), now)
	if err != nil {
		return VerificationView{}, err
	}
	done, err := a.finish(ctx, v.ID(), func(v *enterprise.Verification) error { return v.Sign(signing, "", now) }, now)
	if err != nil {
		for _, k := range keys {
			_ = a.files.Delete(ctx, k)
		}
		return VerificationView{}, err
	}
	return a.view(done), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// StartBankTransfer is the corporate bank-transfer method (manual §5.2.2): the platform remits a
// random 0.01–0.99 yuan to the account (asynchronously, by the remittance consumer).
func (a *App) StartBankTransfer(ctx context.Context, actor Actor, id string, r enterprise.TransferRequest) (VerificationView, error) {
	now := a.clock.Now()
	n, err := a.random.IntN(enterprise.MaxDepositFen - enterprise.MinDepositFen + 1)
	if err != nil {
		return VerificationView{}, kernel.Internal(err)
	}
	r.ID, r.Amount = a.ids.NewID(), kernel.Fen(int64(enterprise.MinDepositFen+n))
	var v *enterprise.Verification
	err = a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		cur, err := a.initiatorVerification(ctx, tx, actor, id)
		if err != nil {
			return err
		}
		// Counted per credit code and initiator in the same transaction: a refused request
		// counts nothing.
		if err := countDeposit(ctx, tx, "deposit-transfer", cur.CreditCode(), kernel.UserID(actor.UserID), DepositTransfersPerDay, now); err != nil {
			return err
		}
		return tx.Verifications().Update(ctx, kernel.VerificationID(id), func(cur *enterprise.Verification) error {
			v = cur
			return cur.RequestTransfer(r, now)
		})
	})
	if err != nil {
		return VerificationView{}, err
	}
	return a.view(v), nil
}

// ConfirmBankTransfer checks the amount and the scan of the signed letter (JPG/GIF).
func (a *App) ConfirmBankTransfer(ctx context.Context, actor Actor, id string, amountFen int64, scanFileID string) (VerificationView, error) {
	now := a.clock.Now()
	uid := kernel.UserID(actor.UserID)
	if amountFen < 0 || amountFen > 100_00 {
		return VerificationView{}, kernel.Invalid("transfer-amount-invalid", "amount_fen is the number of fen received (0 to 10000)")
	}
	if err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		v, err := a.initiatorVerification(ctx, tx, actor, id)
		if err != nil {
			return err
		}
		if scanFileID == "" {
			return kernel.Invalid("authorization-letter-scan-required", "upload the scan of the signed authorization letter (JPG or GIF)")
		}
		if _, err := ownFile(ctx, tx, uid, kernel.FileID(scanFileID), file.PurposeAuthorizationLetterScan); err != nil {
			return err
		}
		// Every amount try counts (committed before the amount is compared).
		return countDeposit(ctx, tx, "deposit-try", v.CreditCode(), uid, DepositTriesPerDay, now)
	}); err != nil {
		return VerificationView{}, err
	}
	done, err := a.finish(ctx, kernel.VerificationID(id), func(v *enterprise.Verification) error {
		return v.ConfirmTransfer(kernel.Fen(amountFen), kernel.FileID(scanFileID), now)
	}, now)
	if err != nil && done == nil {
		return VerificationView{}, err
	}
	return a.view(done), err
}

// RemitTransfer is the consumer of BankTransferRequested: it sends the micro-deposit. The
// bank deduplicates by the transfer id, and a transfer no longer remitting is left alone, so a
// redelivery changes nothing.
func (a *App) RemitTransfer(ctx context.Context, ev *enterprise.BankTransferRequested) error {
	var v *enterprise.Verification
	if err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		v, err = tx.Verifications().Get(ctx, ev.VerificationID)
		return err
	}); err != nil {
		return err
	}
	t := v.Transfer()
	if t == nil || t.ID != ev.TransferID || t.Status != enterprise.TransferRemitting {
		return nil
	}
	// The bank call is outside any transaction. The transfer reference is the bank's idempotency
	// key: a retry (after a crash between the remittance and the commit below) is answered with
	// the first result, so the state recorded is the bank's, never a guess.
	res, err := a.bank.Remit(ctx, ports.RemitRequest{Reference: string(v.ID()) + "/" + t.ID, AccountNumber: t.AccountNumber, AccountName: v.EnterpriseName(),
		BankName: t.BankName, Province: t.Province, Branch: t.Branch, Amount: t.Amount})
	if err != nil {
		return err // retried by the consumer, then parked
	}
	now := a.clock.Now()
	return a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		return tx.Verifications().Update(ctx, ev.VerificationID, func(v *enterprise.Verification) error {
			if res.Remitted {
				return v.TransferRemitted(ev.TransferID, now)
			}
			return v.TransferRemitFailed(ev.TransferID, res.Reason, now)
		})
	})
}

// IssueOrgCertificate is the consumer of EnterpriseVerified: it has the CA issue the
// organisation certificate (name + credit code). An enterprise that has one is left alone.
func (a *App) IssueOrgCertificate(ctx context.Context, ev *enterprise.EnterpriseVerified) error {
	var e *enterprise.Enterprise
	revoked := 0
	if err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		if e, err = tx.Enterprises().Get(ctx, ev.EnterpriseID); err != nil || e.Certificate() != nil || e.Deactivated() {
			return err
		}
		revs, err := tx.Revocations().List(ctx)
		for _, r := range revs {
			if r.Kind == "organization" && r.Owner == string(ev.EnterpriseID) {
				revoked++
			}
		}
		return err
	}); err != nil {
		return err
	}
	if e.Certificate() != nil || e.Deactivated() { // a deactivated enterprise gets no new certificate
		return nil
	}
	// One certificate per enterprise and generation: after a revocation the next one is issued
	// under a new effect key.
	effect := "org-certificate/" + string(e.ID())
	if revoked > 0 {
		effect += fmt.Sprintf("/%d", revoked)
	}
	return a.once(ctx, effect, func(ctx context.Context) error {
		req, err := a.orgCertRequest(ctx, effect, e)
		if err != nil {
			return err
		}
		cert, err := a.ca.IssueOrganization(ctx, req.request)
		if err != nil {
			return err
		}
		now := a.clock.Now()
		return a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			return tx.Enterprises().Update(ctx, e.ID(), func(e *enterprise.Enterprise) error {
				if e.Certificate() != nil || e.Deactivated() { // issued meanwhile, or deactivated meanwhile
					return nil
				}
				return e.IssueCertificate(enterprise.OrgCertificate{Serial: cert.SerialHex, Subject: cert.Subject, NotBefore: cert.NotBefore,
					NotAfter: cert.NotAfter, DER: cert.DER, KeyPKCS8: req.keyPKCS8}, now)
			})
		})
	})
}

// orgCertNote is what an organisation certificate request records before the CA is called.
type orgCertNote struct {
	KeyPKCS8    []byte    `json:"key"`
	RequestedAt time.Time `json:"requested_at"`
}

type orgCertRequest struct {
	request  ports.CertificateRequest
	keyPKCS8 []byte
}

// orgCertRequest makes the enterprise's certificate request, or reads back the one a run that
// died made: the key and request time are noted durably (sealed) before the CA is called, and
// the request ID is the effect key, so the CA answers a retry with the same certificate.
func (a *App) orgCertRequest(ctx context.Context, effect string, e *enterprise.Enterprise) (orgCertRequest, error) {
	key, _, err := a.keygen.NewKey()
	if err != nil {
		return orgCertRequest{}, err
	}
	der, err := a.keygen.MarshalKey(key)
	if err != nil {
		return orgCertRequest{}, err
	}
	data, err := json.Marshal(orgCertNote{KeyPKCS8: der, RequestedAt: a.clock.Now().UTC()})
	if err != nil {
		return orgCertRequest{}, err
	}
	if err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		data, err = tx.Effects().Note(ctx, effect, data, a.clock.Now())
		return err
	}); err != nil {
		return orgCertRequest{}, err
	}
	var n orgCertNote
	if err := json.Unmarshal(data, &n); err != nil {
		return orgCertRequest{}, fmt.Errorf("org certificate note %s: %w", effect, err)
	}
	k, err := a.keygen.UnmarshalKey(n.KeyPKCS8)
	if err != nil {
		return orgCertRequest{}, err
	}
	pub, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		return orgCertRequest{}, err
	}
	return orgCertRequest{keyPKCS8: n.KeyPKCS8, request: ports.CertificateRequest{PublicKeyDER: pub, CommonName: e.Name(),
		Organization: e.Name(), SubjectSerial: string(e.CreditCode()), RequestID: effect, RequestedAt: n.RequestedAt}}, nil
}
