package application

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/membership"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
)

// Limits of the member management.
const (
	// MemberListLimit is the largest page of the members list; MemberPageSize the default.
	MemberListLimit = 200
	MemberPageSize  = 50
	BatchLimit      = 1000
)

// SearchEnterprises finds verified enterprises by their exact full name (manual §5.3).
func (a *App) SearchEnterprises(ctx context.Context, name string) ([]*enterprise.Enterprise, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 100 {
		return nil, kernel.Invalid("enterprise-name-invalid", "give the enterprise's full name (up to 100 characters)")
	}
	var out []*enterprise.Enterprise
	err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		out, err = tx.Enterprises().SearchByName(ctx, name)
		return err
	})
	return out, err
}

// ApplyToJoin is a verified user's join request (manual §5.3).
func (a *App) ApplyToJoin(ctx context.Context, actor Actor, eid string) (*membership.Membership, error) {
	now := a.clock.Now()
	uid := kernel.UserID(actor.UserID)
	var m *membership.Membership
	err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		u, err := tx.Users().Get(ctx, uid)
		if err != nil {
			return err
		}
		if u.RealNameStatus() != user.RealNameVerified {
			return kernel.Forbidden("real-name-required", "verify your real name before joining an enterprise")
		}
		if _, err := tx.Enterprises().Get(ctx, kernel.EnterpriseID(eid)); err != nil {
			return err
		}
		cur, err := tx.Memberships().Current(ctx, kernel.EnterpriseID(eid), uid)
		switch {
		case err == nil && cur.Status == membership.StatusActive:
			return kernel.Conflict("already-member", "you are already a member of this enterprise")
		case err == nil && cur.Status == membership.StatusPending:
			return kernel.Conflict("join-request-pending", "your join request is waiting for an admin")
		case err != nil && kernel.KindOf(err) != kernel.KindNotFound:
			return err
		}
		if m, err = membership.Apply(kernel.MembershipID(a.ids.NewID()), kernel.EnterpriseID(eid), uid, now); err != nil {
			return err
		}
		return tx.Memberships().Add(ctx, m)
	})
	return m, err
}

// MemberView is a membership with the person's display data.
type MemberView struct {
	M           *membership.Membership
	Name        string
	PhoneMasked string
}

func memberView(ctx context.Context, tx ports.Tx, m *membership.Membership) (MemberView, error) {
	if m.UserID == "" {
		return MemberView{M: m, Name: m.InviteeName, PhoneMasked: m.InviteePhone.Masked()}, nil
	}
	u, err := tx.Users().Get(ctx, m.UserID)
	if err != nil {
		return MemberView{}, err
	}
	return MemberView{M: m, Name: u.Identity().Name, PhoneMasked: u.Phone().Masked()}, nil
}

// Members lists one page of an enterprise's memberships, newest first: admins see every
// state, members the active ones. before is the previous page's last id ("" for the first
// page); limit 0 means MemberPageSize. One query for the caller's membership, one for the page.
func (a *App) Members(ctx context.Context, actor Actor, eid string, states []string, before string, limit int) ([]MemberView, error) {
	var filter []membership.Status
	for _, s := range states {
		st, err := membership.ParseStatus(s)
		if err != nil {
			return nil, err
		}
		filter = append(filter, st)
	}
	if limit == 0 {
		limit = MemberPageSize
	}
	if limit < 1 || limit > MemberListLimit {
		return nil, kernel.Invalid("limit-invalid", fmt.Sprintf("limit is 1 to %d", MemberListLimit))
	}
	var out []MemberView
	err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		me, err := memberOf(ctx, tx, actor, eid)
		if err != nil {
			return err
		}
		if !me.Role.IsAdmin() {
			for _, st := range filter {
				if st != membership.StatusActive {
					return kernel.Forbidden("admin-only", "only admins see join requests, invitations and former members")
				}
			}
			filter = []membership.Status{membership.StatusActive}
		}
		ls, err := tx.Memberships().Page(ctx, kernel.EnterpriseID(eid), filter, kernel.MembershipID(before), limit)
		if err != nil {
			return err
		}
		out = make([]MemberView, len(ls))
		for i, l := range ls {
			out[i] = MemberView{M: l.M, Name: l.Name, PhoneMasked: l.Phone.Masked()}
		}
		return nil
	})
	return out, err
}

// Member returns one membership: admins see any, members only active ones.
func (a *App) Member(ctx context.Context, actor Actor, eid, mid string) (MemberView, error) {
	var v MemberView
	err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		me, err := memberOf(ctx, tx, actor, eid)
		if err != nil {
			return err
		}
		m, err := tx.Memberships().GetByID(ctx, kernel.EnterpriseID(eid), kernel.MembershipID(mid))
		if err != nil {
			return err
		}
		if !me.Role.IsAdmin() && !m.Active() {
			return kernel.NotFound("member-not-found", "no such member of this enterprise")
		}
		v, err = memberView(ctx, tx, m)
		return err
	})
	return v, err
}

