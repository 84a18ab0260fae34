package enterprise

import (
	"bytes"
	"crypto/subtle"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// Link errors: each refusal has its own code, none changes state.
var (
	ErrLinkNotFound = kernel.NotFound("authorization-link-not-found", "no such signing link")
	ErrLinkExpired  = kernel.Gone("authorization-link-expired", "the signing link has expired; ask the operator to send a new one")
	ErrLinkUsed     = kernel.Gone("authorization-link-used", "the signing link was already used")
	ErrLinkRevoked  = kernel.Gone("authorization-link-revoked", "this signing link was replaced by a newer one (the phone was changed or the link resent)")
)

// CanSendLink checks the resend limits: one link per 60 s, ten a day.
func (v *Verification) CanSendLink(now time.Time) error {
	if err := v.mustBeOpen(); err != nil {
		return err
	}
	if v.role != RoleOperator {
		return kernel.Precondition("authorization-link-not-needed", "the legal representative started this verification and signs in the app")
	}
	if v.method != MethodLegalRepAuthorization {
		return kernel.Precondition("verification-method-mismatch", "this verification uses the bank transfer")
	}
	if l := v.CurrentLink(); l != nil && now.Sub(l.IssuedAt) < LinkResendInterval {
		left := l.IssuedAt.Add(LinkResendInterval).Sub(now)
		return kernel.RateLimited("authorization-link-resend-too-soon", "a signing link was sent less than 60 seconds ago",
			(left + time.Second - 1).Truncate(time.Second)) // rounded up to a whole second
	}
	if v.linkSendsDay == day(now) && v.linkSendsToday >= LinkSendsPerDay {
		return kernel.RateLimited("authorization-link-daily-limit", "too many signing links today", time.Hour)
	}
	return nil
}

// IssueLink sends a new signing link to the legal rep's phone; the previous link dies.
func (v *Verification) IssueLink(token string, now time.Time) error {
	if err := v.CanSendLink(now); err != nil {
		return err
	}
	return v.issueLink(token, now)
}

func (v *Verification) revokeLinks(now time.Time) {
	for i := range v.links {
		if v.links[i].RevokedAt.IsZero() && v.links[i].UsedAt.IsZero() {
			v.links[i].RevokedAt = now
		}
	}
}

// ChangeLegalRepPhone corrects the legal rep's phone (operator) and sends a new link to it.
func (v *Verification) ChangeLegalRepPhone(phone kernel.Phone, token string, now time.Time) error {
	if err := v.mustBeOpen(); err != nil {
		return err
	}
	if phone.IsZero() {
		return kernel.Invalid("phone-invalid", "the phone is required")
	}
	if v.role != RoleOperator {
		return kernel.Precondition("authorization-link-not-needed", "the legal representative started this verification")
	}
	if v.method != MethodLegalRepAuthorization {
		return kernel.Precondition("verification-method-mismatch", "this verification uses the bank transfer")
	}
	if phone == v.legalRepPhone {
		return kernel.Invalid("legal-rep-phone-unchanged", "this is already the legal representative's phone")
	}
	old := v.legalRepPhone
	v.legalRepPhone = phone
	// A correction is sent at once (the old number may never have received anything), within
	// the daily limit.
	if err := v.issueLink(token, now); err != nil {
		v.legalRepPhone = old
		return err
	}
	v.Record(LegalRepPhoneChanged{VerificationID: v.id, At: kernel.OccurredAt(now)})
	return nil
}

func (v *Verification) issueLink(token string, now time.Time) error {
	if len(token) < 32 {
		return kernel.Invalid("authorization-link-token-weak", "the link token needs 256 bits")
	}
	if v.linkSendsDay == day(now) && v.linkSendsToday >= LinkSendsPerDay {
		return kernel.RateLimited("authorization-link-daily-limit", "too many signing links today", time.Hour)
	}
	now = v.touch(now)
	v.revokeLinks(now)
	v.links = append(v.links, Link{Token: token, Phone: v.legalRepPhone, IssuedAt: now, ExpiresAt: now.Add(LinkTTL)})
	if v.linkSendsDay != day(now) {
		v.linkSendsDay, v.linkSendsToday = day(now), 0
	}
	v.linkSendsToday++
	v.Record(AuthorizationLinkIssued{VerificationID: v.id, ExpiresAt: now.Add(LinkTTL), At: now})
	return nil
}

// OpenLink finds the link for a token and checks it is alive.
func (v *Verification) OpenLink(token string, now time.Time) (*Link, error) {
	for i := len(v.links) - 1; i >= 0; i-- {
		l := &v.links[i]
		if subtle.ConstantTimeCompare([]byte(l.Token), []byte(token)) != 1 {
			continue
		}
		switch {
		case !l.UsedAt.IsZero() || v.status == StatusVerified:
			return nil, ErrLinkUsed
		case !l.RevokedAt.IsZero() || v.status == StatusSuperseded || l.Phone != v.legalRepPhone:
			return nil, ErrLinkRevoked
		case !now.Before(l.ExpiresAt):
			return nil, ErrLinkExpired
		}
		return l, nil
	}
	return nil, ErrLinkNotFound
}

// LinkPhoneVerified records that the legal rep proved the link's phone with an SMS code.
func (v *Verification) LinkPhoneVerified(token string, now time.Time) error {
	l, err := v.OpenLink(token, now)
	if err != nil {
		return err
	}
	l.PhoneVerifiedAt = v.touch(now)
	return nil
}

// LinkLivenessStarted records the face check session of the legal rep.
func (v *Verification) LinkLivenessStarted(token, sessionID, url string, now time.Time) error {
	l, err := v.OpenLink(token, now)
	if err != nil {
		return err
	}
	if l.PhoneVerifiedAt.IsZero() {
		return kernel.Precondition("link-phone-not-verified", "prove the phone with an SMS code first")
	}
	l.LivenessSession, l.LivenessURL, l.LivenessPassed = sessionID, url, time.Time{}
	v.touch(now)
	return nil
}

// LinkLivenessPassed records that the face check passed for the legal rep's identity (the
// caller compared the verified identity with the legal rep's).
func (v *Verification) LinkLivenessPassed(token, sessionID string, now time.Time) error {
	l, err := v.OpenLink(token, now)
	if err != nil {
		return err
	}
	if sessionID == "" || l.LivenessSession != sessionID {
		return kernel.Conflict("liveness-session-mismatch", "this face check is not the link's current one")
	}
	l.LivenessPassed = v.touch(now)
	return nil
}

// LinkLivenessFailed clears the face check so the legal rep can try again.
func (v *Verification) LinkLivenessFailed(token string, now time.Time) error {
	l, err := v.OpenLink(token, now)
	if err != nil {
		return err
	}
	l.LivenessSession, l.LivenessURL, l.LivenessPassed = "", "", time.Time{}
	v.touch(now)
	return nil
}

// CanSignInApp checks the legal rep's in-app signing (manual §5.1.1).
func (v *Verification) CanSignInApp(user kernel.UserID) error {
	if err := v.mustBeOpen(); err != nil {
		return err
	}
	if v.method != MethodLegalRepAuthorization {
		return kernel.Precondition("verification-method-mismatch", "this verification uses the bank transfer")
	}
	if v.role != RoleLegalRep || user != v.initiatorID {
		return kernel.Forbidden("legal-rep-only", "only the legal representative signs the authorization letter; use the signing link")
	}
	if v.signing != nil {
		return kernel.Conflict("verification-finished", "the letter is signed")
	}
	return nil
}

// CanSignByLink checks the link flow (manual §5.2.1): phone proved, face check passed.
func (v *Verification) CanSignByLink(token string, now time.Time) error {
	l, err := v.OpenLink(token, now)
	if err != nil {
		return err
	}
	if v.method != MethodLegalRepAuthorization {
		return kernel.Precondition("verification-method-mismatch", "this verification uses the bank transfer")
	}
	if l.PhoneVerifiedAt.IsZero() {
		return kernel.Precondition("link-phone-not-verified", "prove the phone with an SMS code first")
	}
	if l.LivenessPassed.IsZero() {
		return kernel.Precondition("link-liveness-required", "pass the face check first")
	}
	return nil
}

// Sign records the signed letter. For the link flow, token is the link (used up by signing).
func (v *Verification) Sign(s Signing, token string, now time.Time) error {
	if token == "" {
		if err := v.CanSignInApp(v.initiatorID); err != nil {
			return err
		}
	} else if err := v.CanSignByLink(token, now); err != nil {
		return err
	}
	if s.LetterKey == "" || s.SignatureKey == "" || s.LetterSHA256 == "" || len(s.CertDER) == 0 {
		return kernel.Invalid("signing-incomplete", "a signing needs the letter, its signature and the certificate")
	}
	if token != "" { // used up only by a signing that is recorded
		l, _ := v.OpenLink(token, now)
		l.UsedAt = kernel.OccurredAt(now)
	}
	now = v.touch(now)
	s.SignedAt = now
	s.CertDER = bytes.Clone(s.CertDER)
	v.signing = &s
	v.Record(AuthorizationLetterSigned{VerificationID: v.id, Channel: s.Evidence.Channel, LetterSHA256: s.LetterSHA256, At: now})
	return nil
}
