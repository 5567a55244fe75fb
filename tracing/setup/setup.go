// Package setup installs the OpenTelemetry tracer provider the standard
// environment variables ask for: OTEL_TRACES_EXPORTER (none by default;
// console writes spans as JSON lines to stdout; otlp sends them to
// OTEL_EXPORTER_OTLP_ENDPOINT), OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER and
// its argument.
package setup

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
)

// Tracing installs the tracer provider the environment asks for, with the
// processors given (the local run's timeline), and returns what flushes and
// stops it. With OTEL_TRACES_EXPORTER unset or none and no processor it
// installs nothing: spans cost a no-op.
func Tracing(ctx context.Context, getenv func(string) string, service string, processors ...sdktrace.SpanProcessor) (func(context.Context) error, error) {
	otel.SetTextMapPropagator(propagation.TraceContext{})
	opts := []sdktrace.TracerProviderOption{}
	for _, p := range processors {
		opts = append(opts, sdktrace.WithSpanProcessor(p))
	}
	var exp sdktrace.SpanExporter
	var err error
	switch name := getenv("OTEL_TRACES_EXPORTER"); name {
	case "", "none":
		if len(processors) == 0 {
			return func(context.Context) error { return nil }, nil
		}
	case "console":
		exp, err = stdouttrace.New() // one JSON object a line
	case "otlp":
		// OTLP over HTTP (protobuf), to OTEL_EXPORTER_OTLP_ENDPOINT or
		// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (default localhost:4318): what
		// the OpenTelemetry collector, Jaeger and the ADOT collector take.
		if p := getenv("OTEL_EXPORTER_OTLP_PROTOCOL"); p != "" && p != "http/protobuf" {
			return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL %q: only http/protobuf is built in", p)
		}
		exp, err = otlptracehttp.New(ctx)
	default:
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER %q: want none, console or otlp", name)
	}
	if err != nil {
		return nil, err
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName(service)))
	if err != nil {
		return nil, err
	}
	if getenv("OTEL_SERVICE_NAME") != "" { // the environment's name wins
		res = resource.Default()
	}
	if exp != nil {
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(append(opts, sdktrace.WithResource(res))...)
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}
