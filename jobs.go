package longrun

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Skip says why a job needs no render.
type Skip string

const (
	SkipNone         Skip = ""
	SkipDeleted      Skip = "deleted"      // the configuration is gone
	SkipSuperseded   Skip = "superseded"   // a newer version exists
	SkipStopped      Skip = "stopped"      // the version was cancelled or failed for good
	SkipDuplicate    Skip = "duplicate"    // the version is done already
	SkipDeduplicated Skip = "deduplicated" // done now, from an existing result
	SkipUnderWay     Skip = "underway"     // a recheck of a version its own job has in hand
)

// Prepare is a render job's first step: it loads the job's configuration
// and says whether the job needs rendering. A job whose parameters were
// rendered before is finished here from that result.
func (s *Service) Prepare(ctx context.Context, job Job) (*Configuration, Skip, error) {
	c, skip, err := s.current(ctx, job)
	switch {
	case err != nil || skip != SkipNone:
		return c, skip, err
	case job.Recheck && c.Status != StatusQueued:
		return c, SkipUnderWay, nil
	case !Allowed("start", c.Status):
		return c, SkipStopped, nil
	}
	r, err := s.result(ctx, job.Hash)
	if err != nil || r == nil {
		return c, SkipNone, err
	}
	return c, SkipDeduplicated, s.FinishRender(ctx, job, r)
}

// current loads the job's configuration and says why the job is not
// wanted any more, if it is not: deleted, superseded, or done already.
func (s *Service) current(ctx context.Context, job Job) (*Configuration, Skip, error) {
	c, err := s.Store.Configuration(ctx, job.ID)
	switch {
	case ErrorCode(err) == ENOTFOUND:
		return nil, SkipDeleted, nil
	case err != nil:
		return nil, SkipNone, err
	case c.Version != job.Version || c.ParamsHash != job.Hash:
		return c, SkipSuperseded, nil
	case c.Status == StatusDone:
		return c, SkipDuplicate, nil
	}
	return c, SkipNone, nil
}

// StartRender marks the job's version rendering.
func (s *Service) StartRender(ctx context.Context, job Job) error {
	return s.apply(ctx, job, func(c *Configuration) error { return c.StartRender(job.Version, s.now()) })
}

// ReportProgress records how far the job's computation is, and what its
// kind shows of it meanwhile (live; nil keeps what was). ErrSuperseded or
// ErrStopped (or ENOTFOUND: deleted) mean the computation should stop.
func (s *Service) ReportProgress(ctx context.Context, job Job, done float64, live json.RawMessage) error {
	return s.apply(ctx, job, func(c *Configuration) error { return c.ReportProgress(job.Version, done, live) })
}

// FinishRender marks the job's version done with the result.
func (s *Service) FinishRender(ctx context.Context, job Job, r *Result) error {
	return s.apply(ctx, job, func(c *Configuration) error { return c.Finish(job.Version, r, s.now()) })
}

// FailRender marks the job's version failed, for the reason given; a
// version that is gone or no longer rendering is left as it is.
func (s *Service) FailRender(ctx context.Context, job Job, reason string) error {
	err := s.apply(ctx, job, func(c *Configuration) error { return c.Fail(job.Version, reason, s.now()) })
	if code := ErrorCode(err); code == ENOTFOUND || code == ECONFLICT {
		return nil
	}
	return err
}

func (s *Service) apply(ctx context.Context, job Job, fn func(*Configuration) error) error {
	_, err := s.Store.UpdateConfiguration(ctx, job.ID, fn)
	return err
}

// Backoff is how long a job that failed on its receives-th delivery waits
// before the next: base, doubled per delivery, at most a minute. The local
// queue and the SQS adapter both follow it.
func Backoff(receives int, base time.Duration) time.Duration {
	return min(base<<min(max(receives-1, 0), 6), time.Minute)
}

// StartTiles marks the job's version a tiled render of total tiles.
func (s *Service) StartTiles(ctx context.Context, job Job, total, size int) error {
	err := s.apply(ctx, job, func(c *Configuration) error { return c.StartTiles(job.Version, total, size, s.now()) })
	if errors.Is(err, errUnchanged) {
		return nil
	}
	return err
}

