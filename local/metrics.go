package local

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/local/prom"
	"github.com/longrun/longrun/local/pump"
	"github.com/longrun/longrun/local/sqlite"
)

// tee sends metrics to several recorders.
type tee []longrun.Metrics

func (t tee) Add(name string, n float64, labels ...string) {
	for _, m := range t {
		m.Add(name, n, labels...)
	}
}

func (t tee) Observe(name string, v float64, labels ...string) {
	for _, m := range t {
		m.Observe(name, v, labels...)
	}
}

// recent keeps per-minute counts of job outcomes for the operations panel.
type recent struct {
	mu      sync.Mutex
	now     func() time.Time
	minutes map[int64]map[string]float64 // unix minute → metric → count
	totals  map[string]float64
}

const recentMinutes = 15

func newRecent() *recent {
	return &recent{now: time.Now, minutes: map[int64]map[string]float64{}, totals: map[string]float64{}}
}

func (r *recent) Add(name string, n float64, _ ...string) {
	switch name {
	case longrun.MetricJobsRendered, longrun.MetricJobsDeduplicated, longrun.MetricJobsFailed,
		longrun.MetricJobsDeadLettered, longrun.MetricJobsSuperseded, longrun.MetricJobsEnqueued:
	default:
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.now().Unix() / 60
	if r.minutes[m] == nil {
		r.minutes[m] = map[string]float64{}
		for old := range r.minutes {
			if old <= m-recentMinutes {
				delete(r.minutes, old)
			}
		}
	}
	r.minutes[m][name] += n
	r.totals[name] += n
}

func (r *recent) Observe(string, float64, ...string) {}

type minute struct {
	Minute       time.Time `json:"minute"`
	Rendered     float64   `json:"rendered"`
	Deduplicated float64   `json:"deduplicated"`
	Failed       float64   `json:"failed"`
}

func (r *recent) series() ([]minute, map[string]float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now().Unix() / 60
	out := make([]minute, 0, recentMinutes)
	for m := now - recentMinutes + 1; m <= now; m++ {
		c := r.minutes[m]
		out = append(out, minute{Minute: time.Unix(m*60, 0).UTC(), Rendered: c[longrun.MetricJobsRendered],
			Deduplicated: c[longrun.MetricJobsDeduplicated], Failed: c[longrun.MetricJobsFailed]})
	}
	totals := map[string]float64{}
	for k, v := range r.totals {
		totals[k] = v
	}
	return out, totals
}

// deadLetters is the embedded queue as operators see it.
type deadLetters interface {
	QueueStats(ctx context.Context) (pump.Stats, error)
	DeadLetters(ctx context.Context) ([]pump.Message, error)
	Redrive(ctx context.Context, id int64) (longrun.Job, error)
	Work(ctx context.Context, limit int) ([]sqlite.Running, map[string]int, error)
}

// queueGauges exports the queue's state on every scrape.
func (s *System) queueGauges(reg *prom.Registry) {
	gauge := func(name, help string, f func(q queueState) float64) {
		reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "longrun_" + name, Help: help}, func() float64 {
			return f(s.queueState(context.Background()))
		}))
	}
	gauge("queue_visible", "Jobs waiting to be received.", func(q queueState) float64 { return float64(q.Visible) })
	gauge("queue_in_flight", "Jobs received and not yet finished.", func(q queueState) float64 { return float64(q.InFlight) })
	gauge("queue_dead_lettered", "Jobs in the dead-letter table.", func(q queueState) float64 { return float64(q.DeadLettered) })
	gauge("queue_oldest_age_current_seconds", "Age of the oldest job in the queue now.", func(q queueState) float64 { return q.OldestAgeSeconds })
}

type queueState struct {
	Visible          int     `json:"visible"`
	InFlight         int     `json:"inFlight"`
	DeadLettered     int     `json:"deadLettered"`
	OldestAgeSeconds float64 `json:"oldestAgeSeconds"`
}

func (s *System) queueState(ctx context.Context) queueState {
	q, err := s.queue.QueueStats(ctx)
	if err != nil {
		return queueState{}
	}
	st := queueState{Visible: q.Visible, InFlight: q.InFlight, DeadLettered: q.Dead}
	if !q.OldestSent.IsZero() {
		st.OldestAgeSeconds = time.Since(q.OldestSent).Seconds()
	}
	return st
}

// sample observes the oldest job's age every interval, for the histogram.
func (s *System) sample(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if q := s.queueState(ctx); q.Visible+q.InFlight > 0 {
				s.metrics.Observe(longrun.MetricQueueOldestAge, q.OldestAgeSeconds)
			}
		}
	}
}
