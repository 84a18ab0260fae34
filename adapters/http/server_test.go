package http

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// --- helpers shared by the package's tests ---

// lockedBuffer is a log sink safe for concurrent handlers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newTestServer builds a Server without an application: enough for routing, middleware,
// decoding and every handler path that answers before touching the use cases.
func newTestServer(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return NewServer(nil, opts)
}

// newLoggedServer is newTestServer with its log captured.
func newLoggedServer(t *testing.T, opts Options) (*Server, *lockedBuffer) {
	t.Helper()
	buf := &lockedBuffer{}
	opts.Logger = slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return NewServer(nil, opts), buf
}

type req struct {
	method  string
	target  string
	body    string
	headers map[string]string
}

func serve(t *testing.T, h http.Handler, rq req) *httptest.ResponseRecorder {
	t.Helper()
	var body io.Reader
	if rq.body != "" {
		body = strings.NewReader(rq.body)
	}
	r := httptest.NewRequest(rq.method, rq.target, body)
	for k, v := range rq.headers {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// errorOf checks that rec holds exactly the API's error shape and returns its payload.
func errorOf(t *testing.T, rec *httptest.ResponseRecorder) errorPayload {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type = %q, want application/json; body %s", ct, rec.Body)
	}
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	var b errorBody
	if err := dec.Decode(&b); err != nil {
		t.Fatalf("body is not the error shape: %v; body %s", err, rec.Body)
	}
	if b.Error.Code == "" || b.Error.Message == "" {
		t.Fatalf("error without code or message: %s", rec.Body)
	}
	return b.Error
}

func expectError(t *testing.T, rec *httptest.ResponseRecorder, status int, code string) errorPayload {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	e := errorOf(t, rec)
	if code != "" && e.Code != code {
		t.Fatalf("code = %q, want %q; body %s", e.Code, code, rec.Body)
	}
	return e
}

// --- routing: 404 and 405 ---

func TestUnknownPathIs404JSON(t *testing.T) {
	s := newTestServer(t, Options{Sandbox: true})
	for _, rq := range []req{
		{method: "GET", target: "/nope"},
		{method: "GET", target: "/api/v1/nope"},
		{method: "POST", target: "/api/v1/me/nope", body: `{}`},
		{method: "GET", target: "/api/v1/me/"}, // trailing slash is another path
		{method: "GET", target: "/"},
		{method: "HEAD", target: "/api/v2/me"},
	} {
		t.Run(rq.method+" "+rq.target, func(t *testing.T) {
			rec := serve(t, s, rq)
			if rec.Code != http.StatusNotFound {
				t.Fatalf("status = %d, want 404; body %s", rec.Code, rec.Body)
			}
			if rq.method == "HEAD" {
				return // no body on HEAD
			}
			e := expectError(t, rec, http.StatusNotFound, "route-not-found")
			if e.RequestID == "" || e.RequestID != rec.Header().Get("X-Request-Id") {
				t.Errorf("request_id %q does not match header %q", e.RequestID, rec.Header().Get("X-Request-Id"))
			}
			if rec.Header().Get("Allow") != "" {
				t.Errorf("404 carries Allow %q", rec.Header().Get("Allow"))
			}
		})
	}
}

func TestWrongMethodIs405WithAllow(t *testing.T) {
	s := newTestServer(t, Options{Sandbox: true})
	for _, tc := range []struct {
		method, target, allow string
	}{
		{"POST", "/healthz", "GET"},
		{"DELETE", "/readyz", "GET"},
		{"PUT", "/api/v1/openapi.json", "GET"},
		{"GET", "/api/v1/sms-codes", "POST"},
		{"GET", "/api/v1/sessions", "POST"},
		{"DELETE", "/api/v1/sessions", "POST"},
		{"GET", "/api/v1/sessions/current", "DELETE"},
		{"POST", "/api/v1/me", "GET"},
		{"PATCH", "/api/v1/me", "GET"},
		{"GET", "/api/v1/me/password", "PUT"},
		{"POST", "/api/v1/me/activity", "GET"},
		{"OPTIONS", "/api/v1/me", "GET"},
		{"POST", "/api/v1/sandbox/sms", "GET"},
	} {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			rec := serve(t, s, req{method: tc.method, target: tc.target})
			expectError(t, rec, http.StatusMethodNotAllowed, "method-not-allowed")
			if got := rec.Header().Get("Allow"); got != tc.allow {
				t.Errorf("Allow = %q, want %q", got, tc.allow)
			}
		})
	}
}

