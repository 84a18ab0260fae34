package webhooks

import (
	"context"
	"encoding/json"
	"time"

	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/invoice"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/membership"
	"github.com/shuxinqian/server/domain/order"
	"github.com/shuxinqian/server/domain/signflow"
	"github.com/shuxinqian/server/domain/webhook"
	"github.com/shuxinqian/server/ports"
)

// Event is the JSON body of a delivery.
type Event struct {
	ID        string         `json:"id"`
	Type      webhook.Type   `json:"type"`
	CreatedAt time.Time      `json:"created_at"`
	Data      map[string]any `json:"data"`
}

// public is what a domain event becomes: the enterprise it belongs to, the public type and the
// data an integrator reads (ids, amounts and states; never a person's name, phone or ID number).
type public struct {
	eid  kernel.EnterpriseID
	typ  webhook.Type
	at   time.Time
	data map[string]any
}

// ErrFlowUnknown is retried by the consumer: a sign flow's later events may be handled before
// its signflow.created (each event type has its own queue).
var ErrFlowUnknown = kernel.Unavailable("webhook-flow-unknown", "the sign flow's creation was not seen yet", nil)

// describe maps a domain event; ok is false for an event that concerns no enterprise.
func describe(ctx context.Context, tx ports.Tx, ev kernel.Event) (p public, ok bool, err error) {
	orderEnterprise := func(id kernel.OrderID) (kernel.EnterpriseID, error) {
		o, err := tx.Orders().Get(ctx, id)
		if err != nil {
			return "", err
		}
		return o.EnterpriseID, nil
	}
	flowEnterprise := func(id signflow.ID) (kernel.EnterpriseID, error) {
		eid, err := tx.Webhooks().FlowEnterprise(ctx, string(id))
		if kernel.KindOf(err) == kernel.KindNotFound {
			return "", ErrFlowUnknown
		}
		return eid, err
	}
	d := map[string]any{}
	switch e := ev.(type) {
	case *enterprise.EnterpriseVerified:
		d["enterprise_id"], d["verification_id"], d["credit_code"], d["method"] = e.EnterpriseID, e.VerificationID, e.CreditCode, e.Method
		p = public{eid: e.EnterpriseID, typ: webhook.EnterpriseVerified, at: e.At}
	case *enterprise.OrgCertificateIssued:
		d["enterprise_id"], d["serial"] = e.EnterpriseID, e.Serial
		p = public{eid: e.EnterpriseID, typ: webhook.EnterpriseCertificateIssued, at: e.At}
	case *enterprise.OrgCertificateRevoked:
		d["enterprise_id"], d["serial"], d["reason"] = e.EnterpriseID, e.Serial, e.Reason
		p = public{eid: e.EnterpriseID, typ: webhook.EnterpriseCertificateRevoked, at: e.At}
	case *membership.JoinRequested:
		d["enterprise_id"], d["member_id"], d["user_id"] = e.EnterpriseID, e.MembershipID, e.UserID
		p = public{eid: e.EnterpriseID, typ: webhook.MemberJoinRequested, at: e.At}
	case *membership.JoinApproved:
		d["enterprise_id"], d["member_id"], d["user_id"], d["via"] = e.EnterpriseID, e.MembershipID, e.UserID, "join_request"
		p = public{eid: e.EnterpriseID, typ: webhook.MemberJoined, at: e.At}
	case *membership.JoinRejected:
		d["enterprise_id"], d["member_id"], d["user_id"] = e.EnterpriseID, e.MembershipID, e.UserID
		p = public{eid: e.EnterpriseID, typ: webhook.MemberJoinRejected, at: e.At}
	case *membership.MemberInvited:
		d["enterprise_id"], d["member_id"], d["role"] = e.EnterpriseID, e.MembershipID, e.Role
		p = public{eid: e.EnterpriseID, typ: webhook.MemberInvited, at: e.At}
	case *membership.MemberAdded:
		d["enterprise_id"], d["member_id"], d["user_id"], d["role"], d["via"] = e.EnterpriseID, e.MembershipID, e.UserID, e.Role, "added"
		p = public{eid: e.EnterpriseID, typ: webhook.MemberJoined, at: e.At}
	case *membership.MemberRemoved:
		d["enterprise_id"], d["member_id"], d["user_id"] = e.EnterpriseID, e.MembershipID, e.UserID
		p = public{eid: e.EnterpriseID, typ: webhook.MemberRemoved, at: e.At}
	case *order.Placed:
		d["enterprise_id"], d["order_id"], d["total_fen"] = e.EnterpriseID, e.OrderID, e.Total
		p = public{eid: e.EnterpriseID, typ: webhook.OrderPlaced, at: e.At}
	case *order.Paid:
		d["enterprise_id"], d["order_id"], d["total_fen"], d["transaction_id"] = e.EnterpriseID, e.OrderID, e.Total, e.TransactionID
		p = public{eid: e.EnterpriseID, typ: webhook.OrderPaid, at: e.At}
	case *order.Closed:
		eid, err := orderEnterprise(e.OrderID)
		if err != nil {
			return p, false, err
		}
		d["enterprise_id"], d["order_id"], d["reason"] = eid, e.OrderID, e.Reason
		p = public{eid: eid, typ: webhook.OrderClosed, at: e.At}
	case *invoice.Requested:
		eid, err := orderEnterprise(e.OrderID)
		if err != nil {
			return p, false, err
		}
		d["enterprise_id"], d["invoice_id"], d["order_id"] = eid, e.InvoiceID, e.OrderID
		p = public{eid: eid, typ: webhook.InvoiceRequested, at: e.At}
	case *invoice.Issued:
		eid, err := orderEnterprise(e.OrderID)
		if err != nil {
			return p, false, err
		}
		d["enterprise_id"], d["invoice_id"], d["order_id"], d["number"] = eid, e.InvoiceID, e.OrderID, e.Number
		p = public{eid: eid, typ: webhook.InvoiceIssued, at: e.At}
	case *signflow.Created:
		if err := tx.Webhooks().RememberFlow(ctx, string(e.FlowID), e.EnterpriseID); err != nil {
			return p, false, err
		}
		d["enterprise_id"], d["flow_id"], d["initiator_id"], d["signers"], d["ordered"] = e.EnterpriseID, e.FlowID, e.InitiatorID, e.Signers, e.Ordered
		p = public{eid: e.EnterpriseID, typ: webhook.SignFlowCreated, at: e.At}
	case *signflow.Started:
		d["current_signer_ids"] = e.Current
		p, err = flowEvent(flowEnterprise, e.FlowID, webhook.SignFlowStarted, e.At, d)
	case *signflow.Signed:
		d["signer_id"], d["next_signer_ids"] = e.SignerID, e.Next
		p, err = flowEvent(flowEnterprise, e.FlowID, webhook.SignFlowSigned, e.At, d)
	case *signflow.Completed:
		p, err = flowEvent(flowEnterprise, e.FlowID, webhook.SignFlowCompleted, e.At, d)
	case *signflow.Rejected:
		d["signer_id"] = e.SignerID
		p, err = flowEvent(flowEnterprise, e.FlowID, webhook.SignFlowRejected, e.At, d)
	case *signflow.Revoked:
		p, err = flowEvent(flowEnterprise, e.FlowID, webhook.SignFlowRevoked, e.At, d)
	case *signflow.Expired:
		p, err = flowEvent(flowEnterprise, e.FlowID, webhook.SignFlowExpired, e.At, d)
	default:
		return p, false, nil
	}
	if err != nil {
		return p, false, err
	}
	p.data = d
	return p, p.eid != "", nil
}

