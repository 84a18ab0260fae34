package consumer

import (
	"context"

	"github.com/ThreeDotsLabs/watermill/components/cqrs"

	"github.com/shuxinqian/server/application/signing"
	"github.com/shuxinqian/server/domain/signflow"
)

// SignFlowHandlers returns the sign flows' event handlers: signers are told by SMS when their
// turn comes.
func SignFlowHandlers(s *signing.Service) []Handler {
	return []Handler{
		cqrs.NewEventHandler("signflow_notify_started", func(ctx context.Context, ev *signflow.Started) error {
			return s.NotifyStarted(ctx, ev)
		}),
		cqrs.NewEventHandler("signflow_notify_next", func(ctx context.Context, ev *signflow.Signed) error {
			return s.NotifySigned(ctx, ev)
		}),
	}
}
