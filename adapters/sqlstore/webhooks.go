package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/webhook"
	"github.com/shuxinqian/server/ports"
)

const aadWebhookSecret = "webhook_endpoints.secret:"

type webhookEndpointRow struct {
	bun.BaseModel `bun:"table:webhook_endpoints"`

	ID           string    `bun:"id,pk"`
	EnterpriseID string    `bun:"enterprise_id"`
	URL          string    `bun:"url"`
	Events       string    `bun:"events"`
	SecretEnc    []byte    `bun:"secret_enc"`
	CreatedBy    string    `bun:"created_by"`
	CreatedAt    time.Time `bun:"created_at"`
	DeletedAt    time.Time `bun:"deleted_at,nullzero"`
}

type webhookDeliveryRow struct {
	bun.BaseModel `bun:"table:webhook_deliveries"`

	ID            string    `bun:"id,pk"`
	EndpointID    string    `bun:"endpoint_id"`
	EnterpriseID  string    `bun:"enterprise_id"`
	EventID       string    `bun:"event_id"`
	Type          string    `bun:"type"`
	Body          []byte    `bun:"body"`
	Status        string    `bun:"status"`
	Attempts      int       `bun:"attempts"`
	NextAttemptAt time.Time `bun:"next_attempt_at,nullzero"`
	LastStatus    int       `bun:"last_status"`
	LastError     string    `bun:"last_error"`
	CreatedAt     time.Time `bun:"created_at"`
	UpdatedAt     time.Time `bun:"updated_at"`
	DeliveredAt   time.Time `bun:"delivered_at,nullzero"`
	LeaseToken    string    `bun:"lease_token"`
	LeaseUntil    time.Time `bun:"lease_until,nullzero"`
}

type webhookAttemptRow struct {
	bun.BaseModel `bun:"table:webhook_attempts"`

	DeliveryID string    `bun:"delivery_id,pk"`
	N          int       `bun:"n,pk"`
	At         time.Time `bun:"at"`
	StatusCode int       `bun:"status_code"`
	DurationMS int64     `bun:"duration_ms"`
	Error      string    `bun:"error"`
	Response   string    `bun:"response"`
}

type webhookFlowRow struct {
	bun.BaseModel `bun:"table:webhook_sign_flows"`

	FlowID       string `bun:"flow_id,pk"`
	EnterpriseID string `bun:"enterprise_id"`
}

type webhooks struct{ t *txn }

func (t *txn) Webhooks() ports.WebhookRepository { return webhooks{t} }

var (
	errDeliveryNotFound = kernel.NotFound("webhook-delivery-not-found", "no such delivery of this webhook")
	errLeaseLost        = kernel.Conflict("webhook-lease-lost", "the delivery's claim ran out and was taken over")
)

func (r webhooks) endpointFromRow(row *webhookEndpointRow) (*webhook.Endpoint, error) {
	secret, err := r.t.store.cipher.Open(row.SecretEnc, aadWebhookSecret+row.ID)
	if err != nil {
		return nil, kernel.Internal(err)
	}
	var events []webhook.Type
	for _, e := range strings.Split(row.Events, ",") {
		if e != "" {
			events = append(events, webhook.Type(e))
		}
	}
	return webhook.EndpointFromSnapshot(webhook.EndpointSnapshot{ID: webhook.EndpointID(row.ID), EnterpriseID: kernel.EnterpriseID(row.EnterpriseID),
		URL: row.URL, Events: events, Secret: string(secret), CreatedBy: kernel.UserID(row.CreatedBy), CreatedAt: utc(row.CreatedAt),
		DeletedAt: utc(row.DeletedAt)}), nil
}

func (r webhooks) endpointsFromRows(rows []webhookEndpointRow) ([]*webhook.Endpoint, error) {
	out := make([]*webhook.Endpoint, len(rows))
	for i := range rows {
		ep, err := r.endpointFromRow(&rows[i])
		if err != nil {
			return nil, err
		}
		out[i] = ep
	}
	return out, nil
}

func (r webhooks) AddEndpoint(ctx context.Context, e *webhook.Endpoint) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	p := e.Snapshot()
	enc, err := r.t.store.cipher.Seal([]byte(p.Secret), aadWebhookSecret+string(p.ID))
	if err != nil {
		return kernel.Internal(err)
	}
	events := make([]string, len(p.Events))
	for i, t := range p.Events {
		events[i] = string(t)
	}
	_, err = r.t.idb.NewInsert().Model(&webhookEndpointRow{ID: string(p.ID), EnterpriseID: string(p.EnterpriseID), URL: p.URL,
		Events: strings.Join(events, ","), SecretEnc: enc, CreatedBy: string(p.CreatedBy), CreatedAt: utc(p.CreatedAt),
		DeletedAt: utc(p.DeletedAt)}).Exec(ctx)
	return err
}

