package http

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

func TestStatusOf(t *testing.T) {
	for _, tc := range []struct {
		kind kernel.Kind
		want int
	}{
		{kernel.KindInternal, 500},
		{kernel.KindInvalid, 422},
		{kernel.KindUnauthenticated, 401},
		{kernel.KindForbidden, 403},
		{kernel.KindNotFound, 404},
		{kernel.KindConflict, 409},
		{kernel.KindRateLimited, 429},
		{kernel.KindPrecondition, 422},
		{kernel.KindUnavailable, 503},
		{kernel.Kind(99), 500},
	} {
		if got := statusOf(tc.kind); got != tc.want {
			t.Errorf("statusOf(%v) = %d, want %d", tc.kind, got, tc.want)
		}
	}
}

// writeErrorTo runs s.writeError for err on a request carrying request id rid.
func writeErrorTo(s *Server, rid string, err error) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "/x", nil)
	r = r.WithContext(context.WithValue(r.Context(), ridKey{}, rid))
	w := httptest.NewRecorder()
	s.writeError(w, r, err)
	return w
}

func TestWriteErrorKinds(t *testing.T) {
	cause := errors.New("pq: connection refused to 10.0.0.5 password=hunter2")
	for _, tc := range []struct {
		name    string
		err     error
		status  int
		code    string
		message string
		details map[string]any
		headers map[string]string // "" means: must be absent
	}{
		{name: "invalid", err: kernel.Invalid("phone-invalid", "not a valid mainland mobile number"),
			status: 422, code: "phone-invalid", message: "not a valid mainland mobile number",
			headers: map[string]string{"WWW-Authenticate": "", "Retry-After": ""}},
		{name: "invalid with details", err: kernel.Invalid("sms-code-wrong", "the code is wrong").WithDetail("attempts_left", 3),
			status: 422, code: "sms-code-wrong", message: "the code is wrong", details: map[string]any{"attempts_left": float64(3)}},
		{name: "precondition", err: kernel.Precondition("password-not-set", "no password"),
			status: 422, code: "password-not-set", message: "no password"},
		{name: "unauthenticated", err: kernel.Unauthenticated("session-invalid", "bad token"),
			status: 401, code: "session-invalid", message: "bad token",
			headers: map[string]string{"WWW-Authenticate": `Bearer realm="shuxinqian"`}},
		{name: "forbidden", err: kernel.Forbidden("not-admin", "admins only"),
			status: 403, code: "not-admin", message: "admins only", headers: map[string]string{"WWW-Authenticate": ""}},
		{name: "not found", err: kernel.NotFound("user-not-found", "no such user"),
			status: 404, code: "user-not-found", message: "no such user"},
		{name: "conflict", err: kernel.Conflict("already-member", "already a member"),
			status: 409, code: "already-member", message: "already a member"},
		{name: "rate limited rounds up", err: kernel.RateLimited("sms-resend-too-soon", "wait", 1500*time.Millisecond),
			status: 429, code: "sms-resend-too-soon", message: "wait", details: map[string]any{"retry_after": float64(2)},
			headers: map[string]string{"Retry-After": "2"}},
		{name: "rate limited whole seconds", err: kernel.RateLimited("password-locked", "locked", 15*time.Minute),
			status: 429, code: "password-locked", message: "locked", details: map[string]any{"retry_after": float64(900)},
			headers: map[string]string{"Retry-After": "900"}},
		{name: "rate limited one nanosecond", err: kernel.RateLimited("x", "wait", time.Nanosecond),
			status: 429, code: "x", message: "wait", details: map[string]any{"retry_after": float64(1)},
			headers: map[string]string{"Retry-After": "1"}},
		{name: "rate limited just over a second", err: kernel.RateLimited("x", "wait", time.Second+time.Nanosecond),
			status: 429, code: "x", message: "wait", details: map[string]any{"retry_after": float64(2)},
			headers: map[string]string{"Retry-After": "2"}},
		{name: "rate limited keeps its own details", err: kernel.RateLimited("x", "wait", 3*time.Second).WithDetail("limit", 5),
			status: 429, code: "x", message: "wait", details: map[string]any{"limit": float64(5)},
			headers: map[string]string{"Retry-After": "3"}},
		{name: "rate limited without hint", err: kernel.RateLimited("x", "wait", 0),
			status: 429, code: "x", message: "wait"},
		{name: "unavailable hides its cause", err: kernel.Unavailable("sms-unavailable", "the SMS could not be sent", cause),
			status: 503, code: "sms-unavailable", message: "the SMS could not be sent"},
		{name: "plain error", err: cause,
			status: 500, code: "internal", message: "internal error"},
		{name: "wrapped plain error", err: fmt.Errorf("load user: %w", cause),
			status: 500, code: "internal", message: "internal error"},
		{name: "internal", err: kernel.Internal(cause),
			status: 500, code: "internal", message: "internal error"},
		{name: "internal kind with a chatty message", err: &kernel.Error{Kind: kernel.KindInternal, Code: "db-failed", Message: "select failed: " + cause.Error(), Err: cause},
			status: 500, code: "db-failed", message: "internal error"},
		{name: "wrapped kernel error keeps its kind", err: fmt.Errorf("handler: %w", kernel.NotFound("order-not-found", "no such order")),
			status: 404, code: "order-not-found", message: "no such order"},
		{name: "http error", err: badRequest("body-empty", "a JSON body is required"),
			status: 400, code: "body-empty", message: "a JSON body is required"},
		{name: "wrapped http error", err: fmt.Errorf("decode: %w", &httpError{http.StatusRequestEntityTooLarge, "body-too-large", "too big"}),
			status: 413, code: "body-too-large", message: "too big"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, logs := newLoggedServer(t, Options{})
			rec := writeErrorTo(s, "rid-"+strings.ReplaceAll(tc.name, " ", "-"), tc.err)
			e := expectError(t, rec, tc.status, tc.code)
			if e.Message != tc.message {
				t.Errorf("message = %q, want %q", e.Message, tc.message)
			}
			if e.RequestID != "rid-"+strings.ReplaceAll(tc.name, " ", "-") {
				t.Errorf("request_id = %q", e.RequestID)
			}
			if tc.details == nil && len(e.Details) != 0 {
				t.Errorf("details = %v, want none", e.Details)
			}
			for k, want := range tc.details {
				if got, ok := e.Details[k]; !ok || got != want {
					t.Errorf("details[%q] = %v, want %v (details %v)", k, got, want, e.Details)
				}
			}
			for h, want := range tc.headers {
				if got := rec.Header().Get(h); got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q", cc)
			}
			body := rec.Body.String()
			for _, leak := range []string{"hunter2", "10.0.0.5", "pq:", "load user", "handler:"} {
				if strings.Contains(body, leak) {
					t.Errorf("body leaks %q: %s", leak, body)
				}
			}
			// Server-side failures are logged with their cause; client errors are not logged.
			logged := strings.Contains(logs.String(), "request failed")
			if want := tc.status >= 500; logged != want {
				t.Errorf("logged = %v, want %v: %s", logged, want, logs)
			}
			if tc.status >= 500 && errors.Is(tc.err, cause) && !strings.Contains(logs.String(), "hunter2") {
				t.Errorf("cause not logged: %s", logs)
			}
		})
	}
}