func flowEvent(lookup func(signflow.ID) (kernel.EnterpriseID, error), id signflow.ID, t webhook.Type, at time.Time, d map[string]any) (public, error) {
	eid, err := lookup(id)
	if err != nil {
		return public{}, err
	}
	d["enterprise_id"], d["flow_id"] = eid, id
	return public{eid: eid, typ: t, at: at}, nil
}

// Accept turns a domain event into one delivery per endpoint of its enterprise that subscribed
// to its type, in one transaction. eventID is the outbox message id: a redelivered event adds
// nothing (deliveries are unique by event id and endpoint).
func (s *Service) Accept(ctx context.Context, eventID string, ev kernel.Event) error {
	if eventID == "" {
		return kernel.Internal(errNoEventID)
	}
	added := 0
	err := s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		p, ok, err := describe(ctx, tx, ev)
		if err != nil || !ok {
			return err
		}
		eps, err := tx.Webhooks().Subscribers(ctx, p.eid, p.typ)
		if err != nil || len(eps) == 0 {
			return err
		}
		body, err := json.Marshal(Event{ID: eventID, Type: p.typ, CreatedAt: kernel.OccurredAt(p.at), Data: p.data})
		if err != nil {
			return kernel.Internal(err)
		}
		now := s.clock.Now()
		ds := make([]*webhook.Delivery, 0, len(eps))
		for _, ep := range eps {
			d, err := webhook.NewDelivery(webhook.DeliveryID(s.ids.NewID()), ep, eventID, p.typ, body, now)
			if err != nil {
				return err
			}
			ds = append(ds, d)
		}
		added, err = tx.Webhooks().AddDeliveries(ctx, ds)
		return err
	})
	if err == nil && added > 0 {
		s.nudge()
	}
	return err
}
