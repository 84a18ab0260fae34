package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"
)

// spread is the min/median/max of repeated measurements.
type spread struct{ Min, Median, Max float64 }

func spreadOf(xs []float64) spread {
	if len(xs) == 0 {
		return spread{math.NaN(), math.NaN(), math.NaN()}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return spread{s[0], med, s[len(s)-1]}
}

func (s spread) format(prec int) string {
	f := "%." + fmt.Sprint(prec) + "f"
	return fmt.Sprintf(f+"/"+f+"/"+f, s.Min, s.Median, s.Max)
}

// percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}

// goal is one row of the table: a value (min/median/max) judged against a bound.
type goal struct {
	Path   string
	Goal   string
	Values spread
	Unit   string
	Prec   int
	// Pass judges the spread: the ratios of two measurements (a notification against its floor,
	// GET /me against the bare handler, 1,000 approvals against 1) on the median of their A/B
	// pairs; latencies and memory, and memory's growth, on the worst run (max).
	Pass bool
	Note string
}

func atLeast(path string, bound float64, s spread, note string) goal {
	return goal{Path: path, Goal: fmt.Sprintf("≥ %.2f", bound), Values: s, Prec: 2, Pass: s.Median >= bound, Note: note}
}

func atMost(path, unit string, bound float64, s spread, prec int, note string) goal {
	return goal{Path: path, Goal: fmt.Sprintf("≤ %g%s", bound, unit), Values: s, Unit: unit, Prec: prec, Pass: s.Max <= bound, Note: note}
}

// ratioAtMost is a ratio of two measurements bounded above, judged on the median of its pairs.
func ratioAtMost(path string, bound float64, s spread, note string) goal {
	return goal{Path: path, Goal: fmt.Sprintf("≤ %g×", bound), Values: s, Unit: "×", Prec: 1, Pass: s.Median <= bound, Note: note}
}

func below(path, unit string, bound float64, s spread, prec int, note string) goal {
	return goal{Path: path, Goal: fmt.Sprintf("< %g%s", bound, unit), Values: s, Unit: unit, Prec: prec, Pass: s.Max < bound, Note: note}
}

func printGoals(w io.Writer, gs []goal) {
	_, _ = fmt.Fprintln(w, "| path | goal | measured (min/median/max) | result | notes |")
	_, _ = fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, g := range gs {
		res := "FAIL"
		if g.Pass {
			res = "PASS"
		}
		if math.IsNaN(g.Values.Median) {
			res = "n/a"
		}
		_, _ = fmt.Fprintf(w, "| %s | %s | %s%s | %s | %s |\n", g.Path, g.Goal, g.Values.format(g.Prec), g.Unit, res, g.Note)
	}
}

// routeStats is per-route latency percentiles of a mixed-load run.
type routeStats struct {
	Route         string
	N, Errors     int
	P50, P95, P99 time.Duration
	Codes         map[uint16]int
}

func summarize(route string, lat []time.Duration, errs int, codes map[uint16]int) routeStats {
	s := append([]time.Duration(nil), lat...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return routeStats{Route: route, N: len(s), Errors: errs, P50: percentile(s, 50), P95: percentile(s, 95), P99: percentile(s, 99), Codes: codes}
}

func (r routeStats) String() string {
	var codes []string
	for c, n := range r.Codes {
		codes = append(codes, fmt.Sprintf("%d×%d", c, n))
	}
	sort.Strings(codes)
	return fmt.Sprintf("%-16s n=%-6d p50=%-9s p95=%-9s p99=%-9s errors=%d codes=%s", r.Route, r.N, ms(r.P50), ms(r.P95), ms(r.P99),
		r.Errors, strings.Join(codes, ","))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

// msList shows durations (as float64 nanoseconds) in milliseconds: "3.1, 2.9, 4.0 ms".
func msList(ns []float64) string {
	parts := make([]string, len(ns))
	for i, v := range ns {
		parts[i] = fmt.Sprintf("%.1f", v/float64(time.Millisecond))
	}
	return strings.Join(parts, ", ") + " ms"
}