func (r webhooks) CountEndpoints(ctx context.Context, eid kernel.EnterpriseID) (int, error) {
	// Lock the enterprise row so two registrations cannot both pass the limit (Postgres; SQLite
	// serialises writers).
	if r.t.store.db.IsPostgres() && r.t.writable {
		if _, err := r.t.idb.NewRaw("SELECT id FROM enterprises WHERE id = ? FOR UPDATE", string(eid)).Exec(ctx); err != nil {
			return 0, err
		}
	}
	n, err := r.t.idb.NewSelect().Model((*webhookEndpointRow)(nil)).Where("enterprise_id = ? AND deleted_at IS NULL", string(eid)).Count(ctx)
	return int(n), err
}

func (r webhooks) GetEndpoint(ctx context.Context, eid kernel.EnterpriseID, id webhook.EndpointID) (*webhook.Endpoint, error) {
	row := new(webhookEndpointRow)
	if err := r.t.idb.NewSelect().Model(row).Where("id = ? AND enterprise_id = ? AND deleted_at IS NULL", string(id), string(eid)).
		Scan(ctx); err != nil {
		return nil, notFound(err, webhook.ErrNotFound.Code, webhook.ErrNotFound.Message)
	}
	return r.endpointFromRow(row)
}

func (r webhooks) ListEndpoints(ctx context.Context, eid kernel.EnterpriseID, after webhook.EndpointID, limit int) ([]*webhook.Endpoint, error) {
	var rows []webhookEndpointRow
	q := r.t.idb.NewSelect().Model(&rows).Where("enterprise_id = ? AND deleted_at IS NULL", string(eid))
	if after != "" {
		q = q.Where("id > ?", string(after))
	}
	if err := q.Order("id").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, err
	}
	return r.endpointsFromRows(rows)
}

func (r webhooks) Subscribers(ctx context.Context, eid kernel.EnterpriseID, t webhook.Type) ([]*webhook.Endpoint, error) {
	var rows []webhookEndpointRow
	if err := r.t.idb.NewSelect().Model(&rows).Where("enterprise_id = ? AND deleted_at IS NULL", string(eid)).Order("id").
		Limit(int64(webhook.MaxPerEnterprise * 2)).Scan(ctx); err != nil {
		return nil, err
	}
	eps, err := r.endpointsFromRows(rows)
	if err != nil {
		return nil, err
	}
	out := eps[:0]
	for _, ep := range eps {
		if ep.Wants(t) {
			out = append(out, ep)
		}
	}
	return out, nil
}

func (r webhooks) DeleteEndpoint(ctx context.Context, eid kernel.EnterpriseID, id webhook.EndpointID, now time.Time) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	res, err := r.t.idb.NewUpdate().Model((*webhookEndpointRow)(nil)).Set("deleted_at = ?", now.UTC()).
		Where("id = ? AND enterprise_id = ? AND deleted_at IS NULL", string(id), string(eid)).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return webhook.ErrNotFound
	}
	_, err = r.t.idb.NewUpdate().Model((*webhookDeliveryRow)(nil)).
		Set("status = ?", string(webhook.StatusCancelled)).Set("next_attempt_at = NULL").Set("updated_at = ?", now.UTC()).
		Where("endpoint_id = ? AND status = ?", string(id), string(webhook.StatusPending)).Exec(ctx)
	return err
}

func deliveryToRow(d *webhook.Delivery) *webhookDeliveryRow {
	p := d.Snapshot()
	return &webhookDeliveryRow{ID: string(p.ID), EndpointID: string(p.EndpointID), EnterpriseID: string(p.EnterpriseID),
		EventID: p.EventID, Type: string(p.Type), Body: p.Body, Status: string(p.Status), Attempts: p.Attempts,
		NextAttemptAt: utc(p.NextAttemptAt), LastStatus: p.LastStatus, LastError: p.LastError, CreatedAt: utc(p.CreatedAt),
		UpdatedAt: utc(p.UpdatedAt), DeliveredAt: utc(p.DeliveredAt)}
}

