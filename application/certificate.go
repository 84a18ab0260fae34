package application

import (
	"context"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
)

// PersonalCertValidity is how long a personal certificate lasts.
const PersonalCertValidity = 2 * 365 * 24 * time.Hour

// SetSigningPassword is PUT /me/signing-password. Without OldPassword and Code it sets the first
// signing password and applies for the personal certificate; with one of them it changes it.
type SetSigningPassword struct {
	Password     string
	Confirmation string
	OldPassword  string
	// Code (purpose reset_signing_password) resets a forgotten password: a new key and
	// certificate, the old one revoked; LivenessSessionID is the passed face check when the
	// channel verifies by face.
	Code              string
	LivenessSessionID string
}

// SigningPassword sets or changes the signing password. It returns the certificate (created:
// a new one was issued), or the face check a reset needs first.
func (a *App) SigningPassword(ctx context.Context, actor Actor, in SetSigningPassword) (*user.Certificate, bool, *LivenessView, error) {
	c, created, err := a.signingPassword(ctx, actor, in)
	if err != nil || c != nil || in.Code == "" {
		return c, created, nil, err
	}
	r, err := a.ResetSigningPassword(ctx, actor, ResetSigningPassword{Password: in.Password, Confirmation: in.Confirmation,
		Code: in.Code, LivenessSessionID: in.LivenessSessionID})
	return r.Certificate, r.Certificate != nil, r.Liveness, err
}

func (a *App) signingPassword(ctx context.Context, actor Actor, in SetSigningPassword) (*user.Certificate, bool, error) {
	if err := user.ValidateSigningPassword(in.Password, in.Confirmation); err != nil {
		return nil, false, err
	}
	switch {
	case in.OldPassword != "" && in.Code != "":
		return nil, false, kernel.Invalid("signing-password-change-ambiguous", "give old_password or code, not both")
	case in.Code != "":
		return nil, false, nil // a reset: a new key and certificate (ResetSigningPassword)
	case in.OldPassword != "":
		c, err := a.changeSigningPassword(ctx, actor, in)
		return c, false, err
	}
	c, err := a.applyForCertificate(ctx, actor, in.Password)
	return c, true, err
}

func (a *App) applyForCertificate(ctx context.Context, actor Actor, password string) (*user.Certificate, error) {
	now := a.clock.Now()
	uid := kernel.UserID(actor.UserID)
	var u *user.User
	check := func(ctx context.Context, tx ports.Tx, u *user.User) error {
		c, p, err := currentChannel(ctx, tx, u)
		if err != nil {
			return err
		}
		// Charging applies when the platform's switch is on and the user's channel (if any)
		// does not waive it.
		charging := p.ChargingEnabled && (c == nil || c.ChargingEnabled())
		return u.CanSetSigningPassword(charging, c != nil && c.Active() && c.PersonalCertService())
	}
	if err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		if u, err = tx.Users().Get(ctx, uid); err != nil {
			return err
		}
		return check(ctx, tx, u)
	}); err != nil {
		return nil, err
	}
	// The slow and external work runs outside any transaction.
	cert, err := a.newPersonalCertificate(ctx, u, password)
	if err != nil {
		return nil, err
	}
	var out *user.Certificate
	err = a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		return tx.Users().Update(ctx, uid, func(u *user.User) error {
			if err := check(ctx, tx, u); err != nil { // a concurrent request may have won
				return err
			}
			if err := u.IssueCertificate(cert, now); err != nil {
				return err
			}
			out = u.Certificate()
			return nil
		})
	})
	return out, err
}

