// Package consumer runs the event handlers: a watermill Router with Recoverer, Retry and a poison
// queue, and a cqrs EventProcessor whose handlers call the application's policies.
package consumer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/invoice"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/membership"
	"github.com/shuxinqian/server/domain/order"
	"github.com/shuxinqian/server/domain/session"
	"github.com/shuxinqian/server/domain/user"
)

// Config tunes the router.
type Config struct {
	// Retry: attempts after the first, with exponential backoff from RetryInitial.
	MaxRetries   int
	RetryInitial time.Duration
	RetryMax     time.Duration
	// PoisonTopic is where a message goes when its retries are exhausted.
	PoisonTopic string
	// TopicPrefix prefixes the handlers' delivery topics (ConsumerTopic); empty for the SQL queue.
	TopicPrefix string
}

// DefaultConfig is what serve and consume use.
var DefaultConfig = Config{MaxRetries: 5, RetryInitial: 200 * time.Millisecond, RetryMax: 10 * time.Second, PoisonTopic: "poison"}

// Marshaler is how events travel: JSON, named by kernel.Event.EventName (the sqlstore outbox
// writes the same shape).
func Marshaler() cqrs.CommandEventMarshaler {
	return cqrs.JSONMarshaler{GenerateName: func(v any) string {
		if e, ok := v.(kernel.Event); ok {
			return e.EventName()
		}
		return cqrs.FullyQualifiedStructName(v)
	}}
}

// Topic is the delivery topic of an event name.
func Topic(eventName string) string { return "events." + eventName }

// Handler is one named event handler.
type Handler = cqrs.EventHandler

// Handlers returns the application's event handlers. Each handler is a separate subscription
// (and so a separate consumer with its own inbox namespace).
func Handlers(app *application.App) []Handler {
	audit := func(ctx context.Context, ev kernel.Event) error { return app.RecordAudit(ctx, messageID(ctx), ev) }
	return []Handler{
		cqrs.NewEventHandler("audit.user_registered", func(ctx context.Context, ev *user.Registered) error {
			return audit(ctx, ev)
		}),
		cqrs.NewEventHandler("audit.user_logged_in", func(ctx context.Context, ev *user.LoggedIn) error {
			return audit(ctx, ev)
		}),
		cqrs.NewEventHandler("audit.user_password_set", func(ctx context.Context, ev *user.PasswordSet) error {
			return audit(ctx, ev)
		}),
		cqrs.NewEventHandler("audit.user_password_locked", func(ctx context.Context, ev *user.PasswordLocked) error {
			return audit(ctx, ev)
		}),
		cqrs.NewEventHandler("audit.session_revoked", func(ctx context.Context, ev *session.Revoked) error {
			return audit(ctx, ev)
		}),
		cqrs.NewEventHandler("welcome_sms", func(ctx context.Context, ev *user.Registered) error {
			return app.SendWelcome(ctx, messageID(ctx), ev)
		}),
		cqrs.NewEventHandler("text_authorization_link", func(ctx context.Context, ev *enterprise.AuthorizationLinkIssued) error {
			return app.TextAuthorizationLink(ctx, messageID(ctx), ev)
		}),
		cqrs.NewEventHandler("activate_invitations", func(ctx context.Context, ev *user.RealNameWasVerified) error {
			return app.ActivateInvitations(ctx, ev)
		}),
		cqrs.NewEventHandler("notify_join_approved", func(ctx context.Context, ev *membership.JoinApproved) error {
			return app.NotifyMember(ctx, messageID(ctx), ev.EnterpriseID, ev.MembershipID, "approved")
		}),
		cqrs.NewEventHandler("notify_join_rejected", func(ctx context.Context, ev *membership.JoinRejected) error {
			return app.NotifyMember(ctx, messageID(ctx), ev.EnterpriseID, ev.MembershipID, "rejected")
		}),
		cqrs.NewEventHandler("notify_member_invited", func(ctx context.Context, ev *membership.MemberInvited) error {
			return app.NotifyMember(ctx, messageID(ctx), ev.EnterpriseID, ev.MembershipID, "invited")
		}),
		cqrs.NewEventHandler("notify_member_added", func(ctx context.Context, ev *membership.MemberAdded) error {
			return app.NotifyMember(ctx, messageID(ctx), ev.EnterpriseID, ev.MembershipID, "added")
		}),
		cqrs.NewEventHandler("notify_member_removed", func(ctx context.Context, ev *membership.MemberRemoved) error {
			return app.NotifyMember(ctx, messageID(ctx), ev.EnterpriseID, ev.MembershipID, "removed")
		}),
		cqrs.NewEventHandler("issue_invoice", func(ctx context.Context, ev *invoice.Requested) error {
			return app.IssueInvoice(ctx, ev)
		}),
		cqrs.NewEventHandler("grant_order", func(ctx context.Context, ev *order.Paid) error {
			return app.GrantOrder(ctx, ev)
		}),
		cqrs.NewEventHandler("remit_bank_transfer", func(ctx context.Context, ev *enterprise.BankTransferRequested) error {
			return app.RemitTransfer(ctx, ev)
		}),
		cqrs.NewEventHandler("issue_org_certificate", func(ctx context.Context, ev *enterprise.EnterpriseVerified) error {
			return app.IssueOrgCertificate(ctx, ev)
		}),
	}
}

// messageID is the id of the message being handled: the outbox gives every event one id that
// survives forwarding and redelivery.
func messageID(ctx context.Context) string {
	if msg := cqrs.OriginalMessageFromCtx(ctx); msg != nil {
		return msg.UUID
	}
	return ""
}

// NewRouter builds the router with its middlewares and the event processor with handlers.
// sub is the delivery subscriber (the SQL delivery queue or NATS JetStream): every handler reads
// its own topic, ConsumerTopic(cfg.TopicPrefix, handler name), fed by the FanOut forwarder, and
// acks a message only after it returned (its transaction committed); poison stores dead messages.
func NewRouter(cfg Config, sub message.Subscriber, poison message.Publisher, handlers []Handler, logger watermill.LoggerAdapter) (*message.Router, error) {
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 15 * time.Second}, logger)
	if err != nil {
		return nil, err
	}
	// A handler stopped by the shutdown (its context cancelled) is not poisoned: its message is
	// nacked and stays in its queue for the next process.
	pq, err := middleware.PoisonQueueWithFilter(poison, cfg.PoisonTopic, func(err error) bool {
		return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	})
	if err != nil {
		return nil, err
	}
	router.AddMiddleware(
		middleware.Recoverer,
		pq,
		middleware.Retry{MaxRetries: cfg.MaxRetries, InitialInterval: cfg.RetryInitial, MaxInterval: cfg.RetryMax,
			Multiplier: 2, Logger: logger}.Middleware,
	)
	ep, err := cqrs.NewEventProcessorWithConfig(router, cqrs.EventProcessorConfig{
		GenerateSubscribeTopic: func(p cqrs.EventProcessorGenerateSubscribeTopicParams) (string, error) {
			return ConsumerTopic(cfg.TopicPrefix, p.EventHandler.HandlerName()), nil
		},
		SubscriberConstructor: func(cqrs.EventProcessorSubscriberConstructorParams) (message.Subscriber, error) {
			return sub, nil
		},
		Marshaler: Marshaler(),
		Logger:    logger,
	})
	if err != nil {
		return nil, err
	}
	for _, h := range handlers {
		if err := ep.AddHandlers(h); err != nil {
			return nil, fmt.Errorf("consumer: add %s: %w", h.HandlerName(), err)
		}
	}
	return router, nil
}
