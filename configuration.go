package longrun

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Status is where a configuration's latest parameters are on their way to
// an image: queued → rendering → done | failed | cancelled; any parameter
// edit → queued.
type Status string

const (
	StatusQueued    Status = "queued"
	StatusRendering Status = "rendering"
	StatusDone      Status = "done"
	StatusFailed    Status = "failed"
	StatusCancelled Status = "cancelled"
)

// Statuses lists every status, in the order a render passes through them.
var Statuses = []Status{StatusQueued, StatusRendering, StatusDone, StatusFailed, StatusCancelled}

// What a write changed, for change-feed filters (FeedFilter).
const (
	ChangeStatus   = "status"   // status, version or result
	ChangeProgress = "progress" // progress only
	ChangeEdit     = "edit"     // name or e-mail only
)

// Finished reports whether s ends a version's render.
func (s Status) Finished() bool {
	return s == StatusDone || s == StatusFailed || s == StatusCancelled
}

// Active reports whether s holds a place in the queue: what the quotas
// count as active.
func (s Status) Active() bool { return s == StatusQueued || s == StatusRendering }

// Stats describe a computation's result.
type Stats struct {
	// Iterations is the work done, in the kind's unit (a Julia set's
	// iterations, a training's examples seen); Pixels the image's.
	Iterations int64 `json:"iterations"`
	Pixels     int   `json:"pixels"`
	RenderMs   int64 `json:"renderMs"`
	// Bytes is the result's size, image and artifacts, what keeping it
	// costs its owners.
	Bytes int64 `json:"bytes,omitempty"`
	// Artifacts name the result's files beside its image (ArtifactKey).
	Artifacts []string `json:"artifacts,omitempty"`
	// Extra are the kind's own figures (a training's epochs,
	// epochsTrained, accuracy, loss), beside the others in JSON.
	Extra map[string]float64 `json:"-"`
}

// statsJSON is Stats without its JSON methods.
type statsJSON Stats

