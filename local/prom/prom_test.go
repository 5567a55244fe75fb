package prom_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/local/prom"
)

// labelled returns label pairs for every label of m.
func labelled(m longrun.Metric) []string {
	var out []string
	for _, l := range m.Labels {
		out = append(out, l, "x")
	}
	return out
}

// New panics on a histogram without buckets of its own, so this test
// fails then too.
func TestEveryCoreMetricIsExported(t *testing.T) {
	r := prom.New()
	for _, m := range longrun.MetricList {
		if m.Kind == longrun.Counter {
			r.Add(m.Name, 2, labelled(m)...)
		} else {
			r.Observe(m.Name, 0.5, labelled(m)...)
		}
	}
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, m := range longrun.MetricList {
		want := "longrun_" + m.Name
		if m.Kind == longrun.Histogram {
			want += "_count"
		}
		if len(m.Labels) > 0 {
			want += `{` + m.Labels[0] + `="x"`
		}
		if !strings.Contains(string(body), want) {
			t.Errorf("%s is not exported (no %s)", m.Name, want)
		}
		if !strings.Contains(string(body), "# HELP longrun_"+m.Name+" "+m.Help) {
			t.Errorf("%s lacks its help text", m.Name)
		}
	}
}
