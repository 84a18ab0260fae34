package http

import (
	"net/http"
	"strconv"
	"time"

	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/user"
)

type smsCodeRequest struct {
	Phone   string `json:"phone"`
	Purpose string `json:"purpose"`
}

type smsCodeResponse struct {
	ExpiresIn   int `json:"expires_in"`
	ResendAfter int `json:"resend_after"`
}

func (s *Server) requestCode(w http.ResponseWriter, r *http.Request) error {
	var req smsCodeRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	in := application.RequestCode{Phone: req.Phone, Purpose: req.Purpose, ClientIP: s.clientIP(r)}
	if tok := bearer(r); tok != "" {
		a, err := s.app.Authenticate(r.Context(), tok)
		if err != nil {
			return err
		}
		in.Actor = &a
	}
	res, err := s.app.RequestCode(r.Context(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, smsCodeResponse{ExpiresIn: int(res.ExpiresIn / time.Second), ResendAfter: int(res.ResendAfter / time.Second)})
	return nil
}

type loginRequest struct {
	Phone    string `json:"phone"`
	Code     string `json:"code,omitempty"`
	Password string `json:"password,omitempty"`
}

type userJSON struct {
	ID             string    `json:"id"`
	Phone          string    `json:"phone"`
	RealNameStatus string    `json:"real_name_status"`
	HasPassword    bool      `json:"has_password"`
	CreatedAt      time.Time `json:"created_at"`
}

type loginResponse struct {
	Token      string    `json:"token"`
	ExpiresAt  time.Time `json:"expires_at"`
	Registered bool      `json:"registered"`
	User       userJSON  `json:"user"`
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	res, err := s.app.Login(r.Context(), application.Login{Phone: req.Phone, Code: req.Code, Password: req.Password, ClientIP: s.clientIP(r)})
	if err != nil {
		return err
	}
	u := res.User
	writeJSON(w, http.StatusCreated, loginResponse{Token: res.Token, ExpiresAt: res.ExpiresAt, Registered: res.Registered,
		User: userJSON{ID: string(u.ID()), Phone: u.Phone().Masked(), RealNameStatus: string(u.RealNameStatus()),
			HasPassword: u.HasPassword(), CreatedAt: u.CreatedAt()}})
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, _ application.Actor) error {
	if err := s.app.Logout(r.Context(), bearer(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// meResponse is GET /me. The identity, channel, certificate and enterprise parts are filled by
// later slices; they are present (null / empty) so clients can rely on the shape.
type meResponse struct {
	ID             string           `json:"id"`
	Phone          string           `json:"phone"`
	RealNameStatus string           `json:"real_name_status"`
	Name           *string          `json:"name"`
	IDNumber       *string          `json:"id_number"`
	Channel        *channelJSON     `json:"channel"`
	Certificate    *certificateJSON `json:"certificate"`
	Enterprises    []enterpriseJSON `json:"enterprises"`
	HasPassword    bool             `json:"has_password"`
	CreatedAt      time.Time        `json:"created_at"`
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	v, err := s.app.Me(r.Context(), a)
	if err != nil {
		return err
	}
	es, err := s.app.MyEnterprises(r.Context(), a)
	if err != nil {
		return err
	}
	resp := meResponse{ID: v.ID, Phone: v.PhoneMasked, RealNameStatus: v.RealNameStatus,
		Enterprises: toEnterpriseSummaries(es), HasPassword: v.HasPassword, CreatedAt: v.CreatedAt, Certificate: toCertificateJSON(v.Certificate, false)}
	if v.RealName.Name != "" && v.RealName.Status == user.RealNameVerified {
		name, idn := v.RealName.Name, v.RealName.IDNumberMasked
		resp.Name, resp.IDNumber = &name, &idn
	}
	if v.Channel != nil {
		c := s.channelJSON(v.Channel, false)
		resp.Channel = &c
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

type setPasswordRequest struct {
	Code     string `json:"code"`
	Password string `json:"password"`
}

func (s *Server) setPassword(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	var req setPasswordRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if err := s.app.SetPassword(r.Context(), a, req.Code, req.Password); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type activityItem struct {
	Action string    `json:"action"`
	Detail string    `json:"detail,omitempty"`
	At     time.Time `json:"at"`
}

func (s *Server) activity(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > application.ActivityLimit {
			return kernel.Invalid("limit-invalid", "limit must be 1 to 100")
		}
		limit = n
	}
	entries, err := s.app.Activity(r.Context(), a, limit)
	if err != nil {
		return err
	}
	items := make([]activityItem, len(entries))
	for i, e := range entries {
		items[i] = activityItem{Action: e.Action, Detail: e.Detail, At: e.At}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

func (s *Server) sandboxSMS(w http.ResponseWriter, r *http.Request) error {
	// The phone is required: the list of every phone's codes would let anyone who reaches the
	// sandbox log in as anyone.
	v := r.URL.Query().Get("phone")
	if v == "" {
		return kernel.Invalid("phone-required", "give the phone whose sandbox messages to list: ?phone=")
	}
	phone, err := kernel.ParsePhone(v)
	if err != nil {
		return err
	}
	items := []SentSMS{}
	if s.opts.SandboxSMS != nil {
		items = append(items, s.opts.SandboxSMS(phone)...)
	}
	if len(items) > 200 {
		items = items[:200]
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}
