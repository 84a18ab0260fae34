package metrics_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shuxinqian/server/adapters/metrics"
	"github.com/shuxinqian/server/ports"
)

// A handler that fails twice then succeeds, behind the Retry middleware (as in the consumer's
// router): three runs, two failures, two retries, one success.
func TestHandlerMiddlewareCountsFailuresAndRetries(t *testing.T) {
	m := metrics.New()
	pubsub := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
	router, err := message.NewRouter(message.RouterConfig{}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	router.AddMiddleware(middleware.Retry{MaxRetries: 3, InitialInterval: time.Millisecond}.Middleware)
	router.AddMiddleware(m.HandlerMiddleware)
	var runs atomic.Int32
	done := make(chan struct{})
	router.AddConsumerHandler("flaky", "topic", pubsub, func(*message.Message) error {
		if runs.Add(1) <= 2 {
			return errors.New("not yet")
		}
		close(done)
		return nil
	})
	m.DeclareHandlers("flaky", "idle")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = router.Run(ctx) }()
	<-router.Running()
	if err := pubsub.Publish("topic", message.NewMessage(watermill.NewUUID(), nil)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("handler never succeeded")
	}
	_ = router.Close()
	want := `
# HELP shuxinqian_event_handler_attempts_total Event handler runs, by handler and outcome (success or failure); every retry is one more run.
# TYPE shuxinqian_event_handler_attempts_total counter
shuxinqian_event_handler_attempts_total{handler="flaky",outcome="failure"} 2
shuxinqian_event_handler_attempts_total{handler="flaky",outcome="success"} 1
shuxinqian_event_handler_attempts_total{handler="idle",outcome="failure"} 0
shuxinqian_event_handler_attempts_total{handler="idle",outcome="success"} 0
# HELP shuxinqian_event_handler_retries_total Event handler runs that retried a message whose previous run failed, by handler.
# TYPE shuxinqian_event_handler_retries_total counter
shuxinqian_event_handler_retries_total{handler="flaky"} 2
shuxinqian_event_handler_retries_total{handler="idle"} 0
`
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(want),
		"shuxinqian_event_handler_attempts_total", "shuxinqian_event_handler_retries_total"); err != nil {
		t.Fatal(err)
	}
}

type failingSMS struct{ err error }

func (f failingSMS) Send(context.Context, ports.SMS) error { return f.err }

func TestSMSDecoratorCountsOutcomes(t *testing.T) {
	m := metrics.New()
	ok, bad := m.SMS(failingSMS{}), m.SMS(failingSMS{errors.New("provider down")})
	for range 3 {
		if err := ok.Send(context.Background(), ports.SMS{Template: "code"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := bad.Send(context.Background(), ports.SMS{Template: "welcome"}); err == nil {
		t.Fatal("the decorator swallowed the error")
	}
	want := `
# HELP shuxinqian_sms_sends_total Text messages handed to the SMS provider, by template and outcome (sent or failed).
# TYPE shuxinqian_sms_sends_total counter
shuxinqian_sms_sends_total{outcome="failed",template="welcome"} 1
shuxinqian_sms_sends_total{outcome="sent",template="code"} 3
`
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(want), "shuxinqian_sms_sends_total"); err != nil {
		t.Fatal(err)
	}
}

func TestObserveHTTPBoundsMethods(t *testing.T) {
	m := metrics.New()
	m.ObserveHTTP("GET", "/api/v1/me", 200, time.Millisecond)
	m.ObserveHTTP("BREW", "", 404, time.Millisecond)
	if n := testutil.CollectAndCount(m.Registry, "shuxinqian_http_requests_total"); n != 2 {
		t.Fatalf("%d series", n)
	}
	want := `
# HELP shuxinqian_http_requests_total HTTP requests answered, by method, route pattern and status code.
# TYPE shuxinqian_http_requests_total counter
shuxinqian_http_requests_total{method="GET",route="/api/v1/me",status="200"} 1
shuxinqian_http_requests_total{method="OTHER",route="unmatched",status="404"} 1
`
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(want), "shuxinqian_http_requests_total"); err != nil {
		t.Fatal(err)
	}
}