func TestHeadOnGetRouteIsServed(t *testing.T) {
	s := newTestServer(t, Options{})
	rec := serve(t, s, req{method: "HEAD", target: "/healthz"})
	if rec.Code != http.StatusOK {
		t.Fatalf("HEAD /healthz = %d, want 200", rec.Code)
	}
}

// --- request ids and security headers ---

func TestRequestID(t *testing.T) {
	s := newTestServer(t, Options{})
	long64 := strings.Repeat("a", 64)
	for _, tc := range []struct {
		name, sent string
		echoed     bool
	}{
		{"simple", "abc-123_XYZ", true},
		{"64 chars", long64, true},
		{"single char", "x", true},
		{"absent", "", false},
		{"65 chars", long64 + "b", false},
		{"spaces", "abc 123", false},
		{"slash", "abc/123", false},
		{"dot", "abc.123", false},
		{"newline-ish", "abc%0d%0a", false},
		{"non-ascii", "请求-1", false},
		{"quote", `abc"def`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, target := range []string{"/healthz", "/no-such-route"} {
				r := httptest.NewRequest("GET", target, nil)
				if tc.sent != "" {
					r.Header.Set("X-Request-Id", tc.sent)
				}
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, r)
				got := rec.Header().Get("X-Request-Id")
				if tc.echoed {
					if got != tc.sent {
						t.Fatalf("%s: X-Request-Id = %q, want echo of %q", target, got, tc.sent)
					}
				} else {
					if got == tc.sent {
						t.Fatalf("%s: invalid X-Request-Id %q was echoed", target, tc.sent)
					}
					if b, err := hex.DecodeString(got); err != nil || len(b) != 12 {
						t.Fatalf("%s: generated X-Request-Id %q is not 24 hex digits", target, got)
					}
				}
				if target == "/no-such-route" {
					if e := errorOf(t, rec); e.RequestID != got {
						t.Fatalf("error request_id %q, header %q", e.RequestID, got)
					}
				}
			}
		})
	}
}

func TestGeneratedRequestIDsDiffer(t *testing.T) {
	s := newTestServer(t, Options{})
	seen := map[string]bool{}
	for range 50 {
		id := serve(t, s, req{method: "GET", target: "/healthz"}).Header().Get("X-Request-Id")
		if seen[id] {
			t.Fatalf("request id %q generated twice", id)
		}
		seen[id] = true
	}
}

func TestRequestIDFromContext(t *testing.T) {
	s := newTestServer(t, Options{})
	var inside string
	s.mux.Handle("GET /test/rid", s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		inside = RequestIDFromContext(r.Context())
		w.WriteHeader(http.StatusNoContent)
		return nil
	}))
	rec := serve(t, s, req{method: "GET", target: "/test/rid", headers: map[string]string{"X-Request-Id": "trace-42"}})
	if inside != "trace-42" || rec.Header().Get("X-Request-Id") != "trace-42" {
		t.Fatalf("context id %q, header %q, want trace-42", inside, rec.Header().Get("X-Request-Id"))
	}
	if RequestIDFromContext(context.Background()) != "" {
		t.Fatal("request id outside a request should be empty")
	}
}

func TestSecurityHeaders(t *testing.T) {
	s := newTestServer(t, Options{})
	for _, target := range []string{"/healthz", "/nope"} {
		rec := serve(t, s, req{method: "GET", target: target})
		if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options = %q", target, got)
		}
		if got := rec.Header().Get("Referrer-Policy"); got != "no-referrer" {
			t.Errorf("%s: Referrer-Policy = %q", target, got)
		}
	}
}

// --- panics ---

