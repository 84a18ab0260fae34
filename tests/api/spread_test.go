package api

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"

	"github.com/shuxinqian/server/bootstrap"
	"github.com/shuxinqian/server/tests/fakes"
	"github.com/shuxinqian/server/tests/testdb"
)

// The spread mode of the component suite (issue 10): on Postgres with NATS, the `postgres`
// subtest of forEachBackend runs against TWO serving runtimes (each with its consumers, as
// `serve` runs them by default) and ONE consume-only runtime, on one Postgres schema, one
// DATA_DIR and one NATS JetStream (a fresh topic prefix per test), sharing the fake clock, behind
// a round-robin reverse proxy: the test's requests alternate between the two instances, and the
// events compete between the three consumers' queue group. At the end of each test every event
// must have been handled once: no (handler, message id) handled successfully twice, every
// handler stream drained, and JetStream delivered each message once.
//
// It is on when TEST_NATS_URL is set (CI=true requires it); API_SPREAD=off runs the postgres
// subtests on one instance with the SQL queue instead.

// spreadWanted reports whether the postgres subtests run spread.
func spreadWanted() bool {
	if os.Getenv("API_SPREAD") == "off" {
		return false
	}
	return os.Getenv("TEST_NATS_URL") != "" || os.Getenv("CI") == "true"
}

// startPostgres is the postgres backend of forEachBackend: spread when NATS is there.
func startPostgres(t *testing.T) *server {
	t.Helper()
	dsn := testdb.PostgresSchemaDSN(t)
	if !spreadWanted() {
		return start(t, dsn)
	}
	return startSpread(t, map[string]string{"DATABASE_URL": dsn})
}

// spread is the deployment behind one spread server: its runtimes and what their routers handled.
type spread struct {
	prefix   string
	natsURL  string
	runtimes []*bootstrap.Runtime // [0], [1] serve; [2] consume only
	mu       sync.Mutex
	handled  map[string]int // handler + " " + message id → successful handlings
	perTopic map[string]int // handler → distinct messages handled
	hits     [2]atomic.Int64
}

// record is a router middleware (innermost: it sees each call of the handler itself) counting
// the successful handlings of each message by each handler, across the three runtimes.
func (sp *spread) record(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		out, err := h(msg)
		if err == nil {
			name := message.HandlerNameFromCtx(msg.Context())
			sp.mu.Lock()
			k := name + " " + msg.UUID
			sp.handled[k]++
			if sp.handled[k] == 1 {
				sp.perTopic[name]++
			}
			sp.mu.Unlock()
		}
		return out, err
	}
}

// startSpread starts the deployment and the proxy; extra is added to every runtime's environment.
func startSpread(t *testing.T, extra map[string]string) *server {
	t.Helper()
	natsURL := testdb.NATSURL(t)
	proxyLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + proxyLn.Addr().String()
	sp := &spread{prefix: testdb.UniquePrefix(), natsURL: natsURL, handled: map[string]int{}, perTopic: map[string]int{}}
	env := baseEnv(t, base)
	env["DATA_DIR"] = t.TempDir() // shared, as several instances share a volume (CA, files, invoices)
	env["EVENTS_BROKER"], env["NATS_URL"], env["EVENTS_TOPIC_PREFIX"] = "nats", natsURL, sp.prefix
	for k, v := range extra {
		env[k] = v
	}
	// Registered first, so it runs last: the streams go once every runtime has stopped.
	t.Cleanup(func() { deleteStreams(t, natsURL, sp.prefix) })
	clock := fakes.NewClock(time.Now())

	// The first instance migrates and seeds the database, then the second, then the consumer.
	var backends [2]*url.URL
	for i := range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		rt := launch(t, env, clock, sp.record, func(ctx context.Context, rt *bootstrap.Runtime) error { return rt.ServeListener(ctx, ln) })
		waitReady(t, "http://"+ln.Addr().String())
		backends[i], _ = url.Parse("http://" + ln.Addr().String())
		sp.runtimes = append(sp.runtimes, rt)
	}
	crt := launch(t, env, clock, sp.record, func(ctx context.Context, rt *bootstrap.Runtime) error { return rt.Consume(ctx) })
	sp.runtimes = append(sp.runtimes, crt)
	select {
	case <-crt.Router.Running():
	case <-time.After(30 * time.Second):
		t.Fatal("the consume runtime did not start its router")
	}

	// The round-robin proxy: every request goes to the next instance; what the client sent
	// (Host, X-Forwarded-*) reaches the instance unchanged, the client address is the loopback
	// as without the proxy.
	var next atomic.Uint64
	tr := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			i := next.Add(1) % 2
			sp.hits[i].Add(1)
			pr.SetURL(backends[i])
			pr.Out.Host = pr.In.Host
			for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
				if v, ok := pr.In.Header[h]; ok {
					pr.Out.Header[h] = v
				}
			}
		},
		Transport:     tr,
		FlushInterval: -1,
	}
	psrv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = psrv.Serve(proxyLn) }()
	t.Cleanup(func() {
		_ = psrv.Close()
		tr.CloseIdleConnections()
	})
	// Registered last, so it runs first, while everything still runs.
	t.Cleanup(func() { sp.check(t) })
	return &server{t: t, base: base, clock: clock, rt: sp.runtimes[0], spread: sp}
}

