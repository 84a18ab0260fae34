// Package membership holds who belongs to an enterprise, with which role: join requests and
// their approval, invitations by phone, removal with the revocation of the right to use the
// organisation certificate.
package membership

import (
	"strings"
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

// ParseAssignableRole validates a role an admin may give: admin or member (the legal rep role
// comes only from the verified legal representative).
func ParseAssignableRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleAdmin, RoleMember:
		return r, nil
	case RoleLegalRep:
		return "", kernel.Invalid("role-not-assignable", "the legal_rep role belongs to the verified legal representative")
	}
	return "", kernel.Invalid("role-invalid", "role is admin or member")
}

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

// ParseStatus validates a status filter.
func ParseStatus(s string) (Status, error) {
	switch st := Status(s); st {
	case StatusPending, StatusInvited, StatusActive, StatusRejected, StatusRemoved:
		return st, nil
	}
	return "", kernel.Invalid("member-status-invalid", "status is one of active, pending, invited, rejected, removed")
}

// Open reports whether the status blocks another request or invitation for the same person.
func (s Status) Open() bool { return s == StatusPending || s == StatusInvited || s == StatusActive }

// Membership is one person's place in an enterprise.
type Membership struct {
	kernel.Events

	ID           kernel.MembershipID
	EnterpriseID kernel.EnterpriseID
	UserID       kernel.UserID // empty while invited and not yet registered
	// InviteeName and InviteePhone identify an invited person until the phone registers and
	// verifies with the same name (kept encrypted by the store).
	InviteeName    string
	InviteePhone   kernel.Phone
	Role           Role
	Status         Status
	CertAuthorized bool // may use the organisation certificate
	CertRevokedAt  time.Time
	DecidedBy      kernel.UserID // who approved, rejected, added or removed
	JoinedAt       time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
	Version        int64
}

func newMembership(id kernel.MembershipID, eid kernel.EnterpriseID, role Role, status Status, now time.Time) (*Membership, error) {
	if id == "" || eid == "" {
		return nil, kernel.Invalid("membership-incomplete", "membership needs an id and an enterprise")
	}
	if role != RoleLegalRep && role != RoleAdmin && role != RoleMember {
		return nil, kernel.Invalid("role-invalid", "role is legal_rep, admin or member")
	}
	now = kernel.OccurredAt(now)
	return &Membership{ID: id, EnterpriseID: eid, Role: role, Status: status, CreatedAt: now, UpdatedAt: now}, nil
}

// Founder is an active membership created when the enterprise is verified.
func Founder(id kernel.MembershipID, eid kernel.EnterpriseID, uid kernel.UserID, role Role, now time.Time) (*Membership, error) {
	if uid == "" {
		return nil, kernel.Invalid("membership-incomplete", "membership needs a user")
	}
	m, err := newMembership(id, eid, role, StatusActive, now)
	if err != nil {
		return nil, err
	}
	m.UserID, m.CertAuthorized, m.JoinedAt = uid, true, m.CreatedAt
	return m, nil
}

// Apply is a verified user's request to join (manual §5.3): pending until an admin decides.
func Apply(id kernel.MembershipID, eid kernel.EnterpriseID, uid kernel.UserID, now time.Time) (*Membership, error) {
	if uid == "" {
		return nil, kernel.Invalid("membership-incomplete", "membership needs a user")
	}
	m, err := newMembership(id, eid, RoleMember, StatusPending, now)
	if err != nil {
		return nil, err
	}
	m.UserID = uid
	m.Record(JoinRequested{MembershipID: m.ID, EnterpriseID: eid, UserID: uid, At: m.CreatedAt})
	return m, nil
}

// AddExisting adds a verified user directly (manual §5.4.1): active at once.
func AddExisting(id kernel.MembershipID, eid kernel.EnterpriseID, uid kernel.UserID, role Role, by kernel.UserID, now time.Time) (*Membership, error) {
	m, err := Founder(id, eid, uid, role, now)
	if err != nil {
		return nil, err
	}
	m.DecidedBy = by
	m.Record(MemberAdded{MembershipID: m.ID, EnterpriseID: eid, UserID: uid, Role: role, At: m.CreatedAt})
	return m, nil
}

// Invite adds a person by name and phone who has no verified account yet: invited until that
// phone registers and verifies the same name.
func Invite(id kernel.MembershipID, eid kernel.EnterpriseID, name string, phone kernel.Phone, role Role, by kernel.UserID, now time.Time) (*Membership, error) {
	name = strings.TrimSpace(name)
	if name == "" || phone.IsZero() {
		return nil, kernel.Invalid("invitee-incomplete", "give the person's name and phone")
	}
	m, err := newMembership(id, eid, role, StatusInvited, now)
	if err != nil {
		return nil, err
	}
	m.InviteeName, m.InviteePhone, m.DecidedBy = name, phone, by
	m.Record(MemberInvited{MembershipID: m.ID, EnterpriseID: eid, Role: role, At: m.CreatedAt})
	return m, nil
}

