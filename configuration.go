package longrun

import (
	"strconv"
	"time"
)

// Status is where a configuration's latest parameters are on their way to
// an image: queued → rendering → done | failed; any parameter edit → queued.
type Status string

const (
	StatusQueued    Status = "queued"
	StatusRendering Status = "rendering"
	StatusDone      Status = "done"
	StatusFailed    Status = "failed"
)

// What a write changed, for change-feed filters.
const (
	ChangeStatus   = "status"   // status, version or result
	ChangeProgress = "progress" // progress only
	ChangeEdit     = "edit"     // name or e-mail only
)

// Finished reports whether s ends a version's render.
func (s Status) Finished() bool { return s == StatusDone || s == StatusFailed }

// Stats describe a render.
type Stats struct {
	Iterations int64 `json:"iterations"`
	Pixels     int   `json:"pixels"`
	RenderMs   int64 `json:"renderMs"`
}

// A Configuration is a user's named set of parameters and the state of its
// render.
type Configuration struct {
	ID          string
	Owner       string
	Name        string
	Params      Params
	ParamsHash  string
	NotifyEmail string

	// Version counts parameter changes; jobs carry it, and a worker's writes
	// are conditional on it.
	Version int64
	// Rev counts edits by the owner (any field): the ETag. An edit must
	// name the Rev it was made against.
	Rev int64
	// Seq counts every write, the worker's too; stores use it for their own
	// optimistic concurrency.
	Seq int64
	// Change says what the latest write changed: ChangeStatus, ChangeProgress
	// or ChangeEdit. Change feeds filter on it (template.yaml).
	Change string

	Status   Status
	Progress float64 // 0–1 while rendering
	Error    string  // why the latest version failed

	// RenderedHash is the params hash of the image shown, which may be of
	// older parameters (outdated) while a new one renders.
	RenderedHash string
	Stats        *Stats // of the rendered image

	CreatedAt time.Time
	UpdatedAt time.Time
}

// ETag is the entity tag of the configuration's current edit revision.
func (c *Configuration) ETag() string {
	return `"` + c.ID[:8] + "." + strconv.FormatInt(c.Rev, 10) + `"`
}

// Outdated reports whether the image shown is of parameters other than the
// current ones.
func (c *Configuration) Outdated() bool {
	return c.RenderedHash != "" && c.RenderedHash != c.ParamsHash
}

// SetParams applies new parameters: a change bumps Version and queues a
// render (done at once if result exists), an unchanged set does nothing.
// It reports whether the parameters changed.
func (c *Configuration) SetParams(p Params, result *Result, now time.Time) bool {
	hash := p.Hash()
	if hash == c.ParamsHash && c.Version > 0 {
		return false
	}
	c.Params, c.ParamsHash = p, hash
	c.Version++
	c.Change = ChangeStatus
	c.Error = ""
	c.Progress = 0
	if result != nil && result.Hash == hash {
		c.Finish(result)
	} else {
		c.Status = StatusQueued
	}
	c.UpdatedAt = now
	return true
}

// Finish marks the current version done with result's image.
func (c *Configuration) Finish(r *Result) {
	c.Status, c.Progress, c.Error, c.Change = StatusDone, 1, "", ChangeStatus
	c.RenderedHash = r.Hash
	st := r.Stats
	c.Stats = &st
}

// A Result is a rendered image, shared by every configuration whose
// parameters have its hash.
type Result struct {
	Hash      string
	Stats     Stats
	CreatedAt time.Time
}

// ImageKey is the image store's key for the image of params hash h.
func ImageKey(h string) string { return h + ".png" }

// A Job asks for the render of one configuration version.
type Job struct {
	ID      string `json:"id"`
	Version int64  `json:"version"`
	Hash    string `json:"hash"`
}
