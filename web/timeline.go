package web

import (
	"context"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/longrun/longrun"
)

// A Run is what a version's trace shows of it: each step (the request, each
// job and part, what the notifier sent), in the order they began, and a line
// that sums it up ("waited 0.4 s · rendered 1.2 s in 64 parts · mailed
// 12:04").
type Run struct {
	Summary string    `json:"summary"`
	Steps   []RunStep `json:"steps"`
}

// A RunStep is one span of a run.
type RunStep struct {
	Name  string    `json:"name"`
	Start time.Time `json:"start"`
	Ms    float64   `json:"ms"`
	Error string    `json:"error,omitempty"`
}

// Timelines give the runs of recent versions (the local server keeps their
// traces); nil: none.
type Timelines interface {
	Run(id string, version int64) (Run, bool)
}

// timeline answers with the run of the owner's configuration's current
// version.
func (s *server) timeline(w http.ResponseWriter, r *http.Request) {
	c, err := s.Service.Get(r.Context(), Owner(r.Context()), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if s.Timelines == nil {
		s.fail(w, r, longrun.Errorf(longrun.ENOTFOUND, "this server keeps no runs"))
		return
	}
	run, ok := s.Timelines.Run(c.ID, c.Version)
	if !ok {
		s.fail(w, r, longrun.Errorf(longrun.ENOTFOUND, "no run of version %d is kept (recent ones are, since the server started)", c.Version))
		return
	}
	// A step's error is the server's own words (paths, drivers): the owner
	// is told only that it failed; the operator's run has the words.
	for i := range run.Steps {
		if run.Steps[i].Error != "" {
			run.Steps[i].Error = "failed"
		}
	}
	Encode(w, http.StatusOK, run)
}

// traced names the version a request made on its span, so that the run
// keeps the request however long the version then waits.
func traced(ctx context.Context, c *longrun.Configuration) {
	trace.SpanFromContext(ctx).SetAttributes(attribute.String("longrun.configuration.id", c.ID), attribute.Int64("longrun.version", c.Version))
}