func TestPanicIs500JSON(t *testing.T) {
	s, logs := newLoggedServer(t, Options{})
	s.mux.Handle("GET /test/panic", s.errorHandler(func(http.ResponseWriter, *http.Request) error {
		panic("secret-panic-value 13800001234")
	}))
	rec := serve(t, s, req{method: "GET", target: "/test/panic", headers: map[string]string{"X-Request-Id": "rid-panic"}})
	e := expectError(t, rec, http.StatusInternalServerError, "internal")
	if e.Message != "internal error" {
		t.Errorf("message = %q, want %q", e.Message, "internal error")
	}
	if e.RequestID != "rid-panic" {
		t.Errorf("request_id = %q", e.RequestID)
	}
	if strings.Contains(rec.Body.String(), "secret-panic-value") {
		t.Errorf("panic value leaked to the client: %s", rec.Body)
	}
	if !strings.Contains(logs.String(), "secret-panic-value") {
		t.Errorf("panic not logged: %s", logs)
	}
	// The server keeps serving.
	if rec := serve(t, s, req{method: "GET", target: "/healthz"}); rec.Code != http.StatusOK {
		t.Fatalf("after a panic /healthz = %d", rec.Code)
	}
}

func TestPanicAfterWriteKeepsStatus(t *testing.T) {
	s := newTestServer(t, Options{})
	s.mux.Handle("GET /test/panic-late", s.errorHandler(func(w http.ResponseWriter, _ *http.Request) error {
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte("partial"))
		panic("late")
	}))
	rec := serve(t, s, req{method: "GET", target: "/test/panic-late"})
	if rec.Code != http.StatusAccepted || rec.Body.String() != "partial" {
		t.Fatalf("got %d %q, want the already written 202 %q untouched", rec.Code, rec.Body, "partial")
	}
}

func TestHandlerErrorsGoThroughErrorShape(t *testing.T) {
	s := newTestServer(t, Options{})
	errs := map[string]error{
		"invalid":      kernel.Invalid("x-invalid", "bad"),
		"precondition": kernel.Precondition("x-pre", "not now"),
		"unauth":       kernel.Unauthenticated("x-unauth", "who"),
		"forbidden":    kernel.Forbidden("x-forbidden", "no"),
		"notfound":     kernel.NotFound("x-notfound", "gone"),
		"conflict":     kernel.Conflict("x-conflict", "clash"),
		"ratelimited":  kernel.RateLimited("x-rate", "slow down", 2500*time.Millisecond),
		"unavailable":  kernel.Unavailable("x-down", "down", errors.New("db gone")),
		"plain":        errors.New("boom: password=hunter2"),
	}
	for name, err := range errs {
		s.mux.Handle("GET /test/err/"+name, s.errorHandler(func(http.ResponseWriter, *http.Request) error { return err }))
	}
	for _, tc := range []struct {
		name   string
		status int
		code   string
	}{
		{"invalid", 422, "x-invalid"},
		{"precondition", 422, "x-pre"},
		{"unauth", 401, "x-unauth"},
		{"forbidden", 403, "x-forbidden"},
		{"notfound", 404, "x-notfound"},
		{"conflict", 409, "x-conflict"},
		{"ratelimited", 429, "x-rate"},
		{"unavailable", 503, "x-down"},
		{"plain", 500, "internal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(t, s, req{method: "GET", target: "/test/err/" + tc.name, headers: map[string]string{"X-Request-Id": "rid-" + tc.name}})
			e := expectError(t, rec, tc.status, tc.code)
			if e.RequestID != "rid-"+tc.name {
				t.Errorf("request_id = %q", e.RequestID)
			}
			if strings.Contains(rec.Body.String(), "hunter2") || strings.Contains(rec.Body.String(), "db gone") {
				t.Errorf("cause leaked: %s", rec.Body)
			}
		})
	}
}

// --- authenticated routes without a session ---

func TestAuthedRoutesNeedBearer(t *testing.T) {
	s := newTestServer(t, Options{Sandbox: true})
	for _, rt := range s.Routes() {
		if !rt.Auth {
			continue
		}
		for name, hdr := range map[string]map[string]string{
			"no header":       nil,
			"empty bearer":    {"Authorization": "Bearer "},
			"basic scheme":    {"Authorization": "Basic dXNlcjpwYXNz"},
			"oversized token": {"Authorization": "Bearer " + strings.Repeat("t", 129)},
		} {
			t.Run(rt.Method+" "+rt.Pattern+"/"+name, func(t *testing.T) {
				headers := map[string]string{"Content-Type": "application/json"}
				for k, v := range hdr {
					headers[k] = v
				}
				rec := serve(t, s, req{method: rt.Method, target: rt.Pattern, body: `{"code":"123456","password":"Secret123"}`, headers: headers})
				expectError(t, rec, http.StatusUnauthorized, "session-invalid")
				if got := rec.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("WWW-Authenticate = %q", got)
				}
			})
		}
	}
}

