package local

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/web"
)

// A Timeline keeps the spans of recent traces, a bounded buffer, to show a
// version's run: when it was asked for, how long it waited, each job and
// part, the notifications. It is a span processor of the tracer provider.
type Timeline struct {
	mu     sync.Mutex
	traces map[trace.TraceID][]web.RunStep
	// order holds the traces of versions, oldest first; pending the others
	// (most requests make no version), of which only the last
	// pendingTraces are kept, in case a version's span names one after.
	order, pending []trace.TraceID
	version        map[string]trace.TraceID // configuration id/version → its trace
	max            int
}

// pendingTraces is how many traces of no version are kept, waiting.
const pendingTraces = 256

// NewTimeline keeps the spans of the last max traces, at most 500 each.
func NewTimeline(max int) *Timeline {
	return &Timeline{traces: map[trace.TraceID][]web.RunStep{}, version: map[string]trace.TraceID{}, max: max}
}

var _ sdktrace.SpanProcessor = (*Timeline)(nil)

// OnEnd keeps a finished span.
func (tl *Timeline) OnEnd(s sdktrace.ReadOnlySpan) {
	// The store's and the image folder's calls are steps only when they
	// fail: a run lists what happened to the version, not every write.
	if s.SpanKind() == trace.SpanKindClient && s.Status().Code != codes.Error {
		return
	}
	id := s.SpanContext().TraceID()
	step := web.RunStep{Name: s.Name(), Start: s.StartTime().UTC(), Ms: float64(s.EndTime().Sub(s.StartTime()).Microseconds()) / 1000}
	if s.Status().Code == codes.Error {
		step.Error = s.Status().Description
	}
	var conf, version string
	for _, a := range s.Attributes() {
		switch a.Key {
		case "longrun.configuration.id":
			conf = a.Value.Emit()
		case "longrun.version":
			version = a.Value.Emit()
		}
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	_, known := tl.traces[id]
	if len(tl.traces[id]) < 500 {
		tl.traces[id] = append(tl.traces[id], step)
	}
	if conf == "" || version == "" {
		if !known {
			tl.pending = append(tl.pending, id)
			if len(tl.pending) > pendingTraces {
				tl.forget(tl.pending[0])
				tl.pending = tl.pending[1:]
			}
		}
		return
	}
	if _, ok := tl.version[conf+"/"+version]; ok {
		return
	}
	tl.version[conf+"/"+version] = id
	if i := slices.Index(tl.pending, id); i >= 0 {
		tl.pending = slices.Delete(tl.pending, i, i+1)
	}
	tl.order = append(tl.order, id)
	if len(tl.order) > tl.max {
		tl.forget(tl.order[0])
		tl.order = tl.order[1:]
	}
}

// forget drops a trace and the versions it names.
func (tl *Timeline) forget(id trace.TraceID) {
	delete(tl.traces, id)
	for k, v := range tl.version {
		if v == id {
			delete(tl.version, k)
		}
	}
}

// Run returns the run of the configuration's version, its steps in the
// order they began, and a line that sums it up.
func (tl *Timeline) Run(id string, version int64) (web.Run, bool) {
	tl.mu.Lock()
	steps := slices.Clone(tl.traces[tl.version[fmt.Sprintf("%s/%d", id, version)]])
	tl.mu.Unlock()
	if len(steps) == 0 {
		return web.Run{}, false
	}
	slices.SortStableFunc(steps, func(a, b web.RunStep) int { return a.Start.Compare(b.Start) })
	return web.Run{Summary: summary(steps), Steps: steps}, true
}

// summary is a run in a line: "waited 0.4 s · rendered 1.2 s in 64 parts ·
// mailed 12:04".
func summary(steps []web.RunStep) string {
	j := jobsOf(steps)
	var out []string
	if !j.asked.IsZero() && !j.first.IsZero() {
		// (a job may begin while its request's answer is still written)
		out = append(out, fmt.Sprintf("waited %.1f s", max(j.first.Sub(j.asked), 0).Seconds()))
	}
	if !j.first.IsZero() {
		r := fmt.Sprintf("rendered %.1f s", j.last.Sub(j.first).Seconds())
		if j.parts > 0 {
			r += fmt.Sprintf(" in %d parts", j.parts)
		}
		if j.failed > 0 {
			r += fmt.Sprintf(", %d tries failed", j.failed)
		}
		out = append(out, r)
	}
	if i := slices.IndexFunc(steps, func(s web.RunStep) bool { return s.Name == "email send" && s.Error == "" }); i >= 0 {
		out = append(out, "mailed "+steps[i].Start.Local().Format("15:04"))
	}
	return strings.Join(out, " · ")
}

// jobTimes are when a run was asked for (its request's end), when its
// jobs began and ended, its parts and the deliveries that failed.
type jobTimes struct {
	asked, first, last time.Time
	parts, failed      int
}

func jobsOf(steps []web.RunStep) jobTimes {
	var j jobTimes
	for _, s := range steps {
		end := s.Start.Add(time.Duration(s.Ms * float64(time.Millisecond)))
		if (strings.HasPrefix(s.Name, "POST ") || strings.HasPrefix(s.Name, "PUT ")) && j.asked.IsZero() {
			j.asked = end
		}
		if !strings.HasPrefix(s.Name, "job ") {
			continue
		}
		if j.first.IsZero() {
			j.first = s.Start
		}
		if end.After(j.last) {
			j.last = end
		}
		if s.Name == "job "+longrun.JobPart {
			j.parts++
		}
		if s.Error != "" {
			j.failed++
		}
	}
	return j
}

// OnStart, Shutdown and ForceFlush do nothing: a span is kept when it ends.
func (tl *Timeline) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (tl *Timeline) Shutdown(context.Context) error                  { return nil }
func (tl *Timeline) ForceFlush(context.Context) error                { return nil }
