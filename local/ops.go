package local

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/web"
)

// routes adds the operator endpoints, local only, to the API: metrics and
// the operations panel. They need the operator token; without one
// configured they do not exist (404).
func (s *System) routes(api http.Handler) http.Handler {
	mux := http.NewServeMux()
	if s.cfg.OpsToken != "" {
		mux.Handle("GET /metrics", s.operator(s.Prometheus.Handler()))
		mux.Handle("GET /api/ops", s.operator(http.HandlerFunc(s.ops)))
		mux.Handle("POST /api/ops/dead-letters/{id}/retry", s.operator(http.HandlerFunc(s.retryDeadLetter)))
		mux.Handle("GET /api/ops/runs/{id}", s.operator(http.HandlerFunc(s.run)))
	}
	mux.Handle("/", api)
	return web.Protect(mux, s.logger)
}

// operator lets through requests that carry the operator token as a bearer
// token.
func (s *System) operator(next http.Handler) http.Handler {
	want := []byte("Bearer " + s.cfg.OpsToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="longrun operations"`)
			web.WriteError(w, r, s.logger, longrun.Errorf(longrun.EUNAUTHORIZED, "operations need the operator token (Authorization: Bearer …)"))
			return
		}
		next.ServeHTTP(w, r)
	})
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
	dead, err := s.queue.DeadLetters(r.Context())
	if err != nil {
		web.WriteError(w, r, s.logger, err)
		return
	}
	letters := []deadLetter{}
	for _, m := range dead {
		var job longrun.Job
		if err := json.Unmarshal([]byte(m.Body), &job); err != nil {
			s.logger.Warn("ops: undecodable dead letter", "id", m.ID, "err", err)
		}
		d := deadLetter{ID: m.ID, ConfigurationID: job.ID, Version: job.Version, Receives: m.Receives, SentAt: m.SentAt}
		switch c, err := s.Service.Store.Configuration(r.Context(), job.ID); {
		case err == nil:
			d.Name, d.Reason = c.Name, c.Error
		case longrun.ErrorCode(err) == longrun.ENOTFOUND:
			d.Reason = "configuration deleted"
		default:
			web.WriteError(w, r, s.logger, err)
			return
		}
		letters = append(letters, d)
	}
	running, queued, err := s.work(r)
	if err != nil {
		web.WriteError(w, r, s.logger, err)
		return
	}
	body := map[string]any{
		"queue": s.queueState(r.Context()), "rendersPerMinute": series, "dedupRatio": ratio, "deadLetters": letters,
		"running": running, "queuedByKind": queued,
		"totals": map[string]float64{"enqueued": totals[longrun.MetricJobsEnqueued], "rendered": rendered, "deduplicated": dedup,
			"superseded": totals[longrun.MetricJobsSuperseded], "failed": totals[longrun.MetricJobsFailed],
			"deadLettered": totals[longrun.MetricJobsDeadLettered]},
	}
	web.Encode(w, http.StatusOK, body)
}

// retryDeadLetter serves POST /api/ops/dead-letters/{id}/retry: the job goes
// back to the queue and its configuration shows queued again.
func (s *System) retryDeadLetter(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		web.WriteError(w, r, s.logger, longrun.Errorf(longrun.ENOTFOUND, "dead letter not found"))
		return
	}
	job, err := s.queue.Redrive(r.Context(), id)
	if err == nil {
		err = s.Service.Redrive(r.Context(), job)
	}
	if err != nil {
		web.WriteError(w, r, s.logger, err)
		return
	}
	web.Encode(w, http.StatusAccepted, map[string]any{"job": job})
}

// A runningView is a version under way, as the operations page lists it:
// its kind, name, progress, and the parts (jobs) in flight; a tiled one
// its tiles done.
type runningView struct {
	ConfigurationID string         `json:"configurationId"`
	Version         int64          `json:"version"`
	Kind            string         `json:"kind"`
	Name            string         `json:"name"`
	Status          longrun.Status `json:"status"`
	Progress        float64        `json:"progress"`
	Parts           int            `json:"parts"`
	Tiles           *web.TilesView `json:"tiles,omitempty"`
	StartedAt       time.Time      `json:"startedAt,omitzero"`
}

// work is what runs (at most 50 versions, the oldest first) and the jobs
// waiting by kind.
func (s *System) work(r *http.Request) ([]runningView, map[string]int, error) {
	running, queued, err := s.queue.Work(r.Context(), 50)
	if err != nil {
		return nil, nil, err
	}
	out := []runningView{}
	for _, run := range running {
		c, err := s.Service.Store.Configuration(r.Context(), run.Ref.ID)
		if longrun.ErrorCode(err) == longrun.ENOTFOUND {
			continue // deleted under way: its job finds out
		}
		if err != nil {
			return nil, nil, err
		}
		v := runningView{ConfigurationID: c.ID, Version: run.Ref.Version, Kind: c.KindName(), Name: c.Name, Status: c.Status,
			Progress: c.Progress, Parts: run.Parts, StartedAt: c.StartedAt}
		if t := c.Tiling; t != nil {
			v.Tiles = &web.TilesView{Total: t.Total, Done: t.Count, Size: t.Size}
		}
		out = append(out, v)
	}
	return out, queued, nil
}

// An OpsRun is a configuration's latest run, for the operator.
type OpsRun struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Version int64  `json:"version"`
	web.Run
}

// run answers with the run of any configuration's current version.
func (s *System) run(w http.ResponseWriter, r *http.Request) {
	c, err := s.DB.Configuration(r.Context(), r.PathValue("id"))
	if err != nil {
		web.WriteError(w, r, s.logger, err)
		return
	}
	if s.cfg.Timeline == nil {
		web.WriteError(w, r, s.logger, longrun.Errorf(longrun.ENOTFOUND, "this server keeps no runs (it traces nothing)"))
		return
	}
	run, ok := s.cfg.Timeline.Run(c.ID, c.Version)
	if !ok {
		web.WriteError(w, r, s.logger, longrun.Errorf(longrun.ENOTFOUND, "no run of version %d is kept: runs since the server started are", c.Version))
		return
	}
	web.Encode(w, http.StatusOK, OpsRun{ID: c.ID, Name: c.Name, Version: c.Version, Run: run})
}