func TestBearer(t *testing.T) {
	for _, tc := range []struct{ header, want string }{
		{"", ""},
		{"Bearer abc", "abc"},
		{"bearer abc", "abc"},
		{"BEARER  abc ", "abc"},
		{"Bearer ", ""},
		{"Bearer", ""},
		{"Basic abc", ""},
		{"Bearerabc", ""},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.header != "" {
			r.Header.Set("Authorization", tc.header)
		}
		if got := bearer(r); got != tc.want {
			t.Errorf("bearer(%q) = %q, want %q", tc.header, got, tc.want)
		}
	}
}

// --- health ---

func TestHealthAndReady(t *testing.T) {
	downErr := errors.New("db down: password=hunter2")
	for _, tc := range []struct {
		name   string
		ready  func(context.Context) error
		target string
		status int
		want   string
	}{
		{"healthz", nil, "/healthz", 200, "ok"},
		{"readyz without probe", nil, "/readyz", 200, "ok"},
		{"readyz up", func(context.Context) error { return nil }, "/readyz", 200, "ok"},
		{"readyz down", func(context.Context) error { return downErr }, "/readyz", 503, "unavailable"},
		{"healthz while down", func(context.Context) error { return downErr }, "/healthz", 200, "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, Options{Ready: tc.ready})
			rec := serve(t, s, req{method: "GET", target: tc.target})
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d", rec.Code, tc.status)
			}
			var body map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || len(body) != 1 || body["status"] != tc.want {
				t.Fatalf("body = %s (%v), want {\"status\":%q}", rec.Body, err, tc.want)
			}
			if strings.Contains(rec.Body.String(), "hunter2") {
				t.Fatalf("cause leaked: %s", rec.Body)
			}
		})
	}
}

// --- sandbox SMS ---

func TestSandboxSMS(t *testing.T) {
	sent := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	var asked []kernel.Phone
	var mu sync.Mutex
	list := func(p kernel.Phone) []SentSMS {
		mu.Lock()
		asked = append(asked, p)
		mu.Unlock()
		out := make([]SentSMS, 250)
		for i := range out {
			out[i] = SentSMS{ID: int64(250 - i), Phone: "13800001234", Template: "code", Text: "【数信签】您的验证码为123456", SentAt: sent}
		}
		return out
	}
	s := newTestServer(t, Options{Sandbox: true, SandboxSMS: list})

	rec := serve(t, s, req{method: "GET", target: "/api/v1/sandbox/sms?phone=%2B86%20138-0000-1234"})
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
	}
	var body struct {
		Items []SentSMS `json:"items"`
	}
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Fatal(err)
	}
	if len(body.Items) != 200 {
		t.Errorf("items = %d, want capped at 200", len(body.Items))
	}
	if body.Items[0].ID != 250 || !body.Items[0].SentAt.Equal(sent) {
		t.Errorf("first item %+v", body.Items[0])
	}
	if len(asked) != 1 || asked[0] != "13800001234" {
		t.Errorf("SandboxSMS asked for %q, want the canonical phone", asked)
	}

	// Without a phone the list is refused (issue 11 item 12): everyone's codes are not public.
	rec = serve(t, s, req{method: "GET", target: "/api/v1/sandbox/sms"})
	expectError(t, rec, http.StatusUnprocessableEntity, "phone-required")
	if len(asked) != 1 {
		t.Errorf("without phone the source was asked: %q", asked)
	}

	rec = serve(t, s, req{method: "GET", target: "/api/v1/sandbox/sms?phone=12345"})
	expectError(t, rec, http.StatusUnprocessableEntity, "phone-invalid")
}