// newPersonalCertificate generates a personal key wrapped under password (bound to its holder)
// and has the CA certify it for the holder's verified identity. It runs outside any transaction.
func (a *App) newPersonalCertificate(ctx context.Context, u *user.User, password string) (user.Certificate, error) {
	km, err := a.keys.Generate(personalKeyOwner(u.ID()), password)
	if err != nil {
		return user.Certificate{}, kernel.Internal(err)
	}
	id := u.Identity()
	issued, err := a.ca.IssuePersonal(ctx, ports.CertificateRequest{PublicKeyDER: km.PublicKeyDER, CommonName: id.Name,
		SubjectSerial: a.subjectPseudonym(id.IDNumber), Validity: PersonalCertValidity})
	if err != nil {
		return user.Certificate{}, providerError(err, "ca-unavailable", "the certificate authority is unavailable; try again later")
	}
	return user.Certificate{Serial: issued.SerialHex, Subject: issued.Subject, NotBefore: issued.NotBefore,
		NotAfter: issued.NotAfter, DER: issued.DER, PublicKeyDER: km.PublicKeyDER, WrappedKey: km.Wrapped}, nil
}

// subjectPseudonym identifies a person in certificates without the clear ID number: a keyed
// digest, stable for the person, meaningless without the platform key.
func (a *App) subjectPseudonym(id kernel.IDNumber) string {
	return "SXQ-" + a.secrets.Digest("certificate-subject", string(id))[:24]
}

func (a *App) changeSigningPassword(ctx context.Context, actor Actor, in SetSigningPassword) (*user.Certificate, error) {
	now := a.clock.Now()
	uid := kernel.UserID(actor.UserID)
	// The old password is a signing-password try: reserved under the row lock before the key is
	// opened (the reservation also checks that the certificate is active and signing not locked).
	try, cert, err := a.reserveSigningTry(ctx, uid, now)
	if err != nil {
		return nil, err
	}
	wrapped, err := a.keys.Rewrap(personalKeyOwner(uid), cert.WrappedKey, in.OldPassword, in.Password)
	if kernel.CodeOf(err) == "signing-password-wrong" {
		return nil, signingTryWrong(try)
	}
	if err != nil {
		return nil, kernel.Internal(err)
	}
	if err := a.signingTryRight(ctx, uid, try, now); err != nil {
		return nil, err
	}
	var out *user.Certificate
	err = a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		return tx.Users().Update(ctx, uid, func(u *user.User) error {
			if c := u.Certificate(); c == nil || c.Serial != cert.Serial {
				return kernel.Conflict("certificate-changed", "the certificate changed meanwhile; try again")
			}
			if err := u.RewrapSigningKey(wrapped, false, now); err != nil {
				return err
			}
			out = u.Certificate()
			return nil
		})
	})
	return out, err
}

// VerifySigningPassword checks the signing password by opening the signing key, counting
// failures (5 lock signing for 30 minutes). The try is reserved before the key is opened.
func (a *App) VerifySigningPassword(ctx context.Context, actor Actor, password string) error {
	now := a.clock.Now()
	uid := kernel.UserID(actor.UserID)
	try, cert, err := a.reserveSigningTry(ctx, uid, now)
	if err != nil {
		return err
	}
	if len(password) > 64 {
		return signingTryWrong(try)
	}
	if _, _, err := a.keys.Unwrap(personalKeyOwner(uid), cert.WrappedKey, password); err != nil {
		if kernel.CodeOf(err) == "signing-password-wrong" {
			return signingTryWrong(try)
		}
		return kernel.Internal(err)
	}
	return a.signingTryRight(ctx, uid, try, now)
}

// Certificate returns the caller's personal certificate.
func (a *App) Certificate(ctx context.Context, actor Actor) (*user.Certificate, error) {
	var c *user.Certificate
	err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		u, err := tx.Users().Get(ctx, kernel.UserID(actor.UserID))
		if err != nil {
			return err
		}
		if c = u.Certificate(); c == nil {
			return kernel.NotFound("certificate-not-found", "no personal certificate yet: set a signing password to apply for one")
		}
		return nil
	})
	return c, err
}

// CAChainPEM is the platform CA chain.
func (a *App) CAChainPEM() []byte { return a.ca.ChainPEM() }
