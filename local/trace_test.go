package local_test

import (
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/internal/testutil"
	"github.com/longrun/longrun/web"
)

// traced installs a tracer provider that keeps every span, for one test.
func traced(t *testing.T) *tracetest.InMemoryExporter {
	exp := tracetest.NewInMemoryExporter()
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)))
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	return exp
}

// spansOf are the spans of the trace that span name begins, by name.
func spansOf(exp *tracetest.InMemoryExporter, root string) map[string][]tracetest.SpanStub {
	out := map[string][]tracetest.SpanStub{}
	spans := exp.GetSpans()
	for _, s := range spans {
		if s.Name != root {
			continue
		}
		for _, o := range spans {
			if o.SpanContext.TraceID() == s.SpanContext.TraceID() {
				out[o.Name] = append(out[o.Name], o)
			}
		}
	}
	return out
}

// One version is one trace: the request that made it, its render, and
// what the notifier sent of it.
func TestAVersionIsOneTraceFromTheRequestToThePush(t *testing.T) {
	exp := traced(t)
	_, url := start(t, newRenderer())
	c := testutil.NewClient(t, url)
	v := c.Create(map[string]any{"name": "traced", "params": small(-0.21, 0.61)})
	c.Await(v.ID, 10*time.Second, "done", testutil.Done)
	var got map[string][]tracetest.SpanStub
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		got = spansOf(exp, "POST /api/configurations")
		if done(got["notify status"]) {
			break
		}
	}
	if len(got["job whole"]) != 1 || !done(got["notify status"]) || len(got["push"]) == 0 {
		t.Fatalf("the version's trace holds %v; want the request, one job, the notifier's spans and its pushes", names(got))
	}
}

func done(notified []tracetest.SpanStub) bool {
	for _, s := range notified {
		for _, a := range s.Attributes {
			if a.Key == "longrun.status" && a.Value.AsString() == string(longrun.StatusDone) {
				return true
			}
		}
	}
	return false
}

func names(m map[string][]tracetest.SpanStub) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = len(v)
	}
	return out
}

// A job that fails shows as an error span, each delivery its own, all in
// the version's trace.
func TestAFailedJobIsAnErrorSpanEachTry(t *testing.T) {
	exp := traced(t)
	r := newRenderer()
	r.fail[0.77] = errors.New("broken on purpose")
	_, url := start(t, r)
	c := testutil.NewClient(t, url)
	v := c.Create(map[string]any{"name": "failing", "params": small(0.77, 0.1)})
	c.Await(v.ID, 20*time.Second, "failed", func(v web.View) bool { return v.Status == longrun.StatusFailed })
	jobs := spansOf(exp, "POST /api/configurations")["job whole"]
	if len(jobs) != 3 { // MaxReceives of the tests' systems
		t.Fatalf("%d job spans, want one for each of the 3 deliveries", len(jobs))
	}
	for _, s := range jobs {
		if s.Status.Code != codes.Error || len(s.Events) == 0 {
			t.Errorf("a failed delivery's span: status %v, events %v", s.Status, s.Events)
		}
	}
}
