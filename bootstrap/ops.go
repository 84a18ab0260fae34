package bootstrap

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	adhttp "github.com/shuxinqian/server/adapters/http"
	"github.com/shuxinqian/server/adapters/metrics"
	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/adapters/sqlstore/wmsql"
	"github.com/shuxinqian/server/adapters/tracing"
	"github.com/shuxinqian/server/ports"
)

// Ops is the operations side of the process: metrics, tracing, the admin listener and the
// retention pruner.
type Ops struct {
	cfg     Config
	log     *slog.Logger
	Metrics *metrics.Metrics
	db      *sqlstore.DB
	clock   ports.Clock

	mu    sync.Mutex
	addrs map[string]string // listener name → bound address, once started
}

// ListenerAddr is the bound address of the "admin" or "metrics" listener ("" when not running).
func (o *Ops) ListenerAddr(name string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.addrs[name]
}

func provideMetrics() *metrics.Metrics { return metrics.New() }

// provideOps instruments the other parts: the HTTP server reports every request, the router
// gets the tracing and metrics middlewares (innermost: they see every attempt), the database
// got the SQL span hook in provideDB, and the database collector measures the queues at scrape time.
// Tracing exports only when OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise the spans go to the
// global no-op provider.
func provideOps(cfg Config, log *slog.Logger, m *metrics.Metrics, db *sqlstore.DB, srv *adhttp.Server, router *message.Router,
	clock ports.Clock) (*Ops, func(), error) {
	shutdown, err := tracing.Setup(context.Background(), cfg.Ops.Tracing)
	if err != nil {
		return nil, nil, err
	}
	srv.SetObserver(func(r *http.Request, route string, status int, d time.Duration) {
		m.ObserveHTTP(r.Method, route, status, d)
		if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
			span.SetName(r.Method + " " + route)
			span.SetAttributes(attribute.String("http.route", route))
		}
	})
	router.AddMiddleware(tracing.HandlerMiddleware, m.HandlerMiddleware)
	for name := range router.Handlers() {
		m.DeclareHandlers(name)
	}
	err = m.RegisterDatabase(metrics.DatabaseSource{
		Queues: func(ctx context.Context) ([]metrics.Queue, error) {
			bs, err := db.QueueBacklogs(ctx)
			out := make([]metrics.Queue, len(bs))
			for i, b := range bs {
				out[i] = metrics.Queue{Table: b.Table, Pending: b.Pending, OldestAgeSeconds: b.OldestAgeSeconds}
			}
			return out, err
		},
		DeadLetterTables: []string{wmsql.TablePrefix + sqlstore.PoisonTopic},
		PaymentAnomalies: db.PaymentAnomalyCounts,
		Timeout:          2 * time.Second,
		Log:              log,
	})
	if err != nil {
		_ = shutdown(context.Background())
		return nil, nil, err
	}
	o := &Ops{cfg: cfg, log: log, Metrics: m, db: db, clock: clock}
	return o, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdown(ctx); err != nil {
			log.Warn("tracing shutdown", "err", err)
		}
	}, nil
}

// Handler is the main listener's handler: h traced (the span is named after the route pattern
// once routed), plus GET /metrics unless METRICS_ADDR moves it to its own listener.
func (o *Ops) Handler(h http.Handler) http.Handler {
	traced := otelhttp.NewHandler(h, "http", otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
		return r.Method
	}))
	if o.cfg.Ops.MetricsAddr != "" {
		return traced
	}
	metricsHandler := o.Metrics.Handler(o.log)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			metricsHandler.ServeHTTP(w, r)
			return
		}
		traced.ServeHTTP(w, r)
	})
}

// adminHandler is pprof and /metrics.
func (o *Ops) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.Handle("GET /metrics", o.Metrics.Handler(o.log))
	return mux
}

// Start runs, until ctx ends, the admin listener (ADMIN_ADDR), the metrics listener
// (METRICS_ADDR) and the retention pruner (PRUNE_INTERVAL). The returned stop waits for them.
func (o *Ops) Start(ctx context.Context) (stop func(), err error) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var servers []*http.Server
	listen := func(name, addr string, h http.Handler) error {
		ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
			ErrorLog: slog.NewLogLogger(o.log.Handler(), slog.LevelWarn)}
		servers = append(servers, srv)
		o.mu.Lock()
		if o.addrs == nil {
			o.addrs = map[string]string{}
		}
		o.addrs[name] = ln.Addr().String()
		o.mu.Unlock()
		o.log.Info("listening", "listener", name, "addr", ln.Addr().String())
		wg.Go(func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				o.log.Error("listener stopped", "listener", name, "err", err)
			}
		})
		return nil
	}
	stop = func() {
		cancel()
		for _, s := range servers {
			sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
			_ = s.Shutdown(sctx)
			c()
		}
		wg.Wait()
	}
	if a := o.cfg.Ops.AdminAddr; a != "" {
		if err := listen("admin", a, o.adminHandler()); err != nil {
			stop()
			return nil, err
		}
	}
	if a := o.cfg.Ops.MetricsAddr; a != "" {
		if err := listen("metrics", a, o.Metrics.Handler(o.log)); err != nil {
			stop()
			return nil, err
		}
	}
	if o.cfg.Ops.PruneInterval > 0 {
		wg.Go(func() { o.pruneLoop(ctx) })
	}
	return stop, nil
}

// Prune deletes what the retention windows let go, now.
func (o *Ops) Prune(ctx context.Context) (sqlstore.PruneReport, error) {
	return o.db.Prune(ctx, o.clock.Now(), o.cfg.Ops.Retention)
}

// pruneLoop prunes once soon after the start, then every PruneInterval. Several instances may
// prune at once: each batch deletes rows that are already dead, so racing deletes are harmless.
func (o *Ops) pruneLoop(ctx context.Context) {
	first := time.NewTimer(min(time.Minute, o.cfg.Ops.PruneInterval))
	defer first.Stop()
	select {
	case <-ctx.Done():
		return
	case <-first.C:
	}
	t := time.NewTicker(o.cfg.Ops.PruneInterval)
	defer t.Stop()
	for {
		rep, err := o.Prune(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			o.log.Warn("retention pruner", "err", err)
		case rep.Total() > 0:
			o.log.Info("retention pruner", "sms_codes", rep.Codes, "inbox", rep.Inbox, "idempotency_keys", rep.Idempotency, "audit_log", rep.Audit)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
