// Package worker renders configurations: it takes render jobs from a queue
// (as the SQS events Lambda delivers), skips what is superseded or already
// rendered, renders the rest with progress, and stores the image by params
// hash. Every change to a configuration goes through longrun.Service, whose
// writes are conditional on the job's version.
package worker

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/julia"
)

// Leases keep one render per params hash, and rendered results.
type Leases interface {
	// PutResult stores r unless a result for its hash exists.
	PutResult(ctx context.Context, r *longrun.Result) error
	// Claim takes a lease on rendering hash until the given time; it
	// reports false while another token holds an unexpired lease.
	Claim(ctx context.Context, hash, token string, until time.Time) (bool, error)
	// Release ends token's lease on hash, if it still holds it.
	Release(ctx context.Context, hash, token string) error
	// LeaseEnds returns when the lease on hash ends; zero if none is held.
	LeaseEnds(ctx context.Context, hash string) (time.Time, error)
}

// A Requeuer puts a job back on the queue, to be delivered after a delay.
type Requeuer interface {
	SendJobAfter(ctx context.Context, job longrun.Job, delay time.Duration) error
}

// Images keeps PNGs by key, and the counts they were coloured from
// (longrun.CountsKey), for other colormaps of the same view.
type Images interface {
	PutImage(ctx context.Context, key string, png []byte) error
	OpenImage(ctx context.Context, key string) (io.ReadCloser, error)
}

// A Worker processes render jobs.
type Worker struct {
	Service *longrun.Service
	Leases  Leases
	Images  Images
	// Requeue takes back a job whose parameters another job is rendering,
	// until that render's lease ends: busy is not a failure. Nil fails the
	// delivery instead (ErrBusy), and the queue retries it.
	Requeue Requeuer
	Logger  *slog.Logger

	// Workers is the number of goroutines one render uses; 0 means all cores.
	Workers int
	// MaxReceives is the queue's receive limit: a job failing on its last
	// receive marks the configuration failed before it is dead-lettered.
	MaxReceives int
	// ProgressEvery is the least time between progress writes; 0 means 250ms.
	ProgressEvery time.Duration
	// Timeout bounds one render; 0 means 10 minutes. The caller's deadline,
	// less Margin, bounds it too.
	Timeout time.Duration
	// Margin is kept from the caller's deadline to record a failure.
	Margin time.Duration
	// Lease is how long a render's claim on its params hash lasts without
	// renewal; progress renews it. 0 means 30s. A worker that dies holds
	// back other jobs of the same parameters for at most this long.
	Lease time.Duration
	// Metrics records job outcomes; nil records nothing.
	Metrics longrun.Metrics
	// TileAbove is the image size, in pixels, above which a render is split
	// into tiles, each a job of its own that any worker renders, then
	// assembled; 0 means 4 Mpx. Tiling needs Requeue to send those jobs.
	TileAbove int
	// TileSize is a tile's side, in pixels; 0 means 512.
	TileSize int
	// PartWork also tiles an image smaller than TileAbove whose work
	// (pixels × depth, the most iterations it may cost) is over it, in
	// tiles small enough that each is at most PartWork: the queue shares
	// workers part by part, so a part is how long a quiet client's job may
	// wait for a worker. 0 means DefaultPartWork.
	PartWork int64
	// Compute computes the escape counts of a view's pixels in a rectangle
	// (the whole image, or a tile); nil means julia.ComputeRect. Tests
	// replace it.
	Compute func(context.Context, julia.Params, image.Rectangle, julia.Options) (*julia.Counts, julia.Stats, error)
}

// ErrBusy means another worker is rendering the same parameters; the job
// should be retried later, when the result will exist.
var ErrBusy = errors.New("the same parameters are being rendered by another job")

// errPermanent marks failures that a retry cannot mend.
var errPermanent = errors.New("permanent")

