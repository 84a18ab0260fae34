package http

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/kernel"
)

type memberJSON struct {
	ID                       string     `json:"id"`
	Name                     string     `json:"name"`
	Phone                    string     `json:"phone"`
	Role                     string     `json:"role"`
	Status                   string     `json:"status"`
	JoinedAt                 *time.Time `json:"joined_at,omitempty"`
	CreatedAt                time.Time  `json:"created_at"`
	CertificateAuthorized    bool       `json:"certificate_authorized"`
	CertificateAuthRevokedAt *time.Time `json:"certificate_authorization_revoked_at,omitempty"`
}

func toMemberJSON(v application.MemberView) memberJSON {
	m := v.M
	j := memberJSON{ID: string(m.ID), Name: v.Name, Phone: v.PhoneMasked, Role: string(m.Role), Status: string(m.Status),
		CreatedAt: m.CreatedAt, CertificateAuthorized: m.CertAuthorized}
	if !m.JoinedAt.IsZero() {
		t := m.JoinedAt
		j.JoinedAt = &t
	}
	if !m.CertRevokedAt.IsZero() {
		t := m.CertRevokedAt
		j.CertificateAuthRevokedAt = &t
	}
	return j
}

type enterpriseSearchJSON struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	CreditCode string `json:"credit_code"`
}

func (s *Server) searchEnterprises(w http.ResponseWriter, r *http.Request, _ application.Actor) error {
	es, err := s.app.SearchEnterprises(r.Context(), r.URL.Query().Get("name"))
	if err != nil {
		return err
	}
	items := make([]enterpriseSearchJSON, len(es))
	for i, e := range es {
		items[i] = enterpriseSearchJSON{ID: string(e.ID()), Name: e.Name(), CreditCode: string(e.CreditCode())}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

func (s *Server) joinRequest(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	m, err := s.app.ApplyToJoin(r.Context(), a, r.PathValue("enterprise_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": string(m.ID), "status": string(m.Status), "created_at": m.CreatedAt})
	return nil
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	q := r.URL.Query()
	var states []string
	if v := q.Get("status"); v != "" {
		states = strings.Split(v, ",")
		if len(states) > 5 {
			return kernel.Invalid("member-status-invalid", "at most 5 statuses")
		}
	}
	limit := application.MemberPageSize
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > application.MemberListLimit {
			return kernel.Invalid("limit-invalid", fmt.Sprintf("limit is 1 to %d", application.MemberListLimit))
		}
		limit = n
	}
	vs, err := s.app.Members(r.Context(), a, r.PathValue("enterprise_id"), states, q.Get("before"), limit)
	if err != nil {
		return err
	}
	items := make([]memberJSON, len(vs))
	for i, v := range vs {
		items[i] = toMemberJSON(v)
	}
	resp := map[string]any{"items": items}
	if len(vs) == limit {
		resp["next_before"] = string(vs[len(vs)-1].M.ID)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

type addMemberRequest struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
	Role  string `json:"role"`
}

func (s *Server) addMember(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	var req addMemberRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	v, err := s.app.AddMember(r.Context(), a, r.PathValue("enterprise_id"), req.Name, req.Phone, req.Role)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toMemberJSON(v))
	return nil
}

func (s *Server) getMember(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	v, err := s.app.Member(r.Context(), a, r.PathValue("enterprise_id"), r.PathValue("member_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toMemberJSON(v))
	return nil
}

func (s *Server) decideMember(d application.Decision) func(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	return func(w http.ResponseWriter, r *http.Request, a application.Actor) error {
		v, err := s.app.Decide(r.Context(), a, r.PathValue("enterprise_id"), r.PathValue("member_id"), d)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toMemberJSON(v))
		return nil
	}
}

type batchRequest struct {
	MemberIDs []string `json:"member_ids"`
	Decision  string   `json:"decision"`
}

type batchItemJSON struct {
	MemberID string        `json:"member_id"`
	Status   string        `json:"status,omitempty"`
	Error    *errorPayload `json:"error,omitempty"`
}

func (s *Server) batchMembers(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	var req batchRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	d, err := application.ParseDecision(req.Decision)
	if err != nil {
		return err
	}
	res, err := s.app.DecideBatch(r.Context(), a, r.PathValue("enterprise_id"), req.MemberIDs, d)
	if err != nil {
		return err
	}
	items := make([]batchItemJSON, len(res))
	for i, it := range res {
		items[i] = batchItemJSON{MemberID: string(it.ID), Status: string(it.Status)}
		if it.Err != nil {
			var ke *kernel.Error
			if !errors.As(it.Err, &ke) || ke.Kind == kernel.KindInternal {
				s.log.ErrorContext(r.Context(), "batch item failed", "member", it.ID, "err", it.Err)
				ke = kernel.Internal(it.Err)
			}
			items[i].Error = &errorPayload{Code: ke.Code, Message: ke.Message}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": items})
	return nil
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	if err := s.app.RemoveMember(r.Context(), a, r.PathValue("enterprise_id"), r.PathValue("member_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
