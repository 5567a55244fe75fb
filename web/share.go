package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/longrun/longrun"
)

// A read-only link opens a configuration's result on any device, with no
// session: the share link an owner hands out, and the e-mails' links. It
// is signed (Sessions.LinkToken) and names the configuration's link
// generation, which the owner's "Revoke links" counts up.

// LinkPath is the path of configuration c's read-only link.
func (s *Sessions) LinkPath(c *longrun.Configuration) string {
	return "/s/" + s.LinkToken(c.ID, c.ShareGen)
}

// A SharedView is what a read-only link shows: the result and its
// parameters, nothing of the owner (no e-mail, no history, no owner).
type SharedView struct {
	Name       string            `json:"name"`
	Kind       string            `json:"kind"`
	Params     any               `json:"params"`
	Status     longrun.Status    `json:"status"`
	Progress   float64           `json:"progress"`
	Outdated   bool              `json:"outdated"`
	ImageURL   string            `json:"imageUrl"`
	Artifacts  map[string]string `json:"artifacts,omitempty"`
	Stats      *longrun.Stats    `json:"stats"`
	Error      string            `json:"error,omitempty"`
	FinishedAt time.Time         `json:"finishedAt,omitzero"`
}

// sharedView is what link token shows of c.
func sharedView(c *longrun.Configuration, token string) SharedView {
	v := ViewOf(c, "")
	base := "/api/shared/" + token
	out := SharedView{Name: c.Name, Kind: v.Kind, Params: v.Params, Status: c.Status, Progress: c.Progress, Outdated: v.Outdated,
		Stats: c.Stats, Error: c.Error, FinishedAt: c.FinishedAt}
	if c.RenderedHash != "" {
		out.ImageURL = base + "/image?h=" + c.RenderedHash[:16]
		out.Artifacts = artifactURLs(base, c)
	}
	return out
}

// shared is the configuration the request's link token names, or an
// error answered already.
func (s *server) shared(w http.ResponseWriter, r *http.Request) (*longrun.Configuration, bool) {
	id, gen, ok := s.Sessions.Link(r.PathValue("token"))
	if !ok {
		s.fail(w, r, longrun.Errorf(longrun.ENOTFOUND, "this link is not valid: it may have been copied incompletely"))
		return nil, false
	}
	c, err := s.Service.Shared(r.Context(), id, gen)
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	return c, true
}

func (s *server) sharedGet(w http.ResponseWriter, r *http.Request) {
	if c, ok := s.shared(w, r); ok {
		w.Header().Set("Cache-Control", "no-store")
		Encode(w, http.StatusOK, sharedView(c, r.PathValue("token")))
	}
}

func (s *server) sharedImage(w http.ResponseWriter, r *http.Request) {
	if c, ok := s.shared(w, r); ok {
		// Only the current image: a link shows no earlier version.
		if h := r.URL.Query().Get("h"); h != "" && !strings.HasPrefix(c.RenderedHash, h) {
			s.fail(w, r, longrun.Errorf(longrun.ENOTFOUND, "that image is no longer the one shown"))
			return
		}
		s.imageOf(w, r, c)
	}
}

func (s *server) sharedArtifact(w http.ResponseWriter, r *http.Request) {
	if c, ok := s.shared(w, r); ok {
		s.artifactOf(w, r, c)
	}
}

// A LinkAnswer is an owner's read-only link to a configuration.
type LinkAnswer struct {
	URL string `json:"url"`
}

// link answers with the read-only link of the owner's configuration.
func (s *server) link(w http.ResponseWriter, r *http.Request) {
	c, err := s.Service.Get(r.Context(), Owner(r.Context()), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	Encode(w, http.StatusOK, LinkAnswer{URL: s.Sessions.LinkPath(c)})
}

// revokeLinks ends the configuration's read-only links and answers with
// the new one.
func (s *server) revokeLinks(w http.ResponseWriter, r *http.Request) {
	c, err := s.Service.RevokeLinks(r.Context(), s.caller(r), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	Encode(w, http.StatusOK, LinkAnswer{URL: s.Sessions.LinkPath(c)})
}
