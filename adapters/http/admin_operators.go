package http

import (
	"net/http"
	"time"

	"github.com/shuxinqian/server/application/operators"
	"github.com/shuxinqian/server/domain/operator"
)

// registerOperatorRoutes mounts operator account management (API.md "Platform operators"):
// admins only (permission `operators`).
func (s *Server) registerOperatorRoutes() {
	const a = "/api/v1/admin/operators"
	s.operator("GET", a, operator.PermOperators, s.adminListOperators)
	s.operator("PUT", a+"/{operator_id}", operator.PermOperators, s.adminUpdateOperator)
	s.operator("POST", a+"/{operator_id}/unlock", operator.PermOperators, s.adminUnlockOperator)
	s.operator("POST", a+"/{operator_id}/totp", operator.PermOperators, s.adminRotateOperatorTOTP)
	s.operator("POST", a+"/{operator_id}/password", operator.PermOperators, s.adminResetOperatorPassword)
}

// adminOperatorJSON is an operator account without any secret or hash.
type adminOperatorJSON struct {
	ID          string     `json:"id"`
	Username    string     `json:"username"`
	Role        string     `json:"role"`
	Active      bool       `json:"active"`
	LockedUntil *time.Time `json:"locked_until"`
	FailedCount int        `json:"failed_count"`
	CreatedAt   time.Time  `json:"created_at"`
	LastLoginAt *time.Time `json:"last_login_at"`
}

func timeOrNull(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toAdminOperator(v operators.OperatorView) adminOperatorJSON {
	return adminOperatorJSON{ID: string(v.ID), Username: v.Username, Role: string(v.Role), Active: v.Active,
		LockedUntil: timeOrNull(v.LockedUntil), FailedCount: v.FailedCount, CreatedAt: v.CreatedAt, LastLoginAt: timeOrNull(v.LastLoginAt)}
}

type adminOperatorPage struct {
	Items      []adminOperatorJSON `json:"items"`
	NextCursor string              `json:"next_cursor,omitempty"`
}

func (s *Server) adminListOperators(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	cursor := r.URL.Query().Get("cursor")
	if cursor != "" && !operator.ValidUsername(cursor) {
		return queryInvalid("cursor", "the value is not a well-formed cursor")
	}
	list, next, err := s.opts.Operators.Operators(r.Context(), a, cursor, limit)
	if err != nil {
		return err
	}
	out := adminOperatorPage{Items: make([]adminOperatorJSON, len(list)), NextCursor: next}
	for i, v := range list {
		out.Items[i] = toAdminOperator(v)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type updateOperatorRequest struct {
	Role   *string `json:"role,omitempty"`
	Active *bool   `json:"active,omitempty"`
}

func (s *Server) adminUpdateOperator(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	var req updateOperatorRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	v, err := s.opts.Operators.UpdateOperator(r.Context(), a, r.PathValue("operator_id"), operators.OperatorChange{Role: req.Role, Active: req.Active})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAdminOperator(v))
	return nil
}

func (s *Server) adminUnlockOperator(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	v, err := s.opts.Operators.UnlockOperator(r.Context(), a, r.PathValue("operator_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAdminOperator(v))
	return nil
}

type rotatedTOTPJSON struct {
	Operator   adminOperatorJSON `json:"operator"`
	TOTPSecret string            `json:"totp_secret"`
	OTPAuthURL string            `json:"otpauth_url"`
}

func (s *Server) adminRotateOperatorTOTP(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	res, err := s.opts.Operators.RotateOperatorTOTP(r.Context(), a, r.PathValue("operator_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rotatedTOTPJSON{Operator: toAdminOperator(res.Operator), TOTPSecret: res.TOTPSecret, OTPAuthURL: res.OTPAuthURL})
	return nil
}

type resetPasswordJSON struct {
	Operator adminOperatorJSON `json:"operator"`
	Password string            `json:"password"`
}

func (s *Server) adminResetOperatorPassword(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	res, err := s.opts.Operators.ResetOperatorPassword(r.Context(), a, r.PathValue("operator_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resetPasswordJSON{Operator: toAdminOperator(res.Operator), Password: res.Password})
	return nil
}
