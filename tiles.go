package longrun

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// Job kinds: a configuration's render (which, for a big image, plans its
// tiles), one tile of it, or the assembly of its tiles into the image.
const (
	JobRender   = ""
	JobTile     = "tile"
	JobAssemble = "assemble"
)

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

// A TileResult is what one tile's render found.
type TileResult struct {
	Lo, Hi     int
	Iterations int64
	RenderMs   int64
}

// TileKey is the image store's key of tile index (of side size) of the
// counts of counts hash h: tiles are shared, like counts, by every
// configuration of the same view.
func TileKey(h string, size, index int) string {
	return fmt.Sprintf("%s.t%d-%d.counts", h, size, index)
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

// FinishTile records tile index of the version done with what it found,
// once: the tile's progress, the count range, the iterations. It reports
// whether every tile is now done (also when this tile was done before).
func (c *Configuration) FinishTile(version int64, index int, r TileResult) (complete bool, err error) {
	if err := c.check("progress", version); err != nil {
		return false, err
	}
	t := c.Tiling
	if t == nil || index < 0 || index >= t.Total {
		return false, Errorf(EINVALID, "tile %d of a render that has no such tile", index)
	}
	if t.Done[index/8]&(1<<(index%8)) != 0 {
		return t.Complete(), errUnchanged
	}
	t.Done[index/8] |= 1 << (index % 8)
	t.Count++
	t.Lo, t.Hi = min(t.Lo, r.Lo), max(t.Hi, r.Hi)
	t.Iterations += r.Iterations
	t.RenderMs += r.RenderMs
	before := c.Progress
	c.Progress, c.Change = float64(t.Count)/float64(t.Total), ChangeProgress
	if int(c.Progress*100) == int(before*100) && !t.Complete() {
		c.Change = ChangeTile
	}
	return t.Complete(), nil
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
// whether every tile is, so the image can be assembled.
func (s *Service) FinishTile(ctx context.Context, job Job, r TileResult) (complete bool, err error) {
	_, err = s.Store.UpdateConfiguration(ctx, job.ID, func(c *Configuration) error {
		complete, err = c.FinishTile(job.Version, job.Tile, r)
		return err
	})
	if errors.Is(err, errUnchanged) {
		err = nil
	}
	return complete, err
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
	case job.Kind == JobAssemble && !c.Tiling.Complete():
		return c, SkipStopped, Errorf(ECONFLICT, "assembly asked with %d of %d tiles done", c.Tiling.Count, c.Tiling.Total)
	}
	return c, SkipNone, nil
}
