package api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// scrape reads GET /metrics of the main listener.
func (s *server) scrape() string {
	s.t.Helper()
	res, err := http.Get(s.base + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		s.t.Fatalf("/metrics answered %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	return string(b)
}

// scrapes reads the metrics of every process behind s: the one server, or in spread mode each
// of the three runtimes (metrics are per process by design: Prometheus scrapes every instance
// and sums), after checking that GET /metrics answers through the proxy.
func (s *server) scrapes() []string {
	s.t.Helper()
	text := s.scrape()
	if s.spread == nil {
		return []string{text}
	}
	var out []string
	for _, rt := range s.spread.runtimes {
		rec := httptest.NewRecorder()
		rt.Ops.Metrics.Handler(rt.Log).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		out = append(out, rec.Body.String())
	}
	return out
}

// sampleSum is the sum of sample over texts (ok when any exposes the series).
func sampleSum(texts []string, name string, labels ...string) (sum float64, ok bool) {
	for _, text := range texts {
		if v, found := sample(text, name, labels...); found {
			sum, ok = sum+v, true
		}
	}
	return sum, ok
}

// sample finds the value of the series name{labels…} (all the given label pairs, in any
// order); ok is false when no such series is exposed.
func sample(text, name string, labels ...string) (v float64, ok bool) {
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		head, val, found := strings.Cut(line, "} ")
		if !found {
			head, val, _ = strings.Cut(line, " ")
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if !strings.Contains(head, labels[i]+`="`+labels[i+1]+`"`) {
				match = false
				break
			}
		}
		if match {
			f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
			return f, err == nil
		}
	}
	return 0, false
}

func TestMetricsAfterTraffic(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		const phone = "13700137000"
		token := s.login(phone) // SMS code, registration, events for the audit and welcome handlers
		s.do("GET", "/api/v1/me", token, nil).expect(t, 200, "")
		s.do("GET", "/api/v1/me", "", nil).expect(t, 401, "")
		// An id in the path: the series must carry the pattern, never the id.
		s.do("GET", "/api/v1/me/signatures/01JSECRETIDNOTALABEL/image", token, nil)
		s.do("GET", "/api/v1/no/such/route/13700137000", "", nil).expect(t, 404, "")

		// A dead letter and a payment anomaly, written through the same ports the consumers use.
		poison, err := s.rt.Store.NewPoisonPublisher()
		if err != nil {
			t.Fatal(err)
		}
		if err := poison.Publish(sqlstore.PoisonTopic, message.NewMessage(watermill.NewULID(), []byte(`{}`))); err != nil {
			t.Fatal(err)
		}
		if err := s.rt.Store.Do(context.Background(), func(ctx context.Context, tx ports.Tx) error {
			return tx.Anomalies().Record(ctx, ports.PaymentAnomaly{ID: "anomaly-1", Kind: "amount_mismatch", OutTradeNo: "T1",
				TransactionID: "4200000001", Amount: kernel.Fen(1), At: s.clock.Now()})
		}); err != nil {
			t.Fatal(err)
		}

		var texts []string
		s.eventually("the welcome SMS and audit handlers to succeed", func() bool {
			texts = s.scrapes()
			v1, _ := sampleSum(texts, "shuxinqian_event_handler_attempts_total", "handler", "welcome_sms", "outcome", "success")
			v2, _ := sampleSum(texts, "shuxinqian_event_handler_attempts_total", "handler", "audit.user_registered", "outcome", "success")
			return v1 >= 1 && v2 >= 1
		})
		want := []struct {
			name   string
			labels []string
			min    float64
		}{
			{"shuxinqian_http_requests_total", []string{"method", "POST", "route", "/api/v1/sms-codes", "status", "202"}, 1},
			{"shuxinqian_http_requests_total", []string{"method", "POST", "route", "/api/v1/sessions", "status", "201"}, 1},
			{"shuxinqian_http_requests_total", []string{"method", "GET", "route", "/api/v1/me", "status", "200"}, 1},
			{"shuxinqian_http_requests_total", []string{"method", "GET", "route", "/api/v1/me", "status", "401"}, 1},
			{"shuxinqian_http_requests_total", []string{"method", "GET", "route", "/api/v1/me/signatures/{signature_id}/image"}, 1},
			{"shuxinqian_http_requests_total", []string{"route", "unmatched", "status", "404"}, 1},
			{"shuxinqian_http_request_duration_seconds_count", []string{"method", "GET", "route", "/api/v1/me"}, 2},
			{"shuxinqian_http_request_duration_seconds_bucket", []string{"route", "/api/v1/me", "le", "+Inf"}, 2},
			{"shuxinqian_event_handler_attempts_total", []string{"handler", "welcome_sms", "outcome", "success"}, 1},
			{"shuxinqian_event_handler_attempts_total", []string{"handler", "audit.user_registered", "outcome", "success"}, 1},
			{"shuxinqian_event_handler_duration_seconds_count", []string{"handler", "welcome_sms"}, 1},
			{"shuxinqian_sms_sends_total", []string{"template", "code", "outcome", "sent"}, 1},
			{"shuxinqian_sms_sends_total", []string{"template", "welcome", "outcome", "sent"}, 1},
			{"shuxinqian_outbox_backlog_messages", []string{"table", "watermill_outbox"}, 0},
			{"shuxinqian_outbox_oldest_message_age_seconds", []string{"table", "watermill_outbox"}, 0},
			{"shuxinqian_dead_letter_messages", []string{"table", "watermill_poison"}, 1},
			{"shuxinqian_payment_anomalies", []string{"kind", "amount_mismatch"}, 1},
			{"shuxinqian_database_scrape_success", nil, 1},
			{"go_goroutines", nil, 1},
		}
		for _, w := range want {
			v, ok := sampleSum(texts, w.name, w.labels...)
			if !ok || v < w.min {
				t.Errorf("%s%v = %v (exposed %v), want ≥ %v", w.name, w.labels, v, ok, w.min)
			}
		}
		// Failures and retries of every handler are exposed from the start (at zero here).
		for _, h := range []string{"welcome_sms", "grant_order", "issue_invoice"} {
			if _, ok := sampleSum(texts, "shuxinqian_event_handler_attempts_total", "handler", h, "outcome", "failure"); !ok {
				t.Errorf("no failure series for %s", h)
			}
			if _, ok := sampleSum(texts, "shuxinqian_event_handler_retries_total", "handler", h); !ok {
				t.Errorf("no retries series for %s", h)
			}
		}
		// No raw path, id or phone in any label.
		for _, leak := range []string{"01JSECRETIDNOTALABEL", "13700137000", "137****7000", "/no/such/route"} {
			if text := strings.Join(texts, "\n"); strings.Contains(text, leak) {
				t.Errorf("/metrics exposes %q", leak)
			}
		}
	})
}