// MarshalJSON writes Extra's figures beside the others.
func (s Stats) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(statsJSON(s))
	if err != nil || len(s.Extra) == 0 {
		return b, err
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range s.Extra {
		if _, ok := m[k]; !ok {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads the figures it does not know into Extra.
func (s *Stats) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, (*statsJSON)(s)); err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	for k, v := range m {
		switch k {
		case "iterations", "pixels", "renderMs", "bytes", "artifacts":
			continue
		}
		var f float64
		if json.Unmarshal(v, &f) == nil {
			if s.Extra == nil {
				s.Extra = map[string]float64{}
			}
			s.Extra[k] = f
		}
	}
	return nil
}

// A Configuration is a user's named set of parameters and the state of its
// render. Its state changes only through its transition methods (Edit,
// Requeue, StartRender, ReportProgress, Finish, Fail, Cancel), which keep
// status, progress, error, timestamps and Change together.
type Configuration struct {
	ID    string
	Owner string
	// Client is the network the configuration was last written from,
	// its render's fair-share group in the queue (see ClientKey).
	Client string
	Name   string
	// Kind names the computation (see Kind); "" is DefaultKind, as
	// records kept before kinds existed have it.
	Kind string
	// Params is the current version's spec, as its kind normalized it
	// (Spec.JSON); ParamsHash its content hash, Work its estimated cost.
	Params      json.RawMessage
	ParamsHash  string
	Work        int64
	NotifyEmail string
	// Notify is how the owner wants to hear of this configuration's ends;
	// nil: as the owner's default.
	Notify *Channels
	// Trace is the current version's trace (a W3C traceparent), begun by
	// the request that made the version; its jobs carry it.
	Trace string

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
	// or ChangeEdit. Change feeds filter on it (FeedFilter).
	Change string

	Status   Status
	Progress float64 // 0–1 while rendering
	// Live is what the kind reports of a computation under way, beside
	// its progress (a training's loss and accuracy by epoch); nil when
	// it reports nothing. A new version starts without.
	Live  json.RawMessage
	Error string // why the latest version failed
	// NotifyError says why the e-mail of the latest version could not be
	// sent, when retrying cannot help.
	NotifyError string
	// MailRequests counts the owner's requests to be sent the current
	// result again (RequestMail); the notifier mails once per request.
	MailRequests int64
	// ShareGen is the generation of the configuration's read-only links
	// (the share link, the e-mails' links): revoking them counts it up, and
	// a link of another generation opens nothing.
	ShareGen int64

	// RenderedHash is the params hash of the image shown, which may be of
	// older parameters (outdated) while a new one renders.
	RenderedHash string
	Stats        *Stats // of the rendered image

	// QueuedAt, StartedAt and FinishedAt time the current version's render:
	// when it was queued, when a worker began it, and when it ended (done,
	// failed or cancelled). Zero: not yet, for this version.
	QueuedAt   time.Time
	StartedAt  time.Time
	FinishedAt time.Time

	// Tiling is the state of the current version's tiled render; nil for
	// a render in one piece.
	Tiling *Tiling

	// History holds the parameters of earlier versions, the latest first,
	// one entry per distinct parameter set, at most HistoryLength.
	History []Earlier

	CreatedAt time.Time
	UpdatedAt time.Time
}

// HistoryLength bounds a configuration's History.
const HistoryLength = 12

// Earlier is a configuration's earlier version: its parameters, and
// whether its image was rendered when it was left.
type Earlier struct {
	Version  int64           `json:"version"`
	Params   json.RawMessage `json:"params"`
	Hash     string          `json:"hash"`
	Rendered bool            `json:"rendered,omitempty"`
	Bytes    int64           `json:"bytes,omitempty"` // the rendered image's size
	At       time.Time       `json:"at"`
}

// EarlierImage returns the history entry whose rendered image has a hash
// beginning with prefix (at least 16 characters).
func (c *Configuration) EarlierImage(prefix string) (Earlier, bool) {
	if len(prefix) < 16 {
		return Earlier{}, false
	}
	for _, e := range c.History {
		if e.Rendered && strings.HasPrefix(e.Hash, prefix) {
			return e, true
		}
	}
	return Earlier{}, false
}

// remember puts the current version at the head of History before its
// parameters change, dropping any older entry of the same or the new
// parameters and the oldest beyond HistoryLength.
func (c *Configuration) remember(next string, now time.Time) {
	if c.Version == 0 {
		return
	}
	e := Earlier{Version: c.Version, Params: c.Params, Hash: c.ParamsHash, At: now,
		Rendered: c.Status == StatusDone && c.RenderedHash == c.ParamsHash}
	if e.Rendered && c.Stats != nil {
		e.Bytes = c.Stats.Bytes
	}
	h := []Earlier{e}
	for _, old := range c.History {
		if old.Hash != e.Hash && old.Hash != next && len(h) < HistoryLength {
			h = append(h, old)
		}
	}
	c.History = h
}

// A Draft is a validated create or edit: what the owner sets.
type Draft struct {
	Name        string
	Kind        string
	Spec        Spec
	NotifyEmail string
	Notify      *Channels
}

// NewConfiguration returns owner's new configuration of the draft: queued,
// or done at once when result (non-nil) already holds its image.
func NewConfiguration(owner string, d Draft, result *Result, now time.Time) *Configuration {
	c := &Configuration{ID: NewID(), Owner: owner, Name: d.Name, Kind: d.Kind, NotifyEmail: d.NotifyEmail, Notify: d.Notify, Rev: 1, CreatedAt: now}
	c.setParams(d.Spec, result, now)
	return c
}

// ETag is the entity tag of the configuration's current edit revision.
func (c *Configuration) ETag() string {
	return `"` + c.ID[:8] + "." + strconv.FormatInt(c.Rev, 10) + `"`
}

// MatchesETag reports whether an If-Match header value names the current
// ETag (or is "*").
func (c *Configuration) MatchesETag(header string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || t == c.ETag() {
			return true
		}
	}
	return false
}

