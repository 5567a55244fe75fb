package worker

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/julia"
)

// A BatchSender sends many jobs at once (SQS batches of 10; one SQLite
// transaction): a poster's planner sends a thousand tile jobs.
type BatchSender interface {
	SendJobs(ctx context.Context, jobs []longrun.Job) error
}

// An ImageWriter stores an image streamed by write, never held whole in
// memory (a poster's PNG is hundreds of megabytes).
type ImageWriter interface {
	WriteImage(ctx context.Context, key string, write func(io.Writer) error) error
}

// DefaultPartWork is the most work (iterations, width × height × depth)
// one part of a render may have by default: about half a second of one
// core at the worst case, every pixel reaching the depth.
const DefaultPartWork = 1_000_000_000

// minTile is the smallest side of a tile cut by work.
const minTile = 16

func (w *Worker) partWork() int64 { return cmp.Or(w.PartWork, DefaultPartWork) }

// tileSize is the side of p's tiles: TileSize, or less for a deep view,
// so that no tile's work is over PartWork.
func (w *Worker) tileSize(p longrun.Params) int {
	size := cmp.Or(w.TileSize, 512)
	for size > minTile && int64(size)*int64(size)*int64(p.Depth) > w.partWork() {
		size = max(size-size/8, minTile)
	}
	return size
}

// tiled reports whether p's image is rendered as tiles: a big image, or
// one whose work is over PartWork, so that no part holds a worker for more
// than about a second while others wait.
func (w *Worker) tiled(p longrun.Params) bool {
	pixels := p.Width * p.Height
	size := w.tileSize(p)
	return w.Requeue != nil && pixels > size*size &&
		(pixels > cmp.Or(w.TileAbove, 4<<20) || p.Work() > w.partWork())
}

// planTiles begins a tiled render: the version is marked rendering with
// its tiles to do, and a job sent for each. A planner delivered again sends
// them again; a tile finishes once however often it is rendered.
func (w *Worker) planTiles(ctx context.Context, c *longrun.Configuration, job longrun.Job, log *slog.Logger) error {
	size := w.tileSize(c.Params)
	tiles := c.Params.Julia().Tiles(size, size)
	if err := w.Service.StartTiles(ctx, job, len(tiles), size); err != nil {
		return err
	}
	jobs := make([]longrun.Job, len(tiles))
	for i, t := range tiles {
		jobs[i] = job
		jobs[i].Kind, jobs[i].Tile = longrun.JobTile, t.Index
		jobs[i].Work = int64(t.Rect.Dx()) * int64(t.Rect.Dy()) * int64(c.Params.Depth)
	}
	if bs, ok := w.Requeue.(BatchSender); ok {
		if err := bs.SendJobs(ctx, jobs); err != nil {
			return fmt.Errorf("send tile jobs: %w", err)
		}
	} else {
		for _, tj := range jobs {
			if err := w.Requeue.SendJobAfter(ctx, tj, 0); err != nil {
				return fmt.Errorf("send tile job: %w", err)
			}
		}
	}
	log.InfoContext(ctx, "job: split into tiles", "outcome", "tiled", "tiles", len(tiles), "tileSize", size)
	return nil
}

// tile renders one tile, unless its counts are kept already (rendered
// for this version before a crash, or for another configuration or
// colormap of the view), and records it done; the job that finds every
// tile done sends the assembly.
func (w *Worker) tile(ctx context.Context, job longrun.Job, log *slog.Logger) error {
	log = log.With("tile", job.Tile)
	c, skip, err := w.Service.PrepareTiled(ctx, job)
	if err != nil {
		return err
	}
	if skip != longrun.SkipNone {
		w.skipped(ctx, log, skip)
		return nil
	}
	p := c.Params.Julia()
	tiles := p.Tiles(c.Tiling.Size, c.Tiling.Size)
	if job.Tile < 0 || job.Tile >= len(tiles) {
		return fmt.Errorf("%w: tile %d of %d", errPermanent, job.Tile, len(tiles))
	}
	key := longrun.TileKey(c.Params.CountsHash(), c.Tiling.Size, job.Tile)
	rect := tiles[job.Tile].Rect
	cs, st, kept := w.kept(ctx, key, rect.Dx(), rect.Dy(), c.Params.Depth, log)
	if !kept {
		start := time.Now()
		cs, st, err = w.computeTile(ctx, c, tiles[job.Tile])
		if err != nil {
			return err
		}
		if err := w.keep(ctx, key, cs, st); err != nil {
			return fmt.Errorf("store tile: %w", err)
		}
		w.metrics().Add(longrun.MetricTilesRendered, 1)
		w.metrics().Observe(longrun.MetricTileSeconds, time.Since(start).Seconds())
	}
	lo, hi := cs.Range()
	complete, err := w.Service.FinishTile(ctx, job, longrun.TileResult{Lo: int(lo), Hi: int(hi),
		Iterations: st.Iterations, RenderMs: st.Duration.Milliseconds()})
	if err != nil {
		return err
	}
	log.InfoContext(ctx, "job: tile done", "outcome", "tile", "kept", kept, "iterations", st.Iterations, "complete", complete)
	if complete {
		aj := job
		aj.Kind, aj.Tile = longrun.JobAssemble, 0
		aj.Work = int64(c.Params.Width) * int64(c.Params.Height) // one pass of colouring
		if err := w.Requeue.SendJobAfter(ctx, aj, 0); err != nil {
			return fmt.Errorf("send assembly job: %w", err)
		}
	}
	return nil
}

