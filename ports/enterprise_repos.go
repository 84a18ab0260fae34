package ports

import (
	"context"

	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/membership"
)

// VerificationRepository stores enterprise verifications with their links, transfer and signing.
// Legal rep ID numbers, phones, link tokens and bank accounts are kept encrypted.
type VerificationRepository interface {
	Add(ctx context.Context, v *enterprise.Verification) error
	// Get loads a verification; missing → not-found "verification-not-found".
	Get(ctx context.Context, id kernel.VerificationID) (*enterprise.Verification, error)
	// GetByLinkToken finds the verification a signing link belongs to (also for revoked or
	// expired links, so the answer can say which); unknown → enterprise.ErrLinkNotFound.
	GetByLinkToken(ctx context.Context, token string) (*enterprise.Verification, error)
	// Update loads under a row lock, applies fn and saves with the events.
	Update(ctx context.Context, id kernel.VerificationID, fn func(v *enterprise.Verification) error) error
}

// EnterpriseRepository stores verified enterprises. A credit code is verified once.
type EnterpriseRepository interface {
	// Add inserts; an already verified credit code is the conflict "enterprise-already-verified".
	Add(ctx context.Context, e *enterprise.Enterprise) error
	// Get loads; missing → not-found "enterprise-not-found".
	Get(ctx context.Context, id kernel.EnterpriseID) (*enterprise.Enterprise, error)
	// GetByCreditCode loads; missing → not-found "enterprise-not-found".
	GetByCreditCode(ctx context.Context, code kernel.CreditCode) (*enterprise.Enterprise, error)
	Update(ctx context.Context, id kernel.EnterpriseID, fn func(e *enterprise.Enterprise) error) error
}

// MembershipRepository stores memberships.
type MembershipRepository interface {
	Add(ctx context.Context, m membership.Membership) error
	// Get returns the user's membership of an enterprise; none → not-found "membership-not-found".
	Get(ctx context.Context, eid kernel.EnterpriseID, uid kernel.UserID) (membership.Membership, error)
	// ListByUser returns the user's memberships, newest first.
	ListByUser(ctx context.Context, uid kernel.UserID) ([]membership.Membership, error)
}