func deliveryFromRow(row *webhookDeliveryRow) *webhook.Delivery {
	return webhook.DeliveryFromSnapshot(webhook.DeliverySnapshot{ID: webhook.DeliveryID(row.ID), EndpointID: webhook.EndpointID(row.EndpointID),
		EnterpriseID: kernel.EnterpriseID(row.EnterpriseID), EventID: row.EventID, Type: webhook.Type(row.Type), Body: row.Body,
		Status: webhook.Status(row.Status), Attempts: row.Attempts, NextAttemptAt: utc(row.NextAttemptAt), LastStatus: row.LastStatus,
		LastError: row.LastError, CreatedAt: utc(row.CreatedAt), UpdatedAt: utc(row.UpdatedAt), DeliveredAt: utc(row.DeliveredAt)})
}

func (r webhooks) AddDeliveries(ctx context.Context, ds []*webhook.Delivery) (int, error) {
	if err := r.t.mustWrite(); err != nil {
		return 0, err
	}
	if len(ds) == 0 {
		return 0, nil
	}
	rows := make([]*webhookDeliveryRow, len(ds))
	for i, d := range ds {
		rows[i] = deliveryToRow(d)
	}
	res, err := r.t.idb.NewInsert().Model(&rows).On("CONFLICT (event_id, endpoint_id) DO NOTHING").Exec(ctx)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

func (r webhooks) ListDeliveries(ctx context.Context, eid kernel.EnterpriseID, ep webhook.EndpointID, before webhook.DeliveryID, limit int) ([]*webhook.Delivery, map[webhook.DeliveryID][]webhook.Attempt, error) {
	var rows []webhookDeliveryRow
	q := r.t.idb.NewSelect().Model(&rows).Where("endpoint_id = ? AND enterprise_id = ?", string(ep), string(eid))
	if before != "" {
		q = q.Where("id < ?", string(before))
	}
	if err := q.OrderExpr("id DESC").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, nil, err
	}
	out := make([]*webhook.Delivery, len(rows))
	ids := make([]string, len(rows))
	for i := range rows {
		out[i], ids[i] = deliveryFromRow(&rows[i]), rows[i].ID
	}
	attempts := map[webhook.DeliveryID][]webhook.Attempt{}
	if len(ids) == 0 {
		return out, attempts, nil
	}
	var ars []webhookAttemptRow
	if err := r.t.idb.NewSelect().Model(&ars).Where("delivery_id IN (?)", bun.List(ids)).OrderExpr("delivery_id, n DESC").Scan(ctx); err != nil {
		return nil, nil, err
	}
	for _, a := range ars {
		id := webhook.DeliveryID(a.DeliveryID)
		attempts[id] = append(attempts[id], webhook.Attempt{N: a.N, At: utc(a.At), StatusCode: a.StatusCode,
			Duration: time.Duration(a.DurationMS) * time.Millisecond, Error: a.Error, Response: a.Response})
	}
	return out, attempts, nil
}

func (r webhooks) saveDelivery(ctx context.Context, d *webhook.Delivery, extra ...string) error {
	row := deliveryToRow(d)
	cols := append([]string{"status", "attempts", "next_attempt_at", "last_status", "last_error", "updated_at", "delivered_at"}, extra...)
	_, err := r.t.idb.NewUpdate().Model(row).Column(cols...).WherePK().Exec(ctx)
	return err
}

func (r webhooks) UpdateDelivery(ctx context.Context, eid kernel.EnterpriseID, ep webhook.EndpointID, id webhook.DeliveryID, fn func(d *webhook.Delivery) error) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	row := new(webhookDeliveryRow)
	if err := r.t.forUpdate(r.t.idb.NewSelect().Model(row).Where("id = ? AND endpoint_id = ? AND enterprise_id = ?", string(id), string(ep), string(eid))).
		Scan(ctx); err != nil {
		return notFound(err, errDeliveryNotFound.Code, errDeliveryNotFound.Message)
	}
	d := deliveryFromRow(row)
	if err := fn(d); err != nil {
		return err
	}
	return r.saveDelivery(ctx, d)
}

