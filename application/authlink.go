package application

import (
	"context"
	"time"

	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/file"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/otp"
	"github.com/shuxinqian/server/ports"
)

// The signing link (manual §5.2.1): no login, the token is the capability.

// LinkPage is what the legal rep sees when opening the link.
type LinkPage struct {
	EnterpriseName string
	CreditCode     string
	LegalRepName   string // masked
	PhoneMasked    string
	ExpiresAt      time.Time
	PhoneVerified  bool
	LivenessPassed bool
	Liveness       *LivenessView
	LetterURL      string
}

func (a *App) openLink(ctx context.Context, token string, now time.Time) (*enterprise.Verification, *enterprise.Link, error) {
	if len(token) < 32 || len(token) > 128 {
		return nil, nil, enterprise.ErrLinkNotFound
	}
	var v *enterprise.Verification
	if err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		v, err = tx.Verifications().GetByLinkToken(ctx, token)
		return err
	}); err != nil {
		return nil, nil, err
	}
	l, err := v.OpenLink(token, now)
	return v, l, err
}

// AuthorizationLink shows the link's page. While a face check runs it asks the provider and
// records a pass (only for the legal rep's own identity).
func (a *App) AuthorizationLink(ctx context.Context, token string) (LinkPage, error) {
	now := a.clock.Now()
	v, l, err := a.openLink(ctx, token, now)
	if err != nil {
		return LinkPage{}, err
	}
	if l.LivenessSession != "" && l.LivenessPassed.IsZero() {
		if err := a.settleLinkLiveness(ctx, v, token, l.LivenessSession, now); err != nil {
			return LinkPage{}, err
		}
		if v, l, err = a.openLink(ctx, token, now); err != nil {
			return LinkPage{}, err
		}
	}
	p := LinkPage{EnterpriseName: v.EnterpriseName(), CreditCode: string(v.CreditCode()), LegalRepName: kernel.MaskName(v.LegalRepName()),
		PhoneMasked: l.Phone.Masked(), ExpiresAt: l.ExpiresAt, PhoneVerified: !l.PhoneVerifiedAt.IsZero(),
		LivenessPassed: !l.LivenessPassed.IsZero(), LetterURL: "/api/v1/authorization-links/" + token + "/authorization-letter.pdf"}
	if l.LivenessSession != "" && l.LivenessPassed.IsZero() {
		p.Liveness = &LivenessView{SessionID: l.LivenessSession, URL: l.LivenessURL}
	}
	return p, nil
}

// settleLinkLiveness asks the provider about the link's face check and records the outcome.
func (a *App) settleLinkLiveness(ctx context.Context, v *enterprise.Verification, token, session string, now time.Time) error {
	res, err := a.liveness.Result(ctx, session)
	if kernel.KindOf(err) == kernel.KindNotFound {
		res, err = ports.LivenessResult{Status: ports.LivenessFailed, Reason: "the face check session was lost"}, nil
	}
	if err != nil {
		return providerError(err, "liveness-unavailable", "the face check service is unavailable; try again later")
	}
	if res.Status == ports.LivenessPending {
		return nil
	}
	return a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		return tx.Verifications().Update(ctx, v.ID(), func(cur *enterprise.Verification) error {
			if res.Status == ports.LivenessPassed && res.Name == cur.LegalRepName() && res.IDNumber == cur.LegalRepIDNumber() {
				return cur.LinkLivenessPassed(token, session, now)
			}
			return cur.LinkLivenessFailed(token, now)
		})
	})
}

// LinkRequestCode texts a code to the link's bound phone: purpose verify_phone or sign.
//
// A code of purpose sign is bound to the SHA-256 of the letter shown (documentSHA256, when the
// client gives it, must be that hash): it signs that document and no other.
func (a *App) LinkRequestCode(ctx context.Context, token, purpose, documentSHA256, clientIP string) (CodeSent, error) {
	p, err := otp.ParsePurpose(purpose)
	if err != nil {
		return CodeSent{}, err
	}
	if p != otp.PurposeVerifyPhone && p != otp.PurposeSign {
		return CodeSent{}, kernel.Invalid("sms-purpose-invalid", "a signing link sends codes of purpose verify_phone or sign")
	}
	v, l, err := a.openLink(ctx, token, a.clock.Now())
	if err != nil {
		return CodeSent{}, err
	}
	if p != otp.PurposeSign {
		return a.issueCode(ctx, l.Phone, p, clientIP)
	}
	// The sign code is bound to the document the legal rep is shown: the SHA-256 of the letter.
	letter, err := a.linkLetter(ctx, v)
	if err != nil {
		return CodeSent{}, err
	}
	h := documentHash(letter)
	if documentSHA256 != "" && documentSHA256 != h {
		return CodeSent{}, kernel.Conflict("document-changed", "the letter changed; reload it before asking for a code").WithDetail("document_sha256", h)
	}
	sent, err := a.issueBoundCode(ctx, l.Phone, p, "sha256:"+h, clientIP)
	sent.DocumentSHA256 = h
	return sent, err
}

