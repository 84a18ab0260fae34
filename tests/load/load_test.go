package main

// Smoke tests of the harness's own pieces with tiny sizes (part of `make test`); the load itself
// runs only with `make load`.

import (
	"context"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/shuxinqian/server/adapters/crypto"
	"github.com/shuxinqian/server/adapters/system"
	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/membership"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/testdb"
)

func TestSpreadAndPercentile(t *testing.T) {
	s := spreadOf([]float64{3, 1, 2})
	if s != (spread{1, 2, 3}) {
		t.Fatalf("odd spread %+v", s)
	}
	if s := spreadOf([]float64{4, 1, 2, 3}); s != (spread{1, 2.5, 4}) {
		t.Fatalf("even spread %+v", s)
	}
	if s := spreadOf(nil); !math.IsNaN(s.Median) {
		t.Fatalf("empty spread %+v", s)
	}
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if percentile(d, 50) != 50*time.Millisecond || percentile(d, 99) != 99*time.Millisecond || percentile(d, 100) != 100*time.Millisecond {
		t.Fatalf("percentiles %v %v", percentile(d, 50), percentile(d, 99))
	}
	if g := atLeast("x", 0.7, spread{0.5, 0.71, 0.9}, ""); !g.Pass {
		t.Fatal("a ratio is judged on its median")
	}
	if g := ratioAtMost("x", 10, spread{7, 9, 12}, ""); !g.Pass {
		t.Fatal("a ratio bounded above is judged on its median")
	}
	if g := ratioAtMost("x", 10, spread{7, 10.5, 12}, ""); g.Pass {
		t.Fatal("a ratio's median above its bound fails")
	}
	if g := atMost("x", "×", 1.2, spread{1, 1, 1.3}, 2, ""); g.Pass {
		t.Fatal("memory's growth is judged on its worst run")
	}
	if g := below("x", " ms", 50, spread{10, 20, 51}, 0, ""); g.Pass {
		t.Fatal("a latency is judged on its worst run")
	}
}

func TestParseFloor(t *testing.T) {
	out := []byte("crypto verify+decrypt             12345 ops/s  (1600 ops, 0 errors, c=1)\n" +
		"db update+event tx                  812 ops/s  (400 ops, 0 errors, c=1)\n" +
		"combined (notification floor)       640 ops/s  (400 ops, 0 errors, c=1)\n")
	res, err := parseFloor(out)
	if err != nil || res[floorNotification] != 640 || res["crypto verify+decrypt"] != 12345 {
		t.Fatalf("%v %v", res, err)
	}
	if _, err := parseFloor([]byte("combined (notification floor)  640 ops/s  (400 ops, 3 errors, c=1)\n")); err == nil {
		t.Fatal("a floor with errors must fail")
	}
	if _, err := parseFloor([]byte("panic: no database")); err == nil {
		t.Fatal("no result must fail")
	}
}

func TestMixSharesAndRoutes(t *testing.T) {
	ds := &dataset{EnterpriseID: "e1", AdminToken: "a", Tokens: []string{"a", "b"}}
	routes := mix("http://h", ds, "pkg")
	total := 0
	for _, r := range routes {
		total += r.Share
	}
	if total != 100 {
		t.Fatalf("shares add up to %d", total)
	}
	counts := map[string]int{}
	for r := 0; r < 100; r++ {
		counts[routes[pick(routes, r)].Name]++
	}
	for _, r := range routes {
		if counts[r.Name] != r.Share {
			t.Fatalf("%s picked %d times of 100, share %d", r.Name, counts[r.Name], r.Share)
		}
	}
	rest := without(routes, []string{"members list"})
	if len(rest) != 4 || totalShare(rest) != 85 {
		t.Fatalf("without: %d routes, %d%%", len(rest), totalShare(rest))
	}
	for r := 0; r < 85; r++ {
		if rest[pick(rest, r)].Name == "members list" {
			t.Fatal("an excluded route was picked")
		}
	}
}