// Outdated reports whether the image shown is of parameters other than the
// current ones.
func (c *Configuration) Outdated() bool {
	return c.RenderedHash != "" && c.RenderedHash != c.ParamsHash
}

// Job returns the render job of the current version.
func (c *Configuration) Job() Job {
	return Job{ID: c.ID, Version: c.Version, Hash: c.ParamsHash, Owner: c.Owner, Client: c.Client, Work: c.Work, Trace: c.Trace}
}

// ErrSuperseded means a write was meant for a version that is no longer
// the configuration's current one.
var ErrSuperseded = &Error{Code: ECONFLICT, Message: "superseded by a newer version"}

// ErrStopped means a render was stopped by its owner (cancelled) or is no
// longer rendering.
var ErrStopped = &Error{Code: ECONFLICT, Message: "the render was stopped"}

// The transitions, and the statuses each may start from.
var transitions = map[string][]Status{
	"requeue":  {StatusQueued, StatusFailed, StatusCancelled},
	"start":    {StatusQueued, StatusRendering},
	"progress": {StatusRendering},
	"finish":   {StatusQueued, StatusRendering, StatusDone},
	"fail":     {StatusQueued, StatusRendering, StatusFailed},
	"cancel":   {StatusQueued, StatusRendering},
	"heal":     {StatusDone},
	"mail":     {StatusDone, StatusFailed},
}

// Allowed reports whether the named transition may start from status s.
func Allowed(transition string, s Status) bool {
	for _, from := range transitions[transition] {
		if from == s {
			return true
		}
	}
	return false
}

// check refuses a transition from the wrong status, or for another version
// (version 0 skips that check).
func (c *Configuration) check(transition string, version int64) error {
	if version != 0 && version != c.Version {
		return ErrSuperseded
	}
	if Allowed(transition, c.Status) {
		return nil
	}
	if transition == "progress" || transition == "start" {
		return ErrStopped
	}
	return Errorf(ECONFLICT, "the configuration is %s: %s", c.Status, refusals[transition])
}

// refusals say which statuses a transition needs, for its conflict error.
var refusals = map[string]string{
	"requeue": "only a failed or cancelled one is rendered again",
	"finish":  "only a queued or rendering one can finish",
	"fail":    "only a queued or rendering one can fail",
	"cancel":  "only a queued or rendering one can be cancelled",
	"heal":    "only a done one has an image to lose",
	"mail":    "only a finished (done or failed) one has a result to send",
}

func (c *Configuration) set(s Status, progress float64, reason string, now time.Time) {
	c.Status, c.Progress, c.Error, c.Change, c.UpdatedAt = s, progress, reason, ChangeStatus, now
}

// Edit applies the owner's draft: a new revision (ETag) always; a new
// version, queued or done at once from result, when the parameters
// changed. It reports whether they did, so a job must be sent.
func (c *Configuration) Edit(d Draft, result *Result, now time.Time) bool {
	if d.NotifyEmail != c.NotifyEmail {
		c.NotifyError = ""
	}
	c.Name, c.NotifyEmail, c.Notify = d.Name, d.NotifyEmail, d.Notify
	c.Rev++
	c.Change, c.UpdatedAt = ChangeEdit, now
	return c.setParams(d.Spec, result, now)
}

// setParams applies new parameters: a change bumps Version and queues a
// render (done at once if result holds its image).
func (c *Configuration) setParams(spec Spec, result *Result, now time.Time) bool {
	hash := spec.Hash()
	if hash == c.ParamsHash && c.Version > 0 {
		return false
	}
	c.remember(hash, now)
	c.Params, c.ParamsHash, c.Work = spec.JSON(), hash, spec.Work()
	c.Version++
	c.queue(result, now)
	return true
}

func (c *Configuration) queue(result *Result, now time.Time) {
	c.QueuedAt, c.StartedAt, c.FinishedAt = now, time.Time{}, time.Time{}
	c.Tiling, c.Live = nil, nil
	if result != nil && result.Hash == c.ParamsHash {
		c.finish(result, now)
		return
	}
	c.set(StatusQueued, 0, "", now)
}

