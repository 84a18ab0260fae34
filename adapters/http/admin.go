package http

import (
	"net/http"
	"strconv"
	"time"

	"github.com/shuxinqian/server/application/operators"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/operator"
)

// OperatorHandler is a console operation: the caller is an authenticated operator holding the
// route's permission.
type OperatorHandler func(w http.ResponseWriter, r *http.Request, op operators.Actor) error

// operator registers a console operation under /api/v1/admin: it needs an operator bearer token
// (an app session answers 401), and the operator's role must hold perm (else 403
// operator-permission-denied). The actor carries the client IP for the audit log.
func (s *Server) operator(method, pattern string, perm operator.Permission, h OperatorHandler) {
	s.routes = append(s.routes, Route{Method: method, Pattern: pattern, Operator: true})
	params := pathParams(pattern)
	s.mux.Handle(method+" "+pattern, s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		svc, err := s.operatorService()
		if err != nil {
			return err
		}
		a, err := svc.Authenticate(r.Context(), bearer(r))
		if err != nil {
			return err
		}
		a.IP = s.clientIP(r)
		if err := a.Require(perm); err != nil {
			return err
		}
		if err := checkRequest(pattern, params, r); err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		return h(w, r, a)
	}))
}

// Operator mounts another bounded context's console route behind operator authentication and
// the permission (for example the refunds route: `s.Operator("POST",
// "/api/v1/admin/orders/{order_id}/refunds", operator.PermRefund, h)`). Call it before serving.
func (s *Server) Operator(method, pattern string, perm operator.Permission, h OperatorHandler) {
	s.operator(method, pattern, perm, h)
}

func (s *Server) operatorService() (*operators.Service, error) {
	if s.opts.Operators == nil {
		return nil, kernel.Unavailable("console-unavailable", "the operator console is not configured", nil)
	}
	return s.opts.Operators, nil
}

// registerAdminRoutes mounts the console API (API.md "Platform operators").
func (s *Server) registerAdminRoutes() {
	s.handle("POST", "/api/v1/admin/sessions", s.adminLogin)
	s.operator("DELETE", "/api/v1/admin/sessions/current", operator.PermRead, s.adminLogout)
	s.operator("GET", "/api/v1/admin/me", operator.PermRead, s.adminMe)
	s.operator("GET", "/api/v1/admin/audit", operator.PermAudit, s.adminAudit)
	s.registerConsoleRoutes()
	s.registerOperatorRoutes()
}

type adminLoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	TOTP     string `json:"totp"`
}

type operatorJSON struct {
	ID          string   `json:"id"`
	Username    string   `json:"username"`
	Role        string   `json:"role"`
	Permissions []string `json:"permissions"`
}

func toOperatorJSON(a operators.Actor) operatorJSON {
	perms := []string{}
	for _, p := range operator.Permissions[a.Role] {
		perms = append(perms, string(p))
	}
	return operatorJSON{ID: string(a.OperatorID), Username: a.Username, Role: string(a.Role), Permissions: perms}
}

type adminLoginResponse struct {
	Token     string       `json:"token"`
	TokenType string       `json:"token_type"`
	ExpiresAt time.Time    `json:"expires_at"`
	Operator  operatorJSON `json:"operator"`
}

func (s *Server) adminLogin(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.operatorService()
	if err != nil {
		return err
	}
	var req adminLoginRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	res, err := svc.Login(r.Context(), operators.LoginInput{Username: req.Username, Password: req.Password, TOTP: req.TOTP, IP: s.clientIP(r)})
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, adminLoginResponse{Token: res.Token, TokenType: "operator", ExpiresAt: res.ExpiresAt,
		Operator: toOperatorJSON(res.Operator)})
	return nil
}

func (s *Server) adminLogout(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	if err := s.opts.Operators.Logout(r.Context(), a, bearer(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) adminMe(w http.ResponseWriter, _ *http.Request, a operators.Actor) error {
	writeJSON(w, http.StatusOK, toOperatorJSON(a))
	return nil
}

type auditJSON struct {
	ID         string    `json:"id"`
	OperatorID string    `json:"operator_id"`
	Username   string    `json:"username"`
	Action     string    `json:"action"`
	TargetType string    `json:"target_type"`
	TargetID   string    `json:"target_id"`
	Before     any       `json:"before"`
	After      any       `json:"after"`
	IP         string    `json:"ip"`
	At         time.Time `json:"at"`
}

type auditPage struct {
	Items      []auditJSON `json:"items"`
	NextCursor string      `json:"next_cursor,omitempty"`
}

func parseTimeQuery(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, queryInvalid(name, "the value is not an RFC 3339 time")
	}
	return t, nil
}

func (s *Server) adminAudit(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	q := r.URL.Query()
	f := operator.AuditFilter{OperatorID: operator.ID(q.Get("operator_id")), Action: q.Get("action"),
		TargetType: q.Get("target_type"), TargetID: q.Get("target_id")}
	var err error
	if f.Since, err = parseTimeQuery(r, "since"); err != nil {
		return err
	}
	if f.Until, err = parseTimeQuery(r, "until"); err != nil {
		return err
	}
	cursor := q.Get("cursor")
	if cursor != "" && !validID(cursor) {
		return queryInvalid("cursor", "the value is not a well-formed cursor")
	}
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	items, next, err := s.opts.Operators.Audit(r.Context(), a, f, cursor, limit)
	if err != nil {
		return err
	}
	out := auditPage{Items: make([]auditJSON, len(items)), NextCursor: next}
	for i, e := range items {
		out.Items[i] = auditJSON{ID: e.ID, OperatorID: string(e.OperatorID), Username: e.Username, Action: e.Action,
			TargetType: e.TargetType, TargetID: e.TargetID, Before: e.Before, After: e.After, IP: e.IP, At: e.At}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// pageLimit reads the optional limit query parameter (1-100; 0 when absent: the default).
func pageLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 100 {
		return 0, kernel.Invalid("limit-invalid", "limit is 1 to 100")
	}
	return n, nil
}
