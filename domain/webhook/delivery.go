package webhook

import (
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// DeliveryID identifies a delivery (one event to one endpoint).
type DeliveryID string

// Status is where a delivery is.
type Status string

// Statuses.
const (
	StatusPending   Status = "pending"   // due at NextAttemptAt
	StatusDelivered Status = "delivered" // the endpoint answered 2xx
	StatusFailed    Status = "failed"    // retries exhausted (RetryWindow passed); may be redelivered
	StatusCancelled Status = "cancelled" // the endpoint was deleted before it was delivered
)

// The retry schedule: the n-th failed attempt (n from 1) waits FirstRetry·2^(n-1), at most
// MaxRetryDelay, with ±20% jitter; the delivery fails after the first failed attempt made
// RetryWindow or more after the event, so an endpoint is retried for at least 24 hours.
const (
	FirstRetry    = 30 * time.Second
	MaxRetryDelay = 4 * time.Hour
	RetryWindow   = 24 * time.Hour
	// JitterPercent is the jitter's range on either side of the nominal delay.
	JitterPercent = 20
)

// RetryDelay is the nominal wait after the n-th failed attempt (n ≥ 1), before jitter.
func RetryDelay(n int) time.Duration {
	d := FirstRetry
	for i := 1; i < n && d < MaxRetryDelay; i++ {
		d *= 2
	}
	return min(d, MaxRetryDelay)
}

// Jittered spreads d by j, a number in [0, 2·JitterPercent]: d·(100-JitterPercent+j)/100.
func Jittered(d time.Duration, j int) time.Duration {
	j = max(0, min(j, 2*JitterPercent))
	return d * time.Duration(100-JitterPercent+j) / 100
}

// Attempt is one try of a delivery, for the delivery log.
type Attempt struct {
	N          int
	At         time.Time
	StatusCode int // 0 when no HTTP answer (refused, timeout, blocked address)
	Duration   time.Duration
	Error      string // why it failed without an answer; never personal data
	Response   string // the first bytes of the answer (bounded)
}

// Succeeded reports whether the attempt got a 2xx answer.
func (a Attempt) Succeeded() bool { return a.StatusCode >= 200 && a.StatusCode < 300 }

// Delivery is one event to one endpoint: the signed body is fixed when the event is accepted, so
// every attempt and a redelivery send the same bytes under the same event id.
type Delivery struct {
	id            DeliveryID
	endpointID    EndpointID
	enterpriseID  kernel.EnterpriseID
	eventID       string
	typ           Type
	body          []byte
	status        Status
	attempts      int
	nextAttemptAt time.Time
	lastStatus    int
	lastError     string
	createdAt     time.Time
	updatedAt     time.Time
	deliveredAt   time.Time
}

// NewDelivery schedules an event for an endpoint, due now.
func NewDelivery(id DeliveryID, ep *Endpoint, eventID string, t Type, body []byte, now time.Time) (*Delivery, error) {
	if id == "" || eventID == "" || !t.Known() || len(body) == 0 {
		return nil, kernel.Invalid("webhook-delivery-invalid", "a delivery needs an id, an event id, a known type and a body")
	}
	now = kernel.OccurredAt(now)
	return &Delivery{id: id, endpointID: ep.ID(), enterpriseID: ep.EnterpriseID(), eventID: eventID, typ: t, body: body,
		status: StatusPending, nextAttemptAt: now, createdAt: now, updatedAt: now}, nil
}

// Accessors.
func (d *Delivery) ID() DeliveryID                    { return d.id }
func (d *Delivery) EndpointID() EndpointID            { return d.endpointID }
func (d *Delivery) EnterpriseID() kernel.EnterpriseID { return d.enterpriseID }
func (d *Delivery) EventID() string                   { return d.eventID }
func (d *Delivery) Type() Type                        { return d.typ }
func (d *Delivery) Body() []byte                      { return d.body }
func (d *Delivery) Status() Status                    { return d.status }
func (d *Delivery) Attempts() int                     { return d.attempts }
func (d *Delivery) NextAttemptAt() time.Time          { return d.nextAttemptAt }
func (d *Delivery) LastStatusCode() int               { return d.lastStatus }
func (d *Delivery) LastError() string                 { return d.lastError }
func (d *Delivery) CreatedAt() time.Time              { return d.createdAt }
func (d *Delivery) UpdatedAt() time.Time              { return d.updatedAt }
func (d *Delivery) DeliveredAt() time.Time            { return d.deliveredAt }

// Due reports whether the delivery should be attempted at now.
func (d *Delivery) Due(now time.Time) bool {
	return d.status == StatusPending && !now.Before(d.nextAttemptAt)
}

// Record applies the result of an attempt: delivered on 2xx; otherwise the next attempt is
// scheduled after the jittered RetryDelay (jitter in [0, 2·JitterPercent]), or the delivery
// fails once RetryWindow has passed since the event. It returns the attempt as logged.
func (d *Delivery) Record(a Attempt, jitter int) Attempt {
	now := kernel.OccurredAt(a.At)
	d.attempts++
	a.N, a.At = d.attempts, now
	d.lastStatus, d.lastError, d.updatedAt = a.StatusCode, a.Error, now
	switch {
	case a.Succeeded():
		d.status, d.deliveredAt, d.nextAttemptAt = StatusDelivered, now, time.Time{}
	case now.Sub(d.createdAt) >= RetryWindow:
		d.status, d.nextAttemptAt = StatusFailed, time.Time{}
	default:
		d.status, d.nextAttemptAt = StatusPending, now.Add(Jittered(RetryDelay(d.attempts), jitter))
	}
	return a
}

// ErrNotRedeliverable refuses a redelivery of a cancelled delivery.
var ErrNotRedeliverable = kernel.Conflict("webhook-delivery-cancelled", "the endpoint was deleted; its deliveries cannot be sent again")

// Redeliver makes the delivery due now again (delivered, failed or waiting for a retry): the
// same body and event id are sent once more, so a receiver that deduplicates by event id sees it
// once. A delivery older than RetryWindow gets one try; a younger one resumes its retries.
func (d *Delivery) Redeliver(now time.Time) error {
	if d.status == StatusCancelled {
		return ErrNotRedeliverable
	}
	now = kernel.OccurredAt(now)
	d.status, d.nextAttemptAt, d.updatedAt = StatusPending, now, now
	return nil
}

// Cancel stops a pending delivery (its endpoint was deleted).
func (d *Delivery) Cancel(now time.Time) {
	if d.status == StatusPending {
		d.status, d.nextAttemptAt, d.updatedAt = StatusCancelled, time.Time{}, kernel.OccurredAt(now)
	}
}

// DeliverySnapshot is the stored form of a delivery.
type DeliverySnapshot struct {
	ID            DeliveryID
	EndpointID    EndpointID
	EnterpriseID  kernel.EnterpriseID
	EventID       string
	Type          Type
	Body          []byte
	Status        Status
	Attempts      int
	NextAttemptAt time.Time
	LastStatus    int
	LastError     string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	DeliveredAt   time.Time
}

// Snapshot returns the stored form.
func (d *Delivery) Snapshot() DeliverySnapshot {
	return DeliverySnapshot{ID: d.id, EndpointID: d.endpointID, EnterpriseID: d.enterpriseID, EventID: d.eventID, Type: d.typ,
		Body: d.body, Status: d.status, Attempts: d.attempts, NextAttemptAt: d.nextAttemptAt, LastStatus: d.lastStatus,
		LastError: d.lastError, CreatedAt: d.createdAt, UpdatedAt: d.updatedAt, DeliveredAt: d.deliveredAt}
}

// DeliveryFromSnapshot rebuilds a delivery from storage.
func DeliveryFromSnapshot(s DeliverySnapshot) *Delivery {
	return &Delivery{id: s.ID, endpointID: s.EndpointID, enterpriseID: s.EnterpriseID, eventID: s.EventID, typ: s.Type, body: s.Body,
		status: s.Status, attempts: s.Attempts, nextAttemptAt: s.NextAttemptAt, lastStatus: s.LastStatus, lastError: s.LastError,
		createdAt: s.CreatedAt, updatedAt: s.UpdatedAt, deliveredAt: s.DeliveredAt}
}