// baseEnv is the environment every test runtime starts from.
func baseEnv(t *testing.T, publicBase string) map[string]string {
	return map[string]string{
		"PUBLIC_BASE_URL":         publicBase,
		"DATA_DIR":                t.TempDir(),
		"MASTER_KEY":              testMasterKey,
		"LOG_LEVEL":               "error",
		"FORWARDER_POLL_INTERVAL": "20ms",
	}
}

// launch builds a runtime from env with the given clock, adds mw to its router, runs it with run
// until the test ends and cleans it up.
func launch(t *testing.T, env map[string]string, clock *fakes.Clock, mw message.HandlerMiddleware,
	run func(context.Context, *bootstrap.Runtime) error) *bootstrap.Runtime {
	t.Helper()
	cfg, err := bootstrap.LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	rt, cleanup, err := bootstrap.NewRuntime(cfg, clock)
	if err != nil {
		t.Fatal(err)
	}
	if mw != nil {
		rt.Router.AddMiddleware(mw)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, rt) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runtime: %v", err)
		}
		cleanup()
	})
	return rt
}

// waitReady polls base's /readyz until it answers 200 (the listener is open before the runtime
// migrated).
func waitReady(t *testing.T, base string) {
	t.Helper()
	s := &server{t: t, base: base}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if st, _, _ := s.try("GET", "/readyz", "", nil); st == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("server did not become ready")
		}
		time.Sleep(5 * time.Millisecond) // polling readiness with a deadline
	}
}

// check waits until the events of the test are handled (outbox empty, every handler stream
// drained) and asserts each was handled once.
func (sp *spread) check(t *testing.T) {
	t.Helper()
	if t.Failed() {
		return // the test's own failure says more; its events may be stuck on purpose
	}
	if sp.hits[0].Load() == 0 || sp.hits[1].Load() == 0 {
		t.Errorf("spread: requests reached the instances %d and %d times; both must serve", sp.hits[0].Load(), sp.hits[1].Load())
	}
	nc, err := nats.Connect(sp.natsURL)
	if err != nil {
		t.Errorf("spread check: %v", err)
		return
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		t.Errorf("spread check: %v", err)
		return
	}
	type topic struct {
		published, msgs, delivered uint64
		ackPending                 int
	}
	var last map[string]topic
	var backlog int
	settled := func() bool {
		last = map[string]topic{}
		qs, err := sp.runtimes[0].DB.QueueBacklogs(context.Background())
		if err != nil {
			t.Errorf("spread check: outbox: %v", err)
			return true
		}
		backlog = 0
		for _, q := range qs {
			if !strings.Contains(q.Table, "poison") {
				backlog += int(q.Pending)
			}
		}
		quiet := backlog == 0
		for name := range js.StreamNames() {
			if !strings.HasPrefix(name, sp.prefix+"_") {
				continue
			}
			si, err := js.StreamInfo(name)
			if err != nil {
				t.Errorf("spread check: stream %s: %v", name, err)
				return true
			}
			tp := topic{published: si.State.LastSeq, msgs: si.State.Msgs}
			if ci, err := js.ConsumerInfo(name, name); err == nil {
				tp.delivered, tp.ackPending = ci.Delivered.Consumer, ci.NumAckPending
			} else if si.State.LastSeq > 0 {
				t.Errorf("spread check: consumer %s: %v", name, err)
				return true
			}
			last[name] = tp
			if tp.msgs > 0 || tp.ackPending > 0 || tp.delivered < tp.published {
				quiet = false
			}
		}
		return quiet
	}
	for deadline := time.Now().Add(20 * time.Second); !settled(); {
		if time.Now().After(deadline) {
			t.Errorf("spread: events not handled within 20s: outbox backlog %d, streams %v", backlog, last)
			return
		}
		time.Sleep(20 * time.Millisecond) // polling the broker with a deadline
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	var twice []string
	for k, n := range sp.handled {
		if n > 1 {
			twice = append(twice, fmt.Sprintf("%s ×%d", k, n))
		}
	}
	sort.Strings(twice)
	if len(twice) > 0 {
		t.Errorf("spread: events handled more than once: %v", twice)
	}
	var total uint64
	for name, tp := range last {
		total += tp.published
		if tp.delivered != tp.published {
			t.Errorf("spread: %s: JetStream delivered %d times for %d messages (a redelivery)", name, tp.delivered, tp.published)
		}
	}
	handledTotal := 0
	for _, n := range sp.perTopic {
		handledTotal += n
	}
	if uint64(handledTotal) > total {
		t.Errorf("spread: %d distinct handlings for %d published messages", handledTotal, total)
	}
	t.Logf("spread: %d+%d requests over the two instances; %d events delivered over %d handler streams, %d handled",
		sp.hits[0].Load(), sp.hits[1].Load(), total, len(last), handledTotal)
}

// deleteStreams removes the test's NATS streams.
func deleteStreams(t *testing.T, natsURL, prefix string) {
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Logf("deleting streams: %v", err)
		return
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		return
	}
	var names []string
	for name := range js.StreamNames() {
		if strings.HasPrefix(name, prefix+"_") {
			names = append(names, name)
		}
	}
	for _, n := range names {
		_ = js.DeleteStream(n)
	}
}
