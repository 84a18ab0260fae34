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
		if err := waitDrained(ctx, p.Base, 5*time.Minute); err != nil {
			return heap, rss, err
		}
		if heap[i], err = liveHeap(p.Admin); err != nil {
			return heap, rss, err
		}
		if rss[i], _, err = memStatus(p.PID()); err != nil {
			return heap, rss, err
		}
	}
	return heap, rss, nil
}

// waitDrained polls the server's /metrics until every message table but the poison queue is
// empty (shuxinqian_outbox_backlog_messages is 0 for each): the forwarder and the consumers have
// handled every event written so far, so the heap is read at rest rather than mid-backlog.
func waitDrained(ctx context.Context, base string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	last := "no scrape"
	for time.Now().Before(deadline) {
		pending, err := backlog(ctx, base)
		if err == nil && pending == 0 {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("%d messages pending", pending)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("the event backlog did not drain in %s (%s)", limit, last)
}

// backlog sums shuxinqian_outbox_backlog_messages over the message tables except the poison queue.
func backlog(ctx context.Context, base string) (int64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("/metrics: status %d", resp.StatusCode)
	}
	var sum int64
	seen := false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, "shuxinqian_outbox_backlog_messages{")
		if !ok || strings.Contains(rest, `"watermill_poison"`) {
			continue
		}
		i := strings.LastIndexByte(rest, ' ')
		v, err := strconv.ParseFloat(rest[i+1:], 64)
		if err != nil {
			return 0, fmt.Errorf("/metrics: %q: %w", line, err)
		}
		sum += int64(v)
		seen = true
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if !seen {
		return 0, fmt.Errorf("/metrics has no shuxinqian_outbox_backlog_messages")
	}
	return sum, nil
}