func (r webhooks) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, token string, limit int) ([]ports.ClaimedDelivery, error) {
	if err := r.t.mustWrite(); err != nil {
		return nil, err
	}
	now = now.UTC()
	inner := r.t.idb.NewSelect().Model((*webhookDeliveryRow)(nil)).Column("id").
		Where("status = ? AND next_attempt_at <= ?", string(webhook.StatusPending), now).
		Where("(lease_until IS NULL OR lease_until <= ?)", now).
		OrderExpr("next_attempt_at, id").Limit(int64(limit))
	if r.t.store.db.IsPostgres() {
		inner = inner.For("UPDATE SKIP LOCKED")
	}
	var ids []string
	if err := inner.Scan(ctx, &ids); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	if _, err := r.t.idb.NewUpdate().Model((*webhookDeliveryRow)(nil)).Set("lease_token = ?", token).Set("lease_until = ?", now.Add(lease)).
		Where("id IN (?)", bun.List(ids)).Exec(ctx); err != nil {
		return nil, err
	}
	var rows []struct {
		webhookDeliveryRow `bun:",extend"`
		URL                string `bun:"ep_url"`
		SecretEnc          []byte `bun:"ep_secret_enc"`
	}
	if err := r.t.idb.NewSelect().Model(&rows).ModelTableExpr("webhook_deliveries AS d").ColumnExpr("d.*").
		ColumnExpr("e.url AS ep_url, e.secret_enc AS ep_secret_enc").
		Join("JOIN webhook_endpoints AS e ON e.id = d.endpoint_id").
		Where("d.id IN (?)", bun.List(ids)).OrderExpr("d.next_attempt_at, d.id").Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]ports.ClaimedDelivery, 0, len(rows))
	for i := range rows {
		secret, err := r.t.store.cipher.Open(rows[i].SecretEnc, aadWebhookSecret+rows[i].EndpointID)
		if err != nil {
			return nil, kernel.Internal(err)
		}
		out = append(out, ports.ClaimedDelivery{Delivery: deliveryFromRow(&rows[i].webhookDeliveryRow), URL: rows[i].URL,
			Secret: string(secret), Lease: token})
	}
	return out, nil
}

func (r webhooks) RecordAttempt(ctx context.Context, id webhook.DeliveryID, token string, fn func(d *webhook.Delivery) webhook.Attempt) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	row := new(webhookDeliveryRow)
	if err := r.t.forUpdate(r.t.idb.NewSelect().Model(row).Where("id = ?", string(id))).Scan(ctx); err != nil {
		return notFound(err, errDeliveryNotFound.Code, errDeliveryNotFound.Message)
	}
	if row.LeaseToken != token {
		return errLeaseLost
	}
	d := deliveryFromRow(row)
	if d.Status() != webhook.StatusPending { // cancelled (endpoint deleted) while it was sent
		a := fn(webhook.DeliveryFromSnapshot(d.Snapshot()))
		return r.insertAttempt(ctx, id, a, row.Attempts+1, d, true)
	}
	a := fn(d)
	return r.insertAttempt(ctx, id, a, a.N, d, false)
}

func (r webhooks) insertAttempt(ctx context.Context, id webhook.DeliveryID, a webhook.Attempt, n int, d *webhook.Delivery, onlyCount bool) error {
	if _, err := r.t.idb.NewInsert().Model(&webhookAttemptRow{DeliveryID: string(id), N: n, At: a.At.UTC(), StatusCode: a.StatusCode,
		DurationMS: a.Duration.Milliseconds(), Error: a.Error, Response: a.Response}).Exec(ctx); err != nil {
		return err
	}
	if onlyCount {
		_, err := r.t.idb.NewUpdate().Model((*webhookDeliveryRow)(nil)).Set("attempts = ?", n).Set("lease_token = ''").Set("lease_until = NULL").
			Where("id = ?", string(id)).Exec(ctx)
		return err
	}
	row := deliveryToRow(d)
	row.LeaseToken, row.LeaseUntil = "", time.Time{}
	_, err := r.t.idb.NewUpdate().Model(row).Column("status", "attempts", "next_attempt_at", "last_status", "last_error", "updated_at",
		"delivered_at", "lease_token", "lease_until").WherePK().Exec(ctx)
	return err
}

func (r webhooks) RememberFlow(ctx context.Context, flowID string, eid kernel.EnterpriseID) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	_, err := r.t.idb.NewInsert().Model(&webhookFlowRow{FlowID: flowID, EnterpriseID: string(eid)}).On("CONFLICT (flow_id) DO NOTHING").Exec(ctx)
	return err
}

func (r webhooks) FlowEnterprise(ctx context.Context, flowID string) (kernel.EnterpriseID, error) {
	row := new(webhookFlowRow)
	if err := r.t.idb.NewSelect().Model(row).Where("flow_id = ?", flowID).Scan(ctx); err != nil {
		return "", notFound(err, "webhook-flow-unknown", "no such sign flow seen")
	}
	return kernel.EnterpriseID(row.EnterpriseID), nil
}
