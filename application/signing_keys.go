package application

import (
	"context"

	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/membership"
	"github.com/shuxinqian/server/ports"
)

// Keys for the sign flows (application/signing): App satisfies signing.Keys.

// WithPersonalKey opens uid's personal key with the signing password for one operation (a
// wrong password counts towards the lock) and hands it to fn.
func (a *App) WithPersonalKey(ctx context.Context, uid kernel.UserID, signingPassword string, fn func(ports.OneTimeSigner) error) error {
	k, err := a.openPersonalKey(ctx, uid, signingPassword, a.clock.Now())
	if err != nil {
		return err
	}
	return fn(k)
}

// WithOrganisationKey lets an active member of the enterprise use the organisation key for
// one operation under a seal grant: the caller has checked the grant (the seal's authorisation
// replaces the membership's certificate authorisation); the member proves their OWN signing
// password first.
func (a *App) WithOrganisationKey(ctx context.Context, uid kernel.UserID, eid kernel.EnterpriseID, signingPassword string, fn func(ports.OneTimeSigner) error) error {
	return a.withOrganisationKey(ctx, uid, eid, signingPassword, false, fn)
}

func (a *App) withOrganisationKey(ctx context.Context, uid kernel.UserID, eid kernel.EnterpriseID, signingPassword string, needCertAuth bool, fn func(ports.OneTimeSigner) error) error {
	now := a.clock.Now()
	var e *enterprise.Enterprise
	if err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		m, err := tx.Memberships().Current(ctx, eid, uid)
		if err != nil || m.Status != membership.StatusActive {
			return kernel.NotFound("enterprise-not-found", "no such enterprise")
		}
		if needCertAuth && !m.CertAuthorized {
			return kernel.Forbidden("org-certificate-not-authorized", "you are not authorized to use the organisation certificate")
		}
		e, err = tx.Enterprises().Get(ctx, eid)
		return err
	}); err != nil {
		return err
	}
	c := e.Certificate()
	if c == nil {
		return kernel.Precondition("org-certificate-missing", "the enterprise has no organisation certificate")
	}
	if _, err := a.openPersonalKey(ctx, uid, signingPassword, now); err != nil {
		return err
	}
	key, err := a.keygen.UnmarshalKey(c.KeyPKCS8)
	clear(c.KeyPKCS8)
	if err != nil {
		return kernel.Internal(err)
	}
	return fn(ports.OneTimeSigner{Signer: key, CertificateDER: c.DER, ChainPEM: a.ca.ChainPEM()})
}