// Errors of the state machine.
var (
	ErrNotPending = kernel.Conflict("member-not-pending", "only a pending join request can be approved or rejected")
	ErrNotActive  = kernel.Conflict("member-not-active", "only an active member can be removed")
)

// A Decision is an admin's answer to join requests: approve or reject, by whom, when. It is a
// value so that what deciding does is stated once (Decide, and the accessors below) and a store
// can apply one decision to many requests in one statement: the guard (Requires), the state it
// sets (Status, DecidedBy, At; for an approval also CertAuthorized and JoinedAt), and the event
// each decided request records (Event).
type Decision struct {
	approve bool
	by      kernel.UserID
	at      time.Time
}

// Approval admits pending applicants.
func Approval(by kernel.UserID, now time.Time) Decision {
	return Decision{approve: true, by: by, at: kernel.OccurredAt(now)}
}

// Rejection turns pending requests down; they are kept (the rejected tab).
func Rejection(by kernel.UserID, now time.Time) Decision {
	return Decision{by: by, at: kernel.OccurredAt(now)}
}

// Requires is the only status a decision applies to.
func (Decision) Requires() Status { return StatusPending }

// Admits reports an approval: the member may use the organisation certificate and joined At.
func (d Decision) Admits() bool { return d.approve }

// Status is the status a decided request gets.
func (d Decision) Status() Status {
	if d.approve {
		return StatusActive
	}
	return StatusRejected
}

// DecidedBy is the deciding admin.
func (d Decision) DecidedBy() kernel.UserID { return d.by }

// At is when the decision was made (the decided request's UpdatedAt, and JoinedAt if it admits).
func (d Decision) At() time.Time { return d.at }

// Event is what deciding the request id (of enterprise eid, by user uid) records.
func (d Decision) Event(id kernel.MembershipID, eid kernel.EnterpriseID, uid kernel.UserID) kernel.Event {
	if d.approve {
		return JoinApproved{MembershipID: id, EnterpriseID: eid, UserID: uid, At: d.at}
	}
	return JoinRejected{MembershipID: id, EnterpriseID: eid, UserID: uid, At: d.at}
}

// Decide applies d to a pending request.
func (m *Membership) Decide(d Decision) error {
	if m.Status != d.Requires() {
		return ErrNotPending
	}
	m.Status, m.DecidedBy, m.UpdatedAt = d.Status(), d.by, d.at
	if d.approve {
		m.CertAuthorized, m.JoinedAt = true, d.at
	}
	m.Record(d.Event(m.ID, m.EnterpriseID, m.UserID))
	return nil
}

// Approve admits a pending applicant.
func (m *Membership) Approve(by kernel.UserID, now time.Time) error {
	return m.Decide(Approval(by, now))
}

// Reject turns a pending request down; it is kept (the rejected tab).
func (m *Membership) Reject(by kernel.UserID, now time.Time) error {
	return m.Decide(Rejection(by, now))
}

// ActivateInvite binds an invitation to the user whose verified identity matches it.
func (m *Membership) ActivateInvite(uid kernel.UserID, verifiedName string, phone kernel.Phone, now time.Time) error {
	if m.Status != StatusInvited {
		return kernel.Conflict("member-not-invited", "this membership is not an open invitation")
	}
	if uid == "" || phone != m.InviteePhone || strings.TrimSpace(verifiedName) != m.InviteeName {
		return kernel.Precondition("invitee-mismatch", "the verified identity is not the invited person")
	}
	now = kernel.OccurredAt(now)
	m.UserID, m.Status, m.CertAuthorized, m.JoinedAt, m.UpdatedAt = uid, StatusActive, true, now, now
	m.Record(MemberAdded{MembershipID: m.ID, EnterpriseID: m.EnterpriseID, UserID: uid, Role: m.Role, At: now})
	return nil
}

// Remove ends an active membership (manual §5.4.3): not the legal rep; otherAdmins is the number
// of other active admins (admin or legal rep), and an admin cannot be the last one. The right to
// use the organisation certificate is revoked at the same moment.
func (m *Membership) Remove(by kernel.UserID, otherAdmins int, now time.Time) error {
	switch {
	case m.Status != StatusActive:
		return ErrNotActive
	case m.Role == RoleLegalRep:
		return kernel.Precondition("cannot-remove-legal-rep", "the legal representative cannot be removed")
	case m.Role.IsAdmin() && otherAdmins <= 0:
		return kernel.Precondition("cannot-remove-last-admin", "the last admin cannot be removed; make someone else admin first")
	}
	now = kernel.OccurredAt(now)
	m.Status, m.DecidedBy, m.UpdatedAt = StatusRemoved, by, now
	m.CertAuthorized, m.CertRevokedAt = false, now
	m.Record(MemberRemoved{MembershipID: m.ID, EnterpriseID: m.EnterpriseID, UserID: m.UserID, CertAuthorizationRevoked: true, At: now})
	return nil
}

// Active reports whether the membership grants access.
func (m *Membership) Active() bool { return m.Status == StatusActive }
