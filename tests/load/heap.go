package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// liveHeap reads the server's live heap after a forced GC from its admin listener (ADMIN_ADDR):
// /debug/pprof/heap?gc=1&debug=1 runs a GC and prints runtime.MemStats ("# HeapAlloc = N"). MB.
func liveHeap(admin string) (float64, error) {
	resp, err := http.Get("http://" + admin + "/debug/pprof/heap?gc=1&debug=1")
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("heap profile: status %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "# HeapAlloc = "); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			return n / (1 << 20), nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("heap profile without HeapAlloc")
}

// createOrders places n orders (each one order.placed event through the outbox, the forwarder
// and its consumers) with c workers, closed loop; it returns when all n were answered 201.
func createOrders(ctx context.Context, base string, ds *dataset, sku string, n, c int) error {
	tr := &http.Transport{MaxIdleConnsPerHost: c, MaxConnsPerHost: c}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	body := fmt.Sprintf(`{"items":[{"sku":%q,"quantity":1}]}`, sku)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	run := time.Now().UnixNano()
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/enterprises/"+ds.EnterpriseID+"/orders", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+ds.Tokens[int(i)%len(ds.Tokens)])
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", fmt.Sprintf("heap-%d-%d", run, i))
				resp, err := client.Do(req)
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					_ = resp.Body.Close()
					if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("order creation: %d %s", resp.StatusCode, b)
					}
				}
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// heapOverEvents is issue 14's "heap and RSS flat over 100,000 events": it creates orders (one
// event each) up to total/10 and then to total, and reads the live heap (after a GC) and RSS at
// both points once the outbox had a moment to drain.
func heapOverEvents(ctx context.Context, p *process, ds *dataset, sku string, total int) (heap, rss [2]float64, err error) {
	marks := [2]int{total / 10, total}
	done := 0
	for i, m := range marks {
		t0 := time.Now()
		if err := createOrders(ctx, p.Base, ds, sku, m-done, 8); err != nil {
			return heap, rss, err
		}
		logf("heap phase: %d orders created in %s", m-done, time.Since(t0).Round(time.Millisecond))
		done = m
		time.Sleep(3 * time.Second) // let the forwarder and the consumers catch up before measuring
		if heap[i], err = liveHeap(p.Admin); err != nil {
			return heap, rss, err
		}
		if rss[i], _, err = memStatus(p.PID()); err != nil {
			return heap, rss, err
		}
	}
	return heap, rss, nil
}
