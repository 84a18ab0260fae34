package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/components/forwarder"
	"github.com/ThreeDotsLabs/watermill/message"

	adhttp "github.com/shuxinqian/server/adapters/http"
	"github.com/shuxinqian/server/adapters/sms"
	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/adapters/wechatpay"
	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/application/operators"
	"github.com/shuxinqian/server/application/refunds"
	"github.com/shuxinqian/server/application/signing"
	"github.com/shuxinqian/server/application/webhooks"
)

// Runtime is the wired process: what serve, consume and migrate run.
type Runtime struct {
	Config Config
	Log    *slog.Logger
	DB     *sqlstore.DB
	Store  *sqlstore.Store
	App    *application.App
	// Signing runs the sign flows (application/signing).
	Signing *signing.Service
	// Refunds runs refunds (application/refunds).
	Refunds *refunds.Service
	// Operators is the platform console (operator accounts: `shuxinqian operator create`).
	Operators *operators.Service
	HTTP      *adhttp.Server
	Delivery  *Delivery
	Router    *message.Router
	Forwarder *forwarder.Forwarder
	SMS       *sms.Sandbox
	// WeChatPay is the WeChat Pay simulator (sandbox mode only, else nil).
	WeChatPay *wechatpay.Simulator
	// Webhooks is the webhook context; its dispatcher runs beside the consumers.
	Webhooks *webhooks.Service
	// Ops is metrics, tracing, the admin listener and the retention pruner (ops.go).
	Ops *Ops
}

// PaymentsSimulator is the sandbox WeChat Pay simulator (nil outside sandbox mode).
func (rt *Runtime) PaymentsSimulator() *wechatpay.Simulator { return rt.WeChatPay }

// PrepareDatabase applies migrations in sandbox mode; in production it refuses a database with
// pending migrations (run `shuxinqian migrate` first).
func (rt *Runtime) PrepareDatabase(ctx context.Context) error {
	if rt.Config.Sandbox() {
		applied, err := rt.DB.Migrate(ctx)
		if err != nil {
			return err
		}
		if len(applied) > 0 {
			rt.Log.Info("database migrated", "migrations", strings.Join(applied, ","))
		}
		seeded, err := rt.App.Seed(ctx)
		if err != nil {
			return fmt.Errorf("seeding demo data: %w", err)
		}
		if len(seeded) > 0 {
			rt.Log.Info("demo data loaded", "channels", strings.Join(seeded, ","))
		}
		return nil
	}
	pending, err := rt.DB.Pending(ctx)
	if err != nil {
		return fmt.Errorf("checking migrations: %w", err)
	}
	if len(pending) > 0 {
		return fmt.Errorf("the database has %d pending migrations (%s): run `shuxinqian migrate` first", len(pending), strings.Join(pending, ", "))
	}
	return nil
}

// StartConsumers starts the router, waits until it runs, then the forwarder. It returns a stop
// function that stops the forwarder first (nothing is published any more), then the router, and
// waits for both; the delivery queue/broker is closed after them by the wire cleanup.
func (rt *Runtime) StartConsumers(ctx context.Context) (stop func(), err error) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := rt.Router.Run(ctx); err != nil {
			errc <- fmt.Errorf("router: %w", err)
		}
	}()
	select {
	case <-rt.Router.Running():
	case err := <-errc:
		cancel()
		wg.Wait()
		return nil, err
	case <-ctx.Done():
		cancel()
		wg.Wait()
		return nil, ctx.Err()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := rt.Forwarder.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			rt.Log.Error("outbox forwarder stopped", "err", err)
		}
	}()
	<-rt.Forwarder.Running()
	if rt.Config.Events.SweepInterval > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rt.sweepLoop(ctx)
		}()
	}
	if rt.Webhooks != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rt.Webhooks.Run(ctx, rt.Config.Webhooks.PollInterval)
		}()
	}
	if rt.Config.ReconcileInterval > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rt.reconcileLoop(ctx)
		}()
	}
	return func() {
		cancel()
		_ = rt.Forwarder.Close()
		_ = rt.Router.Close()
		wg.Wait()
	}, nil
}

// Serve runs the HTTP API (and the consumers when configured) until ctx is cancelled, then
// shuts down gracefully: stop accepting, finish in-flight requests, stop consumers.
func (rt *Runtime) Serve(ctx context.Context) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", rt.Config.HTTPAddr)
	if err != nil {
		return err
	}
	return rt.ServeListener(ctx, ln)
}

// ServeListener is Serve on a given listener (tests use a random port).
func (rt *Runtime) ServeListener(ctx context.Context, ln net.Listener) error {
	if err := rt.PrepareDatabase(ctx); err != nil {
		_ = ln.Close()
		return err
	}
	stopConsumers := func() {}
	if rt.Config.Consumers {
		stop, err := rt.StartConsumers(ctx)
		if err != nil {
			_ = ln.Close()
			return err
		}
		stopConsumers = stop
	}
	stopOps, opsErr := rt.Ops.Start(ctx)
	if opsErr != nil {
		stopConsumers()
		_ = ln.Close()
		return opsErr
	}
	defer stopOps()
	srv := &http.Server{
		Handler:           rt.Ops.Handler(rt.HTTP),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(rt.Log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	rt.Log.Info("serving", "addr", ln.Addr().String(), "mode", rt.Config.Mode, "consumers", rt.Config.Consumers,
		"database", rt.DB.Dialect.String())
	select {
	case err := <-errc:
		stopConsumers()
		return err
	case <-ctx.Done():
	}
	rt.Log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), rt.Config.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	stopConsumers()
	return err
}

// Consume runs only the consumers and the forwarder until ctx is cancelled.
func (rt *Runtime) Consume(ctx context.Context) error {
	if err := rt.PrepareDatabase(ctx); err != nil {
		return err
	}
	stopOps, err := rt.Ops.Start(ctx)
	if err != nil {
		return err
	}
	defer stopOps()
	stop, err := rt.StartConsumers(ctx)
	if err != nil {
		return err
	}
	rt.Log.Info("consuming", "mode", rt.Config.Mode)
	<-ctx.Done()
	stop()
	return nil
}

// reconcileLoop queries unpaid orders that got no notification and closes expired ones, every
// ReconcileInterval, until ctx ends.
func (rt *Runtime) reconcileLoop(ctx context.Context) {
	t := time.NewTicker(rt.Config.ReconcileInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rep, err := rt.App.Reconcile(ctx)
			if err != nil && ctx.Err() == nil {
				rt.Log.Warn("reconciler", "err", err)
			} else if rep.Queried > 0 {
				rt.Log.Info("reconciler", "queried", rep.Queried, "paid", rep.Paid, "closed", rep.Closed, "failed", rep.Failed)
			}
			rr, err := rt.Refunds.Reconcile(ctx)
			if err != nil && ctx.Err() == nil {
				rt.Log.Warn("refund reconciler", "err", err)
			} else if rr.Resent+rr.Queried > 0 {
				rt.Log.Info("refund reconciler", "resent", rr.Resent, "queried", rr.Queried, "settled", rr.Settled, "failed", rr.Failed)
			}
		}
	}
}
