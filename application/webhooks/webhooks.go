// Package webhooks holds the use cases of the callbacks to integrators: an enterprise's admins
// register endpoints (a URL and the event types it wants; the signing secret is shown once), list
// and delete them, read each endpoint's delivery log and send a delivery again. Events of the
// enterprise (accepted from the outbox by a consumer) become one delivery per subscribed endpoint;
// the dispatcher sends due deliveries outside any transaction and retries with backoff.
package webhooks

import (
	"context"
	"log/slog"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/membership"
	"github.com/shuxinqian/server/domain/webhook"
	"github.com/shuxinqian/server/ports"
)

// PageSize is the default and largest page of the endpoint and delivery lists.
const PageSize = 100

// Settings tune the context.
type Settings struct {
	// RequireHTTPS refuses http:// endpoint URLs (production).
	RequireHTTPS bool
	// Lease is how long a claimed delivery belongs to one dispatcher run (longer than a send).
	Lease time.Duration
	// Batch is how many due deliveries one dispatcher pass claims.
	Batch int
}

// Deps are the ports the webhook use cases need.
type Deps struct {
	UoW      ports.UnitOfWork
	Clock    ports.Clock
	IDs      ports.IDs
	Random   ports.Random
	Sender   ports.WebhookSender
	Settings Settings
	Logger   *slog.Logger
}

// Service runs the webhook use cases and the dispatcher.
type Service struct {
	uow      ports.UnitOfWork
	clock    ports.Clock
	ids      ports.IDs
	random   ports.Random
	sender   ports.WebhookSender
	settings Settings
	log      *slog.Logger
	// wake nudges the dispatcher loop of this process (new or redelivered deliveries).
	wake chan struct{}
}

// New builds the service.
func New(d Deps) *Service {
	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	if d.Settings.Lease <= 0 {
		d.Settings.Lease = time.Minute
	}
	if d.Settings.Batch <= 0 {
		d.Settings.Batch = 20
	}
	return &Service{uow: d.UoW, clock: d.Clock, ids: d.IDs, random: d.Random, sender: d.Sender, settings: d.Settings, log: log,
		wake: make(chan struct{}, 1)}
}

// ErrEnterpriseNotFound answers every request of a non-member (the same as application's).
var ErrEnterpriseNotFound = kernel.NotFound("enterprise-not-found", "no such enterprise")

// adminOf checks an active admin or legal rep membership; a plain member is forbidden.
func adminOf(ctx context.Context, tx ports.Tx, uid kernel.UserID, eid kernel.EnterpriseID) (*membership.Membership, error) {
	m, err := tx.Memberships().Current(ctx, eid, uid)
	if kernel.KindOf(err) == kernel.KindNotFound || (err == nil && !m.Active()) {
		return nil, ErrEnterpriseNotFound
	}
	if err != nil {
		return nil, err
	}
	if !m.Role.IsAdmin() {
		return nil, kernel.Forbidden("admin-only", "only the enterprise's admins and legal representative manage webhooks")
	}
	return m, nil
}

// SecretPrefix starts every signing secret (so a leaked one is recognisable).
const SecretPrefix = "whsec_"

// Create registers an endpoint; the returned endpoint carries the secret, shown only now.
func (s *Service) Create(ctx context.Context, uid kernel.UserID, eid kernel.EnterpriseID, url string, events []string) (*webhook.Endpoint, error) {
	tok, err := s.random.Token(32)
	if err != nil {
		return nil, kernel.Internal(err)
	}
	ep, err := webhook.NewEndpoint(webhook.EndpointID(s.ids.NewID()), eid, url, events, SecretPrefix+tok, uid, s.settings.RequireHTTPS, s.clock.Now())
	if err != nil {
		return nil, err
	}
	err = s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		if _, err := adminOf(ctx, tx, uid, eid); err != nil {
			return err
		}
		n, err := tx.Webhooks().CountEndpoints(ctx, eid)
		if err != nil {
			return err
		}
		if n >= webhook.MaxPerEnterprise {
			return webhook.ErrEndpointLimit
		}
		return tx.Webhooks().AddEndpoint(ctx, ep)
	})
	if err != nil {
		return nil, err
	}
	return ep, nil
}

// List returns a page of the enterprise's endpoints, oldest first; next is the following
// page's cursor ("" at the end).
func (s *Service) List(ctx context.Context, uid kernel.UserID, eid kernel.EnterpriseID, after string, limit int) (out []*webhook.Endpoint, next string, err error) {
	if limit <= 0 || limit > PageSize {
		limit = PageSize
	}
	err = s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		if _, err := adminOf(ctx, tx, uid, eid); err != nil {
			return err
		}
		page, err := tx.Webhooks().ListEndpoints(ctx, eid, webhook.EndpointID(after), limit+1)
		if err != nil {
			return err
		}
		if len(page) > limit {
			page = page[:limit]
			next = string(page[limit-1].ID())
		}
		out = page
		return nil
	})
	return out, next, err
}

// Delete removes an endpoint; its pending deliveries are cancelled.
func (s *Service) Delete(ctx context.Context, uid kernel.UserID, eid kernel.EnterpriseID, id string) error {
	return s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		if _, err := adminOf(ctx, tx, uid, eid); err != nil {
			return err
		}
		return tx.Webhooks().DeleteEndpoint(ctx, eid, webhook.EndpointID(id), s.clock.Now())
	})
}

// DeliveryView is a delivery with its attempts, newest first.
type DeliveryView struct {
	Delivery *webhook.Delivery
	Attempts []webhook.Attempt
}

// Deliveries returns a page of an endpoint's delivery log, newest first.
func (s *Service) Deliveries(ctx context.Context, uid kernel.UserID, eid kernel.EnterpriseID, epID, before string, limit int) (out []DeliveryView, next string, err error) {
	if limit <= 0 || limit > PageSize {
		limit = PageSize
	}
	err = s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		if _, err := adminOf(ctx, tx, uid, eid); err != nil {
			return err
		}
		if _, err := tx.Webhooks().GetEndpoint(ctx, eid, webhook.EndpointID(epID)); err != nil {
			return err
		}
		page, attempts, err := tx.Webhooks().ListDeliveries(ctx, eid, webhook.EndpointID(epID), webhook.DeliveryID(before), limit+1)
		if err != nil {
			return err
		}
		if len(page) > limit {
			page = page[:limit]
			next = string(page[limit-1].ID())
		}
		out = make([]DeliveryView, len(page))
		for i, d := range page {
			out[i] = DeliveryView{Delivery: d, Attempts: attempts[d.ID()]}
		}
		return nil
	})
	return out, next, err
}

// Redeliver makes a delivery due again now (the same event id and body).
func (s *Service) Redeliver(ctx context.Context, uid kernel.UserID, eid kernel.EnterpriseID, epID, id string) (*webhook.Delivery, error) {
	var out *webhook.Delivery
	err := s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		if _, err := adminOf(ctx, tx, uid, eid); err != nil {
			return err
		}
		if _, err := tx.Webhooks().GetEndpoint(ctx, eid, webhook.EndpointID(epID)); err != nil {
			return err
		}
		return tx.Webhooks().UpdateDelivery(ctx, eid, webhook.EndpointID(epID), webhook.DeliveryID(id), func(d *webhook.Delivery) error {
			out = d
			return d.Redeliver(s.clock.Now())
		})
	})
	if err != nil {
		return nil, err
	}
	s.nudge()
	return out, nil
}

func (s *Service) nudge() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Wake is signalled when this process made deliveries due (the dispatcher loop also polls).
func (s *Service) Wake() <-chan struct{} { return s.wake }
