// Package setup installs the OpenTelemetry tracer provider the standard
// environment variables ask for: OTEL_TRACES_EXPORTER (none by default;
// console writes spans as JSON lines to stdout; otlp sends them to
// OTEL_EXPORTER_OTLP_ENDPOINT), OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER and
// its argument.
package setup

import (
	"context"
	"fmt"
	"net/http"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
)

// An Option adds to what Tracing installs.
type Option func(*options)

type options struct {
	processors []sdktrace.SpanProcessor
	client     *http.Client
}

// WithProcessor adds a span processor (the local run's timeline): spans
// are recorded for it even when nothing is exported.
func WithProcessor(p sdktrace.SpanProcessor) Option {
	return func(o *options) { o.processors = append(o.processors, p) }
}

// WithHTTPClient sends OTLP exports through c (one that signs them, for
// X-Ray's OTLP endpoint).
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) { o.client = c }
}

// Traces is what Tracing installed: Flush exports the spans held (a Lambda
// function, before its invocation returns and the sandbox freezes),
// Shutdown flushes and stops. Both do nothing when nothing was installed.
type Traces struct{ tp *sdktrace.TracerProvider }

// Flush exports the spans ended so far.
func (t Traces) Flush(ctx context.Context) error {
	if t.tp == nil {
		return nil
	}
	return t.tp.ForceFlush(ctx)
}

// Shutdown flushes the spans held and stops the provider.
func (t Traces) Shutdown(ctx context.Context) error {
	if t.tp == nil {
		return nil
	}
	return t.tp.Shutdown(ctx)
}

// On reports whether spans are recorded at all.
func (t Traces) On() bool { return t.tp != nil }

// Tracing installs the tracer provider the environment asks for, with the
// options given. With OTEL_TRACES_EXPORTER unset or none and no processor
// it installs nothing: spans cost a no-op.
func Tracing(ctx context.Context, getenv func(string) string, service string, opt ...Option) (Traces, error) {
	otel.SetTextMapPropagator(propagation.TraceContext{})
	var o options
	for _, f := range opt {
		f(&o)
	}
	opts := []sdktrace.TracerProviderOption{}
	for _, p := range o.processors {
		opts = append(opts, sdktrace.WithSpanProcessor(p))
	}
	var exp sdktrace.SpanExporter
	var err error
	switch name := getenv("OTEL_TRACES_EXPORTER"); name {
	case "", "none":
		if len(o.processors) == 0 {
			return Traces{}, nil
		}
	case "console":
		exp, err = stdouttrace.New() // one JSON object a line
	case "otlp":
		// OTLP over HTTP (protobuf), to OTEL_EXPORTER_OTLP_ENDPOINT or
		// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (default localhost:4318): what
		// the OpenTelemetry collector, Jaeger and X-Ray's OTLP endpoint take.
		if p := getenv("OTEL_EXPORTER_OTLP_PROTOCOL"); p != "" && p != "http/protobuf" {
			return Traces{}, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL %q: only http/protobuf is built in", p)
		}
		var eo []otlptracehttp.Option
		if o.client != nil {
			eo = append(eo, otlptracehttp.WithHTTPClient(o.client))
		}
		exp, err = otlptracehttp.New(ctx, eo...)
	default:
		return Traces{}, fmt.Errorf("OTEL_TRACES_EXPORTER %q: want none, console or otlp", name)
	}
	if err != nil {
		return Traces{}, err
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName(service)))
	if err != nil {
		return Traces{}, err
	}
	if getenv("OTEL_SERVICE_NAME") != "" { // the environment's name wins
		res = resource.Default()
	}
	if exp != nil {
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(append(opts, sdktrace.WithResource(res))...)
	otel.SetTracerProvider(tp)
	return Traces{tp}, nil
}
