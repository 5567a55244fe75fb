package local

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/local/prom"
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
	q, err := s.DB.QueueStats(ctx)
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

type deadLetter struct {
	ID              int64     `json:"id"`
	ConfigurationID string    `json:"configurationId"`
	Name            string    `json:"name"`
	Version         int64     `json:"version"`
	Receives        int       `json:"receives"`
	SentAt          time.Time `json:"sentAt"`
	Reason          string    `json:"reason"`
}

// ops serves GET /api/ops: the operations panel's numbers.
func (s *System) ops(w http.ResponseWriter, r *http.Request) {
	series, totals := s.recent.series()
	rendered, dedup := totals[longrun.MetricJobsRendered], totals[longrun.MetricJobsDeduplicated]
	ratio := 0.0
	if rendered+dedup > 0 {
		ratio = dedup / (rendered + dedup)
	}
	dead, err := s.DB.DeadLetters(r.Context())
	if err != nil {
		http.Error(w, `{"error":{"code":"unavailable","message":"database","fields":[]}}`, http.StatusServiceUnavailable)
		return
	}
	letters := []deadLetter{}
	for _, m := range dead {
		var job longrun.Job
		json.Unmarshal([]byte(m.Body), &job)
		d := deadLetter{ID: m.ID, ConfigurationID: job.ID, Version: job.Version, Receives: m.Receives, SentAt: m.SentAt}
		if c, err := s.DB.Configuration(r.Context(), job.ID); err == nil {
			d.Name, d.Reason = c.Name, c.Error
		} else {
			d.Reason = "configuration deleted"
		}
		letters = append(letters, d)
	}
	body := map[string]any{
		"queue": s.queueState(r.Context()), "rendersPerMinute": series, "dedupRatio": ratio, "deadLetters": letters,
		"totals": map[string]float64{"enqueued": totals[longrun.MetricJobsEnqueued], "rendered": rendered, "deduplicated": dedup,
			"superseded": totals[longrun.MetricJobsSuperseded], "failed": totals[longrun.MetricJobsFailed],
			"deadLettered": totals[longrun.MetricJobsDeadLettered]},
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(body)
}

// retryDeadLetter serves POST /api/ops/dead-letters/{id}/retry: the job goes
// back to the queue and its configuration shows queued again.
func (s *System) retryDeadLetter(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	fail := func(status int, code, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg, "fields": []any{}}})
	}
	if err != nil {
		fail(http.StatusNotFound, longrun.ENOTFOUND, "dead letter not found")
		return
	}
	body, err := s.DB.Redrive(r.Context(), id)
	if longrun.ErrorCode(err) == longrun.ENOTFOUND {
		fail(http.StatusNotFound, longrun.ENOTFOUND, "dead letter not found")
		return
	}
	if err != nil {
		fail(http.StatusServiceUnavailable, longrun.EUNAVAILABLE, err.Error())
		return
	}
	// The job is queued again; its configuration shows it, unless something
	// newer (an edit, or the job's own render) already changed it.
	var job longrun.Job
	json.Unmarshal([]byte(body), &job)
	s.DB.UpdateConfiguration(r.Context(), job.ID, func(c *longrun.Configuration) error {
		if c.Version != job.Version || c.Status != longrun.StatusFailed {
			return errSkip
		}
		c.Status, c.Error, c.Progress, c.Change, c.UpdatedAt = longrun.StatusQueued, "", 0, longrun.ChangeStatus, time.Now().UTC()
		return nil
	})
	w.WriteHeader(http.StatusAccepted)
}

var errSkip = longrun.Errorf(longrun.ECONFLICT, "nothing to change")
