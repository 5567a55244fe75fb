package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/longrun/longrun"
)

func (s *server) health(w http.ResponseWriter, r *http.Request) {
	body := map[string]any{"status": "ok"}
	if s.Health != nil {
		for k, v := range s.Health(r.Context()) {
			body[k] = v
		}
	}
	encode(w, http.StatusOK, body)
}

// input is the body of a create or an edit.
type input struct {
	Name        *string              `json:"name"`
	Params      *longrun.ParamsInput `json:"params"`
	NotifyEmail *string              `json:"notifyEmail"`
}

// validate returns the normalized fields, or every rule the input breaks.
func (in *input) validate() (name string, p longrun.Params, email string, err error) {
	var fields []longrun.FieldError
	p, perr := in.Params.Normalize("params.")
	fields = append(fields, longrun.Fields(perr)...)
	if in.Name != nil {
		name = strings.TrimSpace(*in.Name)
		fields = append(fields, longrun.Fields(longrun.CheckName(name))...)
	} else if perr == nil {
		name = fmt.Sprintf("c = %g%+gi", p.C.Re, p.C.Im)
	}
	if in.NotifyEmail != nil {
		email = strings.TrimSpace(*in.NotifyEmail)
		fields = append(fields, longrun.Fields(longrun.CheckEmail(email))...)
	}
	if len(fields) > 0 {
		return "", longrun.Params{}, "", &longrun.Error{Code: longrun.EINVALID, Message: "invalid request", Fields: fields}
	}
	return name, p, email, nil
}

// edit is a decoded, validated create or edit, with the result its
// parameters already have, if any.
type edit struct {
	name, email string
	params      longrun.Params
	result      *longrun.Result
}

// readEdit decodes and validates the body and looks up its parameters'
// result.
func (s *server) readEdit(w http.ResponseWriter, r *http.Request) (edit, error) {
	var in input
	if err := decode(w, r, &in); err != nil {
		return edit{}, err
	}
	name, p, email, err := in.validate()
	if err != nil {
		return edit{}, err
	}
	result, err := s.Results.Result(r.Context(), p.Hash())
	return edit{name: name, email: email, params: p, result: result}, err
}

