package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/tracing"
)

func (s *server) health(w http.ResponseWriter, r *http.Request) {
	body := map[string]any{"status": "ok"}
	if s.Health != nil {
		for k, v := range s.Health(r.Context()) {
			body[k] = v
		}
	}
	status := http.StatusOK
	if body["status"] != "ok" { // degraded, with its reasons: a load balancer or monitor sees it
		status = http.StatusServiceUnavailable
	}
	Encode(w, status, body)
}

// meta serves each kind's schema, defaults, limits and presets.
func (s *server) meta(w http.ResponseWriter, r *http.Request) {
	Encode(w, http.StatusOK, s.Service.Kinds.Describe())
}

// answer answers a create, an edit or a re-render: the configuration with
// its ETag, or, when it was saved but its job could not be queued, a 503
// that says how to recover.
func (s *server) answer(w http.ResponseWriter, r *http.Request, status int, c *longrun.Configuration, err error) {
	if c != nil && c.Trace != "" && c.Trace == tracing.Of(r.Context()) { // this request began the version
		traced(r.Context(), c)
	}
	if errors.Is(err, longrun.ErrNotQueued) && c != nil {
		s.Logger.Error("enqueue failed", "configurationId", c.ID, "version", c.Version, "err", err)
		err = longrun.Errorf(longrun.EUNAVAILABLE, "configuration %s is saved but its render could not be queued; retry with POST %s/render",
			c.ID, configurationURL(c.ID))
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("ETag", c.ETag())
	Encode(w, status, s.view(r.Context(), c))
}

func (s *server) create(w http.ResponseWriter, r *http.Request) {
	var in longrun.Input
	if err := decode(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.Service.Create(r.Context(), s.caller(r), &in)
	if c != nil {
		w.Header().Set("Location", configurationURL(c.ID))
	}
	s.answer(w, r, http.StatusCreated, c, err)
}

func (s *server) get(w http.ResponseWriter, r *http.Request) {
	c, err := s.Service.Get(r.Context(), Owner(r.Context()), r.PathValue("id"))
	s.answer(w, r, http.StatusOK, c, err)
}

type page struct {
	Configurations []View `json:"configurations"`
	NextCursor     string `json:"nextCursor"`
	Seq            *int64 `json:"seq,omitempty"`
}

func (s *server) list(w http.ResponseWriter, r *http.Request) {
	limit := 20
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			s.fail(w, r, &longrun.Error{Code: longrun.EINVALID, Message: "invalid request",
				Fields: []longrun.FieldError{{Field: "limit", Rule: "must be an integer between 1 and 100"}}})
			return
		}
		limit = n
	}
	q := r.URL.Query()
	filter := longrun.ListFilter{Status: longrun.Status(q.Get("status")), Name: q.Get("q")}
	// The number of the owner's last update, read before the list: a page
	// that starts from this list asks for the updates after it, and so
	// misses none that the list was read too early to show.
	var seq *int64
	if s.Replay != nil {
		n, err := s.Replay.Seq(r.Context(), Owner(r.Context()))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		seq = &n
	}
	list, next, err := s.Service.List(r.Context(), Owner(r.Context()), q.Get("cursor"), limit, filter)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := page{Configurations: make([]View, len(list)), NextCursor: next, Seq: seq}
	for i, c := range list {
		p.Configurations[i] = s.view(r.Context(), c)
	}
	Encode(w, http.StatusOK, p)
}

