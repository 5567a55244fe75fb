package awstrace

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestACallIsASpanWithItsOutcome: a GetObject answered 403 (S3's answer
// for a missing key without s3:ListBucket) is a client span of the
// caller's trace, named for the operation, with the bucket and key, the
// status and the error code.
func TestACallIsASpanWithItsOutcome(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-amz-request-id", "REQ1")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`))
	}))
	defer srv.Close()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), RetryMaxAttempts: 1}
	Spans(&cfg)
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(srv.URL); o.UsePathStyle = true })
	ctx, parent := tp.Tracer("test").Start(context.Background(), "the job")
	_, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("images"), Key: aws.String("counts/abc")})
	parent.End()
	if err == nil {
		t.Fatal("GetObject answered 403 returned no error")
	}
	var call sdktrace.ReadOnlySpan
	for _, s := range exp.GetSpans().Snapshots() {
		if s.Name() == "S3.GetObject" {
			call = s
		}
	}
	if call == nil {
		t.Fatalf("no S3.GetObject span among %d", len(exp.GetSpans()))
	}
	if call.Parent().SpanID() != parent.SpanContext().SpanID() || call.SpanContext().TraceID() != parent.SpanContext().TraceID() {
		t.Errorf("the call's span is not a child of the caller's")
	}
	if call.Status().Code != codes.Error {
		t.Errorf("status %v, want an error", call.Status())
	}
	attrs := map[attribute.Key]attribute.Value{}
	for _, a := range call.Attributes() {
		attrs[a.Key] = a.Value
	}
	if attrs["http.response.status_code"].AsInt64() != 403 || attrs["aws.error_code"].AsString() != "AccessDenied" || attrs["aws.request_id"].AsString() != "REQ1" {
		t.Errorf("attributes %v: want status 403, AccessDenied and the request id", attrs)
	}
	if got := attrs["aws.resources"].AsStringSlice(); len(got) == 0 {
		t.Errorf("no resources named: %v", got)
	}
}
