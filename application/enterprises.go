package application

import (
	"context"

	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/membership"
	"github.com/shuxinqian/server/ports"
)

// EnterpriseView is an enterprise as one of its members sees it.
type EnterpriseView struct {
	E    *enterprise.Enterprise
	Role membership.Role
}

// ErrEnterpriseNotFound answers for enterprises the caller does not belong to.
var ErrEnterpriseNotFound = kernel.NotFound("enterprise-not-found", "no such enterprise")

// MyEnterprises lists the enterprises the caller is an active member of, with the role: one
// query, no enterprise loaded or decrypted one by one.
func (a *App) MyEnterprises(ctx context.Context, actor Actor) ([]ports.EnterpriseSummary, error) {
	var out []ports.EnterpriseSummary
	err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		out, err = tx.Enterprises().ListOfMember(ctx, kernel.UserID(actor.UserID))
		return err
	})
	return out, err
}

// memberOf checks an active membership: an enterprise the caller does not belong to (any more)
// is not found.
func memberOf(ctx context.Context, tx ports.Tx, actor Actor, id string) (*membership.Membership, error) {
	m, err := tx.Memberships().Current(ctx, kernel.EnterpriseID(id), kernel.UserID(actor.UserID))
	if kernel.KindOf(err) == kernel.KindNotFound || (err == nil && !m.Active()) {
		return nil, ErrEnterpriseNotFound
	}
	return m, err
}

// adminOf checks an active admin or legal rep membership; a plain member is forbidden.
func adminOf(ctx context.Context, tx ports.Tx, actor Actor, id string) (*membership.Membership, error) {
	m, err := memberOf(ctx, tx, actor, id)
	if err != nil {
		return nil, err
	}
	if !m.Role.IsAdmin() {
		return nil, kernel.Forbidden("admin-only", "only the enterprise's admins and legal representative may do this")
	}
	return m, nil
}

// Enterprise returns one of the caller's enterprises.
func (a *App) Enterprise(ctx context.Context, actor Actor, id string) (EnterpriseView, error) {
	var v EnterpriseView
	err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		m, err := memberOf(ctx, tx, actor, id)
		if err != nil {
			return err
		}
		e, err := tx.Enterprises().Get(ctx, m.EnterpriseID)
		v = EnterpriseView{E: e, Role: m.Role}
		return err
	})
	return v, err
}

// EnterpriseCertificate returns the organisation certificate of one of the caller's enterprises.
func (a *App) EnterpriseCertificate(ctx context.Context, actor Actor, id string) (*enterprise.OrgCertificate, error) {
	v, err := a.Enterprise(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	c := v.E.Certificate()
	if c == nil {
		return nil, kernel.NotFound("org-certificate-pending", "the organisation certificate is being issued; try again in a moment")
	}
	return c, nil
}
