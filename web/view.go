package web

import (
	"time"

	"github.com/longrun/longrun"
)

// A View is a configuration as its owner sees it over the API and in
// pushes.
type View struct {
	ID           string         `json:"id"`
	Name         string         `json:"name"`
	Params       longrun.Params `json:"params"`
	ParamsHash   string         `json:"paramsHash"`
	Version      int64          `json:"version"`
	ETag         string         `json:"etag"`
	Status       longrun.Status `json:"status"`
	Progress     float64        `json:"progress"`
	RenderedHash string         `json:"renderedHash"`
	Outdated     bool           `json:"outdated"`
	ImageURL     string         `json:"imageUrl"`
	Error        string         `json:"error"`
	Stats        *longrun.Stats `json:"stats"`
	CreatedAt    time.Time      `json:"createdAt"`
	UpdatedAt    time.Time      `json:"updatedAt"`
	NotifyEmail  string         `json:"notifyEmail"`
}

// ViewOf returns what the owner sees. The image URL names the rendered
// hash, so a browser never shows a cached image of other parameters.
func ViewOf(c *longrun.Configuration) View {
	v := View{ID: c.ID, Name: c.Name, Params: c.Params, ParamsHash: c.ParamsHash, Version: c.Version,
		ETag: c.ETag(), Status: c.Status, Progress: c.Progress, RenderedHash: c.RenderedHash,
		Outdated: c.Outdated(), Error: c.Error, Stats: c.Stats, CreatedAt: c.CreatedAt,
		UpdatedAt: c.UpdatedAt, NotifyEmail: c.NotifyEmail}
	if c.RenderedHash != "" {
		v.ImageURL = configurationURL(c.ID) + "/image?h=" + c.RenderedHash[:16]
	}
	return v
}

// configurationURL is the path of a configuration's resource.
func configurationURL(id string) string { return "/api/configurations/" + id }
