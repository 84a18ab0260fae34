// Package membership holds who belongs to an enterprise, with which role. This slice creates
// the founding memberships of a verified enterprise; joining, approval and removal follow.
package membership

import (
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// Role in an enterprise.
type Role string

// Roles.
const (
	RoleLegalRep Role = "legal_rep"
	RoleAdmin    Role = "admin"
	RoleMember   Role = "member"
)

// IsAdmin reports whether the role may administer members (admin and legal rep).
func (r Role) IsAdmin() bool { return r == RoleAdmin || r == RoleLegalRep }

// Status of a membership.
type Status string

// Statuses.
const (
	StatusPending  Status = "pending"
	StatusInvited  Status = "invited"
	StatusActive   Status = "active"
	StatusRejected Status = "rejected"
	StatusRemoved  Status = "removed"
)

// Membership is one person's place in an enterprise.
type Membership struct {
	ID             kernel.MembershipID
	EnterpriseID   kernel.EnterpriseID
	UserID         kernel.UserID
	Role           Role
	Status         Status
	CertAuthorized bool // may use the organisation certificate
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Founder is an active membership created when the enterprise is verified.
func Founder(id kernel.MembershipID, eid kernel.EnterpriseID, uid kernel.UserID, role Role, now time.Time) (Membership, error) {
	if id == "" || eid == "" || uid == "" {
		return Membership{}, kernel.Invalid("membership-incomplete", "membership needs an id, an enterprise and a user")
	}
	if role != RoleLegalRep && role != RoleAdmin && role != RoleMember {
		return Membership{}, kernel.Invalid("membership-role-invalid", "role is legal_rep, admin or member")
	}
	now = kernel.OccurredAt(now)
	return Membership{ID: id, EnterpriseID: eid, UserID: uid, Role: role, Status: StatusActive, CertAuthorized: true,
		CreatedAt: now, UpdatedAt: now}, nil
}

// Active reports whether the membership grants access.
func (m Membership) Active() bool { return m.Status == StatusActive }