// computeTile renders a tile.
func (w *Worker) computeTile(ctx context.Context, c *longrun.Configuration, t julia.Tile) (*julia.Counts, julia.Stats, error) {
	rctx, cancel := w.bounded(ctx, "a tile")
	defer cancel()
	cs, st, err := w.compute()(rctx, c.Params.Julia(), t.Rect, julia.Options{Workers: w.Workers})
	if err != nil {
		return nil, st, outcome(ctx, rctx, err)
	}
	return cs, st, nil
}

// assemble writes the image of a tiled render from its kept tiles, row of
// tiles by row, coloured over the whole image's count range, and finishes
// the version.
func (w *Worker) assemble(ctx context.Context, job longrun.Job, log *slog.Logger) error {
	c, skip, err := w.Service.PrepareTiled(ctx, job)
	if longrun.ErrorCode(err) == longrun.ECONFLICT {
		log.WarnContext(ctx, "job: assembly before every tile is done, dropped", "err", err)
		return nil
	}
	if err != nil {
		return err
	}
	if skip != longrun.SkipNone {
		w.skipped(ctx, log, skip)
		return nil
	}
	// One assembly at a time: tiles that finish together may each send one.
	l, err := w.claim(ctx, "assemble:"+job.Hash)
	if errors.Is(err, ErrBusy) {
		log.InfoContext(ctx, "job: assembly under way elsewhere, dropped", "outcome", "duplicate")
		return nil
	}
	if err != nil {
		return err
	}
	defer l.release(ctx, log)
	p, t := c.Params.Julia(), c.Tiling
	tiles := p.Tiles(t.Size, t.Size)
	counts := c.Params.CountsHash()
	start := time.Now()
	write := func(out io.Writer) error {
		return julia.Assemble(out, p, tiles, uint32(t.Lo), uint32(t.Hi), func(tile julia.Tile) (*julia.Counts, error) {
			key := longrun.TileKey(counts, t.Size, tile.Index)
			cs, _, ok := w.kept(ctx, key, tile.Rect.Dx(), tile.Rect.Dy(), p.Depth, log)
			if ok {
				return cs, nil
			}
			// Gone (expired), damaged or of another shape: rendered again
			// here, and kept again, rather than failing the image.
			cs, st, err := w.computeTile(ctx, c, tile)
			if err != nil {
				return nil, fmt.Errorf("tile %d: %w", tile.Index, err)
			}
			if err := w.keep(ctx, key, cs, st); err != nil {
				log.WarnContext(ctx, "job: could not keep a tile rendered again", "tile", tile.Index, "err", err)
			}
			w.metrics().Add(longrun.MetricTilesRendered, 1)
			return cs, nil
		})
	}
	key := longrun.ImageKey(job.Hash)
	var size int64
	counted := func(out io.Writer) error { return write(&countingWriter{out, &size}) }
	if iw, ok := w.Images.(ImageWriter); ok {
		err = iw.WriteImage(ctx, key, counted)
	} else {
		var buf bytes.Buffer
		if err = counted(&buf); err == nil {
			err = w.Images.PutImage(ctx, key, buf.Bytes())
		}
	}
	if err != nil {
		return fmt.Errorf("assemble: %w", err)
	}
	r := &longrun.Result{Hash: job.Hash, CreatedAt: now(), Stats: longrun.Stats{
		Iterations: t.Iterations, Pixels: p.Width * p.Height, RenderMs: t.RenderMs, Bytes: size}}
	if err := w.Leases.PutResult(ctx, r); err != nil {
		return fmt.Errorf("store result: %w", err)
	}
	log.InfoContext(ctx, "job: assembled", "outcome", "rendered", "tiles", t.Total, "assembleMs", time.Since(start).Milliseconds())
	w.metrics().Add(longrun.MetricJobsRendered, 1)
	w.metrics().Observe(longrun.MetricRenderIterations, float64(t.Iterations))
	err = w.Service.FinishRender(ctx, job, r)
	if errors.Is(err, longrun.ErrSuperseded) || errors.Is(err, longrun.ErrStopped) || longrun.ErrorCode(err) == longrun.ENOTFOUND {
		return nil
	}
	return err
}

// A countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n *int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	*c.n += int64(n)
	return n, err
}
