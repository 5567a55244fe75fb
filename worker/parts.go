package worker

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/longrun/longrun"
)

// A BatchSender sends many jobs at once (SQS batches of 10; one SQLite
// transaction): a poster's planner sends a thousand part jobs.
type BatchSender interface {
	SendJobs(ctx context.Context, jobs []longrun.Job) error
}

// An ImageWriter stores an image streamed by write, never held whole in
// memory (a poster's PNG is hundreds of megabytes).
type ImageWriter interface {
	WriteImage(ctx context.Context, key string, write func(io.Writer) error) error
}

// DefaultPartWork is the most work one part of a computation may have by
// default: for a Julia set, iterations (width × height × depth), about
// half a second of one core at the worst case, every pixel reaching the
// depth.
const DefaultPartWork = 1_000_000_000

func (w *Worker) partWork() int64 { return cmp.Or(w.PartWork, DefaultPartWork) }

// plan is how the runner cuts spec into parts; nil to run it whole, as
// every computation is when there is no queue to send parts to.
func (w *Worker) plan(run Runner, spec longrun.Spec) *Plan {
	if w.Requeue == nil {
		return nil
	}
	p := run.Plan(spec, w.partWork())
	if p == nil || p.Parts < 2 {
		return nil
	}
	return p
}

// preview keeps the runner's preview of a computation about to be cut into
// parts (longrun.PreviewKey), if it makes one; one lost costs the page its
// preview, never the computation.
func (w *Worker) preview(ctx context.Context, job longrun.Job, c *longrun.Configuration, spec longrun.Spec, run Runner, plan *Plan, log *slog.Logger) {
	p, ok := run.(Previewer)
	if !ok {
		return
	}
	var buf bytes.Buffer
	t := w.task(c, spec, log)
	t.Parts, t.Size = plan.Parts, plan.Size
	if err := p.Preview(ctx, t, &buf); err != nil {
		if !errors.Is(err, ErrNoPreview) {
			log.WarnContext(ctx, "job: no preview", "err", err)
		}
		return
	}
	if err := w.Images.PutImage(ctx, longrun.PreviewKey(job.Hash), buf.Bytes()); err != nil {
		log.WarnContext(ctx, "job: could not keep the preview", "err", err)
	}
}

// planParts begins a computation in parts: the version is marked
// computing with its parts to do, and a job sent for each. A planner
// delivered again sends them again; a part finishes once however often it
// is computed.
func (w *Worker) planParts(ctx context.Context, job longrun.Job, plan *Plan, log *slog.Logger) error {
	if err := w.Service.StartTiles(ctx, job, plan.Parts, plan.Size); err != nil {
		return err
	}
	jobs := make([]longrun.Job, plan.Parts)
	for i := range jobs {
		jobs[i] = job
		jobs[i].Step, jobs[i].Tile = longrun.JobPart, i
		if i < len(plan.Work) {
			jobs[i].Work = plan.Work[i]
		}
	}
	if bs, ok := w.Requeue.(BatchSender); ok {
		if err := bs.SendJobs(ctx, jobs); err != nil {
			return fmt.Errorf("send part jobs: %w", err)
		}
	} else {
		for _, tj := range jobs {
			if err := w.Requeue.SendJobAfter(ctx, tj, 0); err != nil {
				return fmt.Errorf("send part job: %w", err)
			}
		}
	}
	log.InfoContext(ctx, "job: split into parts", "outcome", "tiled", "tiles", plan.Parts, "tileSize", plan.Size)
	return nil
}

// part computes one part, unless its output is kept already (computed for
// this version before a crash, or for another configuration of what the
// runner shares), and records it done; the job that finds every part done
// sends the assembly.
func (w *Worker) part(ctx context.Context, job longrun.Job, log *slog.Logger) error {
	log = log.With("tile", job.Tile)
	c, spec, run, err := w.prepare(ctx, job, log)
	if err != nil || c == nil {
		return err
	}
	if job.Tile < 0 || job.Tile >= c.Tiling.Total {
		return Permanent(fmt.Errorf("part %d of %d", job.Tile, c.Tiling.Total))
	}
	t := w.task(c, spec, log)
	rctx, cancel := w.bounded(ctx, "a part")
	p, err := run.RunPart(rctx, t, job.Tile)
	cancel()
	if err != nil {
		return outcome(ctx, rctx, err)
	}
	if !p.Kept {
		w.metrics().Add(longrun.MetricTilesRendered, 1)
		w.metrics().Observe(longrun.MetricTileSeconds, p.Duration.Seconds())
	}
	complete, err := w.Service.FinishTile(ctx, job, longrun.TileResult{Lo: p.Lo, Hi: p.Hi,
		Iterations: p.Work, RenderMs: float64(p.Duration.Microseconds()) / 1000})
	if err != nil {
		return err
	}
	log.InfoContext(ctx, "job: part done", "outcome", "tile", "kept", p.Kept, "iterations", p.Work, "complete", complete)
	if complete {
		aj := job
		aj.Step, aj.Tile = longrun.JobAssemble, 0
		if plan := run.Plan(spec, w.partWork()); plan != nil {
			aj.Work = plan.AssembleWork
		}
		if err := w.Requeue.SendJobAfter(ctx, aj, 0); err != nil {
			return fmt.Errorf("send assembly job: %w", err)
		}
	}
	return nil
}

// assemble makes the result of a computation in parts from their kept
// outputs, and finishes the version.
func (w *Worker) assemble(ctx context.Context, job longrun.Job, log *slog.Logger) error {
	c, spec, run, err := w.prepare(ctx, job, log)
	if longrun.ErrorCode(err) == longrun.ECONFLICT {
		log.WarnContext(ctx, "job: assembly before every part is done, dropped", "err", err)
		return nil
	}
	if err != nil || c == nil {
		return err
	}
	// One assembly at a time: parts that finish together may each send one.
	l, err := w.claim(ctx, "assemble:"+job.Hash)
	if errors.Is(err, ErrBusy) {
		log.InfoContext(ctx, "job: assembly under way elsewhere, dropped", "outcome", "duplicate")
		return nil
	}
	if err != nil {
		return err
	}
	defer l.release(ctx, log)
	t := w.task(c, spec, log)
	rctx, cancel := w.bounded(ctx, "the assembly")
	defer cancel()
	out, err := run.Assemble(rctx, t)
	if err != nil {
		return outcome(ctx, rctx, err)
	}
	out.Stats.Iterations, out.Stats.RenderMs = c.Tiling.Iterations, c.Tiling.RenderMs
	return w.finish(rctx, job, c.KindName(), out, log)
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