// TestRunMixedAgainstAStub drives the vegeta wiring for a moment against a stub of the routes and
// checks that every route is measured and named.
func TestRunMixedAgainstAStub(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/api/v1/channels" && r.Header.Get("Authorization") == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodPost && r.Header.Get("Idempotency-Key") == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	ds := &dataset{EnterpriseID: "e1", AdminToken: "a", Tokens: []string{"a", "b"}}
	routes := mix(srv.URL, ds, "pkg")
	res := runMixed(routes, 400, 500*time.Millisecond, 7)
	if res.All.N == 0 || res.All.Errors != 0 || int64(res.All.N) != hits.Load() {
		t.Fatalf("all: %+v (hits %d)", res.All, hits.Load())
	}
	n := 0
	for _, r := range res.Routes {
		n += r.N
	}
	if n != res.All.N {
		t.Fatalf("%d results, %d attributed to a route: %+v", res.All.N, n, res.Routes)
	}
	// Every route's requests are attributed to it.
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, r := range routes {
		var tg vegeta.Target
		r.make(&tg, rnd, 1)
		if got := routeOf(tg.Method, tg.URL); got != r.Name {
			t.Fatalf("%s %s is attributed to %q, want %q", tg.Method, tg.URL, got, r.Name)
		}
	}
	if rps, err := closedLoop(context.Background(), srv.URL+"/api/v1/me", []string{"t"}, 2, 200*time.Millisecond); err != nil || rps <= 0 {
		t.Fatalf("closed loop %v %v", rps, err)
	}
}

// TestSeedTiny seeds a tiny data set through the bulk path and reads it back through the
// repositories, as the server will.
func TestSeedTiny(t *testing.T) {
	db := testdb.SQLite(t)
	store := testdb.Store(t, db)
	ctx := context.Background()
	app := application.New(application.Deps{UoW: store, Clock: system.Clock{}, IDs: system.NewIDs(), Random: crypto.Random{}})
	if _, err := app.Seed(ctx); err != nil {
		t.Fatal(err)
	}
	ds, err := seed(ctx, store, sizes{Members: 5, Orders: 12, Sessions: 3, Applicants: 2}, demoChannel)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Tokens) != 3 || len(ds.Pending) != 2 || ds.AdminToken != ds.Tokens[0] {
		t.Fatalf("%+v", ds)
	}
	err = store.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		s, err := tx.Sessions().GetByTokenHash(ctx, application.HashToken(ds.Tokens[1]))
		if err != nil {
			return err
		}
		u, err := tx.Users().Get(ctx, s.UserID())
		if err != nil || u.ChannelCode() != demoChannel || !strings.HasPrefix(string(u.Phone()), "139") {
			t.Fatalf("user %+v %v", u, err)
		}
		ms, err := tx.Memberships().Page(ctx, kernel.EnterpriseID(ds.EnterpriseID), []membership.Status{membership.StatusPending}, "", 10)
		if err != nil || len(ms) != 2 {
			t.Fatalf("pending %d %v", len(ms), err)
		}
		os, err := tx.Orders().List(ctx, ports.OrderFilter{UserID: ds.AdminID, Limit: 100})
		if err != nil || len(os) != 4 { // 12 orders over 3 buyers
			t.Fatalf("orders %d %v", len(os), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := idNumberValid(idNumber(123456)); err != nil {
		t.Fatal(err)
	}
}

func idNumberValid(n kernel.IDNumber) (kernel.IDNumber, error) {
	return kernel.ParseIDNumber(string(n), time.Now())
}

// TestWaitDrainedReadsTheBacklog: the heap phase waits on the server's own backlog gauge, summed
// over the message tables but the poison queue, instead of sleeping.
func TestWaitDrainedReadsTheBacklog(t *testing.T) {
	var pending atomic.Int64
	pending.Store(3)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		n := pending.Load()
		if n > 0 {
			pending.Add(-1)
		}
		_, _ = w.Write([]byte("# TYPE shuxinqian_outbox_backlog_messages gauge\n" +
			"shuxinqian_outbox_backlog_messages{table=\"watermill_outbox\"} " + strconv.FormatInt(n, 10) + "\n" +
			"shuxinqian_outbox_backlog_messages{table=\"watermill_poison\"} 7\n"))
	}))
	defer srv.Close()
	if n, err := backlog(context.Background(), srv.URL); err != nil || n != 3 {
		t.Fatalf("backlog = %d, %v; want 3 (the poison queue left out)", n, err)
	}
	if err := waitDrained(context.Background(), srv.URL, time.Minute); err != nil {
		t.Fatal(err)
	}
	if pending.Load() != 0 {
		t.Fatalf("returned with %d pending", pending.Load())
	}
	pending.Store(1 << 40) // never drains
	if err := waitDrained(context.Background(), srv.URL, 300*time.Millisecond); err == nil || !strings.Contains(err.Error(), "did not drain") {
		t.Fatalf("a backlog that never drains: %v", err)
	}
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("up 1\n")) }))
	defer bad.Close()
	if _, err := backlog(context.Background(), bad.URL); err == nil {
		t.Fatal("a /metrics without the gauge must be an error, not an empty backlog")
	}
}
