// Package metrics is the Prometheus instrumentation: HTTP requests by route pattern, event
// handler outcomes, SMS sends, and a collector that measures the message queues and the payment
// anomalies in the database at scrape time. Labels never carry personal data or raw paths: routes
// are ServeMux patterns, handlers and SMS templates are names fixed in code.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shuxinqian/server/ports"
)

// Namespace prefixes every metric name.
const Namespace = "shuxinqian"

// Metrics holds the registry and the instruments the process updates.
type Metrics struct {
	Registry *prometheus.Registry

	httpRequests    *prometheus.CounterVec
	httpDuration    *prometheus.HistogramVec
	handlerAttempts *prometheus.CounterVec
	handlerRetries  *prometheus.CounterVec
	handlerDuration *prometheus.HistogramVec
	smsSends        *prometheus.CounterVec

	mu      sync.Mutex
	failing map[string]struct{} // handler+"\x00"+message uuid whose last attempt failed
}

// maxFailing bounds the memory used to recognise retries.
const maxFailing = 10000

// New registers the instruments (and the Go runtime and process collectors) on a new registry.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "http_requests_total",
			Help: "HTTP requests answered, by method, route pattern and status code."}, []string{"method", "route", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "http_request_duration_seconds",
			Help:    "Time from receiving an HTTP request to finishing its answer, by method and route pattern.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"method", "route"}),
		handlerAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "event_handler_attempts_total",
			Help: "Event handler runs, by handler and outcome (success or failure); every retry is one more run."}, []string{"handler", "outcome"}),
		handlerRetries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "event_handler_retries_total",
			Help: "Event handler runs that retried a message whose previous run failed, by handler."}, []string{"handler"}),
		handlerDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "event_handler_duration_seconds",
			Help:    "Duration of one event handler run, by handler.",
			Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"handler"}),
		smsSends: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "sms_sends_total",
			Help: "Text messages handed to the SMS provider, by template and outcome (sent or failed)."}, []string{"template", "outcome"}),
		failing: map[string]struct{}{},
	}
	m.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpRequests, m.httpDuration, m.handlerAttempts, m.handlerRetries, m.handlerDuration, m.smsSends)
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler(log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{ErrorLog: slogPrinter{log}, ErrorHandling: promhttp.ContinueOnError,
		Timeout: 10 * time.Second})
}

type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) {
	if p.log != nil {
		p.log.Warn("metrics", "err", v)
	}
}

var knownMethods = map[string]bool{http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true}

// ObserveHTTP records one answered request. route is the ServeMux pattern without its method
// ("/api/v1/orders/{order_id}"), or "unmatched"; unknown methods are counted as OTHER.
func (m *Metrics) ObserveHTTP(method, route string, status int, d time.Duration) {
	if !knownMethods[method] {
		method = "OTHER"
	}
	if route == "" {
		route = "unmatched"
	}
	m.httpRequests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(method, route).Observe(d.Seconds())
}

// DeclareHandlers creates the handler series at zero, so that every handler's successes,
// failures and retries are exposed (and rate() works) before its first message.
func (m *Metrics) DeclareHandlers(names ...string) {
	for _, n := range names {
		m.handlerAttempts.WithLabelValues(n, "success")
		m.handlerAttempts.WithLabelValues(n, "failure")
		m.handlerRetries.WithLabelValues(n)
	}
}

// HandlerMiddleware is a watermill router middleware counting every run of every handler. Added
// after the Retry middleware it sees each attempt; a run is a retry when the same handler's
// previous run of the same message (uuid) failed in this process.
func (m *Metrics) HandlerMiddleware(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		name := message.HandlerNameFromCtx(msg.Context())
		if name == "" {
			name = "unknown"
		}
		key := name + "\x00" + msg.UUID
		m.mu.Lock()
		_, retry := m.failing[key]
		m.mu.Unlock()
		if retry {
			m.handlerRetries.WithLabelValues(name).Inc()
		}
		start := time.Now()
		out, err := h(msg)
		m.handlerDuration.WithLabelValues(name).Observe(time.Since(start).Seconds())
		m.mu.Lock()
		if err != nil {
			if len(m.failing) >= maxFailing {
				clear(m.failing)
			}
			m.failing[key] = struct{}{}
		} else {
			delete(m.failing, key)
		}
		m.mu.Unlock()
		outcome := "success"
		if err != nil {
			outcome = "failure"
		}
		m.handlerAttempts.WithLabelValues(name, outcome).Inc()
		return out, err
	}
}

// SMS wraps an SMS sender, counting its sends by template and outcome.
func (m *Metrics) SMS(next ports.SMSSender) ports.SMSSender { return smsSender{next: next, m: m} }

type smsSender struct {
	next ports.SMSSender
	m    *Metrics
}

func (s smsSender) Send(ctx context.Context, msg ports.SMS) error {
	err := s.next.Send(ctx, msg)
	outcome := "sent"
	if err != nil {
		outcome = "failed"
	}
	template := msg.Template
	if template == "" {
		template = "none"
	}
	s.m.smsSends.WithLabelValues(template, outcome).Inc()
	return err
}
