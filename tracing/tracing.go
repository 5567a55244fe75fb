// Package tracing carries a version's OpenTelemetry trace between the
// processes that work on it: a version of a configuration is one trace,
// whose context travels as a W3C traceparent on the configuration's record
// and its jobs (Configuration.Trace, Job.Trace). It uses only the OTel API:
// without a tracer provider (package setup installs one), spans are no-ops.
package tracing

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Parent returns ctx carrying the span context of traceparent, if it
// names one, as the parent of the spans started from it.
func Parent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}

// Of returns the traceparent of ctx's span, or "" when it has none.
func Of(ctx context.Context) string {
	if !InTrace(ctx) {
		return ""
	}
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, c)
	return c["traceparent"]
}

// End ends span with err's outcome.
func End(span trace.Span, err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// Call starts a client span for one call to a store, a queue or a blob
// store, named name, when ctx is in a trace (a poll outside any version
// starts none); the function it returns ends it with the call's outcome.
func Call(ctx context.Context, name string, attrs ...attribute.KeyValue) func(error) {
	if !InTrace(ctx) {
		return func(error) {}
	}
	_, span := otel.Tracer("github.com/longrun/longrun/tracing").Start(ctx, name,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return func(err error) { End(span, err) }
}

// InTrace reports whether ctx carries a span: whether a Call would start
// one (so a name costly to make need not be made).
func InTrace(ctx context.Context) bool { return trace.SpanContextFromContext(ctx).IsValid() }
