// Package emf records longrun's metrics as CloudWatch Embedded Metric Format
// log lines: a Lambda prints them and CloudWatch Logs turns them into metrics,
// with no API calls of ours.
package emf

import (
	"encoding/json"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/longrun/longrun"
)

// Namespace is the CloudWatch namespace of longrun's metrics.
const Namespace = "longrun"

// A Recorder records metrics as EMF lines, one per metric event. Dimensions (such as
// Function) are added to every line; labels become dimensions too.
type Recorder struct {
	W          io.Writer
	Dimensions map[string]string
	Now        func() time.Time
	mu         sync.Mutex
}

var _ longrun.Metrics = (*Recorder)(nil)

// Name is the CloudWatch name of a longrun metric: jobs_rendered_total is
// JobsRendered, render_duration_seconds is RenderDuration.
func Name(metric string) string {
	metric = strings.TrimSuffix(strings.TrimSuffix(metric, "_total"), "_seconds")
	var b strings.Builder
	for _, part := range strings.Split(metric, "_") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// Names lists the CloudWatch names of every metric the core reports.
func Names() []string {
	var out []string
	for _, m := range longrun.MetricList {
		out = append(out, Name(m.Name))
	}
	return out
}

// unit is a metric's CloudWatch unit.
func unit(metric string) string {
	for _, m := range longrun.MetricList {
		if m.Name == metric && m.Seconds {
			return "Seconds"
		}
	}
	return "Count"
}

// Add writes a counter increment.
func (l *Recorder) Add(name string, n float64, labels ...string) { l.write(name, n, labels) }

// Observe writes one value of a distribution.
func (l *Recorder) Observe(name string, v float64, labels ...string) { l.write(name, v, labels) }

type metricDef struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

func (l *Recorder) write(metric string, v float64, labels []string) {
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	line := map[string]any{}
	var base []string
	for k, val := range l.Dimensions {
		line[k] = val
		base = append(base, k)
	}
	slices.Sort(base)
	dims := slices.Clone(base)
	for i := 0; i+1 < len(labels); i += 2 {
		line[labels[i]] = labels[i+1]
		dims = append(dims, labels[i])
	}
	sets := [][]string{dims}
	if len(labels) == 2 && labels[0] == "kind" {
		// A breakdown by kind, and the total the alarms and the dashboard
		// read, which has the base dimensions only.
		sets = [][]string{base, dims}
	}
	name := Name(metric)
	line[name] = v
	line["_aws"] = map[string]any{
		"Timestamp": now().UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  Namespace,
			"Dimensions": sets,
			"Metrics":    []metricDef{{Name: name, Unit: unit(metric)}},
		}},
	}
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.W.Write(append(b, '\n'))
}
