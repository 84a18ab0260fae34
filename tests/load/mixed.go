package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// route is one kind of request of the mixed load, with its share in percent.
type route struct {
	Name  string
	Share int
	make  func(t *vegeta.Target, rnd *rand.Rand, seq uint64)
}

// mix is the mixed load: 30% GET /me, 20% orders list, 15% members list, 15% order
// creation, 20% channel search.
func mix(base string, ds *dataset, sku string) []route {
	auth := func(t *vegeta.Target, tok string) {
		t.Header = http.Header{"Authorization": {"Bearer " + tok}}
	}
	tok := func(rnd *rand.Rand) string { return ds.Tokens[rnd.IntN(len(ds.Tokens))] }
	orderBody := []byte(fmt.Sprintf(`{"items":[{"sku":%q,"quantity":1}]}`, sku))
	return []route{
		{"GET /me", 30, func(t *vegeta.Target, rnd *rand.Rand, _ uint64) {
			t.Method, t.URL = http.MethodGet, base+"/api/v1/me"
			auth(t, tok(rnd))
		}},
		{"orders list", 20, func(t *vegeta.Target, rnd *rand.Rand, _ uint64) {
			t.Method, t.URL = http.MethodGet, base+"/api/v1/orders?limit=20&enterprise_id="+ds.EnterpriseID
			auth(t, tok(rnd))
		}},
		{"members list", 15, func(t *vegeta.Target, _ *rand.Rand, _ uint64) {
			t.Method, t.URL = http.MethodGet, base+"/api/v1/enterprises/"+ds.EnterpriseID+"/members?limit=50"
			auth(t, ds.AdminToken)
		}},
		{"order creation", 15, func(t *vegeta.Target, rnd *rand.Rand, seq uint64) {
			t.Method, t.URL, t.Body = http.MethodPost, base+"/api/v1/enterprises/"+ds.EnterpriseID+"/orders", orderBody
			auth(t, tok(rnd))
			t.Header.Set("Content-Type", "application/json")
			t.Header.Set("Idempotency-Key", fmt.Sprintf("load-%d-%d", time.Now().UnixNano(), seq))
		}},
		{"channel search", 20, func(t *vegeta.Target, _ *rand.Rand, _ uint64) {
			t.Method, t.URL = http.MethodGet, base+"/api/v1/channels?q="+url.QueryEscape("交易")
		}},
	}
}

// without drops the routes named in names (LOAD_EXCLUDE, to see what one route costs the others);
// the remaining shares keep their proportions.
func without(routes []route, names []string) []route {
	var out []route
	for _, r := range routes {
		if !slices.Contains(names, r.Name) {
			out = append(out, r)
		}
	}
	return out
}

func totalShare(routes []route) int {
	t := 0
	for _, r := range routes {
		t += r.Share
	}
	return t
}

// pick chooses a route by share with r in [0,totalShare).
func pick(routes []route, r int) int {
	for i, rt := range routes {
		if r < rt.Share {
			return i
		}
		r -= rt.Share
	}
	return len(routes) - 1
}

// mixedResult is one fixed-rate run.
type mixedResult struct {
	Routes   []routeStats
	All      routeStats
	Achieved float64 // requests per second completed
}

// runMixed drives the mix at rate requests/s for d with vegeta, and returns per-route latency.
func runMixed(routes []route, rate int, d time.Duration, seed uint64) mixedResult {
	rnd := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var mu sync.Mutex
	var seq uint64
	targeter := func(t *vegeta.Target) error {
		mu.Lock()
		defer mu.Unlock()
		seq++
		i := pick(routes, rnd.IntN(totalShare(routes)))
		*t = vegeta.Target{}
		routes[i].make(t, rnd, seq)
		return nil
	}
	atk := vegeta.NewAttacker(vegeta.Timeout(30*time.Second), vegeta.KeepAlive(true), vegeta.Workers(32), vegeta.MaxWorkers(2000))
	lat := map[string][]time.Duration{}
	errs := map[string]int{}
	codes := map[string]map[uint16]int{}
	var all []time.Duration
	allErrs, allCodes := 0, map[uint16]int{}
	t0 := time.Now()
	var last time.Time
	for res := range atk.Attack(vegeta.Targeter(targeter), vegeta.Rate{Freq: rate, Per: time.Second}, d, "mixed") {
		name := routeOf(res.Method, res.URL)
		lat[name] = append(lat[name], res.Latency)
		all = append(all, res.Latency)
		if codes[name] == nil {
			codes[name] = map[uint16]int{}
		}
		codes[name][res.Code]++
		allCodes[res.Code]++
		if res.Code < 200 || res.Code >= 300 || res.Error != "" {
			errs[name]++
			allErrs++
		}
		if e := res.End(); e.After(last) {
			last = e
		}
	}
	out := mixedResult{All: summarize("all", all, allErrs, allCodes)}
	for _, r := range routes {
		out.Routes = append(out.Routes, summarize(r.Name, lat[r.Name], errs[r.Name], codes[r.Name]))
	}
	if el := last.Sub(t0).Seconds(); el > 0 {
		out.Achieved = float64(len(all)) / el
	}
	return out
}

// routeOf names the route of a result by its method and URL.
func routeOf(method, u string) string {
	switch {
	case method == http.MethodPost && strings.Contains(u, "/orders"):
		return "order creation"
	case strings.Contains(u, "/api/v1/me"):
		return "GET /me"
	case strings.Contains(u, "/api/v1/orders"):
		return "orders list"
	case strings.Contains(u, "/members"):
		return "members list"
	case strings.Contains(u, "/api/v1/channels"):
		return "channel search"
	}
	return "other"
}

// closedLoop runs c workers, each sending GET url (with a token from tokens, if any) back to back
// for d, and returns the successful requests per second.
func closedLoop(ctx context.Context, url string, tokens []string, c int, d time.Duration) (float64, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: c, MaxConnsPerHost: c}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var ok, bad atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; ctx.Err() == nil; i += c {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if len(tokens) > 0 {
					req.Header.Set("Authorization", "Bearer "+tokens[i%len(tokens)])
				}
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						bad.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					ok.Add(1)
				} else {
					bad.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d", resp.StatusCode))
				}
			}
		}(w)
	}
	wg.Wait()
	el := time.Since(t0).Seconds()
	if bad.Load() > ok.Load()/100 {
		return 0, fmt.Errorf("%s: %d failed requests (%v) against %d", url, bad.Load(), firstErr.Load(), ok.Load())
	}
	return float64(ok.Load()) / el, nil
}
