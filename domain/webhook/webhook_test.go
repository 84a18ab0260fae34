package webhook_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/webhook"
)

func TestParseURL(t *testing.T) {
	for _, u := range []string{"https://example.com/hook", "https://example.com:8443/a?b=c", "https://[2001:4860::1]/x"} {
		if _, err := webhook.ParseURL(u, true); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	if _, err := webhook.ParseURL("http://localhost:8080/h", false); err != nil {
		t.Errorf("sandbox http: %v", err)
	}
	if _, err := webhook.ParseURL("http://example.com/h", true); kernel.CodeOf(err) != "webhook-url-not-https" {
		t.Errorf("production http: %v", err)
	}
	for _, u := range []string{"", "example.com", "//example.com/x", "ftp://example.com", "https://u:p@example.com/", "https://u@example.com/",
		"https://example.com/#x", "https:///path", "https://example.com:0/", "https://example.com:99999/", "javascript:alert(1)",
		"https://exa mple.com/", "https://example.com/\u202e", "https://example.com/" + strings.Repeat("a", 2100)} {
		if _, err := webhook.ParseURL(u, false); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
}

func TestParseEvents(t *testing.T) {
	got, err := webhook.ParseEvents([]string{"order.paid", "order.paid", "sign_flow.completed"})
	if err != nil || len(got) != 2 {
		t.Fatalf("%v %v", got, err)
	}
	if got, err := webhook.ParseEvents([]string{"*"}); err != nil || got[0] != "*" {
		t.Fatalf("all: %v %v", got, err)
	}
	for _, in := range [][]string{nil, {}, {"order.refunded"}, {"*", "order.paid"}, {""}} {
		if _, err := webhook.ParseEvents(in); kernel.CodeOf(err) != "webhook-events-invalid" {
			t.Errorf("%v: %v", in, err)
		}
	}
}

func endpoint(t *testing.T, events ...string) *webhook.Endpoint {
	t.Helper()
	ep, err := webhook.NewEndpoint("ep1", "e1", "https://example.com/h", events, "whsec_"+strings.Repeat("k", 40), "u1", true, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

func TestWants(t *testing.T) {
	ep := endpoint(t, "order.paid")
	if !ep.Wants(webhook.OrderPaid) || ep.Wants(webhook.OrderPlaced) {
		t.Fatal("wants")
	}
	all := endpoint(t, "*")
	if !all.Wants(webhook.SignFlowCompleted) {
		t.Fatal("* wants everything")
	}
	all.Delete(time.Now())
	if all.Wants(webhook.SignFlowCompleted) {
		t.Fatal("a deleted endpoint wants events")
	}
}

// The schedule: 30s doubling to 4h, ±20% jitter, for at least 24 hours after the event.
func TestRetrySchedule(t *testing.T) {
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute,
		32 * time.Minute, 64 * time.Minute, 128 * time.Minute, 4 * time.Hour, 4 * time.Hour}
	for i, w := range want {
		if got := webhook.RetryDelay(i + 1); got != w {
			t.Errorf("RetryDelay(%d) = %s, want %s", i+1, got, w)
		}
	}
	if webhook.Jittered(100*time.Second, 0) != 80*time.Second || webhook.Jittered(100*time.Second, 40) != 120*time.Second ||
		webhook.Jittered(100*time.Second, 99) != 120*time.Second {
		t.Fatal("jitter bounds")
	}
	for _, jitter := range []int{0, 20, 40} {
		start := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
		d, err := webhook.NewDelivery("d1", endpoint(t, "*"), "ev1", webhook.OrderPaid, []byte("{}"), start)
		if err != nil {
			t.Fatal(err)
		}
		now := start
		for d.Status() == webhook.StatusPending {
			if !d.Due(d.NextAttemptAt()) {
				t.Fatal("not due at its time")
			}
			now = d.NextAttemptAt()
			d.Record(webhook.Attempt{At: now, StatusCode: 500}, jitter)
			if d.Attempts() > 100 {
				t.Fatal("never fails")
			}
		}
		if d.Status() != webhook.StatusFailed || now.Sub(start) < 24*time.Hour || now.Sub(start) > 30*time.Hour {
			t.Fatalf("jitter %d: %s after %d attempts, last at +%s", jitter, d.Status(), d.Attempts(), now.Sub(start))
		}
		// A redelivery of a failed delivery gets one more try.
		if err := d.Redeliver(now.Add(time.Hour)); err != nil || !d.Due(now.Add(time.Hour)) {
			t.Fatal("redeliver")
		}
		a := d.Record(webhook.Attempt{At: now.Add(time.Hour), StatusCode: 204}, jitter)
		if d.Status() != webhook.StatusDelivered || a.N != d.Attempts() || d.DeliveredAt().IsZero() {
			t.Fatalf("after redelivery %s", d.Status())
		}
	}
}

func TestCancelled(t *testing.T) {
	d, _ := webhook.NewDelivery("d1", endpoint(t, "*"), "ev1", webhook.OrderPaid, []byte("{}"), time.Now())
	d.Cancel(time.Now())
	if d.Status() != webhook.StatusCancelled || d.Redeliver(time.Now()) == nil {
		t.Fatal("cancel")
	}
}

func TestSignVerify(t *testing.T) {
	secret, body, now := "whsec_test", []byte(`{"id":"1"}`), time.Unix(1_800_000_000, 0)
	sig := webhook.Sign(secret, now.Unix(), body)
	ts := strconv.FormatInt(now.Unix(), 10)
	if !strings.HasPrefix(sig, "v1=") || len(sig) != 3+64 || !webhook.Verify(secret, ts, sig, body, now, 5*time.Minute) {
		t.Fatal(sig)
	}
	if webhook.Verify(secret, ts, sig, body, now.Add(6*time.Minute), 5*time.Minute) {
		t.Fatal("old timestamp accepted")
	}
	if webhook.Verify(secret, ts, sig, []byte(`{"id":"2"}`), now, 5*time.Minute) || webhook.Verify("other", ts, sig, body, now, 5*time.Minute) {
		t.Fatal("tampered accepted")
	}
	if !webhook.Verify(secret, ts, "v1=00,"+sig, body, now, 5*time.Minute) {
		t.Fatal("a list of signatures")
	}
}