// Requeue queues the current version again after it failed or was
// cancelled, or re-sends the job of one left queued; it is done at once when
// result holds its image.
func (c *Configuration) Requeue(result *Result, now time.Time) error {
	if err := c.check("requeue", 0); err != nil {
		return err
	}
	c.queue(result, now)
	return nil
}

// StartRender marks the version's render begun.
func (c *Configuration) StartRender(version int64, now time.Time) error {
	if err := c.check("start", version); err != nil {
		return err
	}
	c.set(StatusRendering, 0, "", now)
	c.StartedAt = now
	return nil
}

// ReportProgress records the fraction done of the version's computation,
// and what its kind shows of it meanwhile (nil: what it showed). It
// returns ErrSuperseded or ErrStopped when the computation should stop.
func (c *Configuration) ReportProgress(version int64, done float64, live json.RawMessage) error {
	if err := c.check("progress", version); err != nil {
		return err
	}
	c.Progress, c.Change = done, ChangeProgress
	if live != nil {
		c.Live = live
	}
	return nil
}

// Finish marks the version done with result's image.
func (c *Configuration) Finish(version int64, r *Result, now time.Time) error {
	if err := c.check("finish", version); err != nil {
		return err
	}
	c.finish(r, now)
	return nil
}

func (c *Configuration) finish(r *Result, now time.Time) {
	c.set(StatusDone, 1, "", now)
	c.RenderedHash, c.FinishedAt = r.Hash, now
	st := r.Stats
	c.Stats = &st
}

// Fail marks the version failed, for the reason given.
func (c *Configuration) Fail(version int64, reason string, now time.Time) error {
	if err := c.check("fail", version); err != nil {
		return err
	}
	c.set(StatusFailed, 0, reason, now)
	c.FinishedAt = now
	return nil
}

// Cancel stops the current version's render at the owner's request.
func (c *Configuration) Cancel(now time.Time) error {
	if err := c.check("cancel", 0); err != nil {
		return err
	}
	c.set(StatusCancelled, 0, "cancelled by its owner", now)
	c.FinishedAt = now
	return nil
}

// MailFailed records why the version's e-mail could not be sent.
func (c *Configuration) MailFailed(version int64, reason string, now time.Time) error {
	if version != c.Version {
		return ErrSuperseded
	}
	c.NotifyError, c.Change, c.UpdatedAt = reason, ChangeEdit, now
	return nil
}

// RequestMail asks for the finished version's result to be e-mailed now,
// for an address added after it finished, or to be sent it again.
func (c *Configuration) RequestMail(now time.Time) error {
	if err := c.check("mail", 0); err != nil {
		return err
	}
	if c.NotifyEmail == "" {
		return Errorf(ECONFLICT, "the configuration has no e-mail address: save one first")
	}
	c.MailRequests++
	c.NotifyError, c.Change, c.UpdatedAt = "", ChangeEdit, now
	return nil
}

// RevokeLinks ends every read-only link to the configuration made so far
// (shared, or in e-mails): the next generation's link replaces them.
func (c *Configuration) RevokeLinks(now time.Time) {
	c.ShareGen++
	c.Change, c.UpdatedAt = ChangeEdit, now
}

// Heal queues a done configuration whose image was lost (deleted,
// expired): it shows no image, and renders again.
func (c *Configuration) Heal(now time.Time) error {
	if err := c.check("heal", 0); err != nil {
		return err
	}
	c.RenderedHash, c.Stats, c.Tiling = "", nil, nil
	c.set(StatusQueued, 0, "", now)
	return nil
}

// A Result is a rendered image, shared by every configuration whose
// parameters have its hash.
type Result struct {
	Hash      string
	Stats     Stats
	CreatedAt time.Time
}

// KindName is the configuration's kind: DefaultKind when it names none.
func (c *Configuration) KindName() string {
	if c.Kind == "" {
		return DefaultKind
	}
	return c.Kind
}

