// Package webhook is the domain of callbacks to integrators: an enterprise's endpoints (a URL, the
// event types it wants and a signing secret) and the deliveries of events to them, with their
// retry schedule.
package webhook

import (
	"slices"

	"github.com/shuxinqian/server/domain/kernel"
)

// Type is a public event type, what an integrator subscribes to and reads in `type`.
type Type string

// The public event types. Each is fed by one domain event (see README "Webhooks").
const (
	EnterpriseVerified           Type = "enterprise.verified"            // enterprise.verified
	EnterpriseCertificateIssued  Type = "enterprise.certificate_issued"  // enterprise.org_certificate_issued
	EnterpriseCertificateRevoked Type = "enterprise.certificate_revoked" // enterprise.org_certificate_revoked
	MemberJoinRequested          Type = "member.join_requested"          // membership.join_requested
	MemberJoinRejected           Type = "member.join_rejected"           // membership.join_rejected
	MemberInvited                Type = "member.invited"                 // membership.invited
	MemberJoined                 Type = "member.joined"                  // membership.added, membership.join_approved
	MemberRemoved                Type = "member.removed"                 // membership.removed
	OrderPlaced                  Type = "order.placed"                   // order.placed
	OrderPaid                    Type = "order.paid"                     // order.paid
	OrderClosed                  Type = "order.closed"                   // order.closed
	InvoiceRequested             Type = "invoice.requested"              // invoice.requested
	InvoiceIssued                Type = "invoice.issued"                 // invoice.issued
	SignFlowCreated              Type = "sign_flow.created"              // signflow.created
	SignFlowStarted              Type = "sign_flow.started"              // signflow.started
	SignFlowSigned               Type = "sign_flow.signed"               // signflow.signed
	SignFlowCompleted            Type = "sign_flow.completed"            // signflow.completed
	SignFlowRejected             Type = "sign_flow.rejected"             // signflow.rejected
	SignFlowRevoked              Type = "sign_flow.revoked"              // signflow.revoked
	SignFlowExpired              Type = "sign_flow.expired"              // signflow.expired
)

// Types lists every public event type in a stable order.
func Types() []Type {
	return []Type{EnterpriseVerified, EnterpriseCertificateIssued, EnterpriseCertificateRevoked,
		MemberJoinRequested, MemberJoinRejected, MemberInvited, MemberJoined, MemberRemoved,
		OrderPlaced, OrderPaid, OrderClosed, InvoiceRequested, InvoiceIssued,
		SignFlowCreated, SignFlowStarted, SignFlowSigned, SignFlowCompleted, SignFlowRejected, SignFlowRevoked, SignFlowExpired}
}

// Known reports whether t is a public event type.
func (t Type) Known() bool { return slices.Contains(Types(), t) }

// ErrEventsInvalid refuses a subscription list.
var ErrEventsInvalid = kernel.Invalid("webhook-events-invalid",
	"events is a non-empty list of event types such as order.paid, or [\"*\"] for all")

// ParseEvents validates a subscription list: known types, at least one, no duplicates kept. "*"
// alone subscribes to every type (also the ones added later).
func ParseEvents(in []string) ([]Type, error) {
	if len(in) == 0 || len(in) > len(Types())+1 {
		return nil, ErrEventsInvalid
	}
	if len(in) == 1 && in[0] == "*" {
		return []Type{"*"}, nil
	}
	out := make([]Type, 0, len(in))
	for _, s := range in {
		t := Type(s)
		if !t.Known() {
			return nil, ErrEventsInvalid.WithDetail("event", s)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}