func TestSandboxSMSWithoutSource(t *testing.T) {
	s := newTestServer(t, Options{Sandbox: true})
	rec := serve(t, s, req{method: "GET", target: "/api/v1/sandbox/sms?phone=13800001234"})
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d", rec.Code)
	}
	if got := strings.TrimSpace(rec.Body.String()); got != `{"items":[]}` {
		t.Fatalf("body = %s, want an empty list (not null)", got)
	}
}

// --- logging ---

func TestAccessLogUsesRoutePatternNotRawPath(t *testing.T) {
	s, logs := newLoggedServer(t, Options{Sandbox: true})
	serve(t, s, req{method: "GET", target: "/api/v1/sandbox/sms?phone=13912345678", headers: map[string]string{"X-Request-Id": "rid-log"}})
	serve(t, s, req{method: "GET", target: "/secret-capability-token-abc"})
	out := logs.String()
	for _, leak := range []string{"13912345678", "secret-capability-token-abc"} {
		if strings.Contains(out, leak) {
			t.Errorf("access log contains %q:\n%s", leak, out)
		}
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == "http" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("want 2 access log lines, got %d:\n%s", len(lines), out)
	}
	if lines[0]["route"] != "GET /api/v1/sandbox/sms" || lines[0]["status"] != float64(200) {
		t.Errorf("first line %v", lines[0])
	}
	if lines[1]["route"] != "unmatched" || lines[1]["status"] != float64(404) {
		t.Errorf("second line %v", lines[1])
	}
}

// --- client IP ---

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		xff     string
		want    string
	}{
		{"no proxies: peer", nil, "203.0.113.7:5555", "", "203.0.113.7"},
		{"no proxies: XFF ignored", nil, "203.0.113.7:5555", "198.51.100.1", "203.0.113.7"},
		{"untrusted peer: XFF ignored", proxies, "203.0.113.7:5555", "198.51.100.1", "203.0.113.7"},
		{"trusted peer: client from XFF", proxies, "10.1.2.3:443", "198.51.100.1", "198.51.100.1"},
		{"trusted peer: last untrusted hop wins", proxies, "10.1.2.3:443", "1.1.1.1, 198.51.100.1", "198.51.100.1"},
		{"trusted peer: trusted hops skipped", proxies, "10.1.2.3:443", "6.6.6.6, 198.51.100.1, 10.9.9.9, 10.8.8.8", "198.51.100.1"},
		{"trusted peer: spaces tolerated", proxies, "10.1.2.3:443", " 198.51.100.1 ,10.2.2.2 ", "198.51.100.1"},
		{"trusted peer: no XFF", proxies, "10.1.2.3:443", "", "10.1.2.3"},
		{"trusted peer: only trusted hops", proxies, "10.1.2.3:443", "10.4.4.4, 10.5.5.5", "10.1.2.3"},
		{"trusted peer: garbage hop stops the walk", proxies, "10.1.2.3:443", "198.51.100.1, not-an-ip", "10.1.2.3"},
		{"trusted IPv6 peer", proxies, "[fd00::1]:443", "2001:db8::5", "2001:db8::5"},
		{"IPv4-mapped peer is unmapped", nil, "[::ffff:203.0.113.9]:1", "", "203.0.113.9"},
		{"IPv4-mapped trusted peer", proxies, "[::ffff:10.0.0.1]:1", "::ffff:198.51.100.2", "198.51.100.2"},
		{"peer without port", nil, "203.0.113.7", "", "203.0.113.7"},
		{"unparsable peer returned as is", proxies, "pipe", "198.51.100.1", "pipe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, Options{TrustedProxies: tc.trusted})
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if got := s.clientIP(r); got != tc.want {
				t.Fatalf("clientIP = %q, want %q", got, tc.want)
			}
		})
	}
}

// Several X-Forwarded-For lines are one comma-separated list (RFC 9110 §5.3); a proxy that adds
// its own line must not let the client's line decide.
func TestClientIPMultipleXFFLines(t *testing.T) {
	s := newTestServer(t, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.1.2.3:443"
	r.Header.Add("X-Forwarded-For", "6.6.6.6")      // forged by the client
	r.Header.Add("X-Forwarded-For", "198.51.100.1") // added by the trusted proxy
	if got := s.clientIP(r); got != "198.51.100.1" {
		t.Fatalf("clientIP = %q, want 198.51.100.1", got)
	}
}
