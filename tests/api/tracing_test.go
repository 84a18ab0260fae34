package api

import (
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/shuxinqian/server/adapters/tracing"
)

// TestTraceCarriedThroughTheOutbox: a login that registers a user records user.Registered in
// the outbox; the welcome SMS handler's span belongs to the same trace as the HTTP request, and
// the SQL statements of both are spans of that trace.
func TestTraceCarriedThroughTheOutbox(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	// Installed before the server is wired (the instrumentation takes its tracers then), the
	// way tracing.Setup installs the OTLP exporter when OTEL_EXPORTER_OTLP_ENDPOINT is set.
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	otel.SetTextMapPropagator(tracing.Propagator())
	s := start(t, "")
	const phone = "13700137009"
	s.login(phone)

	var httpSpan sdktrace.ReadOnlySpan
	s.eventually("the welcome handler span", func() bool {
		httpSpan = nil
		for _, sp := range rec.Ended() {
			if sp.Name() == "POST /api/v1/sessions" {
				httpSpan = sp
			}
		}
		if httpSpan == nil {
			return false
		}
		for _, sp := range rec.Ended() {
			if sp.Name() == "handle welcome_sms" && sp.SpanContext().TraceID() == httpSpan.SpanContext().TraceID() {
				return true
			}
		}
		return false
	})
	trace1 := httpSpan.SpanContext().TraceID()
	var handler sdktrace.ReadOnlySpan
	sqlInRequest, sqlInHandler := 0, 0
	spans := rec.Ended()
	for _, sp := range spans {
		if sp.Name() == "handle welcome_sms" && sp.SpanContext().TraceID() == trace1 {
			handler = sp
		}
	}
	for _, sp := range spans {
		if sp.SpanContext().TraceID() != trace1 || sp.SpanKind() != trace.SpanKindClient {
			continue
		}
		switch sp.Parent().SpanID() {
		case httpSpan.SpanContext().SpanID():
			sqlInRequest++
		case handler.SpanContext().SpanID():
			sqlInHandler++
		}
	}
	if handler.SpanKind() != trace.SpanKindConsumer || !handler.Parent().IsRemote() {
		t.Errorf("handler span kind %v, remote parent %v", handler.SpanKind(), handler.Parent().IsRemote())
	}
	if sqlInRequest == 0 || sqlInHandler == 0 {
		t.Errorf("SQL spans: %d under the request, %d under the handler; want both > 0", sqlInRequest, sqlInHandler)
	}
	for _, a := range httpSpan.Attributes() {
		if a.Key == "http.route" && a.Value.AsString() != "/api/v1/sessions" {
			t.Errorf("http.route = %q", a.Value.AsString())
		}
	}
}
