package e2e

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/longrun/longrun/internal/testutil"
)

// OTEL_TRACES_EXPORTER=console longrun serve prints the spans as JSON
// lines: one version's, from the POST to the push, share one trace id.
func TestServePrintsAVersionsSpansAsOneTrace(t *testing.T) {
	s := serveWith(t, t.TempDir(), []string{"OTEL_TRACES_EXPORTER=console"})
	c := testutil.NewClient(t, s.URL)
	v := c.Create(map[string]any{"name": "traced", "params": testutil.Params(-0.4, 0.6, "width", 64, "height", 64)})
	c.Await(v.ID, 30*time.Second, "done", testutil.Done)
	s.stop(t)
	type span struct {
		Name        string
		SpanContext struct{ TraceID string }
		Attributes  []struct {
			Key   string
			Value struct{ Value any }
		}
	}
	byName := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(s.out.String()))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var sp span
		if !strings.HasPrefix(sc.Text(), "{") || json.Unmarshal(sc.Bytes(), &sp) != nil {
			continue
		}
		byName[sp.Name] = append(byName[sp.Name], sp.SpanContext.TraceID)
	}
	post := byName["POST /api/configurations"]
	if len(post) != 1 {
		t.Fatalf("%d POST spans in what serve printed: %v\n%s", len(post), byName, s.out.String())
	}
	for _, name := range []string{"job whole", "notify status", "push"} {
		found := false
		for _, id := range byName[name] {
			found = found || id == post[0]
		}
		if !found {
			t.Errorf("no %q span in the POST's trace %s: %v", name, post[0], byName)
		}
	}
}

// The operator sees a run step by step on the ops page, and the owner its
// line under the result.
func TestBrowserShowsARunStepByStep(t *testing.T) {
	ctx := browser(t)
	dir := shots(t)
	s := serve(t, t.TempDir(), "--tile-above", "16384", "--tile-size", "64")
	createInForm(t, ctx, s.URL, "in parts", "256")
	within(t, ctx, 20*time.Second, "the owner's line",
		poll(`/^waited \d+\.\d s · rendered \d+\.\d s in 16 parts$/.test(document.getElementById("run").textContent)`))
	shot(t, ctx, dir, "run-owner")
	id := openID(t, ctx)
	within(t, ctx, 20*time.Second, "the operator's steps",
		chromedp.Navigate(s.URL+"/ops.html?token="+opsToken),
		chromedp.WaitVisible(chromedp.ID("ops-panel")),
		setValue("run-id", s.URL+"/#"+id),
		chromedp.Click(chromedp.CSS("#run-form button")),
		poll(`document.getElementById("run-title").textContent.startsWith("in parts · v1 · waited") &&
			[...document.querySelectorAll("#run-steps li")].filter(li => li.textContent.includes("job tile")).length === 16 &&
			document.querySelector("#run-steps li").textContent.includes("POST /api/configurations")`),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("run-steps").scrollIntoView()`),
	)
	shot(t, ctx, dir, "run-operator")
}
