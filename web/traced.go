package web

import (
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
)

// Traced makes every request to h a span, continuing a traceparent the
// request carries; a request that makes a version begins the version's
// trace (Service.TraceOf), which its render and notifications continue.
// Without a tracer provider installed, the spans are no-ops.
func Traced(h http.Handler) http.Handler {
	return otelhttp.NewHandler(h, "longrun", otelhttp.WithSpanNameFormatter(
		func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }))
}