// HandleSQS processes a batch of job messages and reports those that failed,
// so only they are retried (ReportBatchItemFailures).
func (w *Worker) HandleSQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	for _, m := range ev.Records {
		var job longrun.Job
		if err := json.Unmarshal([]byte(m.Body), &job); err != nil || !longrun.ValidID(job.ID) {
			// Nothing can ever process it: drop it, loudly.
			w.logger().Error("job: undecodable message dropped", "messageId", m.MessageId, "body", truncate(m.Body, 200))
			continue
		}
		receives, _ := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
		if err := w.Process(ctx, job, receives); err != nil {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return resp, nil
}

// Process runs one job, delivered for the receives-th time. A nil error
// means the job is finished with (rendered, skipped or failed for good).
func (w *Worker) Process(ctx context.Context, job longrun.Job, receives int) error {
	log := w.logger().With("configurationId", job.ID, "version", job.Version, "paramsHash", job.Hash, "receives", receives)
	err := w.process(ctx, job, log)
	if err == nil || errors.Is(err, longrun.ErrSuperseded) || errors.Is(err, longrun.ErrStopped) {
		return nil
	}
	final := receives >= w.MaxReceives && w.MaxReceives > 0
	permanent := errors.Is(err, errPermanent)
	log.WarnContext(ctx, "job: failed", "outcome", "failed", "err", err, "final", final)
	w.metrics().Add(longrun.MetricJobsFailed, 1)
	if final && !permanent {
		w.metrics().Add(longrun.MetricJobsDeadLettered, 1)
	}
	if final || permanent {
		if ferr := w.Service.FailRender(context.WithoutCancel(ctx), job, reason(err, receives)); ferr != nil {
			log.Error("job: could not record the failure", "err", ferr)
		}
	}
	if permanent {
		return nil // retrying cannot help
	}
	return err
}

// reason is what the owner is told of a failure: the words of what retrying
// cannot mend (too slow, parameters the renderer refuses) or of a domain
// error; never a driver's error, which may name server paths: the log has
// that, by configuration id.
func reason(err error, receives int) string {
	var le *longrun.Error
	switch {
	case errors.Is(err, errPermanent):
		return strings.TrimPrefix(err.Error(), errPermanent.Error()+": ")
	case errors.As(err, &le):
		return fmt.Sprintf("the render failed %d times: %s", receives, le.Message)
	}
	return fmt.Sprintf("the render failed %d times; the operators' logs have the cause", receives)
}

// process is a job's steps: prepare (skip what needs no render), claim
// the parameters, start, render, store, finish.
func (w *Worker) process(ctx context.Context, job longrun.Job, log *slog.Logger) error {
	switch job.Kind {
	case longrun.JobTile:
		return w.tile(ctx, job, log)
	case longrun.JobAssemble:
		return w.assemble(ctx, job, log)
	}
	c, skip, err := w.Service.Prepare(ctx, job)
	if err != nil {
		return err
	}
	if skip != longrun.SkipNone {
		w.skipped(ctx, log, skip)
		return nil
	}
	if w.tiled(c.Params) {
		return w.planTiles(ctx, c, job, log)
	}
	// One render per view: parameters that differ only in colormap share
	// the counts, so the lease is on the counts.
	counts := c.Params.CountsHash()
	l, err := w.claim(ctx, counts)
	if errors.Is(err, ErrBusy) && w.Requeue != nil {
		return w.putBack(ctx, job, counts, log)
	}
	if err != nil {
		return err
	}
	defer l.release(ctx, log)
	if err := w.Service.StartRender(ctx, job); err != nil {
		return err
	}
	cs, st, recoloured := w.kept(ctx, longrun.CountsKey(counts), c.Params.Width, c.Params.Height, c.Params.Depth, log)
	if cs == nil {
		cs, st, err = w.render(ctx, c, job, l)
		if err != nil {
			if errors.Is(err, longrun.ErrSuperseded) || errors.Is(err, longrun.ErrStopped) {
				log.InfoContext(ctx, "job: superseded or stopped while rendering", "outcome", "superseded", "superseded", true)
				w.metrics().Add(longrun.MetricJobsSuperseded, 1)
			}
			return err
		}
		// For other colormaps of the view; a failure costs only a later render.
		if err := w.keep(ctx, longrun.CountsKey(counts), cs, st); err != nil {
			log.WarnContext(ctx, "job: could not keep the counts", "err", err)
		}
	}
	r, err := w.store(ctx, job, cs.Image(c.Params.Colormap), st, recoloured, log)
	if err != nil {
		return err
	}
	err = w.Service.FinishRender(ctx, job, r)
	if errors.Is(err, longrun.ErrSuperseded) || errors.Is(err, longrun.ErrStopped) || longrun.ErrorCode(err) == longrun.ENOTFOUND {
		log.InfoContext(ctx, "job: superseded after rendering; the result stays for reuse", "outcome", "superseded", "superseded", true)
		w.metrics().Add(longrun.MetricJobsSuperseded, 1)
		return nil
	}
	return err
}

// skipped logs and counts a job that needs no render.
func (w *Worker) skipped(ctx context.Context, log *slog.Logger, skip longrun.Skip) {
	switch skip {
	case longrun.SkipDuplicate:
		log.InfoContext(ctx, "job: already done, dropped", "outcome", "duplicate", "cacheHit", true)
	case longrun.SkipDeduplicated:
		log.InfoContext(ctx, "job: done from an existing result", "outcome", "deduplicated", "cacheHit", true)
		w.metrics().Add(longrun.MetricJobsDeduplicated, 1)
	default:
		log.InfoContext(ctx, "job: "+string(skip)+", dropped", "outcome", string(skip), "superseded", true)
		w.metrics().Add(longrun.MetricJobsSuperseded, 1)
	}
}

// A lease is a worker's claim on rendering one params hash.
type lease struct {
	w       *Worker
	hash    string
	token   string
	renewed time.Time
}

func (w *Worker) leaseTime() time.Duration {
	if w.Lease == 0 {
		return 30 * time.Second
	}
	return w.Lease
}

// readCounts reads the counts kept under key.
func (w *Worker) readCounts(ctx context.Context, key string) (*julia.Counts, julia.Stats, error) {
	rc, err := w.Images.OpenImage(ctx, key)
	if err != nil {
		return nil, julia.Stats{}, err
	}
	defer rc.Close()
	return julia.ReadCounts(rc)
}

// kept reads the counts kept under key (a view rendered before in another
// colormap, a tile) of width × height at depth; false when there are none,
// or they cannot be read, fail their checksum or are of another shape, and
// they are computed again: kept data is a cache, never trusted.
func (w *Worker) kept(ctx context.Context, key string, width, height, depth int, log *slog.Logger) (*julia.Counts, julia.Stats, bool) {
	cs, st, err := w.readCounts(ctx, key)
	if err == nil && (cs.Width != width || cs.Height != height || cs.Depth != depth) {
		err = fmt.Errorf("counts of %d×%d at depth %d, want %d×%d at %d", cs.Width, cs.Height, cs.Depth, width, height, depth)
	}
	if err != nil {
		if longrun.ErrorCode(err) != longrun.ENOTFOUND {
			log.WarnContext(ctx, "job: kept counts unreadable or damaged; computing them again", "key", key, "err", err)
		}
		return nil, julia.Stats{}, false
	}
	return cs, st, true
}

// keep stores counts, and the stats of their render, under key.
func (w *Worker) keep(ctx context.Context, key string, cs *julia.Counts, st julia.Stats) error {
	var buf bytes.Buffer
	if err := julia.WriteCounts(&buf, cs, st); err != nil {
		return err
	}
	return w.Images.PutImage(ctx, key, buf.Bytes())
}

// claim leases the view's counts hash, or returns ErrBusy while another
// job renders them.
func (w *Worker) claim(ctx context.Context, hash string) (*lease, error) {
	l := &lease{w: w, hash: hash, token: longrun.NewID(), renewed: now()}
	ok, err := w.Leases.Claim(ctx, l.hash, l.token, l.renewed.Add(w.leaseTime()))
	if err == nil && !ok {
		err = ErrBusy
	}
	return l, err
}

// BusyRecheck is the longest a busy job waits before it looks again: a
// lease is renewed as its render goes, so its end is no promise, and a
// render may end well before it.
const BusyRecheck = 5 * time.Second

// putBack sends a job whose parameters are being rendered elsewhere back to
// the queue until that lease ends, or BusyRecheck; it then finishes from
// the result, or waits again.
func (w *Worker) putBack(ctx context.Context, job longrun.Job, counts string, log *slog.Logger) error {
	ends, err := w.Leases.LeaseEnds(ctx, counts)
	if err != nil {
		return err
	}
	delay := min(max(time.Until(ends), time.Second), BusyRecheck)
	if err := w.Requeue.SendJobAfter(ctx, job, delay); err != nil {
		return err
	}
	log.InfoContext(ctx, "job: the same parameters are rendering elsewhere; back when that lease ends",
		"outcome", "busy", "delay", delay.Round(time.Millisecond).String())
	return nil
}

// renew extends the lease once a third of it has passed.
func (l *lease) renew(ctx context.Context) {
	if t := now(); t.Sub(l.renewed) > l.w.leaseTime()/3 {
		if _, err := l.w.Leases.Claim(ctx, l.hash, l.token, t.Add(l.w.leaseTime())); err == nil {
			l.renewed = t
		}
	}
}

func (l *lease) release(ctx context.Context, log *slog.Logger) {
	if err := l.w.Leases.Release(context.WithoutCancel(ctx), l.hash, l.token); err != nil {
		log.Warn("job: could not release the render lease", "err", err)
	}
}

// render renders the configuration, reporting progress (which renews the
// lease) and stopping when the version is edited, deleted or cancelled
// (ErrSuperseded, ErrStopped) or the time is up (a permanent failure).
func (w *Worker) render(ctx context.Context, c *longrun.Configuration, job longrun.Job, l *lease) (*julia.Counts, julia.Stats, error) {
	rctx, cancel := w.bounded(ctx, "render")
	defer cancel()
	rctx, stop := context.WithCancelCause(rctx)
	defer stop(nil)
	progress := func(f float64) {
		if f >= 1 {
			return // the final write says done
		}
		err := w.Service.ReportProgress(rctx, job, f)
		switch {
		case errors.Is(err, longrun.ErrSuperseded), errors.Is(err, longrun.ErrStopped):
			stop(err)
		case longrun.ErrorCode(err) == longrun.ENOTFOUND:
			stop(longrun.ErrSuperseded) // deleted
		}
		l.renew(rctx)
	}
	cs, st, err := w.compute()(rctx, c.Params.Julia(), image.Rect(0, 0, c.Params.Width, c.Params.Height), julia.Options{Workers: w.Workers, Progress: progress,
		ProgressEvery: cmp.Or(w.ProgressEvery, 250*time.Millisecond)})
	if err != nil {
		return nil, st, outcome(ctx, rctx, err)
	}
	return cs, st, nil
}

// bounded is ctx for one computation (a render, a tile): it ends after
// Timeout, or Margin before ctx's own deadline, with what took too long
// as its cause.
func (w *Worker) bounded(ctx context.Context, what string) (context.Context, context.CancelFunc) {
	timeout := cmp.Or(w.Timeout, 10*time.Minute)
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl)-w.Margin)
	}
	return context.WithTimeoutCause(ctx, timeout, fmt.Errorf("%s took longer than %v", what, timeout.Round(time.Second)))
}