func TestMetricsOutboxBacklogAndAge(t *testing.T) {
	// No consumers: what the requests write stays in the outbox, and its age shows.
	s := startWith(t, map[string]string{"CONSUMERS": "false"})
	s.requestCode("13700137001", "login", "").expect(t, 202, "")
	s.do("POST", "/api/v1/sessions", "", map[string]string{"phone": "13700137001", "code": s.lastCode("13700137001")}).expect(t, 201, "")
	text := s.scrape()
	if v, _ := sample(text, "shuxinqian_outbox_backlog_messages", "table", "watermill_outbox"); v < 1 {
		t.Fatalf("backlog %v, want ≥ 1:\n%s", v, grepLines(text, "shuxinqian_outbox"))
	}
	// The age is measured on the database clock: it grows while nothing consumes.
	s.eventually("the oldest message to be a second old", func() bool {
		text = s.scrape()
		v, _ := sample(text, "shuxinqian_outbox_oldest_message_age_seconds", "table", "watermill_outbox")
		return v >= 1
	})
}

func grepLines(text, prefix string) string {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(prefix) + `.*$`)
	return strings.Join(re.FindAllString(text, -1), "\n")
}

func TestAdminAndMetricsListeners(t *testing.T) {
	s := startWith(t, map[string]string{"ADMIN_ADDR": "127.0.0.1:0", "METRICS_ADDR": "127.0.0.1:0"})
	admin, metricsAddr := s.rt.Ops.ListenerAddr("admin"), s.rt.Ops.ListenerAddr("metrics")
	if admin == "" || metricsAddr == "" {
		t.Fatalf("listeners not started: admin %q metrics %q", admin, metricsAddr)
	}
	get := func(url string) (int, string) {
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = res.Body.Close() }()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if st, body := get("http://" + admin + "/debug/pprof/"); st != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("pprof index: %d", st)
	}
	if st, body := get("http://" + admin + "/debug/pprof/goroutine?debug=1"); st != 200 || !strings.Contains(body, "goroutine profile") {
		t.Fatalf("goroutine profile: %d", st)
	}
	if st, body := get("http://" + metricsAddr + "/metrics"); st != 200 || !strings.Contains(body, "shuxinqian_http_requests_total") {
		t.Fatalf("metrics listener: %d", st)
	}
	if st, _ := get("http://" + admin + "/metrics"); st != 200 {
		t.Fatalf("admin /metrics: %d", st)
	}
	// Neither pprof nor (with METRICS_ADDR set) /metrics is on the public listener.
	if st, _ := get(s.base + "/debug/pprof/"); st != 404 {
		t.Fatalf("pprof on the main listener: %d", st)
	}
	if st, _ := get(s.base + "/metrics"); st != 404 {
		t.Fatalf("/metrics on the main listener with METRICS_ADDR set: %d", st)
	}
}