func (s *server) create(w http.ResponseWriter, r *http.Request) {
	e, err := s.readEdit(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	now := s.now()
	c := &longrun.Configuration{ID: longrun.NewID(), Owner: Owner(r.Context()), Name: e.name, NotifyEmail: e.email,
		Rev: 1, CreatedAt: now}
	c.SetParams(e.params, e.result, now)
	if err := s.Store.CreateConfiguration(r.Context(), c); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/configurations/"+c.ID)
	if !s.enqueue(w, r, c) {
		return
	}
	w.Header().Set("ETag", c.ETag())
	encode(w, http.StatusCreated, c.View())
}

// enqueue sends the configuration's job if it is queued. If the queue fails
// the configuration stays queued and the client is told to retry.
func (s *server) enqueue(w http.ResponseWriter, r *http.Request, c *longrun.Configuration) bool {
	if c.Status == longrun.StatusDone {
		s.Metrics.Add(longrun.MetricJobsDeduplicated, 1)
	}
	if c.Status != longrun.StatusQueued {
		return true
	}
	if err := s.Queue.SendJob(r.Context(), longrun.Job{ID: c.ID, Version: c.Version, Hash: c.ParamsHash}); err != nil {
		s.Logger.Error("enqueue failed", "configurationId", c.ID, "version", c.Version, "err", err)
		s.fail(w, r, longrun.Errorf(longrun.EUNAVAILABLE,
			"configuration %s is saved but its render could not be queued; retry with POST /api/configurations/%s/render", c.ID, c.ID))
		return false
	}
	s.Metrics.Add(longrun.MetricJobsEnqueued, 1)
	return true
}

// owned returns the owner's configuration with the path's id; another
// owner's is not found, as is a malformed id.
func (s *server) owned(r *http.Request) (*longrun.Configuration, error) {
	id := r.PathValue("id")
	if !longrun.ValidID(id) {
		return nil, longrun.Errorf(longrun.ENOTFOUND, "configuration not found")
	}
	c, err := s.Store.Configuration(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if c.Owner != Owner(r.Context()) {
		return nil, longrun.Errorf(longrun.ENOTFOUND, "configuration not found")
	}
	return c, nil
}

func (s *server) get(w http.ResponseWriter, r *http.Request) {
	c, err := s.owned(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("ETag", c.ETag())
	encode(w, http.StatusOK, c.View())
}

type page struct {
	Configurations []longrun.View `json:"configurations"`
	NextCursor     string         `json:"nextCursor"`
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
	list, next, err := s.Store.Configurations(r.Context(), Owner(r.Context()), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := page{Configurations: make([]longrun.View, len(list)), NextCursor: next}
	for i, c := range list {
		p.Configurations[i] = c.View()
	}
	encode(w, http.StatusOK, p)
}

func (s *server) update(w http.ResponseWriter, r *http.Request) {
	if _, err := s.owned(r); err != nil {
		s.fail(w, r, err)
		return
	}
	match := r.Header.Get("If-Match")
	if match == "" {
		s.fail(w, r, longrun.Errorf(longrun.EPRECONDITIONREQUIRED, "an edit needs If-Match with the configuration's ETag"))
		return
	}
	e, err := s.readEdit(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	changed := false
	c, err := s.Store.UpdateConfiguration(r.Context(), r.PathValue("id"), func(c *longrun.Configuration) error {
		if !etagMatches(match, c.ETag()) {
			return longrun.Errorf(longrun.EPRECONDITION, "the configuration changed since you loaded it (ETag %s); reload and edit again", c.ETag())
		}
		now := s.now()
		c.Name, c.NotifyEmail = e.name, e.email
		c.Change = longrun.ChangeEdit
		changed = c.SetParams(e.params, e.result, now)
		c.Rev++
		c.UpdatedAt = now
		return nil
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if changed && !s.enqueue(w, r, c) {
		return
	}
	w.Header().Set("ETag", c.ETag())
	encode(w, http.StatusOK, c.View())
}

// etagMatches reports whether an If-Match header names etag (or is "*").
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

func (s *server) delete(w http.ResponseWriter, r *http.Request) {
	c, err := s.owned(r)
	if err == nil {
		if match := r.Header.Get("If-Match"); match != "" && !etagMatches(match, c.ETag()) {
			err = longrun.Errorf(longrun.EPRECONDITION, "the configuration changed since you loaded it")
		}
	}
	if err == nil {
		err = s.Store.DeleteConfiguration(r.Context(), c.ID)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// rerender queues a failed configuration again, or re-sends the job of one
// left queued by a failed enqueue.
func (s *server) rerender(w http.ResponseWriter, r *http.Request) {
	c, err := s.owned(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	result, err := s.Results.Result(r.Context(), c.ParamsHash)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c, err = s.Store.UpdateConfiguration(r.Context(), c.ID, func(c *longrun.Configuration) error {
		switch c.Status {
		case longrun.StatusDone:
			return longrun.Errorf(longrun.ECONFLICT, "configuration is already rendered")
		case longrun.StatusRendering:
			return longrun.Errorf(longrun.ECONFLICT, "configuration is rendering now")
		}
		if result != nil && result.Hash == c.ParamsHash {
			c.Finish(result)
		} else {
			c.Status, c.Error, c.Progress, c.Change = longrun.StatusQueued, "", 0, longrun.ChangeStatus
		}
		c.UpdatedAt = s.now()
		return nil
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !s.enqueue(w, r, c) {
		return
	}
	w.Header().Set("ETag", c.ETag())
	encode(w, http.StatusAccepted, c.View())
}

func (s *server) image(w http.ResponseWriter, r *http.Request) {
	c, err := s.owned(r)
	if err == nil && c.RenderedHash == "" {
		err = longrun.Errorf(longrun.ENOTFOUND, "configuration has no image yet")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	key := longrun.ImageKey(c.RenderedHash)
	// The URL names the hash, so the response may be cached for good.
	immutable := r.URL.Query().Get("h") != "" && strings.HasPrefix(c.RenderedHash, r.URL.Query().Get("h"))
	if u, ok := s.Images.(imageURLer); ok {
		url, err := u.ImageURL(r.Context(), key)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		w.Header().Set("Cache-Control", "private, no-cache")
		http.Redirect(w, r, url, http.StatusFound)
		return
	}
	f, err := s.Images.OpenImage(r.Context(), key)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "image/png")
	if immutable {
		w.Header().Set("Cache-Control", "private, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "private, no-cache")
	}
	w.Header().Set("ETag", `"`+c.RenderedHash[:16]+`"`)
	if _, err := io.Copy(w, f); err != nil {
		s.Logger.Warn("image: copy failed", "err", err)
	}
}

func (s *server) mail(w http.ResponseWriter, r *http.Request) {
	if s.Mailbox == nil {
		s.fail(w, r, longrun.Errorf(longrun.ENOTFOUND, "there is no dev mailbox here: mail is sent for real"))
		return
	}
	msgs, err := s.Mailbox.MailFor(r.Context(), Owner(r.Context()), 50)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	encode(w, http.StatusOK, map[string]any{"messages": msgs})
}

func (s *server) live(w http.ResponseWriter, r *http.Request) {
	if s.Live == nil {
		s.fail(w, r, errors.New("no live push here"))
		return
	}
	s.Live(w, r, Owner(r.Context()))
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
		body["token"] = s.Sessions.Token(Owner(r.Context()), PushTokenTTL)
	}
	encode(w, http.StatusOK, body)
}
