package ports

import (
	"context"
	"time"

	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/membership"
	"github.com/shuxinqian/server/domain/user"
)

// VerificationRepository stores enterprise verifications with their links, transfer and signing.
// Legal rep ID numbers, phones, link tokens and bank accounts are kept encrypted.
type VerificationRepository interface {
	// Add inserts; a second open verification of one initiator for one credit code is the
	// conflict "verification-open".
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
	// SearchByName finds verified enterprises with exactly this name.
	SearchByName(ctx context.Context, name string) ([]*enterprise.Enterprise, error)
	// Lock takes the enterprise's row lock until the transaction ends (member changes that
	// count admins serialise on it).
	Lock(ctx context.Context, id kernel.EnterpriseID) error
	// ListOfMember lists the enterprises uid is an active member of, with the role, oldest
	// membership first: one query, nothing decrypted (no legal rep ID, no key).
	ListOfMember(ctx context.Context, uid kernel.UserID) ([]EnterpriseSummary, error)
}

// EnterpriseSummary is an enterprise as its member's list shows it.
type EnterpriseSummary struct {
	ID           kernel.EnterpriseID
	Name         string
	CreditCode   kernel.CreditCode
	LegalRepName string
	Method       enterprise.Method
	VerifiedAt   time.Time
	Role         membership.Role
	// CertSerial is "" until the organisation certificate is issued.
	CertSerial, CertSubject     string
	CertNotBefore, CertNotAfter time.Time
}

// MemberListing is a membership as the members list shows it: the person's name and phone
// are the user's (the verified real name, "" before it) once the membership has a user, else
// the invitee's.
type MemberListing struct {
	M              *membership.Membership
	Name           string
	Phone          kernel.Phone
	RealNameStatus user.RealNameStatus // the user's; "" for an invitee without an account
}

// MembershipRepository stores memberships. Invitees' names and phones are kept encrypted.
type MembershipRepository interface {
	// Add inserts; a second open membership (pending, invited or active) of one person is the
	// conflict "already-member" (or "join-request-pending", "already-invited").
	Add(ctx context.Context, m *membership.Membership) error
	// GetByID loads a membership of the enterprise; another enterprise's id is not-found
	// "member-not-found".
	GetByID(ctx context.Context, eid kernel.EnterpriseID, id kernel.MembershipID) (*membership.Membership, error)
	// Current returns the user's open membership of the enterprise (pending, invited or
	// active), else the newest; none → not-found "membership-not-found".
	Current(ctx context.Context, eid kernel.EnterpriseID, uid kernel.UserID) (*membership.Membership, error)
	// ListByUser returns the user's memberships, newest first.
	ListByUser(ctx context.Context, uid kernel.UserID) ([]*membership.Membership, error)
	// Page returns one page of the enterprise's memberships in the given states (all when
	// none), newest first by id, only ids below before when it is not "", at most limit; each
	// with its person's display data, all in one query (no certificate, no per-row read).
	Page(ctx context.Context, eid kernel.EnterpriseID, states []membership.Status, before kernel.MembershipID, limit int) ([]MemberListing, error)
	// Update loads one membership under a row lock, applies fn and saves it with its events.
	Update(ctx context.Context, eid kernel.EnterpriseID, id kernel.MembershipID, fn func(m *membership.Membership) error) error
	// DecideMany applies one decision to many join requests of the enterprise in a bounded
	// number of statements: one guarded write of every request in d.Requires() (which records
	// d.Event for each), then, only for the ids it did not change, one read to answer them as
	// the aggregate would. It answers per id: nil, the aggregate's error (ErrNotPending), or
	// not-found "member-not-found" for ids of no membership of the enterprise.
	DecideMany(ctx context.Context, eid kernel.EnterpriseID, ids []kernel.MembershipID, d membership.Decision) (map[kernel.MembershipID]error, error)
	// CountAdmins counts the active admins and legal reps of the enterprise.
	CountAdmins(ctx context.Context, eid kernel.EnterpriseID) (int, error)
	// OpenInvites finds the open invitations to a phone, in every enterprise.
	OpenInvites(ctx context.Context, phone kernel.Phone) ([]*membership.Membership, error)
}
