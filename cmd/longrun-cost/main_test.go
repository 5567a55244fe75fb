package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func stackOf(t *testing.T) stack {
	t.Helper()
	st, err := readStack("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// What the estimate depends on is read from the template: its alarms (and
// the metrics each evaluates, which AWS bills), memory, retention and
// index projection.
func TestItReadsTheTemplate(t *testing.T) {
	st := stackOf(t)
	b, _ := os.ReadFile("../../template.yaml")
	if n := strings.Count(string(b), "Type: AWS::CloudWatch::Alarm") - strings.Count(string(b), "Type: AWS::CloudWatch::Alarm\n    Condition:"); n != st.alarms {
		t.Errorf("template.yaml has %d alarms, the estimate counts %d", n, st.alarms)
	}
	if st.alarmMetrics <= st.alarms {
		t.Errorf("%d alarm metrics for %d alarms: the metric-math alarms bill per metric", st.alarmMetrics, st.alarms)
	}
	if st.renderGB < 2.9 || st.imageDays != 90 || st.countsDays >= st.imageDays || !st.ownerIndexAll {
		t.Errorf("stack %+v: want the render function's 3008 MB, images 90 days, counts fewer, byOwner projecting all", st)
	}
}

func TestTheTablesHaveEveryCaseAndLine(t *testing.T) {
	var out strings.Builder
	if err := run([]string{"-template", "../../template.yaml"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"default 512², no e-mail", "1024², depth 256, one e-mail", "16384² poster", "S3 storage: counts and tiles",
		"S3 egress", "DynamoDB writes", "custom metrics", "Fixed a month", "Assumptions:", "alarms evaluating",
		"device (Web Push)", "webhook, each endpoint", "a page's catch-up"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in\n%s", want, out.String())
		}
	}
	st := stackOf(t)
	plain := total(cost(job{renderMs: 15, width: 512, height: 512, pngBytes: 1e5}, st, 1.5, 1))
	mailed := total(cost(job{renderMs: 15, width: 512, height: 512, pngBytes: 1e5, email: 1}, st, 1.5, 1))
	bigger := total(cost(job{renderMs: 50, width: 1024, height: 1024, pngBytes: 4e5}, st, 1.5, 1))
	if !(mailed > plain && bigger > plain && plain > 0) {
		t.Errorf("costs %v (plain), %v (mailed), %v (bigger): want e-mail and size to cost more", plain, mailed, bigger)
	}
	if err := run([]string{"-slowdown", "0", "-template", "../../template.yaml"}, &out); err == nil {
		t.Errorf("a zero slowdown was accepted")
	}
	if err := run([]string{"-template", filepath.Join(t.TempDir(), "none.yaml")}, &out); err == nil {
		t.Errorf("a missing template was accepted")
	}
}

// Counts are ten times an image's bytes: kept as long as images (90 days),
// they cost more than everything else together; kept 3 days, a few dollars
// a million.
func TestCountsRetentionIsWhatStorageCosts(t *testing.T) {
	st := stackOf(t)
	j := job{renderMs: 15.6, width: 512, height: 512, pngBytes: 104_000}
	short := cost(j, st, 1.5, 1)
	st.countsDays = 90
	long := cost(j, st, 1.5, 1)
	storage := func(ls []line) float64 {
		for _, l := range ls {
			if l.name == "S3 storage: counts and tiles" {
				return l.cost
			}
		}
		return 0
	}
	if s := 1e6 * storage(short); s > 5 {
		t.Errorf("counts kept %v days: $%.2f a million renders, want a few dollars", stackOf(t).countsDays, s)
	}
	rest := 1e6 * (total(short) - storage(short))
	if l := 1e6 * storage(long); l < 60 || l < 0.8*rest {
		t.Errorf("counts kept 90 days: $%.2f a million, want about as much as the rest ($%.2f)", l, rest)
	}
}

// TestTracingIsCostedAtItsRatio: the template's default (Tracing off)
// costs nothing; a ratio given costs the spans of that share of renders.
func TestTracingIsCostedAtItsRatio(t *testing.T) {
	st := stackOf(t)
	j := job{renderMs: 15.6, width: 512, height: 512, pngBytes: 104_000}
	xray := func(ls []line) float64 {
		for _, l := range ls {
			if strings.HasPrefix(l.name, "X-Ray traces") {
				return l.cost
			}
		}
		t.Fatal("no X-Ray line")
		return 0
	}
	if c := xray(cost(j, st, 1.5, 1)); c != 0 {
		t.Errorf("tracing off costs $%g a render", c)
	}
	st.traceRatio = 0.05
	if c := 1e6 * xray(cost(j, st, 1.5, 1)); c < 1 || c > 5 {
		t.Errorf("5%% traced costs $%.2f per million renders, want a few dollars", c)
	}
	var out strings.Builder
	if err := run([]string{"-template", "../../template.yaml", "-trace-ratio", "2"}, &out); err == nil {
		t.Error("-trace-ratio 2 was accepted")
	}
}
