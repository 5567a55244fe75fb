package web

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/longrun/longrun"
)

// Updates is the answer of GET /api/updates: what a page missed since the
// number it gives, in order, each a push as the WebSocket carries it; or,
// where those are no longer all kept, Snapshot, and the page loads its
// list afresh.
type Updates struct {
	// Seq is the owner's last update's number.
	Seq      int64             `json:"seq"`
	Snapshot bool              `json:"snapshot"`
	Updates  []json.RawMessage `json:"updates"`
}

// updates answers with the owner's updates after ?since=.
func (s *server) updates(w http.ResponseWriter, r *http.Request) {
	if s.Replay == nil {
		s.fail(w, r, longrun.Errorf(longrun.ENOTFOUND, "this server keeps no updates: load the list"))
		return
	}
	since, err := strconv.ParseInt(r.URL.Query().Get("since"), 10, 64)
	if err != nil || since < 0 {
		s.fail(w, r, &longrun.Error{Code: longrun.EINVALID, Message: "invalid request",
			Fields: []longrun.FieldError{{Field: "since", Rule: "the number of the last update the page applied: an integer, 0 or more"}}})
		return
	}
	owner := Owner(r.Context())
	us, complete, err := s.Replay.Since(r.Context(), owner, since)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := Updates{Seq: since, Snapshot: !complete, Updates: []json.RawMessage{}}
	if !complete { // the page loads afresh, and goes on from the last number
		if out.Seq, err = s.Replay.Seq(r.Context(), owner); err != nil {
			s.fail(w, r, err)
			return
		}
		Encode(w, http.StatusOK, out)
		return
	}
	for _, u := range us {
		out.Updates = append(out.Updates, u.Numbered())
		out.Seq = u.Seq
	}
	Encode(w, http.StatusOK, out)
}
