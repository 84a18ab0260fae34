package http

import (
	"net/http"
	"strconv"
	"time"

	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/application/seals"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/seal"
)

// registerSealRoutes mounts 印章管理 (API.md "Seals").
func (s *Server) registerSealRoutes() {
	const base = "/api/v1/enterprises/{enterprise_id}/seals"
	s.authed("GET", base, s.listSeals)
	s.authed("POST", base, s.createSeal)
	s.authed("GET", base+"/{seal_id}", s.getSeal)
	s.authed("PUT", base+"/{seal_id}", s.updateSeal)
	s.authed("DELETE", base+"/{seal_id}", s.deleteSeal)
	s.authed("GET", base+"/{seal_id}/image", s.sealImage)
	s.authed("GET", base+"/{seal_id}/grants", s.listSealGrants)
	s.authed("POST", base+"/{seal_id}/grants", s.grantSeal)
	s.authed("DELETE", base+"/{seal_id}/grants/{grant_id}", s.revokeSealGrant)
}

func (s *Server) sealService() (*seals.Service, error) {
	if s.opts.Seals == nil {
		return nil, kernel.Unavailable("seals-unavailable", "seal management is not configured", nil)
	}
	return s.opts.Seals, nil
}

type sealJSON struct {
	ID         string     `json:"id"`
	Type       string     `json:"type"`
	Name       string     `json:"name"`
	Template   string     `json:"template,omitempty"`
	Source     string     `json:"source"`
	Status     string     `json:"status"`
	Automatic  bool       `json:"automatic"`
	ImageURL   string     `json:"image_url"`
	UsedCount  int64      `json:"used_count"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

func toSealJSON(sl *seal.Seal) sealJSON {
	j := sealJSON{ID: string(sl.ID()), Type: string(sl.Type()), Name: sl.Name(), Template: string(sl.Template()), Source: "template",
		Status: string(sl.Status()), Automatic: sl.Automatic(), UsedCount: sl.UsedCount(), CreatedAt: sl.CreatedAt(), UpdatedAt: sl.UpdatedAt(),
		ImageURL: "/api/v1/enterprises/" + string(sl.EnterpriseID()) + "/seals/" + string(sl.ID()) + "/image"}
	if sl.Uploaded() {
		j.Source = "upload"
	}
	if t := sl.LastUsedAt(); !t.IsZero() {
		j.LastUsedAt = &t
	}
	return j
}

type sealGrantJSON struct {
	ID           string     `json:"id"`
	MemberID     string     `json:"member_id"`
	UserID       string     `json:"user_id"`
	State        string     `json:"state"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	GrantedBy    string     `json:"granted_by"`
	GrantedAt    time.Time  `json:"granted_at"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
	RevokeReason string     `json:"revoke_reason,omitempty"`
}

func toGrantJSON(g seal.Grant, now time.Time) sealGrantJSON {
	j := sealGrantJSON{ID: string(g.ID), MemberID: string(g.MembershipID), UserID: string(g.UserID), State: g.State(now),
		GrantedBy: string(g.GrantedBy), GrantedAt: g.GrantedAt, RevokeReason: g.RevokeReason}
	if !g.ExpiresAt.IsZero() {
		t := g.ExpiresAt
		j.ExpiresAt = &t
	}
	if !g.RevokedAt.IsZero() {
		t := g.RevokedAt
		j.RevokedAt = &t
	}
	return j
}

func eidOf(r *http.Request) kernel.EnterpriseID {
	return kernel.EnterpriseID(r.PathValue("enterprise_id"))
}

func (s *Server) listSeals(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	svc, err := s.sealService()
	if err != nil {
		return err
	}
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > seals.PageSize {
			return kernel.Invalid("limit-invalid", "limit is 1 to 100")
		}
	}
	list, next, err := svc.List(r.Context(), kernel.UserID(a.UserID), eidOf(r), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		return err
	}
	items := make([]sealJSON, len(list))
	for i, sl := range list {
		items[i] = toSealJSON(sl)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
	return nil
}

type createSealRequest struct {
	Type     string `json:"type"`
	Template string `json:"template,omitempty"`
	Name     string `json:"name,omitempty"`
	FileID   string `json:"file_id,omitempty"`
}

func (s *Server) createSeal(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	svc, err := s.sealService()
	if err != nil {
		return err
	}
	var req createSealRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	sl, err := svc.Create(r.Context(), kernel.UserID(a.UserID), eidOf(r), seals.CreateInput{Type: req.Type, Template: req.Template,
		Name: req.Name, FileID: req.FileID})
	if err != nil {
		return err
	}
	j := toSealJSON(sl)
	w.Header().Set("Location", "/api/v1/enterprises/"+string(sl.EnterpriseID())+"/seals/"+string(sl.ID()))
	writeJSON(w, http.StatusCreated, j)
	return nil
}

func (s *Server) getSeal(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	svc, err := s.sealService()
	if err != nil {
		return err
	}
	sl, err := svc.Get(r.Context(), kernel.UserID(a.UserID), eidOf(r), r.PathValue("seal_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toSealJSON(sl))
	return nil
}

type updateSealRequest struct {
	Name   *string `json:"name,omitempty"`
	Status *string `json:"status,omitempty"`
}

func (s *Server) updateSeal(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	svc, err := s.sealService()
	if err != nil {
		return err
	}
	var req updateSealRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	sl, err := svc.Update(r.Context(), kernel.UserID(a.UserID), eidOf(r), r.PathValue("seal_id"), seals.UpdateInput{Name: req.Name, Status: req.Status})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toSealJSON(sl))
	return nil
}

func (s *Server) deleteSeal(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	svc, err := s.sealService()
	if err != nil {
		return err
	}
	if err := svc.Delete(r.Context(), kernel.UserID(a.UserID), eidOf(r), r.PathValue("seal_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) sealImage(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	svc, err := s.sealService()
	if err != nil {
		return err
	}
	png, err := svc.Image(r.Context(), kernel.UserID(a.UserID), eidOf(r), r.PathValue("seal_id"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "private, max-age=300")
	_, _ = w.Write(png) //nolint:gosec // a checked PNG, served as image/png with nosniff
	return nil
}

func (s *Server) listSealGrants(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	svc, err := s.sealService()
	if err != nil {
		return err
	}
	gs, err := svc.Grants(r.Context(), kernel.UserID(a.UserID), eidOf(r), r.PathValue("seal_id"))
	if err != nil {
		return err
	}
	now := time.Now()
	items := make([]sealGrantJSON, len(gs))
	for i, g := range gs {
		items[i] = toGrantJSON(g, now)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

type grantSealRequest struct {
	MemberID  string     `json:"member_id"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

func (s *Server) grantSeal(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	svc, err := s.sealService()
	if err != nil {
		return err
	}
	var req grantSealRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if req.MemberID == "" {
		return kernel.Invalid("member-id-required", "give member_id")
	}
	var exp time.Time
	if req.ExpiresAt != nil {
		exp = *req.ExpiresAt
	}
	g, err := svc.Grant(r.Context(), kernel.UserID(a.UserID), eidOf(r), r.PathValue("seal_id"), req.MemberID, exp)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toGrantJSON(g, g.GrantedAt))
	return nil
}

func (s *Server) revokeSealGrant(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	svc, err := s.sealService()
	if err != nil {
		return err
	}
	if err := svc.Revoke(r.Context(), kernel.UserID(a.UserID), eidOf(r), r.PathValue("seal_id"), r.PathValue("grant_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
