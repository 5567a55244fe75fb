package longrun

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// A Store keeps configurations. UpdateConfiguration applies fn to the
// stored configuration and writes the result unless fn returns an error
// (returned as is); the write is atomic with the read fn saw.
//
// The writes that may queue a render are admitted: CreateConfiguration,
// and AdmitUpdate for an edit or a retry, check the owner's counts against
// the Admission and change them in the same atomic step as the write, so
// that concurrent writes of one owner never pass a quota between them.
// The active count is released by every write that ends a render
// (finished, failed, cancelled) and by a delete.
type Store interface {
	CreateConfiguration(ctx context.Context, c *Configuration, a Admission) error
	Configuration(ctx context.Context, id string) (*Configuration, error)
	Configurations(ctx context.Context, owner, cursor string, limit int) ([]*Configuration, string, error)
	UpdateConfiguration(ctx context.Context, id string, fn func(*Configuration) error) (*Configuration, error)
	// AdmitUpdate is UpdateConfiguration for a write that may make an
	// inactive configuration active again: then its owner's active count
	// must stay within a.MaxActive.
	AdmitUpdate(ctx context.Context, id string, a Admission, fn func(*Configuration) error) (*Configuration, error)
	DeleteConfiguration(ctx context.Context, id string) error
	// CountConfigurations counts an owner's configurations: all, and those
	// queued or rendering.
	CountConfigurations(ctx context.Context, owner string) (stored, active int, err error)
}

// Results finds rendered results by params hash.
type Results interface {
	// Result returns the result for hash, or nil if there is none.
	Result(ctx context.Context, hash string) (*Result, error)
	// DeleteResult forgets the result for hash, whose image is lost.
	DeleteResult(ctx context.Context, hash string) error
}

// A TileLedger records the tiles of a tiled render done, apart from the
// configuration, so that a poster's thousand tiles finishing at once never
// read and rewrite its record each: a tile is an idempotent mark and an
// atomic count (a SQLite row; on DynamoDB, one conditional UpdateItem of a
// small item), and the configuration is written only when progress moves
// a whole percent, and when the last tile is done.
type TileLedger interface {
	// MarkTile records tile index of configuration id's version done with
	// r, unless it is already; it returns how many of the version's tiles
	// are done, and whether this call marked it.
	MarkTile(ctx context.Context, id string, version int64, index int, r TileResult) (done int, marked bool, err error)
	// TileTally sums the version's tiles done: their indices, count range,
	// iterations and render time.
	TileTally(ctx context.Context, id string, version int64) (*TileTally, error)
}

// A TileTally is what the tiles of a version done so far found.
type TileTally struct {
	Tiles      []int // indices done, ascending
	Lo, Hi     int
	Iterations int64
	RenderMs   float64 // the tiles' render times, summed
}

// Images tells whether a rendered image is still stored.
type Images interface {
	HasImage(ctx context.Context, key string) (bool, error)
}

// A Queue takes render jobs.
type Queue interface {
	SendJob(ctx context.Context, job Job) error
}

// An Outbox is a Store that queues the job of every configuration its
// admitted writes leave newly queued, in the write's own transaction:
// creating a configuration and enqueueing its render are one durable step,
// and no crash between them leaves it queued with no job. The Service
// sends those jobs itself unless its Store is an Outbox for its Queue; then
// its admissions ask for them (Admission.Enqueue).
type Outbox interface {
	SendsJobsFor(q Queue) bool
}

// A Service holds longrun's use cases: what an owner does to their
// configurations, and the steps of a render job. The HTTP API, the render
// worker and the operations API call it; it alone drives the
// configurations' transitions through the store.
type Service struct {
	// TraceOf, if set, names the trace a request's context carries (a W3C
	// traceparent): a new version's trace, kept on its record and jobs so
	// that its render and notifications continue it.
	TraceOf func(context.Context) string
	Store   Store
	Results Results
	Queue   Queue
	// Images, if set, is asked whether a result's image still exists
	// before the result is reused; a result whose image is lost is
	// forgotten and rendered again.
	Images Images
	// Tiles records the tiles of tiled renders done; a render worker that
	// tiles needs it.
	Tiles TileLedger
	// Addresses keeps the confirmations of e-mail addresses; nil: none
	// can be confirmed.
	Addresses Addresses
	// Quotas bound each owner and address; Limiter counts their writes
	// (nil: no rate limits, the quotas on stored and active still hold).
	Quotas  Quotas
	Limiter Limiter
	// Kinds are the computations configurations may ask for, each with
	// the deployment's bounds.
	Kinds Kinds
	// Metrics counts enqueued and deduplicated jobs; nil records nothing.
	Metrics Metrics
	// Now is the clock; nil means time.Now in UTC.
	Now func() time.Time

	places placeCache // the queue's places, read at most once a second
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now()
}

