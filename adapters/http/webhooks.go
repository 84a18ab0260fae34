package http

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/application/webhooks"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/webhook"
)

// registerWebhookRoutes mounts the enterprises' webhook endpoints (API.md "Webhooks").
func (s *Server) registerWebhookRoutes() {
	const base = "/api/v1/enterprises/{enterprise_id}/webhooks"
	s.authed("GET", base, s.listWebhooks)
	s.authed("POST", base, s.createWebhook)
	s.authed("DELETE", base+"/{webhook_id}", s.deleteWebhook)
	s.authed("GET", base+"/{webhook_id}/deliveries", s.listWebhookDeliveries)
	s.authed("POST", base+"/{webhook_id}/deliveries/{delivery_id}/redeliver", s.redeliverWebhook)
}

func (s *Server) webhookService() (*webhooks.Service, error) {
	if s.opts.Webhooks == nil {
		return nil, kernel.Unavailable("webhooks-unavailable", "webhooks are not configured", nil)
	}
	return s.opts.Webhooks, nil
}

type webhookJSON struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	CreatedAt time.Time `json:"created_at"`
	// Secret is only in the answer to the registration.
	Secret string `json:"secret,omitempty"`
}

func toWebhookJSON(ep *webhook.Endpoint) webhookJSON {
	j := webhookJSON{ID: string(ep.ID()), URL: ep.URL(), CreatedAt: ep.CreatedAt()}
	for _, t := range ep.Events() {
		j.Events = append(j.Events, string(t))
	}
	return j
}

type webhookAttemptJSON struct {
	N          int       `json:"n"`
	At         time.Time `json:"at"`
	StatusCode int       `json:"status_code"`
	DurationMS int64     `json:"duration_ms"`
	Error      string    `json:"error,omitempty"`
	Response   string    `json:"response,omitempty"`
}

type webhookDeliveryJSON struct {
	ID             string               `json:"id"`
	EventID        string               `json:"event_id"`
	Type           string               `json:"type"`
	Status         string               `json:"status"`
	Attempts       int                  `json:"attempts"`
	NextAttemptAt  *time.Time           `json:"next_attempt_at,omitempty"`
	LastStatusCode int                  `json:"last_status_code"`
	LastError      string               `json:"last_error,omitempty"`
	CreatedAt      time.Time            `json:"created_at"`
	DeliveredAt    *time.Time           `json:"delivered_at,omitempty"`
	Event          json.RawMessage      `json:"event"`
	Log            []webhookAttemptJSON `json:"log"`
}

func toDeliveryJSON(d *webhook.Delivery, attempts []webhook.Attempt) webhookDeliveryJSON {
	j := webhookDeliveryJSON{ID: string(d.ID()), EventID: d.EventID(), Type: string(d.Type()), Status: string(d.Status()),
		Attempts: d.Attempts(), LastStatusCode: d.LastStatusCode(), LastError: d.LastError(), CreatedAt: d.CreatedAt(),
		Event: json.RawMessage(d.Body()), Log: []webhookAttemptJSON{}}
	if t := d.NextAttemptAt(); !t.IsZero() {
		j.NextAttemptAt = &t
	}
	if t := d.DeliveredAt(); !t.IsZero() {
		j.DeliveredAt = &t
	}
	for _, a := range attempts {
		j.Log = append(j.Log, webhookAttemptJSON{N: a.N, At: a.At, StatusCode: a.StatusCode, DurationMS: a.Duration.Milliseconds(),
			Error: a.Error, Response: a.Response})
	}
	return j
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	svc, err := s.webhookService()
	if err != nil {
		return err
	}
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	list, next, err := svc.List(r.Context(), kernel.UserID(a.UserID), eidOf(r), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		return err
	}
	items := make([]webhookJSON, len(list))
	for i, ep := range list {
		items[i] = toWebhookJSON(ep)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
	return nil
}

type createWebhookRequest struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	svc, err := s.webhookService()
	if err != nil {
		return err
	}
	var req createWebhookRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	ep, err := svc.Create(r.Context(), kernel.UserID(a.UserID), eidOf(r), req.URL, req.Events)
	if err != nil {
		return err
	}
	j := toWebhookJSON(ep)
	j.Secret = ep.Secret()
	w.Header().Set("Location", "/api/v1/enterprises/"+string(ep.EnterpriseID())+"/webhooks/"+string(ep.ID()))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, j)
	return nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	svc, err := s.webhookService()
	if err != nil {
		return err
	}
	if err := svc.Delete(r.Context(), kernel.UserID(a.UserID), eidOf(r), r.PathValue("webhook_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listWebhookDeliveries(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	svc, err := s.webhookService()
	if err != nil {
		return err
	}
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	list, next, err := svc.Deliveries(r.Context(), kernel.UserID(a.UserID), eidOf(r), r.PathValue("webhook_id"), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		return err
	}
	items := make([]webhookDeliveryJSON, len(list))
	for i, v := range list {
		items[i] = toDeliveryJSON(v.Delivery, v.Attempts)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
	return nil
}

func (s *Server) redeliverWebhook(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	svc, err := s.webhookService()
	if err != nil {
		return err
	}
	d, err := svc.Redeliver(r.Context(), kernel.UserID(a.UserID), eidOf(r), r.PathValue("webhook_id"), r.PathValue("delivery_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, toDeliveryJSON(d, nil))
	return nil
}
