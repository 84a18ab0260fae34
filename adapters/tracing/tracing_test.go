package tracing_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/shuxinqian/server/adapters/tracing"
)

func TestInjectExtractThroughMessageMetadata(t *testing.T) {
	otel.SetTextMapPropagator(propagation.TraceContext{})
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("test").Start(context.Background(), "request")
	defer span.End()
	msg := message.NewMessage(watermill.NewULID(), []byte("{}"))
	msg.Metadata.Set("name", "user.Registered")
	tracing.Inject(ctx, msg)
	if msg.Metadata.Get("traceparent") == "" || msg.Metadata.Get("name") != "user.Registered" {
		t.Fatalf("metadata %v", msg.Metadata)
	}
	got := trace.SpanContextFromContext(tracing.Extract(context.Background(), msg))
	if got.TraceID() != span.SpanContext().TraceID() || got.SpanID() != span.SpanContext().SpanID() || !got.IsRemote() {
		t.Fatalf("extracted %v, want the span of %v", got, span.SpanContext())
	}
	// No trace in the context: nothing is written.
	plain := message.NewMessage(watermill.NewULID(), nil)
	tracing.Inject(context.Background(), plain)
	if len(plain.Metadata) != 0 {
		t.Fatalf("metadata without a trace: %v", plain.Metadata)
	}
}

func TestSetupOffChangesNothing(t *testing.T) {
	before := otel.GetTracerProvider()
	shutdown, err := tracing.Setup(context.Background(), tracing.Config{})
	if err != nil || shutdown(context.Background()) != nil {
		t.Fatal(err)
	}
	if otel.GetTracerProvider() != before {
		t.Fatal("tracing off replaced the global tracer provider")
	}
}

// With an endpoint, spans are exported over OTLP/HTTP to <endpoint>/v1/traces.
func TestSetupExportsOverOTLPHTTP(t *testing.T) {
	var posts atomic.Int32
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" && len(b) > 0 && r.Header.Get("Content-Type") == "application/x-protobuf" {
			posts.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()
	shutdown, err := tracing.Setup(context.Background(), tracing.Config{Endpoint: collector.URL, ServiceName: "shuxinqian-test", SampleRatio: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, span := otel.Tracer("test").Start(context.Background(), "work")
	span.End()
	if err := shutdown(context.Background()); err != nil { // flushes the batch
		t.Fatal(err)
	}
	if posts.Load() == 0 {
		t.Fatal("the collector received no spans")
	}
}
