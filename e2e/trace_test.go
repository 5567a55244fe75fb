package e2e

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"
	"time"

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