func (s *Service) metrics() Metrics {
	if s.Metrics == nil {
		return NopMetrics{}
	}
	return s.Metrics
}

var errNotFound = Errorf(ENOTFOUND, "configuration not found")

// Get returns owner's configuration id. Another owner's is not found, as
// is a malformed id.
func (s *Service) Get(ctx context.Context, owner, id string) (*Configuration, error) {
	if !ValidID(id) {
		return nil, errNotFound
	}
	c, err := s.Store.Configuration(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.Owner != owner {
		return nil, errNotFound
	}
	return c, nil
}

// A ListFilter narrows a listing: Status, if set, is the status to show;
// Name, if set, is part of the names to show, in any case.
type ListFilter struct {
	Status Status
	Name   string
}

// maxListPages bounds the store pages one filtered listing reads: past
// it, the page returned is short, and its cursor goes on from there.
const maxListPages = 20

func (f ListFilter) check() error {
	var fe FieldErrors
	if f.Status != "" && !slices.Contains(Statuses, f.Status) {
		fe.Add("status", "must be one of queued, rendering, done, failed, cancelled")
	}
	if utf8.RuneCountInString(f.Name) > MaxNameLen {
		fe.Add("q", fmt.Sprintf("must be at most %d characters", MaxNameLen))
	}
	return fe.Err()
}

func (f ListFilter) matches(c *Configuration) bool {
	return (f.Status == "" || c.Status == f.Status) &&
		(f.Name == "" || strings.Contains(strings.ToLower(c.Name), strings.ToLower(f.Name)))
}

// List returns a page of owner's configurations, newest first, those
// that f matches. A filtered page reads the store's pages until it is
// full, at most maxListPages of them: it may come back short with a
// cursor, when the owner has many that do not match.
func (s *Service) List(ctx context.Context, owner, cursor string, limit int, f ListFilter) ([]*Configuration, string, error) {
	if err := f.check(); err != nil {
		return nil, "", err
	}
	if f == (ListFilter{}) {
		return s.Store.Configurations(ctx, owner, cursor, limit)
	}
	var out []*Configuration
	for range maxListPages {
		// Ask for no more than the page lacks, so every one read is
		// looked at and the store's cursor is where this page ends.
		page, next, err := s.Store.Configurations(ctx, owner, cursor, limit-len(out))
		if err != nil {
			return nil, "", err
		}
		for _, c := range page {
			if f.matches(c) {
				out = append(out, c)
			}
		}
		if cursor = next; next == "" || len(out) == limit {
			break
		}
	}
	return out, cursor, nil
}

// draft validates the input and finds the result its parameters have.
func (s *Service) draft(ctx context.Context, in *Input) (Draft, *Result, error) {
	d, err := in.Draft(s.Kinds)
	if err != nil {
		return Draft{}, nil, err
	}
	r, err := s.result(ctx, d.Spec.Hash())
	return d, r, err
}

// result returns the result for hash if its image is still stored; a
// result whose image is lost is forgotten.
func (s *Service) result(ctx context.Context, hash string) (*Result, error) {
	r, err := s.Results.Result(ctx, hash)
	if err != nil || r == nil || s.Images == nil {
		return r, err
	}
	ok, err := s.Images.HasImage(ctx, ImageKey(hash))
	if err != nil || ok {
		return r, err
	}
	return nil, s.Results.DeleteResult(ctx, hash)
}

// Create stores owner's new configuration and queues its render, or makes
// it done at once when its parameters were rendered before. If the job
// cannot be queued, the configuration is returned with an EUNAVAILABLE
// error: it stays queued, and Rerender recovers it.
func (s *Service) Create(ctx context.Context, caller Caller, in *Input) (*Configuration, error) {
	d, r, err := s.draft(ctx, in)
	if err != nil {
		return nil, err
	}
	if err := s.allowWrite(ctx, caller); err != nil {
		return nil, err
	}
	c := NewConfiguration(caller.Owner, d, r, s.now())
	c.Client, c.Trace = caller.Addr, s.trace(ctx)
	if err := s.Store.CreateConfiguration(ctx, c, s.admission()); err != nil {
		return nil, err
	}
	return c, s.enqueue(ctx, c)
}

// Edit replaces owner's configuration id with the input, if ifMatch names
// its current ETag; new parameters queue a new version.
func (s *Service) Edit(ctx context.Context, caller Caller, id, ifMatch string, in *Input) (*Configuration, error) {
	was, err := s.Get(ctx, caller.Owner, id)
	if err != nil {
		return nil, err
	}
	if ifMatch == "" {
		return nil, Errorf(EPRECONDITIONREQUIRED, "an edit needs If-Match with the configuration's ETag")
	}
	kind := was.KindName()
	if in.Kind != nil && *in.Kind != kind && !(*in.Kind == "" && kind == DefaultKind) {
		var fe FieldErrors
		fe.Add("kind", "must stay "+kind+": a configuration keeps its kind (create a new one for another)")
		return nil, fe.Err()
	}
	edit := *in
	edit.Kind = &kind
	d, r, err := s.draft(ctx, &edit)
	if err != nil {
		return nil, err
	}
	if err := s.allowWrite(ctx, caller); err != nil {
		return nil, err
	}
	changed := false
	c, err := s.Store.AdmitUpdate(ctx, id, s.admission(), func(c *Configuration) error {
		if !c.MatchesETag(ifMatch) {
			return Errorf(EPRECONDITION, "the configuration changed since you loaded it (ETag %s); reload and edit again", c.ETag())
		}
		changed = c.Edit(d, r, s.now())
		if changed {
			c.Trace = s.trace(ctx)
		}
		if changed && caller.Addr != "" {
			c.Client = caller.Addr
		}
		return nil
	})
	if err != nil || !changed {
		return c, err
	}
	return c, s.enqueue(ctx, c)
}

// Delete deletes owner's configuration id; a non-empty ifMatch must name
// its ETag. Jobs of a deleted configuration are dropped when they run.
func (s *Service) Delete(ctx context.Context, owner, id, ifMatch string) error {
	c, err := s.Get(ctx, owner, id)
	if err != nil {
		return err
	}
	if ifMatch != "" && !c.MatchesETag(ifMatch) {
		return Errorf(EPRECONDITION, "the configuration changed since you loaded it")
	}
	return s.Store.DeleteConfiguration(ctx, id)
}

// RevokeLinks ends owner's read-only links to configuration id (the share
// link, the e-mails' links); the next generation's link replaces them.
func (s *Service) RevokeLinks(ctx context.Context, caller Caller, id string) (*Configuration, error) {
	if _, err := s.Get(ctx, caller.Owner, id); err != nil {
		return nil, err
	}
	if err := s.allowWrite(ctx, caller); err != nil {
		return nil, err
	}
	return s.Store.UpdateConfiguration(ctx, id, func(c *Configuration) error { c.RevokeLinks(s.now()); return nil })
}

// Shared returns the configuration a read-only link names, if the link is
// of its current generation: whoever follows it sees the result, never
// the owner.
func (s *Service) Shared(ctx context.Context, id string, gen int64) (*Configuration, error) {
	c, err := s.Store.Configuration(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.ShareGen != gen {
		return nil, Errorf(ENOTFOUND, "this link was revoked by its owner")
	}
	return c, nil
}

// Rerender queues owner's failed or cancelled configuration again, or
// re-sends the job of one left queued by a failed enqueue.
func (s *Service) Rerender(ctx context.Context, caller Caller, id string) (*Configuration, error) {
	c, err := s.Get(ctx, caller.Owner, id)
	if err != nil {
		return nil, err
	}
	if err := s.allowWrite(ctx, caller); err != nil {
		return nil, err
	}
	if c.Status == StatusDone {
		return s.healIfLost(ctx, c)
	}
	r, err := s.result(ctx, c.ParamsHash)
	if err != nil {
		return nil, err
	}
	c, err = s.Store.AdmitUpdate(ctx, id, s.admission(), func(c *Configuration) error {
		if caller.Addr != "" {
			c.Client = caller.Addr
		}
		s.estimate(c)
		c.Trace = s.trace(ctx)
		return c.Requeue(r, s.now())
	})
	if err != nil {
		return nil, err
	}
	return c, s.enqueue(ctx, c)
}

// ImageLost renders owner's done configuration again when its image is
// gone (the image route found it missing): nothing shows done with a
// missing image.
func (s *Service) ImageLost(ctx context.Context, owner, id string) (*Configuration, error) {
	c, err := s.Get(ctx, owner, id)
	if err != nil {
		return nil, err
	}
	return s.heal(ctx, c)
}

// healIfLost re-renders a done configuration whose image is lost, and
// refuses to re-render one whose image is there.
func (s *Service) healIfLost(ctx context.Context, c *Configuration) (*Configuration, error) {
	if s.Images != nil && c.RenderedHash != "" {
		ok, err := s.Images.HasImage(ctx, ImageKey(c.RenderedHash))
		if err != nil {
			return nil, err
		}
		if !ok {
			return s.heal(ctx, c)
		}
	}
	return nil, Errorf(ECONFLICT, "the configuration is done and its image is there: nothing to render")
}

// heal forgets the lost image's result and queues the configuration.
func (s *Service) heal(ctx context.Context, c *Configuration) (*Configuration, error) {
	if c.RenderedHash != "" {
		if err := s.Results.DeleteResult(ctx, c.RenderedHash); err != nil {
			return nil, err
		}
	}
	id := c.ID
	c, err := s.Store.AdmitUpdate(ctx, id, Admission{Enqueue: s.outbox()}, func(c *Configuration) error {
		if c.Status != StatusDone { // already on its way
			return errUnchanged
		}
		s.estimate(c)
		return c.Heal(s.now())
	})
	if errors.Is(err, errUnchanged) {
		return s.Store.Configuration(ctx, id)
	}
	if err != nil {
		return nil, err
	}
	return c, s.enqueue(ctx, c)
}

// Cancel stops owner's queued or rendering configuration: its job is
// dropped, or its render stops at the next progress report.
func (s *Service) Cancel(ctx context.Context, owner, id string) (*Configuration, error) {
	if _, err := s.Get(ctx, owner, id); err != nil {
		return nil, err
	}
	return s.Store.UpdateConfiguration(ctx, id, func(c *Configuration) error { return c.Cancel(s.now()) })
}

// RequestMail has owner's finished configuration's result e-mailed now,
// to its address, which must be confirmed. The notifier sends it, once
// per request, within the address's and the owner's daily caps.
func (s *Service) RequestMail(ctx context.Context, caller Caller, id string) (*Configuration, error) {
	c, err := s.Get(ctx, caller.Owner, id)
	if err != nil {
		return nil, err
	}
	if err := s.allowWrite(ctx, caller); err != nil {
		return nil, err
	}
	status, err := EmailStatus(ctx, s.Addresses, caller.Owner, c.NotifyEmail)
	if err != nil {
		return nil, err
	}
	if c.NotifyEmail != "" && status != EmailConfirmed {
		if status == "" {
			status = "never confirmed here (no e-mail is sent)"
		}
		return nil, Errorf(ECONFLICT, "the address %s is %s: only a confirmed address is sent results", c.NotifyEmail, status)
	}
	return s.Store.UpdateConfiguration(ctx, id, func(c *Configuration) error { return c.RequestMail(s.now()) })
}

// estimate gives a configuration kept before works were its spec's work,
// so its job is charged in the queue's fair shares as any other.
func (s *Service) estimate(c *Configuration) {
	if c.Work != 0 {
		return
	}
	if spec, err := s.Kinds.Spec(c); err == nil {
		c.Work = spec.Work()
	}
}

// Redrive shows a job that went back from the dead-letter queue as queued
// again, unless something newer (an edit, a retry) changed its
// configuration since.
func (s *Service) Redrive(ctx context.Context, job Job) error {
	_, err := s.Store.UpdateConfiguration(ctx, job.ID, func(c *Configuration) error {
		if c.Version != job.Version || c.Status != StatusFailed {
			return errUnchanged
		}
		s.estimate(c)
		return c.Requeue(nil, s.now())
	})
	if errors.Is(err, errUnchanged) || ErrorCode(err) == ENOTFOUND {
		return nil
	}
	return err
}

// ErrNotQueued means a configuration was saved but its job could not be
// sent: it stays queued, and Rerender recovers it. Errors of this kind
// match it with errors.Is.
var ErrNotQueued = &Error{Code: EUNAVAILABLE, Message: "the configuration is saved but its render could not be queued"}

// enqueue sends the configuration's job if it is queued.
func (s *Service) enqueue(ctx context.Context, c *Configuration) error {
	switch c.Status {
	case StatusDone:
		s.metrics().Add(MetricJobsDeduplicated, 1)
		return nil
	case StatusQueued:
	default:
		return nil
	}
	if s.outbox() {
		s.metrics().Add(MetricJobsEnqueued, 1)
		return nil
	}
	if err := s.Queue.SendJob(ctx, c.Job()); err != nil {
		return &Error{Code: EUNAVAILABLE, Cause: err, Message: ErrNotQueued.Message}
	}
	s.metrics().Add(MetricJobsEnqueued, 1)
	return nil
}

// trace is the trace ctx carries, or "".
func (s *Service) trace(ctx context.Context) string {
	if s.TraceOf == nil {
		return ""
	}
	return s.TraceOf(ctx)
}