func (s *server) update(w http.ResponseWriter, r *http.Request) {
	var in longrun.Input
	// An unknown or foreign id is not found before the body is looked at.
	if _, err := s.Service.Get(r.Context(), Owner(r.Context()), r.PathValue("id")); err != nil {
		s.fail(w, r, err)
		return
	}
	match := r.Header.Get("If-Match")
	if match == "" {
		s.fail(w, r, longrun.Errorf(longrun.EPRECONDITIONREQUIRED, "an edit needs If-Match with the configuration's ETag"))
		return
	}
	if err := decode(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.Service.Edit(r.Context(), s.caller(r), r.PathValue("id"), match, &in)
	s.answer(w, r, http.StatusOK, c, err)
}

func (s *server) delete(w http.ResponseWriter, r *http.Request) {
	if err := s.Service.Delete(r.Context(), Owner(r.Context()), r.PathValue("id"), r.Header.Get("If-Match")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// rerender queues a failed or cancelled configuration again, or re-sends
// the job of one left queued by a failed enqueue.
func (s *server) rerender(w http.ResponseWriter, r *http.Request) {
	c, err := s.Service.Rerender(r.Context(), s.caller(r), r.PathValue("id"))
	s.answer(w, r, http.StatusAccepted, c, err)
}

// cancel stops a queued or rendering configuration.
func (s *server) cancel(w http.ResponseWriter, r *http.Request) {
	c, err := s.Service.Cancel(r.Context(), Owner(r.Context()), r.PathValue("id"))
	s.answer(w, r, http.StatusOK, c, err)
}

// sendResult has a finished configuration's result e-mailed now.
func (s *server) sendResult(w http.ResponseWriter, r *http.Request) {
	c, err := s.Service.RequestMail(r.Context(), s.caller(r), r.PathValue("id"))
	s.answer(w, r, http.StatusAccepted, c, err)
}

func (s *server) image(w http.ResponseWriter, r *http.Request) {
	c, err := s.Service.Get(r.Context(), Owner(r.Context()), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.imageOf(w, r, c)
}

// imageOf answers with c's image: the current one, an earlier version's
// (?h= names it), or the thumbnail of either (?thumb=1).
func (s *server) imageOf(w http.ResponseWriter, r *http.Request, c *longrun.Configuration) {
	h := r.URL.Query().Get("h")
	if e, ok := c.EarlierImage(h); ok && !strings.HasPrefix(c.RenderedHash, h) {
		if !s.thumbnail(w, r, e.Hash) {
			s.earlierImage(w, r, e.Hash)
		}
		return
	}
	if c.RenderedHash == "" {
		s.fail(w, r, longrun.Errorf(longrun.ENOTFOUND, "configuration has no image yet"))
		return
	}
	if s.thumbnail(w, r, c.RenderedHash) {
		return
	}
	key := longrun.ImageKey(c.RenderedHash)
	if u, ok := s.Images.(imageURLer); ok {
		if s.Service.Images != nil {
			if ok, err := s.Service.Images.HasImage(r.Context(), key); err != nil || !ok {
				s.lostImage(w, r, err)
				return
			}
		}
		s.redirectToImage(w, r, u, key)
		return
	}
	f, err := s.Images.OpenImage(r.Context(), key)
	if longrun.ErrorCode(err) == longrun.ENOTFOUND {
		s.lostImage(w, r, nil)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The URL names the hash, so the response may be cached for good.
	s.sendImage(w, r, f, c.RenderedHash, h != "" && strings.HasPrefix(c.RenderedHash, h))
}

// preview answers with the low-resolution preview of the current
// version's computation, made before its parts (a tiled render's), where
// its kind made one: what the page shows while the parts fill in.
func (s *server) preview(w http.ResponseWriter, r *http.Request) {
	c, err := s.Service.Get(r.Context(), Owner(r.Context()), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.stored(w, r, longrun.PreviewKey(c.ParamsHash), c.ParamsHash, "this version has no preview", false)
}

// artifact answers with one of the result's files beside its image (a
// model's weights), as a download.
func (s *server) artifact(w http.ResponseWriter, r *http.Request) {
	c, err := s.Service.Get(r.Context(), Owner(r.Context()), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.artifactOf(w, r, c)
}

// artifactOf answers with the file of c's result the path names.
func (s *server) artifactOf(w http.ResponseWriter, r *http.Request, c *longrun.Configuration) {
	name := r.PathValue("name")
	if c.RenderedHash == "" || c.Stats == nil || !slices.Contains(c.Stats.Artifacts, name) {
		s.fail(w, r, longrun.Errorf(longrun.ENOTFOUND, "the configuration's result has no %q", name))
		return
	}
	key := longrun.ArtifactKey(c.RenderedHash, name)
	if u, ok := s.Images.(imageURLer); ok {
		s.redirectToImage(w, r, u, key)
		return
	}
	f, err := s.Images.OpenImage(r.Context(), key)
	if longrun.ErrorCode(err) == longrun.ENOTFOUND {
		err = longrun.Errorf(longrun.ENOTFOUND, "the result's %s is gone", name)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer f.Close()
	ctype := "application/octet-stream"
	if strings.HasSuffix(name, ".json") {
		ctype = "application/json"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", c.ID[:8]+"-"+name))
	w.Header().Set("Cache-Control", "private, no-cache")
	if _, err := io.Copy(w, f); err != nil {
		s.Logger.Warn("artifact: copy failed", "err", err)
	}
}

// earlierImage answers with the image of an earlier version (a thumbnail
// of the history); one that is gone is not rendered again.
func (s *server) earlierImage(w http.ResponseWriter, r *http.Request, hash string) {
	s.stored(w, r, longrun.ImageKey(hash), hash, "the image of that version is gone", true)
}

// stored answers with the image store's key: a redirect to it where the
// store makes URLs (S3 answers 404 for none), else its bytes; missing
// says what a 404 means.
func (s *server) stored(w http.ResponseWriter, r *http.Request, key, hash, missing string, immutable bool) {
	if u, ok := s.Images.(imageURLer); ok {
		s.redirectToImage(w, r, u, key)
		return
	}
	f, err := s.Images.OpenImage(r.Context(), key)
	if longrun.ErrorCode(err) == longrun.ENOTFOUND {
		err = longrun.Errorf(longrun.ENOTFOUND, "%s", missing)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.sendImage(w, r, f, hash, immutable)
}

// thumbnail answers ?thumb=1 with the thumbnail of params hash's image,
// and reports whether it did: a result made before thumbnails, or by a
// kind that makes none, is answered with its image.
func (s *server) thumbnail(w http.ResponseWriter, r *http.Request, hash string) bool {
	if r.URL.Query().Get("thumb") == "" {
		return false
	}
	key := longrun.ThumbnailKey(hash)
	if u, ok := s.Images.(imageURLer); ok {
		if s.Service.Images == nil {
			return false
		}
		if ok, err := s.Service.Images.HasImage(r.Context(), key); err != nil || !ok {
			return false
		}
		s.redirectToImage(w, r, u, key)
		return true
	}
	f, err := s.Images.OpenImage(r.Context(), key)
	if err != nil {
		return false
	}
	s.sendImage(w, r, f, hash, strings.HasPrefix(hash, r.URL.Query().Get("h")) && r.URL.Query().Get("h") != "")
	return true
}

func (s *server) redirectToImage(w http.ResponseWriter, r *http.Request, u imageURLer, key string) {
	url, err := u.ImageURL(r.Context(), key)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "private, no-cache")
	http.Redirect(w, r, url, http.StatusFound)
}

// sendImage copies the image f of params hash to the client, cached for
// good when the URL named that hash.
func (s *server) sendImage(w http.ResponseWriter, r *http.Request, f io.ReadCloser, hash string, immutable bool) {
	defer f.Close()
	// An image may take a slow client longer than the server's write timeout.
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(5 * time.Minute))
	w.Header().Set("Content-Type", "image/png")
	if immutable {
		w.Header().Set("Cache-Control", "private, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "private, no-cache")
	}
	w.Header().Set("ETag", `"`+hash[:16]+`"`)
	if _, err := io.Copy(w, f); err != nil {
		s.Logger.Warn("image: copy failed", "err", err)
	}
}

// lostImage answers for an image that is gone (deleted, expired): the
// configuration renders again, and the page is told so.
func (s *server) lostImage(w http.ResponseWriter, r *http.Request, err error) {
	if err == nil {
		_, err = s.Service.ImageLost(r.Context(), Owner(r.Context()), r.PathValue("id"))
	}
	if err == nil {
		err = longrun.Errorf(longrun.ENOTFOUND, "the image was lost; it is being rendered again")
	}
	s.fail(w, r, err)
}

func (s *server) mail(w http.ResponseWriter, r *http.Request) {
	if s.Mailbox == nil && s.MailInbox != "" {
		s.fail(w, r, longrun.Errorf(longrun.ENOTFOUND, "mail goes to the local SES server: read it at %s", s.MailInbox))
		return
	}
	if s.Mailbox == nil {
		s.fail(w, r, longrun.Errorf(longrun.ENOTFOUND, "there is no dev mailbox here: mail is sent for real"))
		return
	}
	msgs, err := s.Mailbox.MailFor(r.Context(), Owner(r.Context()), 50)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	Encode(w, http.StatusOK, map[string]any{"messages": msgs})
}

func (s *server) live(w http.ResponseWriter, r *http.Request) {
	if s.Live == nil {
		s.fail(w, r, errors.New("no live push here"))
		return
	}
	s.Live(w, r, s.caller(r))
}

// PushTokenTTL is how long a push token may be used to connect.
const PushTokenTTL = time.Minute

// pushToken names where the page connects for pushes: the WebSocket API,
// with a short-lived token standing for the session (a WebSocket connect
// request to another origin carries no cookie), or "" for /api/live.
func (s *server) pushToken(w http.ResponseWriter, r *http.Request) {
	body := map[string]string{"url": "", "token": ""}
	if s.PushURL != "" {
		body["url"] = s.PushURL
		body["token"] = s.Sessions.PushToken(Owner(r.Context()))
	}
	Encode(w, http.StatusOK, body)
}