func TestWriteErrorDoesNotMutateSentinel(t *testing.T) {
	sentinel := kernel.RateLimited("x", "wait", 2*time.Second)
	s := newTestServer(t, Options{})
	writeErrorTo(s, "a", sentinel)
	if sentinel.Details != nil {
		t.Fatalf("writeError changed a shared error's details: %v", sentinel.Details)
	}
}

func TestWriteErrorWithoutRequestID(t *testing.T) {
	s := newTestServer(t, Options{})
	rec := httptest.NewRecorder()
	s.writeError(rec, httptest.NewRequest("GET", "/", nil), kernel.NotFound("x", "y"))
	if strings.Contains(rec.Body.String(), "request_id") {
		t.Fatalf("empty request id should be omitted: %s", rec.Body)
	}
}

func TestHTTPErrorString(t *testing.T) {
	if got := badRequest("body-empty", "a JSON body is required").Error(); got != "body-empty: a JSON body is required" {
		t.Fatalf("Error() = %q", got)
	}
}

func TestWriteJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	writeJSON(rec, http.StatusCreated, map[string]string{"html": "<b>&</b>", "name": "数信签"})
	if rec.Code != http.StatusCreated {
		t.Fatalf("status %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if got := strings.TrimSpace(rec.Body.String()); got != `{"html":"<b>&</b>","name":"数信签"}` {
		t.Errorf("body = %s (HTML must not be escaped, UTF-8 kept)", got)
	}

	rec = httptest.NewRecorder()
	writeJSON(rec, http.StatusNoContent, nil)
	if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
		t.Errorf("nil value: %d %q", rec.Code, rec.Body)
	}
}
