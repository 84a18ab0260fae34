// Package http is the REST adapter: it decodes requests, calls the application and encodes
// answers. It owns the OpenAPI document and the mapping from error kinds to statuses.
package http

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/application/operators"
	"github.com/shuxinqian/server/application/refunds"
	"github.com/shuxinqian/server/application/seals"
	"github.com/shuxinqian/server/application/signing"
	"github.com/shuxinqian/server/application/webhooks"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// SentSMS is a message the sandbox SMS sender kept.
type SentSMS struct {
	ID       int64     `json:"id"`
	Phone    string    `json:"phone"`
	Template string    `json:"template"`
	Text     string    `json:"text"`
	SentAt   time.Time `json:"sent_at"`
}

// SandboxLiveness decides sandbox face-check sessions.
type SandboxLiveness interface {
	Result(ctx context.Context, sessionID string) (ports.LivenessResult, error)
	Play(sessionID string, pass bool) error
	PlayAs(sessionID, name string, id kernel.IDNumber) error
}

// Options configure the server.
type Options struct {
	// Sandbox mounts the /api/v1/sandbox endpoints.
	Sandbox bool
	// SandboxSMS lists the sandbox SMS messages to a phone (all phones for ""), newest first.
	SandboxSMS func(phone kernel.Phone) []SentSMS
	// Ready reports whether the service can serve (the database answers).
	Ready func(ctx context.Context) error
	// SandboxLiveness plays the sandbox face checks (sandbox mode only).
	SandboxLiveness SandboxLiveness
	// SandboxRegistry lists the sandbox registry's fixtures, unmasked.
	SandboxRegistry func() []SandboxRegistryEntry
	// SandboxTransfers lists the sandbox bank's micro-deposits of a verification (all for "").
	SandboxTransfers func(verificationID string) []SandboxTransfer
	// SandboxWeChatPay has the WeChat Pay simulator pay an out_trade_no and notify us.
	SandboxWeChatPay func(ctx context.Context, outTradeNo string) error
	// TSA answers RFC 3161 queries at POST /api/v1/tsa (the sandbox TSA; nil: 404).
	TSA ports.TimeStampResponder
	// PublicBaseURL prefixes the links the API hands out (invoice share links).
	PublicBaseURL string
	// TrustedProxies are the networks whose X-Forwarded-For is believed for the client IP.
	TrustedProxies []netip.Prefix
	Logger         *slog.Logger
	// Seals runs 印章管理 (its routes answer 503 without it).
	Seals *seals.Service
	// Signing runs the sign flows (their routes answer 503 without it).
	Signing *signing.Service
	// Refunds runs refunds (its routes answer 503 without it).
	Refunds *refunds.Service
	// SandboxRefund has the WeChat Pay simulator give a refund its final state (SUCCESS, CLOSED
	// or ABNORMAL) and send its signed refund notification to the callback.
	SandboxRefund func(ctx context.Context, outRefundNo, status string) error
	// Operators runs the platform console (/api/v1/admin; its routes answer 503 without it).
	Operators *operators.Service
	// Webhooks runs the enterprises' webhook endpoints (its routes answer 503 without it).
	Webhooks *webhooks.Service
	// H5 serves the H5 client for GET/HEAD paths no API route matches (never under /api/).
	H5 http.Handler
}

// Server is the HTTP API.
type Server struct {
	app    *application.App
	opts   Options
	log    *slog.Logger
	mux    *http.ServeMux
	routes []Route
	// observe is told about every answered request (metrics, tracing); see SetObserver.
	observe func(r *http.Request, route string, status int, d time.Duration)
}

// SetObserver registers fn, called after every request with its route pattern without the method
// ("/api/v1/orders/{order_id}", "unmatched" when no route matched), the status and the duration.
// Call it before serving.
func (s *Server) SetObserver(fn func(r *http.Request, route string, status int, d time.Duration)) {
	s.observe = fn
}

// Route is one registered operation (used by the OpenAPI agreement test).
type Route struct {
	Method  string
	Pattern string
	Auth    bool
	// Operator: the route needs an operator session (operatorAuth), not an app one.
	Operator bool
}