// Decision is approve or reject.
type Decision string

// Decisions.
const (
	Approve Decision = "approve"
	Reject  Decision = "reject"
)

// ParseDecision validates a decision.
func ParseDecision(s string) (Decision, error) {
	switch d := Decision(s); d {
	case Approve, Reject:
		return d, nil
	}
	return "", kernel.Invalid("decision-invalid", "decision is approve or reject")
}

func decision(d Decision, by kernel.UserID, now time.Time) membership.Decision {
	if d == Approve {
		return membership.Approval(by, now)
	}
	return membership.Rejection(by, now)
}

// Decide approves or rejects one join request.
func (a *App) Decide(ctx context.Context, actor Actor, eid, mid string, d Decision) (MemberView, error) {
	now := a.clock.Now()
	var v MemberView
	err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		if _, err := adminOf(ctx, tx, actor, eid); err != nil {
			return err
		}
		var m *membership.Membership
		if err := tx.Memberships().Update(ctx, kernel.EnterpriseID(eid), kernel.MembershipID(mid), func(cur *membership.Membership) error {
			m = cur
			return cur.Decide(decision(d, kernel.UserID(actor.UserID), now))
		}); err != nil {
			return err
		}
		var err error
		v, err = memberView(ctx, tx, m)
		return err
	})
	return v, err
}

// BatchResult is the outcome of one item of a batch.
type BatchResult struct {
	ID     kernel.MembershipID
	Status membership.Status
	Err    error
}

// DecideBatch approves or rejects many join requests in one transaction with a bounded number of
// statements; an item that is not pending, or of another enterprise, fails alone.
func (a *App) DecideBatch(ctx context.Context, actor Actor, eid string, ids []string, d Decision) ([]BatchResult, error) {
	if len(ids) == 0 || len(ids) > BatchLimit {
		return nil, kernel.Invalid("batch-size-invalid", "give 1 to 1000 member ids").WithDetail("max", BatchLimit)
	}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			return nil, kernel.Invalid("batch-duplicate-id", "each member id may appear once").WithDetail("member_id", id)
		}
		seen[id] = true
	}
	now := a.clock.Now()
	mids := make([]kernel.MembershipID, len(ids))
	for i, id := range ids {
		mids[i] = kernel.MembershipID(id)
	}
	results := make([]BatchResult, len(ids))
	err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		if _, err := adminOf(ctx, tx, actor, eid); err != nil {
			return err
		}
		dec := decision(d, kernel.UserID(actor.UserID), now)
		errs, err := tx.Memberships().DecideMany(ctx, kernel.EnterpriseID(eid), mids, dec)
		if err != nil {
			return err
		}
		for i, id := range mids {
			results[i] = BatchResult{ID: id, Err: errs[id]}
			if errs[id] == nil {
				results[i].Status = dec.Status()
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// AddMember is an admin adding a person by name and phone (manual §5.4.1): a verified user with
// that phone and name is active at once; anyone else is invited until that phone registers and
// verifies the same name.
func (a *App) AddMember(ctx context.Context, actor Actor, eid, name, phone, role string) (MemberView, error) {
	now := a.clock.Now()
	r, err := membership.ParseAssignableRole(role)
	if err != nil {
		return MemberView{}, err
	}
	p, err := kernel.ParsePhone(phone)
	if err != nil {
		return MemberView{}, err
	}
	if name, err = user.ValidateRealName(name); err != nil {
		return MemberView{}, err
	}
	var v MemberView
	err = a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		if _, err := adminOf(ctx, tx, actor, eid); err != nil {
			return err
		}
		id, by := kernel.MembershipID(a.ids.NewID()), kernel.UserID(actor.UserID)
		var m *membership.Membership
		u, err := tx.Users().GetByPhone(ctx, p)
		switch {
		case err == nil && u.RealNameStatus() == user.RealNameVerified && u.Identity().Name == name:
			cur, cerr := tx.Memberships().Current(ctx, kernel.EnterpriseID(eid), u.ID())
			switch {
			case cerr == nil && cur.Status == membership.StatusPending:
				return kernel.Conflict("join-request-pending", "this person has a join request waiting: approve it instead")
			case cerr != nil && kernel.KindOf(cerr) != kernel.KindNotFound:
				return cerr
			}
			m, err = membership.AddExisting(id, kernel.EnterpriseID(eid), u.ID(), r, by, now)
			if err != nil {
				return err
			}
		case err == nil || kernel.KindOf(err) == kernel.KindNotFound:
			if m, err = membership.Invite(id, kernel.EnterpriseID(eid), name, p, r, by, now); err != nil {
				return err
			}
		default:
			return err
		}
		if err := tx.Memberships().Add(ctx, m); err != nil {
			return err
		}
		v, err = memberView(ctx, tx, m)
		return err
	})
	return v, err
}