// FinishTile records one tile of the job's version done; it reports
// whether every tile is, so the image can be assembled: true for exactly
// one of the last tiles finishing together, and again for a tile of a
// complete render delivered again (its assembly may not have been sent).
// The tile is marked in the ledger; the configuration is written only when
// the tiles done move progress by a whole percent, and when they are all
// done, with the ledger's tally.
func (s *Service) FinishTile(ctx context.Context, job Job, r TileResult) (complete bool, err error) {
	if s.Tiles == nil {
		return false, errors.New("longrun: a tiled render needs a tile ledger (Service.Tiles)")
	}
	c, err := s.tiling(ctx, job)
	if err != nil {
		return false, err
	}
	total := c.Tiling.Total
	if job.Tile < 0 || job.Tile >= total {
		return false, Errorf(EINVALID, "tile %d of a render that has no such tile", job.Tile)
	}
	done, marked, err := s.Tiles.MarkTile(ctx, job.ID, job.Version, job.Tile, r)
	if err != nil {
		return false, err
	}
	complete = done >= total
	if !complete && (!marked || done*100/total == (done-1)*100/total) {
		return false, nil // no whole percent moved: the configuration is not written
	}
	tally, err := s.Tiles.TileTally(ctx, job.ID, job.Version)
	if err != nil {
		return false, err
	}
	_, err = s.Store.UpdateConfiguration(ctx, job.ID, func(c *Configuration) error { return c.TallyTiles(job.Version, tally) })
	if errors.Is(err, errUnchanged) {
		err = nil
	}
	return complete, err
}

// tiling loads the configuration of a part's job, if it is still
// computing that version in parts.
func (s *Service) tiling(ctx context.Context, job Job) (*Configuration, error) {
	c, skip, err := s.current(ctx, job)
	switch {
	case err != nil:
		return nil, err
	case skip == SkipDeleted:
		return nil, Errorf(ENOTFOUND, "configuration not found")
	case skip != SkipNone || c.Status != StatusRendering || c.Tiling == nil:
		if err := c.check("progress", job.Version); err != nil {
			return nil, err // superseded or stopped
		}
		return nil, ErrStopped
	}
	return c, nil
}

// PrepareTiled is a tile's or an assembly's first step: it loads the
// job's configuration and says whether the job is still wanted — the
// version current and rendering, and for an assembly every tile done.
func (s *Service) PrepareTiled(ctx context.Context, job Job) (*Configuration, Skip, error) {
	c, skip, err := s.current(ctx, job)
	switch {
	case err != nil || skip != SkipNone:
		return c, skip, err
	case c.Status != StatusRendering || c.Tiling == nil:
		return c, SkipStopped, nil
	case job.Step == JobAssemble && !c.Tiling.Complete():
		return c, SkipStopped, Errorf(ECONFLICT, "assembly asked with %d of %d tiles done", c.Tiling.Count, c.Tiling.Total)
	}
	return c, SkipNone, nil
}

// Place says where configuration c's current version stands in the queue,
// if it is queued and the queue can tell.
func (s *Service) Place(ctx context.Context, c *Configuration) (Place, bool) {
	p, ok := s.Queue.(Placer)
	if !ok || c.Status != StatusQueued {
		return Place{}, false
	}
	s.places.mu.Lock()
	defer s.places.mu.Unlock()
	ref := JobRef{ID: c.ID, Version: c.Version}
	pl, ok := s.places.places[ref]
	// A version queued since the last reading is not in it: read again,
	// though not more than every placesRetry.
	if age := time.Since(s.places.at); age > placesFor || !ok && age > placesRetry {
		places, pace, err := p.Places(ctx)
		if err != nil {
			return Place{}, false
		}
		s.places.at, s.places.places, s.places.pace = time.Now(), places, pace
		pl, ok = places[ref]
	}
	if !ok {
		return Place{}, false
	}
	pl.StartsIn = -1
	if s.places.pace > 0 {
		pl.StartsIn = time.Duration(float64(pl.AheadWork) / s.places.pace * float64(time.Second))
	}
	return pl, true
}