// outcome is what a computation's error err means, in rctx (bounded) under
// the job's ctx: superseded or stopped (rctx's cause), a permanent failure
// (too slow, which it would be again; parameters the renderer refuses), or
// err itself, for a retry.
func outcome(ctx, rctx context.Context, err error) error {
	var pe *julia.ParamError
	switch cause := context.Cause(rctx); {
	case cause != nil && ctx.Err() == nil:
		if errors.Is(cause, longrun.ErrSuperseded) || errors.Is(cause, longrun.ErrStopped) {
			return cause
		}
		return fmt.Errorf("%w: %w", errPermanent, cause)
	case errors.As(err, &pe):
		return fmt.Errorf("%w: %w", errPermanent, err)
	}
	return err
}

// store keeps the image and its result record, and reports the render
// (or the recolouring of counts rendered before: st is their render's).
func (w *Worker) store(ctx context.Context, job longrun.Job, img *image.Paletted, st julia.Stats, recoloured bool, log *slog.Logger) (*longrun.Result, error) {
	var buf bytes.Buffer
	if err := julia.Encode(&buf, img); err != nil {
		return nil, err
	}
	if err := w.Images.PutImage(ctx, longrun.ImageKey(job.Hash), buf.Bytes()); err != nil {
		return nil, fmt.Errorf("store image: %w", err)
	}
	r := &longrun.Result{Hash: job.Hash, CreatedAt: now(), Stats: longrun.Stats{
		Iterations: st.Iterations, Pixels: st.Pixels, RenderMs: st.Duration.Milliseconds(), Bytes: int64(buf.Len())}}
	if err := w.Leases.PutResult(ctx, r); err != nil {
		return nil, fmt.Errorf("store result: %w", err)
	}
	if recoloured {
		log.InfoContext(ctx, "job: coloured from counts rendered before", "outcome", "recoloured", "cacheHit", true, "pngBytes", buf.Len())
		w.metrics().Add(longrun.MetricJobsRecoloured, 1)
		return r, nil
	}
	log.InfoContext(ctx, "job: rendered", "outcome", "rendered", "cacheHit", false, "iterations", st.Iterations,
		"renderMs", st.Duration.Milliseconds(), "pngBytes", buf.Len())
	w.metrics().Add(longrun.MetricJobsRendered, 1)
	w.metrics().Observe(longrun.MetricRenderSeconds, st.Duration.Seconds())
	w.metrics().Observe(longrun.MetricRenderIterations, float64(st.Iterations))
	return r, nil
}

func (w *Worker) compute() func(context.Context, julia.Params, image.Rectangle, julia.Options) (*julia.Counts, julia.Stats, error) {
	if w.Compute == nil {
		return julia.ComputeRect
	}
	return w.Compute
}

func (w *Worker) metrics() longrun.Metrics {
	if w.Metrics == nil {
		return longrun.NopMetrics{}
	}
	return w.Metrics
}

func (w *Worker) logger() *slog.Logger {
	if w.Logger == nil {
		return slog.Default()
	}
	return w.Logger
}

func now() time.Time { return time.Now().UTC() }

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