// RemoveMember removes an active member (manual §5.4.3); the right to use the organisation
// certificate and the member's seal grants are revoked in the same transaction. From then on every enterprise-scoped request
// of that person answers 404.
func (a *App) RemoveMember(ctx context.Context, actor Actor, eid, mid string) error {
	now := a.clock.Now()
	return a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		// Lock first, then check the actor under the lock: removals serialise on it ("not the last
		// admin" holds under concurrency), and an admin removed meanwhile can no longer remove.
		if err := tx.Enterprises().Lock(ctx, kernel.EnterpriseID(eid)); err != nil {
			return err
		}
		if _, err := adminOf(ctx, tx, actor, eid); err != nil {
			return err
		}
		admins, err := tx.Memberships().CountAdmins(ctx, kernel.EnterpriseID(eid))
		if err != nil {
			return err
		}
		if err := tx.Memberships().Update(ctx, kernel.EnterpriseID(eid), kernel.MembershipID(mid), func(m *membership.Membership) error {
			others := admins
			if m.Role.IsAdmin() && m.Active() {
				others--
			}
			return m.Remove(kernel.UserID(actor.UserID), others, now)
		}); err != nil {
			return err
		}
		// The member's seal grants end in the same transaction.
		_, err = tx.Seals().RevokeMemberGrants(ctx, kernel.EnterpriseID(eid), kernel.MembershipID(mid), kernel.UserID(actor.UserID), now)
		return err
	})
}

// ActivateInvitations is the consumer of RealNameWasVerified: open invitations to the user's
// phone under the verified name become active memberships.
func (a *App) ActivateInvitations(ctx context.Context, ev *user.RealNameWasVerified) error {
	now := a.clock.Now()
	return a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		u, err := tx.Users().Get(ctx, ev.UserID)
		if err != nil {
			return err
		}
		if u.RealNameStatus() != user.RealNameVerified {
			return nil
		}
		invites, err := tx.Memberships().OpenInvites(ctx, u.Phone())
		if err != nil {
			return err
		}
		for _, inv := range invites {
			if inv.InviteeName != u.Identity().Name {
				continue // the phone's owner is not the invited person
			}
			// The person may have applied meanwhile: their open membership stays, and the
			// invitation stays open (an admin can decide on the request).
			cur, err := tx.Memberships().Current(ctx, inv.EnterpriseID, u.ID())
			if err == nil && cur.Status.Open() {
				continue
			}
			if err != nil && kernel.KindOf(err) != kernel.KindNotFound {
				return err
			}
			err = tx.Memberships().Update(ctx, inv.EnterpriseID, inv.ID, func(m *membership.Membership) error {
				return m.ActivateInvite(u.ID(), u.Identity().Name, u.Phone(), now)
			})
			// Activated meanwhile (a redelivery): nothing to do. Any other error (a database
			// conflict aborts a Postgres transaction) is retried by the consumer.
			if err != nil && kernel.CodeOf(err) != "member-not-invited" {
				return err
			}
		}
		return nil
	})
}

// NotifyMember texts the person concerned by a membership event. The message id is the
// idempotency key; a person without a phone on record is skipped.
func (a *App) NotifyMember(ctx context.Context, messageID string, eid kernel.EnterpriseID, mid kernel.MembershipID, what string) error {
	tmpl, ok := memberTexts[what]
	if !ok {
		return kernel.Internal(fmt.Errorf("notify member: unknown notification %q", what))
	}
	var phone kernel.Phone
	var name string
	if err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		e, err := tx.Enterprises().Get(ctx, eid)
		if err != nil {
			return err
		}
		name = e.Name()
		m, err := tx.Memberships().GetByID(ctx, eid, mid)
		if err != nil {
			return err
		}
		if m.UserID == "" {
			phone = m.InviteePhone
			return nil
		}
		u, err := tx.Users().Get(ctx, m.UserID)
		if err != nil {
			return err
		}
		phone = u.Phone()
		return nil
	}); err != nil {
		return err
	}
	if phone.IsZero() {
		return nil // no phone on record: nothing to text
	}
	return a.once(ctx, "member-notice/"+what+"/"+messageID, func(ctx context.Context) error {
		return a.sms.Send(ctx, ports.SMS{Phone: phone, Template: "member_" + what, IdempotencyKey: messageID,
			Params: map[string]string{"enterprise": name}, Text: fmtEnterprise(tmpl, name)})
	})
}

// memberTexts are the texts of NotifyMember, by notification.
var memberTexts = map[string]string{
	"approved": "【数信签】您加入%s的申请已通过，现在可以在企业空间中使用。",
	"rejected": "【数信签】您加入%s的申请未通过。如有疑问请联系企业管理员。",
	"invited":  "【数信签】%s邀请您加入企业。请下载数信签APP，用本手机号登录并完成实名认证后即可加入。",
	"added":    "【数信签】您已加入%s。",
	"removed":  "【数信签】您已被移出%s，机构证书授权已同步失效。",
}

func fmtEnterprise(tmpl, name string) string { return strings.Replace(tmpl, "%s", name, 1) }