// NewServer builds the handler tree.
func NewServer(app *application.App, opts Options) *Server {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Server{app: app, opts: opts, log: log, mux: http.NewServeMux()}
	s.registerRoutes()
	return s
}

// Routes lists the registered operations.
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// handle registers a public operation.
func (s *Server) handle(method, pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
	s.routes = append(s.routes, Route{Method: method, Pattern: pattern})
	params := pathParams(pattern)
	s.mux.Handle(method+" "+pattern, s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if err := checkRequest(pattern, params, r); err != nil {
			return err
		}
		return h(w, r)
	}))
}

// authed registers an operation that needs a bearer session.
func (s *Server) authed(method, pattern string, h func(w http.ResponseWriter, r *http.Request, a application.Actor) error) {
	s.routes = append(s.routes, Route{Method: method, Pattern: pattern, Auth: true})
	params := pathParams(pattern)
	s.mux.Handle(method+" "+pattern, s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		a, err := s.app.Authenticate(r.Context(), bearer(r))
		if err != nil {
			return err
		}
		if err := checkRequest(pattern, params, r); err != nil {
			return err
		}
		return h(w, r, a)
	}))
}

func (s *Server) errorHandler(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// ServeHTTP runs the middleware chain: request id, recovery, logging, security headers, routing.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rid := r.Header.Get("X-Request-Id")
	if !validRequestID(rid) {
		rid = newRequestID()
	}
	ctx := context.WithValue(r.Context(), ridKey{}, rid)
	r = r.WithContext(ctx)
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	sw.Header().Set("X-Request-Id", rid)
	sw.Header().Set("X-Content-Type-Options", "nosniff")
	sw.Header().Set("Referrer-Policy", "no-referrer")
	defer func() {
		if p := recover(); p != nil {
			s.log.ErrorContext(ctx, "panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			if !sw.wrote {
				s.writeError(sw, r, kernel.Internal(fmt.Errorf("panic: %v", p)))
			}
		}
		// The route pattern, never the raw path or query: paths carry capability tokens and
		// queries carry phones.
		s.log.InfoContext(ctx, "http", "method", r.Method, "route", routeOf(r), "status", sw.status,
			"duration_ms", time.Since(start).Milliseconds(), "bytes", sw.bytes)
		if s.observe != nil {
			_, route, _ := strings.Cut(routeOf(r), " ")
			s.observe(r, cmp.Or(route, "unmatched"), sw.status, time.Since(start))
		}
	}()
	_, pattern := s.mux.Handler(r)
	if pattern == "" {
		s.unmatched(sw, r)
		return
	}
	r.Pattern = pattern
	s.mux.ServeHTTP(sw, r)
}

func routeOf(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	return "unmatched"
}

// unmatched answers 405 with Allow when the path exists under other methods, else 404.
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request) {
	if s.opts.H5 != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.URL.Path != "/api" &&
		!strings.HasPrefix(r.URL.Path, "/api/") {
		r.Pattern = "h5"
		s.opts.H5.ServeHTTP(w, r)
		return
	}
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := s.mux.Handler(probe); p != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		s.writeError(w, r, &httpError{http.StatusMethodNotAllowed, "method-not-allowed", "method not allowed on this path"})
		return
	}
	s.writeError(w, r, &httpError{http.StatusNotFound, "route-not-found", "no such endpoint"})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type ridKey struct{}

func requestID(ctx context.Context) string {
	v, _ := ctx.Value(ridKey{}).(string)
	return v
}

// RequestIDFromContext exposes the request id to log handlers.
func RequestIDFromContext(ctx context.Context) string { return requestID(ctx) }

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// clientIP is the peer address, or the last untrusted hop of X-Forwarded-For when the peer is a
// trusted proxy.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	if !s.trusted(peer) {
		return peer.String()
	}
	// Several X-Forwarded-For lines are one comma-separated list (RFC 9110 §5.3).
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		a = a.Unmap()
		if !s.trusted(a) {
			return a.String()
		}
	}
	return peer.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.opts.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
