// Package tracing is the OpenTelemetry wiring: the OTLP/HTTP exporter (installed only when an
// endpoint is configured; otherwise the global providers stay no-ops), and the propagation of the
// trace context through event messages, so that a handler's span continues the trace of the
// request that recorded the event: HTTP → SQL → outbox → broker → handler → SQL.
package tracing

import (
	"context"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/extra/bunotel"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName names the tracer of this package.
const ScopeName = "github.com/shuxinqian/server/adapters/tracing"

// Config configures the exporter. The OTEL_EXPORTER_OTLP_* environment variables the exporter
// reads itself (headers, timeout, certificate, OTEL_EXPORTER_OTLP_INSECURE) apply too.
type Config struct {
	// Endpoint is the OTLP/HTTP base URL (http://collector:4318); empty means tracing is off.
	Endpoint string
	// ServiceName is the service.name resource attribute.
	ServiceName string
	// SampleRatio is the fraction of new traces sampled (parent-based), 0 < r ≤ 1.
	SampleRatio float64
}

// Propagator is what carries the trace context in HTTP headers and message metadata.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// Setup installs the global tracer provider and propagator when cfg.Endpoint is set and returns
// the function that flushes and stops it; with no endpoint it changes nothing.
func Setup(ctx context.Context, cfg Config) (shutdown func(context.Context) error, err error) {
	if cfg.Endpoint == "" {
		return func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(cfg.Endpoint+"/v1/traces"))
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attribute.String("service.name", cfg.ServiceName)))
	if err != nil {
		return nil, err
	}
	ratio := cfg.SampleRatio
	if ratio <= 0 || ratio > 1 {
		ratio = 1
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(5*time.Second)), sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(Propagator())
	return tp.Shutdown, nil
}

// SQLHook is the bun query hook that makes every SQL statement a client span of the current
// trace. The statement is recorded without its arguments (no personal data in spans).
func SQLHook() bun.QueryHook {
	return bunotel.NewQueryHook(bunotel.WithFormattedQueries(false), bunotel.WithDBName("shuxinqian"))
}

// Inject writes the trace context of ctx into the message metadata (W3C traceparent keys).
func Inject(ctx context.Context, msg *message.Message) {
	otel.GetTextMapPropagator().Inject(ctx, propagation.MapCarrier(msg.Metadata))
}

// Extract returns ctx with the remote span context carried by the message metadata.
func Extract(ctx context.Context, msg *message.Message) context.Context {
	return otel.GetTextMapPropagator().Extract(ctx, propagation.MapCarrier(msg.Metadata))
}

// HandlerMiddleware is a watermill router middleware: each handler run gets a consumer span,
// child of the span that wrote the event, and the handler sees it in msg.Context() (so its SQL
// spans nest under it).
func HandlerMiddleware(h message.HandlerFunc) message.HandlerFunc {
	tracer := otel.Tracer(ScopeName)
	return func(msg *message.Message) ([]*message.Message, error) {
		name := message.HandlerNameFromCtx(msg.Context())
		ctx := Extract(msg.Context(), msg)
		ctx, span := tracer.Start(ctx, "handle "+name, trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(attribute.String("messaging.system", "watermill"),
				attribute.String("messaging.destination.name", message.SubscribeTopicFromCtx(msg.Context())),
				attribute.String("messaging.message.id", msg.UUID), attribute.String("messaging.consumer.group.name", name)))
		defer span.End()
		orig := msg.Context()
		msg.SetContext(ctx)
		out, err := h(msg)
		msg.SetContext(orig)
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "handler failed")
		}
		return out, err
	}
}
