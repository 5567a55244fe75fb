package web

import (
	"context"
	"encoding/json"
	"math"
	"time"

	"github.com/longrun/longrun"
)

// A View is a configuration as its owner sees it over the API and in
// pushes.
type View struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Kind       string          `json:"kind"`
	Params     json.RawMessage `json:"params"`
	ParamsHash string          `json:"paramsHash"`
	Version    int64           `json:"version"`
	ETag       string          `json:"etag"`
	Status     longrun.Status  `json:"status"`
	Progress   float64         `json:"progress"`
	// Live is what the kind shows of a computation under way (a
	// training's loss and accuracy by epoch); absent when nothing.
	Live         json.RawMessage `json:"live,omitempty"`
	RenderedHash string          `json:"renderedHash"`
	Outdated     bool            `json:"outdated"`
	ImageURL     string          `json:"imageUrl"`
	// Artifacts are the URLs of the result's other files, by name.
	Artifacts map[string]string `json:"artifacts,omitempty"`
	Error     string            `json:"error"`
	Stats     *longrun.Stats    `json:"stats"`
	CreatedAt time.Time         `json:"createdAt"`
	UpdatedAt time.Time         `json:"updatedAt"`
	// QueuedAt, StartedAt and FinishedAt time the current version's
	// render; each is absent until it happens.
	QueuedAt    time.Time `json:"queuedAt,omitzero"`
	StartedAt   time.Time `json:"startedAt,omitzero"`
	FinishedAt  time.Time `json:"finishedAt,omitzero"`
	NotifyEmail string    `json:"notifyEmail"`
	// NotifyEmailStatus is "" without an address, else pending (the
	// confirmation mail is out), confirmed, unsubscribed or suppressed.
	NotifyEmailStatus string `json:"notifyEmailStatus"`
	// Notify is how the owner chose to hear of this configuration's ends;
	// absent: as their default (GET /api/preferences).
	Notify *longrun.Channels `json:"notify,omitempty"`
	// NotifyError says why the latest version's e-mail could not be sent.
	NotifyError string `json:"notifyError"`
	// History lists earlier versions, the latest first.
	History []EarlierView `json:"history"`
	// Tiles is the progress of a tiled render (a big image); absent for a
	// render in one piece.
	Tiles *TilesView `json:"tiles,omitempty"`
	// Queue is where a queued version stands, where the queue can tell
	// (locally; not on AWS, whose queue says only its depth).
	Queue *QueueView `json:"queue,omitempty"`
}

// A QueueView is a queued version's place: the jobs (parts) handed out
// before its first under the fair order, and when that should start, in
// seconds, from the queue's recent pace (absent when it has none).
type QueueView struct {
	Ahead           int      `json:"ahead"`
	StartsInSeconds *float64 `json:"startsInSeconds,omitempty"`
}

// TilesView is how far a tiled render is: tiles done of the total, each
// size² pixels, and a bit per tile (base64, by index, row-major) saying
// which.
type TilesView struct {
	Total int    `json:"total"`
	Done  int    `json:"done"`
	Size  int    `json:"size"`
	Map   []byte `json:"map"`
}

// An EarlierView is an earlier version of a configuration, with the URL of
// its image where it was rendered.
type EarlierView struct {
	Version    int64           `json:"version"`
	Params     json.RawMessage `json:"params"`
	ParamsHash string          `json:"paramsHash"`
	At         time.Time       `json:"at"`
	ImageURL   string          `json:"imageUrl,omitempty"`
}

// ViewOf returns what the owner sees, with its address's status
// (longrun.EmailStatus). The image URL names the rendered hash, so a
// browser never shows a cached image of other parameters.
func ViewOf(c *longrun.Configuration, emailStatus string) View {
	v := View{ID: c.ID, Name: c.Name, Kind: c.KindName(), Params: c.Params, Live: c.Live, ParamsHash: c.ParamsHash, Version: c.Version,
		ETag: c.ETag(), Status: c.Status, Progress: c.Progress, RenderedHash: c.RenderedHash,
		Outdated: c.Outdated(), Error: c.Error, Stats: c.Stats, CreatedAt: c.CreatedAt,
		UpdatedAt: c.UpdatedAt, QueuedAt: c.QueuedAt, StartedAt: c.StartedAt, FinishedAt: c.FinishedAt, NotifyEmail: c.NotifyEmail, NotifyEmailStatus: emailStatus, NotifyError: c.NotifyError, Notify: c.Notify}
	if c.RenderedHash != "" {
		v.ImageURL = imageURL(c.ID, c.RenderedHash)
		v.Artifacts = artifactURLs(configurationURL(c.ID), c)
	}
	if t := c.Tiling; t != nil {
		v.Tiles = &TilesView{Total: t.Total, Done: t.Count, Size: t.Size, Map: t.Done}
	}
	v.History = make([]EarlierView, len(c.History))
	for i, e := range c.History {
		v.History[i] = EarlierView{Version: e.Version, Params: e.Params, ParamsHash: e.Hash, At: e.At}
		if e.Rendered {
			v.History[i].ImageURL = imageURL(c.ID, e.Hash)
		}
	}
	return v
}

// artifactURLs are the URLs of c's result's files beside its image, under
// base (the configuration's, or a read-only link's); nil when none.
func artifactURLs(base string, c *longrun.Configuration) map[string]string {
	if c.RenderedHash == "" || c.Stats == nil || len(c.Stats.Artifacts) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, name := range c.Stats.Artifacts {
		out[name] = base + "/artifacts/" + name + "?h=" + c.RenderedHash[:16]
	}
	return out
}

// imageURL is the path of the image of params hash h, as configuration id
// shows it.
func imageURL(id, h string) string { return configurationURL(id) + "/image?h=" + h[:16] }

// configurationURL is the path of a configuration's resource.
func configurationURL(id string) string { return "/api/configurations/" + id }

// view is what the owner sees of c, its address's status looked up; a
// failed lookup shows no status rather than failing the request.
func (s *server) view(ctx context.Context, c *longrun.Configuration) View {
	status, err := longrun.EmailStatus(ctx, s.Service.Addresses, c.Owner, c.NotifyEmail)
	if err != nil {
		s.Logger.WarnContext(ctx, "address status unknown", "err", err)
	}
	v := ViewOf(c, status)
	if p, ok := s.Service.Place(ctx, c); ok {
		v.Queue = &QueueView{Ahead: p.Ahead}
		if p.StartsIn >= 0 {
			secs := math.Round(p.StartsIn.Seconds()*10) / 10
			v.Queue.StartsInSeconds = &secs
		}
	}
	return v
}