// ImageKey is the image store's key for the image of params hash h: every
// kind's result has one (a Julia set, a classifier's decision boundary),
// what lists and e-mails show.
func ImageKey(h string) string { return h + ".png" }

// ArtifactKey is the image store's key of a result's other artifact,
// named name ("weights.json"): kept, shared and freed with its image.
func ArtifactKey(h, name string) string { return h + "." + name }

// ThumbnailKey is the image store's key of a result's thumbnail, its
// image shrunk for lists (at most ThumbnailSide pixels a side), where the
// kind makes one: kept and freed with its image.
func ThumbnailKey(h string) string { return ArtifactKey(h, "thumb.png") }

// PreviewKey is the image store's key of a preview of params hash h's
// result, made before its parts are computed: what the page shows while
// they fill in. Freed with its image.
func PreviewKey(h string) string { return ArtifactKey(h, "preview.png") }

// ThumbnailSide is the longest side of a thumbnail: a list's 48 and a
// version strip's 56 CSS pixels, on a screen of two device pixels to one.
const ThumbnailSide = 128

// Prefixes of the image store's keys that are not results: what a kind
// keeps to compute less later (Julia's escape counts, a training's
// checkpoints) under CountsPrefix, the outputs of a version's parts under
// TilesPrefix. They are kept apart from results, so a store can keep them
// for less long (template.yaml's lifecycle rules expire each prefix on its
// own); they are a cache, and a kind computes again what is gone.
const (
	CountsPrefix = "counts/"
	TilesPrefix  = "tiles/"
)

// KeyPrefixes are the prefixes a key of the image store may have; an
// image's key has none.
var KeyPrefixes = []string{CountsPrefix, TilesPrefix}

// A Job asks for the render of one configuration version, or of one part
// of it. Queues share out their jobs fairly: between clients (the network
// a write came from) first, then between the owners of a client, each by
// the work it was served, then FIFO; so a quiet client's job goes next
// however a flood is spread over owners, and however big its jobs are.
type Job struct {
	ID      string `json:"id"`
	Version int64  `json:"version"`
	Hash    string `json:"hash"`
	Owner   string `json:"owner,omitempty"`
	// Client is the network the configuration was last written from
	// (see ClientKey); Work is the job's estimated iterations, what its
	// client's and owner's shares are charged when it is handed out.
	Client string `json:"client,omitempty"`
	Work   int64  `json:"work,omitempty"`
	// Recheck marks the outbox's copy of a job (see notify.Notifier's
	// Outbox): it renders only a version still queued, one whose own job
	// was never sent or is still waiting; otherwise it is dropped.
	Recheck bool `json:"recheck,omitempty"`
	// Step is which step of the version's computation the job is:
	// JobWhole (empty), JobPart or JobAssemble; Tile is a part job's part.
	// (Its JSON name is "kind", as jobs already queued have it; what a
	// configuration computes is Configuration.Kind.)
	Step string `json:"kind,omitempty"`
	Tile int    `json:"tile,omitempty"`
	// Trace is the version's trace (Configuration.Trace), which the job's
	// spans continue.
	Trace string `json:"trace,omitempty"`
}

// Group is the job's fair-share group on a queue that knows one level of
// groups (SQS fair queues): its client, or its owner when it has none.
func (j Job) Group() string {
	if j.Client != "" {
		return j.Client
	}
	return j.Owner
}

// Job steps: a version's computation whole (which, when its kind cuts it
// into parts, plans them), one part of it, or the assembly of its parts.
const (
	JobWhole    = ""
	JobPart     = "tile"
	JobAssemble = "assemble"
)

// errUnchanged tells a store's update that there is nothing to write.
var errUnchanged = errors.New("nothing to change")

