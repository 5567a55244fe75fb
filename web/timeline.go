package web

import (
	"net/http"
	"time"

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
	Encode(w, http.StatusOK, run)
}
