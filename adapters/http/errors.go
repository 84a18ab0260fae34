package http

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/shuxinqian/server/domain/kernel"
)

// errorBody is the one error shape of the API.
type errorBody struct {
	Error errorPayload `json:"error"`
}

type errorPayload struct {
	Code      string         `json:"code"`
	Message   string         `json:"message"`
	Details   map[string]any `json:"details,omitempty"`
	RequestID string         `json:"request_id,omitempty"`
}

// statusOf maps an error kind to its HTTP status: the only place that does.
func statusOf(k kernel.Kind) int {
	switch k {
	case kernel.KindInvalid, kernel.KindPrecondition:
		return http.StatusUnprocessableEntity
	case kernel.KindUnauthenticated:
		return http.StatusUnauthorized
	case kernel.KindForbidden:
		return http.StatusForbidden
	case kernel.KindNotFound:
		return http.StatusNotFound
	case kernel.KindConflict:
		return http.StatusConflict
	case kernel.KindRateLimited:
		return http.StatusTooManyRequests
	case kernel.KindUnavailable:
		return http.StatusServiceUnavailable
	case kernel.KindPaymentRequired:
		return http.StatusPaymentRequired
	case kernel.KindGone:
		return http.StatusGone
	default:
		return http.StatusInternalServerError
	}
}

// httpError is an error that belongs to the HTTP layer itself (bad JSON, too large...).
type httpError struct {
	status  int
	code    string
	message string
}

func (e *httpError) Error() string { return e.code + ": " + e.message }

func badRequest(code, msg string) error { return &httpError{http.StatusBadRequest, code, msg} }

// writeError answers err in the error shape. Internal causes are logged, never sent.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	if errors.As(err, &he) {
		writeJSON(w, he.status, errorBody{errorPayload{Code: he.code, Message: he.message, RequestID: requestID(r.Context())}})
		return
	}
	var ke *kernel.Error
	if !errors.As(err, &ke) {
		ke = kernel.Internal(err)
	}
	status := statusOf(ke.Kind)
	if ke.Code == "file-too-large" {
		status = http.StatusRequestEntityTooLarge
	}
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "code", ke.Code, "err", err)
	}
	if ke.Kind == kernel.KindUnauthenticated {
		w.Header().Set("WWW-Authenticate", `Bearer realm="shuxinqian"`)
	}
	if ke.Kind == kernel.KindRateLimited && ke.RetryAfter > 0 {
		secs := int((ke.RetryAfter + 999_999_999) / 1_000_000_000)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		ke = ke.WithDetail("retry_after", secs)
	}
	msg := ke.Message
	if status == http.StatusInternalServerError {
		msg = "internal error"
	}
	writeJSON(w, status, errorBody{errorPayload{Code: ke.Code, Message: msg, Details: ke.Details, RequestID: requestID(r.Context())}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if v == nil {
		return
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		slog.Debug("write response", "err", err)
	}
}
