package awsenv

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"go.opentelemetry.io/otel"

	"github.com/longrun/longrun/aws/awstrace"
	"github.com/longrun/longrun/aws/otlpsign"
	"github.com/longrun/longrun/tracing/setup"
)

// tracing installs the tracer provider the function's OTEL_* variables
// ask for (none by default). Exports to X-Ray's OTLP endpoint are signed
// with the function's role; then every SDK call (store, queue, blob, mail,
// push) is a span of the invocation's trace, with its outcome.
func tracing(ctx context.Context, getenv func(string) string, function string, cfg *aws.Config) error {
	var opts []setup.Option
	endpoint := cmp.Or(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), getenv("OTEL_EXPORTER_OTLP_ENDPOINT"))
	if otlpsign.IsXRay(endpoint) {
		opts = append(opts, setup.WithHTTPClient(otlpsign.Client(*cfg)))
	}
	traces, err := setup.Tracing(ctx, getenv, "longrun-"+function, opts...)
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	if traces.On() {
		awstrace.Spans(cfg)
	}
	return nil
}

// Start runs handler (any handler lambda.Start takes) for the function's
// invocations, exporting each one's spans before it returns: Lambda may
// freeze the sandbox as soon as the answer is sent, and a span held over
// would be exported late or never.
func Start(handler any) {
	lambda.Start(flushing{lambda.NewHandler(handler)})
}

type flushing struct{ lambda.Handler }

// flushTimeout bounds the export at the end of an invocation.
const flushTimeout = 3 * time.Second

func (f flushing) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	out, err := f.Handler.Invoke(ctx, payload)
	if tp, ok := otel.GetTracerProvider().(interface{ ForceFlush(context.Context) error }); ok {
		// Bounded: an endpoint that hangs costs an invocation a few
		// seconds, never its whole timeout.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
		defer cancel()
		if ferr := tp.ForceFlush(fctx); ferr != nil {
			Logger().WarnContext(ctx, "tracing: the invocation's spans were not exported", "err", ferr)
		}
	}
	return out, err
}
