package ports

import (
	"context"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/webhook"
)

//go:generate go tool mockgen -typed -destination=mocks/webhooks_mocks.go -package=mocks github.com/shuxinqian/server/ports WebhookRepository,WebhookSender

// ClaimedDelivery is a due delivery leased to one dispatcher run, with where and how to send it.
type ClaimedDelivery struct {
	Delivery *webhook.Delivery
	URL      string
	Secret   string
	// Lease is the claim's token: only the run holding it may record the attempt.
	Lease string
}

// WebhookRepository stores enterprises' webhook endpoints (secrets encrypted), the deliveries of
// events to them and the delivery log.
type WebhookRepository interface {
	// AddEndpoint inserts an endpoint.
	AddEndpoint(ctx context.Context, e *webhook.Endpoint) error
	// CountEndpoints counts the enterprise's endpoints that are not deleted, under a lock of the
	// enterprise's endpoints (the limit holds against concurrent registrations).
	CountEndpoints(ctx context.Context, eid kernel.EnterpriseID) (int, error)
	// GetEndpoint loads a live endpoint of the enterprise; otherwise not-found "webhook-not-found".
	GetEndpoint(ctx context.Context, eid kernel.EnterpriseID, id webhook.EndpointID) (*webhook.Endpoint, error)
	// ListEndpoints returns the enterprise's live endpoints, oldest first, after the cursor.
	ListEndpoints(ctx context.Context, eid kernel.EnterpriseID, after webhook.EndpointID, limit int) ([]*webhook.Endpoint, error)
	// Subscribers returns the enterprise's live endpoints that want t.
	Subscribers(ctx context.Context, eid kernel.EnterpriseID, t webhook.Type) ([]*webhook.Endpoint, error)
	// DeleteEndpoint deletes a live endpoint and cancels its pending deliveries.
	DeleteEndpoint(ctx context.Context, eid kernel.EnterpriseID, id webhook.EndpointID, now time.Time) error

	// AddDeliveries inserts deliveries, skipping any whose (event id, endpoint) is already
	// stored; it reports how many were new.
	AddDeliveries(ctx context.Context, ds []*webhook.Delivery) (int, error)
	// ListDeliveries returns the endpoint's deliveries, newest first, before the cursor (a
	// delivery id), with their attempts (newest first), in one query each.
	ListDeliveries(ctx context.Context, eid kernel.EnterpriseID, ep webhook.EndpointID, before webhook.DeliveryID, limit int) ([]*webhook.Delivery, map[webhook.DeliveryID][]webhook.Attempt, error)
	// UpdateDelivery loads a delivery of the endpoint under a row lock, applies fn and saves it;
	// missing → not-found "webhook-delivery-not-found".
	UpdateDelivery(ctx context.Context, eid kernel.EnterpriseID, ep webhook.EndpointID, id webhook.DeliveryID, fn func(d *webhook.Delivery) error) error

	// ClaimDue leases up to limit due deliveries of live endpoints (pending, next attempt at or
	// before now, no unexpired lease) until now+lease to the token lease: concurrent claims
	// never return one delivery twice while its lease runs.
	ClaimDue(ctx context.Context, now time.Time, lease time.Duration, token string, limit int) ([]ClaimedDelivery, error)
	// RecordAttempt applies fn to a claimed delivery and appends the attempt to its log, if the
	// claim (token) still holds; it ends the lease. A lost claim is the conflict
	// "webhook-lease-lost" and changes nothing.
	RecordAttempt(ctx context.Context, id webhook.DeliveryID, token string, fn func(d *webhook.Delivery) webhook.Attempt) error

	// RememberFlow records a sign flow's enterprise ("" for a personal flow); the sign-flow
	// events after signflow.created carry only the flow id.
	RememberFlow(ctx context.Context, flowID string, eid kernel.EnterpriseID) error
	// FlowEnterprise returns what RememberFlow recorded, or not-found "webhook-flow-unknown".
	FlowEnterprise(ctx context.Context, flowID string) (kernel.EnterpriseID, error)
}

// WebhookRequest is one signed POST.
type WebhookRequest struct {
	URL     string
	Headers map[string]string
	Body    []byte
}

// WebhookResponse is what came back: the status and the first bytes of the body (bounded).
type WebhookResponse struct {
	StatusCode int
	Body       string
	Duration   time.Duration
}

// WebhookSender posts deliveries to integrators. It refuses addresses the platform does not allow
// (checked on the resolved address at connect time), follows no redirects, bounds the time and
// the answer it reads. An error means no HTTP answer.
type WebhookSender interface {
	Send(ctx context.Context, req WebhookRequest) (WebhookResponse, error)
}
