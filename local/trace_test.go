package local_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/internal/testutil"
	"github.com/longrun/longrun/local"
	"github.com/longrun/longrun/notify"
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
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer backend.Close()
	_, url := start(t, newRenderer(), func(c *local.Config) {
		c.Webhooks = notify.Webhooks{Endpoints: []string{backend.URL}, Key: []byte("a-webhook-key-of-32-bytes-012345")}
	})
	c := testutil.NewClient(t, url)
	v := c.Create(map[string]any{"name": "traced", "params": small(-0.21, 0.61)})
	c.Await(v.ID, 10*time.Second, "done", testutil.Done)
	var got map[string][]tracetest.SpanStub
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		got = spansOf(exp, "POST /api/configurations")
		if done(got["notify status"]) && len(got["notify webhook"]) > 0 {
			break
		}
	}
	if len(got["job whole"]) != 1 || !done(got["notify status"]) || len(got["push"]) == 0 || len(got["notify webhook"]) != 1 {
		t.Fatalf("the version's trace holds %v; want the request, one job, the notifier's spans, its pushes and its webhook", names(got))
	}
	// The store's writes and the image folder's calls are spans of it too.
	for _, name := range []string{"sqlite CreateConfiguration", "sqlite UpdateConfiguration", "files WriteImage"} {
		if len(got[name]) == 0 {
			t.Errorf("the version's trace has no %q: %v", name, names(got))
		}
	}
	// The notifier starts from the change feed: each of its spans links to
	// the feed batch's span, a trace of its own.
	for _, s := range got["notify status"] {
		if len(s.Links) != 1 || s.Links[0].SpanContext.TraceID() == s.SpanContext.TraceID() || !isFeed(exp, s.Links[0].SpanContext.SpanID()) {
			t.Errorf("a notify span links to %v, want the feed batch's span", s.Links)
		}
	}
}

func isFeed(exp *tracetest.InMemoryExporter, id trace.SpanID) bool {
	for _, s := range exp.GetSpans() {
		if s.SpanContext.SpanID() == id {
			return s.Name == "notify feed"
		}
	}
	return false
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

// The owner sees a version's run in a line, and the operator its steps.
func TestARunIsShownFromItsTrace(t *testing.T) {
	tl := local.NewTimeline(10)
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tl)))
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	_, url := start(t, newRenderer(), func(c *local.Config) {
		c.Timeline = tl
		juliaKind(c).TileAbove, juliaKind(c).TileSize = 256, 16
	})
	c := testutil.NewClient(t, url)
	v := c.Create(map[string]any{"name": "in parts", "params": small(-0.22, 0.62)})
	c.Await(v.ID, 20*time.Second, "done", testutil.Done)
	var run web.Run
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if res := c.Do("GET", "/api/configurations/"+v.ID+"/timeline", nil); res.Status == 200 {
			res.JSON(t, &run)
			if strings.Contains(run.Summary, "parts") {
				break
			}
		}
	}
	if !regexp.MustCompile(`^waited \d+\.\d s · rendered \d+\.\d s in 4 parts$`).MatchString(run.Summary) {
		t.Errorf("the run's line: %q (steps %+v)", run.Summary, run.Steps)
	}
	var ops local.OpsRun
	res := c.Do("GET", "/api/ops/runs/"+v.ID, nil, operator...)
	res.JSON(t, &ops)
	var parts int
	for _, s := range ops.Steps {
		if s.Name == "job "+longrun.JobPart {
			parts++
		}
	}
	if ops.Name != "in parts" || parts != 4 || ops.Steps[0].Name != "POST /api/configurations" {
		t.Errorf("the operator's run: %+v", ops)
	}
	// Nothing failed: each part looked for its kept counts and found none,
	// which is a miss, not an error to show.
	for _, s := range ops.Steps {
		if s.Error != "" {
			t.Errorf("a step of a run that went well shows an error: %+v", s)
		}
	}
	if res := testutil.NewClient(t, url).Do("GET", "/api/configurations/"+v.ID+"/timeline", nil); res.Status != 404 {
		t.Errorf("another owner's look at the run: %d", res.Status)
	}
}
