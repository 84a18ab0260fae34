package membership

import (
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// JoinRequested: a user applied to join an enterprise.
type JoinRequested struct {
	MembershipID kernel.MembershipID `json:"membership_id"`
	EnterpriseID kernel.EnterpriseID `json:"enterprise_id"`
	UserID       kernel.UserID       `json:"user_id"`
	At           time.Time           `json:"at"`
}

// EventName implements kernel.Event.
func (JoinRequested) EventName() string { return "membership.join_requested" }

// JoinApproved: an admin approved a join request.
type JoinApproved struct {
	MembershipID kernel.MembershipID `json:"membership_id"`
	EnterpriseID kernel.EnterpriseID `json:"enterprise_id"`
	UserID       kernel.UserID       `json:"user_id"`
	At           time.Time           `json:"at"`
}

// EventName implements kernel.Event.
func (JoinApproved) EventName() string { return "membership.join_approved" }

// JoinRejected: an admin rejected a join request.
type JoinRejected struct {
	MembershipID kernel.MembershipID `json:"membership_id"`
	EnterpriseID kernel.EnterpriseID `json:"enterprise_id"`
	UserID       kernel.UserID       `json:"user_id"`
	At           time.Time           `json:"at"`
}

// EventName implements kernel.Event.
func (JoinRejected) EventName() string { return "membership.join_rejected" }

// MemberInvited: an admin added a person who has no verified account yet.
type MemberInvited struct {
	MembershipID kernel.MembershipID `json:"membership_id"`
	EnterpriseID kernel.EnterpriseID `json:"enterprise_id"`
	Role         Role                `json:"role"`
	At           time.Time           `json:"at"`
}

// EventName implements kernel.Event.
func (MemberInvited) EventName() string { return "membership.invited" }

// MemberAdded: a person became an active member (added directly, or an invitation activated).
type MemberAdded struct {
	MembershipID kernel.MembershipID `json:"membership_id"`
	EnterpriseID kernel.EnterpriseID `json:"enterprise_id"`
	UserID       kernel.UserID       `json:"user_id"`
	Role         Role                `json:"role"`
	At           time.Time           `json:"at"`
}

// EventName implements kernel.Event.
func (MemberAdded) EventName() string { return "membership.added" }

// MemberRemoved: an admin removed a member; the certificate authorization was revoked with it.
type MemberRemoved struct {
	MembershipID             kernel.MembershipID `json:"membership_id"`
	EnterpriseID             kernel.EnterpriseID `json:"enterprise_id"`
	UserID                   kernel.UserID       `json:"user_id"`
	CertAuthorizationRevoked bool                `json:"cert_authorization_revoked"`
	At                       time.Time           `json:"at"`
}

// EventName implements kernel.Event.
func (MemberRemoved) EventName() string { return "membership.removed" }
