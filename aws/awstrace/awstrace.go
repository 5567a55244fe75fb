// Package awstrace makes every AWS SDK call a client span of the trace its
// context carries: "DynamoDB.PutItem", "SQS.SendMessage", "S3.GetObject"…,
// with the resources the call names, the request id, and its outcome (the
// HTTP status and the service's error code when it fails: a 403 where a
// 404 was meant, a conditional write refused).
package awstrace

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/longrun/longrun/aws/awscalls"
	"github.com/longrun/longrun/tracing"
)

// Spans makes cfg's clients trace their calls. Without a tracer provider
// installed the spans are no-ops.
func Spans(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("longrunTrace", handle), middleware.After)
	})
}

func handle(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	service, op := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
	ctx, span := otel.Tracer("github.com/longrun/longrun/aws/awstrace").Start(ctx, service+"."+op,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
			attribute.String("rpc.system", "aws-api"), attribute.String("rpc.service", service),
			attribute.String("rpc.method", op), attribute.StringSlice("aws.resources", awscalls.Resources(in.Parameters))))
	out, md, err := next.HandleInitialize(ctx, in)
	if id, ok := awsmiddleware.GetRequestIDMetadata(md); ok {
		span.SetAttributes(attribute.String("aws.request_id", id))
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		span.SetAttributes(attribute.Int("http.response.status_code", re.HTTPStatusCode()))
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		span.SetAttributes(attribute.String("aws.error_code", ae.ErrorCode()))
	}
	tracing.End(span, err)
	return out, md, err
}
