package consumer

import (
	"context"

	"github.com/ThreeDotsLabs/watermill/components/cqrs"

	"github.com/shuxinqian/server/application/webhooks"
	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/invoice"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/membership"
	"github.com/shuxinqian/server/domain/order"
	"github.com/shuxinqian/server/domain/signflow"
)

// WebhookHandlers turn the enterprise events integrators may subscribe to into webhook
// deliveries (one handler, and so one durable queue, per event type: "webhook.<event name>").
func WebhookHandlers(s *webhooks.Service) []Handler {
	return []Handler{
		accept[enterprise.EnterpriseVerified](s), accept[enterprise.OrgCertificateIssued](s), accept[enterprise.OrgCertificateRevoked](s),
		accept[membership.JoinRequested](s), accept[membership.JoinApproved](s), accept[membership.JoinRejected](s),
		accept[membership.MemberInvited](s), accept[membership.MemberAdded](s), accept[membership.MemberRemoved](s),
		accept[order.Placed](s), accept[order.Paid](s), accept[order.Closed](s),
		accept[invoice.Requested](s), accept[invoice.Issued](s),
		accept[signflow.Created](s), accept[signflow.Started](s), accept[signflow.Signed](s), accept[signflow.Completed](s),
		accept[signflow.Rejected](s), accept[signflow.Revoked](s), accept[signflow.Expired](s),
	}
}

func accept[T any](s *webhooks.Service) Handler {
	name := any(new(T)).(kernel.Event).EventName()
	return cqrs.NewEventHandler("webhook."+name, func(ctx context.Context, ev *T) error {
		return s.Accept(ctx, messageID(ctx), any(ev).(kernel.Event))
	})
}