// LinkStartLiveness proves the phone (a verify_phone code) and starts the legal rep's face check.
func (a *App) LinkStartLiveness(ctx context.Context, token, code string) (LivenessView, error) {
	now := a.clock.Now()
	v, l, err := a.openLink(ctx, token, now)
	if err != nil {
		return LivenessView{}, err
	}
	if l.PhoneVerifiedAt.IsZero() {
		if err := a.verifyCode(ctx, l.Phone, otp.PurposeVerifyPhone, code, now); err != nil {
			return LivenessView{}, err
		}
	}
	sess, err := a.liveness.Start(ctx, ports.LivenessRequest{Name: v.LegalRepName(), IDNumber: v.LegalRepIDNumber(),
		RedirectURL: a.linkURL(token), Reference: "verification:" + string(v.ID())})
	if err != nil {
		return LivenessView{}, providerError(err, "liveness-unavailable", "the face check service is unavailable; try again later")
	}
	err = a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		return tx.Verifications().Update(ctx, v.ID(), func(cur *enterprise.Verification) error {
			if err := cur.LinkPhoneVerified(token, now); err != nil {
				return err
			}
			return cur.LinkLivenessStarted(token, sess.ID, sess.URL, now)
		})
	})
	if err != nil {
		return LivenessView{}, err
	}
	return LivenessView{SessionID: sess.ID, URL: sess.URL}, nil
}

// LinkUploadSignature stores a drawn signature (PNG) for the link's signing.
func (a *App) LinkUploadSignature(ctx context.Context, token string, data []byte) (ports.FileRecord, error) {
	v, _, err := a.openLink(ctx, token, a.clock.Now())
	if err != nil {
		return ports.FileRecord{}, err
	}
	if err := a.countUpload(ctx, "upload-link:"+string(v.ID()), UploadsPerLink); err != nil {
		return ports.FileRecord{}, err
	}
	info, err := inspectUpload(ctx, file.PurposeSignature, data)
	if err != nil {
		return ports.FileRecord{}, err
	}
	return a.storeFile(ctx, linkOwner(v), file.PurposeSignature, info, data)
}

// linkOwner owns the files uploaded through a verification's signing link.
func linkOwner(v *enterprise.Verification) kernel.UserID {
	return kernel.UserID("verification:" + string(v.ID()))
}

// LinkSign is the legal rep's signing through the link: phone proved, face check passed, an SMS
// code of purpose sign, and a signature (uploaded through the link, or generated from the name).
func (a *App) LinkSign(ctx context.Context, token, code, signatureFileID string, generate bool, ip, ua string) (*enterprise.Verification, error) {
	now := a.clock.Now()
	if (signatureFileID == "") == !generate {
		return nil, kernel.Invalid("signature-source-invalid", "give signature_image_file_id or generate: true")
	}
	v, l, err := a.openLink(ctx, token, now)
	if err != nil {
		return nil, err
	}
	if l.LivenessSession != "" && l.LivenessPassed.IsZero() {
		if err := a.settleLinkLiveness(ctx, v, token, l.LivenessSession, now); err != nil {
			return nil, err
		}
		if v, l, err = a.openLink(ctx, token, now); err != nil {
			return nil, err
		}
	}
	if err := v.CanSignByLink(token, now); err != nil {
		return nil, err
	}
	var png []byte
	var data ports.LetterData
	if err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		if data, err = a.letterData(ctx, tx, v); err != nil {
			return err
		}
		if generate {
			return nil
		}
		rec, err := ownFile(ctx, tx, linkOwner(v), kernel.FileID(signatureFileID), file.PurposeSignature)
		if err != nil {
			return err
		}
		png, err = a.files.Get(ctx, rec.StorageKey)
		return err
	}); err != nil {
		return nil, err
	}
	if generate {
		if png, err = a.renderer.RenderSignature(v.LegalRepName()); err != nil {
			return nil, err
		}
	}
	letter, err := a.docs.AuthorizationLetter(data)
	if err != nil {
		return nil, kernel.Internal(err)
	}
	shown := documentHash(letter)
	if err := a.verifyBoundCode(ctx, l.Phone, otp.PurposeSign, code, "sha256:"+shown, now); err != nil {
		return nil, err
	}
	signing, keys, err := a.signLetter(ctx, v, data, png, enterprise.Evidence{Channel: "link", OTPVerifiedAt: now,
		LivenessSession: l.LivenessSession, IP: ip, UserAgent: truncate(ua, 256),
		PhoneCheck:      "sms-code:verify_phone; sms-code:sign bound to the letter sha256:" + shown,
		PhoneVerifiedAt: l.PhoneVerifiedAt, LivenessResultID: l.LivenessSession, CertificateKind: "event"},
		a.eventLetterSigner(v), now)
	if err != nil {
		return nil, err
	}
	done, err := a.finish(ctx, v.ID(), func(v *enterprise.Verification) error { return v.Sign(signing, token, now) }, now)
	if err != nil {
		for _, k := range keys {
			_ = a.files.Delete(ctx, k)
		}
		return nil, err
	}
	return done, nil
}

// LinkLetter is the letter the link's legal rep is asked to sign.
func (a *App) LinkLetter(ctx context.Context, token string) ([]byte, error) {
	v, _, err := a.openLink(ctx, token, a.clock.Now())
	if err != nil {
		return nil, err
	}
	return a.linkLetter(ctx, v)
}

func (a *App) linkLetter(ctx context.Context, v *enterprise.Verification) ([]byte, error) {
	var data ports.LetterData
	if err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		data, err = a.letterData(ctx, tx, v)
		return err
	}); err != nil {
		return nil, err
	}
	return a.letterOf(ctx, v, data)
}