// Tiling is the state of the current version's tiled render: which of its
// tiles are done (a tile finishes once however often its job is
// delivered), and what they found.
type Tiling struct {
	Total int    `json:"total"`
	Size  int    `json:"size"` // pixels per side of a tile
	Done  []byte `json:"done"` // a bit per tile, by index
	Count int    `json:"count"`
	// Lo and Hi are the least and greatest count over the tiles done: the
	// image's range, for its colours, once all are.
	Lo         int   `json:"lo"`
	Hi         int   `json:"hi"`
	Iterations int64 `json:"iterations"`
	RenderMs   int64 `json:"renderMs"` // the tiles' render times, summed
}

// Complete reports whether every tile is done.
func (t *Tiling) Complete() bool { return t != nil && t.Count == t.Total }

// A TileResult is what one tile's render found. RenderMs is its render's
// time, a fraction of a millisecond included: the tiles of a big view may
// each take less than one, and their sum must not be 0.
type TileResult struct {
	Lo, Hi     int
	Iterations int64
	RenderMs   float64
}

// StartTiles marks the version's tiled render begun, of total tiles of
// side size. A render begun already (its job delivered again) keeps the
// tiles it has.
func (c *Configuration) StartTiles(version int64, total, size int, now time.Time) error {
	if err := c.check("start", version); err != nil {
		return err
	}
	if c.Status == StatusRendering && c.Tiling != nil && c.Tiling.Total == total && c.Tiling.Size == size {
		return errUnchanged
	}
	c.set(StatusRendering, 0, "", now)
	c.StartedAt = now
	c.Tiling = &Tiling{Total: total, Size: size, Done: make([]byte, (total+7)/8), Lo: math.MaxInt, Hi: 0}
	return nil
}

// TallyTiles records the version's tiles done, as the tile ledger sums
// them: which, the count range, the iterations. A tally no newer than what
// the configuration holds (writes of concurrent tiles arrive out of order)
// changes nothing.
func (c *Configuration) TallyTiles(version int64, tally *TileTally) error {
	if err := c.check("progress", version); err != nil {
		return err
	}
	t := c.Tiling
	if t == nil {
		return Errorf(EINVALID, "a tally of tiles for a render that has none")
	}
	if len(tally.Tiles) <= t.Count {
		return errUnchanged
	}
	done := make([]byte, (t.Total+7)/8)
	count := 0
	for _, i := range tally.Tiles {
		if i >= 0 && i < t.Total && done[i/8]&(1<<(i%8)) == 0 {
			done[i/8] |= 1 << (i % 8)
			count++
		}
	}
	t.Done, t.Count = done, count
	t.Lo, t.Hi, t.Iterations, t.RenderMs = tally.Lo, tally.Hi, tally.Iterations, int64(math.Round(tally.RenderMs))
	c.Progress, c.Change = float64(t.Count)/float64(t.Total), ChangeProgress
	return nil
}

// KeptBytes is what the configuration keeps: the bytes of its image, if
// it is done, and of its earlier versions' images. An owner's byte quota
// counts them.
func (c *Configuration) KeptBytes() int64 {
	var n int64
	if c.Status == StatusDone && c.Stats != nil {
		n += c.Stats.Bytes
	}
	for _, e := range c.History {
		if e.Rendered {
			n += e.Bytes
		}
	}
	return n
}

// KeptHashes are the results whose images the configuration keeps: its
// own, if it is done, and its earlier versions' rendered ones.
func (c *Configuration) KeptHashes() []string {
	var hs []string
	if c.Status == StatusDone && c.RenderedHash != "" {
		hs = append(hs, c.RenderedHash)
	}
	for _, e := range c.History {
		if e.Rendered && !slices.Contains(hs, e.Hash) {
			hs = append(hs, e.Hash)
		}
	}
	return hs
}

// NewlyQueued reports whether a write that took a configuration from was
// (nil: a create) to c left it newly queued: a render to send.
func NewlyQueued(was, c *Configuration) bool {
	return c.Status == StatusQueued && (was == nil ||
		was.Status != StatusQueued || was.Version != c.Version || !was.QueuedAt.Equal(c.QueuedAt))
}
