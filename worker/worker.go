// Package worker renders configurations: it takes render jobs from a queue
// (as the SQS events Lambda delivers), skips what is superseded or already
// rendered, renders the rest with progress, and stores the image by params
// hash with writes that are conditional on the job's version.
package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/julia"
)

// Configurations is where configurations are kept.
type Configurations interface {
	Configuration(ctx context.Context, id string) (*longrun.Configuration, error)
	// UpdateConfiguration applies fn to the stored configuration and writes
	// the result unless fn returns an error; the write is atomic with the
	// read fn saw.
	UpdateConfiguration(ctx context.Context, id string, fn func(*longrun.Configuration) error) (*longrun.Configuration, error)
}

// Results are rendered images' records, by params hash.
type Results interface {
	// Result returns the result for hash, or nil if there is none.
	Result(ctx context.Context, hash string) (*longrun.Result, error)
	// PutResult stores r unless a result for its hash exists.
	PutResult(ctx context.Context, r *longrun.Result) error
	// Claim takes a lease on rendering hash until the given time; it
	// reports false while another token holds an unexpired lease.
	Claim(ctx context.Context, hash, token string, until time.Time) (bool, error)
	// Release ends token's lease on hash, if it still holds it.
	Release(ctx context.Context, hash, token string) error
}

// Images keeps PNGs by key.
type Images interface {
	PutImage(ctx context.Context, key string, png []byte) error
}

// A Worker processes render jobs.
type Worker struct {
	Configs Configurations
	Results Results
	Images  Images
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
	// Render renders; nil means julia.Render. Tests replace it.
	Render func(context.Context, julia.Params, julia.Options) (*image.Paletted, julia.Stats, error)
}

// ErrBusy means another worker is rendering the same parameters; the job
// should be retried later, when the result will exist.
var ErrBusy = errors.New("the same parameters are being rendered by another job")

var errSuperseded = errors.New("superseded by a newer version")

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
	if err == nil || errors.Is(err, errSuperseded) {
		return nil
	}
	final := receives >= w.MaxReceives && w.MaxReceives > 0
	log.WarnContext(ctx, "job: failed", "outcome", "failed", "err", err, "final", final)
	w.metrics().Add(longrun.MetricJobsFailed, 1)
	if final && !errors.Is(err, errPermanent) {
		w.metrics().Add(longrun.MetricJobsDeadLettered, 1)
	}
	if final || errors.Is(err, errPermanent) {
		reason := err.Error()
		_, uerr := w.Configs.UpdateConfiguration(context.WithoutCancel(ctx), job.ID, w.guard(job, func(c *longrun.Configuration) error {
			c.Status, c.Error, c.Progress, c.UpdatedAt, c.Change = longrun.StatusFailed, reason, 0, now(), longrun.ChangeStatus
			return nil
		}))
		if uerr != nil && !errors.Is(uerr, errSuperseded) && longrun.ErrorCode(uerr) != longrun.ENOTFOUND {
			log.Error("job: could not record the failure", "err", uerr)
		}
		if errors.Is(err, errPermanent) {
			return nil // retrying cannot help
		}
	}
	return err
}

var errPermanent = errors.New("permanent")

func (w *Worker) process(ctx context.Context, job longrun.Job, log *slog.Logger) error {
	c, err := w.Configs.Configuration(ctx, job.ID)
	if longrun.ErrorCode(err) == longrun.ENOTFOUND {
		log.InfoContext(ctx, "job: configuration deleted, dropped", "outcome", "deleted", "superseded", true)
		w.metrics().Add(longrun.MetricJobsSuperseded, 1)
		return nil
	}
	if err != nil {
		return err
	}
	if c.Version != job.Version || c.ParamsHash != job.Hash {
		log.InfoContext(ctx, "job: superseded, dropped", "outcome", "superseded", "superseded", true, "currentVersion", c.Version)
		w.metrics().Add(longrun.MetricJobsSuperseded, 1)
		return nil
	}
	if c.Status == longrun.StatusDone && c.RenderedHash == job.Hash {
		log.InfoContext(ctx, "job: already done, dropped", "outcome", "duplicate", "cacheHit", true)
		return nil
	}
	finish := func(r *longrun.Result) error {
		_, err := w.Configs.UpdateConfiguration(ctx, job.ID, w.guard(job, func(c *longrun.Configuration) error {
			c.Finish(r)
			c.UpdatedAt = now()
			return nil
		}))
		return err
	}
	if r, err := w.Results.Result(ctx, job.Hash); err != nil {
		return err
	} else if r != nil {
		log.InfoContext(ctx, "job: done from an existing result", "outcome", "deduplicated", "cacheHit", true)
		w.metrics().Add(longrun.MetricJobsDeduplicated, 1)
		return finish(r)
	}

	timeout := w.Timeout
	if timeout == 0 {
		timeout = 10 * time.Minute
	}
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl)-w.Margin)
	}
	token := longrun.NewID()
	lease := w.Lease
	if lease == 0 {
		lease = 30 * time.Second
	}
	renewed := now()
	if ok, err := w.Results.Claim(ctx, job.Hash, token, renewed.Add(lease)); err != nil {
		return err
	} else if !ok {
		return ErrBusy
	}
	defer func() {
		if err := w.Results.Release(context.WithoutCancel(ctx), job.Hash, token); err != nil {
			log.Warn("job: could not release the render lease", "err", err)
		}
	}()
	if _, err := w.Configs.UpdateConfiguration(ctx, job.ID, w.guard(job, func(c *longrun.Configuration) error {
		c.Status, c.Progress, c.Error, c.UpdatedAt, c.Change = longrun.StatusRendering, 0, "", now(), longrun.ChangeStatus
		return nil
	})); err != nil {
		return err
	}

	rctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("render took longer than %v", timeout.Round(time.Second)))
	defer cancel()
	rctx, cancelCause := context.WithCancelCause(rctx)
	defer cancelCause(nil)
	progress := func(f float64) {
		if f >= 1 {
			return // the final write says done
		}
		_, err := w.Configs.UpdateConfiguration(rctx, job.ID, w.guard(job, func(c *longrun.Configuration) error {
			c.Progress, c.Change = f, longrun.ChangeProgress
			return nil
		}))
		if errors.Is(err, errSuperseded) || longrun.ErrorCode(err) == longrun.ENOTFOUND {
			cancelCause(errSuperseded) // an edit or a delete: stop rendering
		}
		if t := now(); t.Sub(renewed) > lease/3 {
			if _, err := w.Results.Claim(rctx, job.Hash, token, t.Add(lease)); err == nil {
				renewed = t
			}
		}
	}
	render := w.Render
	if render == nil {
		render = julia.Render
	}
	every := w.ProgressEvery
	if every == 0 {
		every = 250 * time.Millisecond
	}
	img, st, err := render(rctx, c.Params.Julia(), julia.Options{Workers: w.Workers, Progress: progress, ProgressEvery: every})
	if err != nil {
		if cause := context.Cause(rctx); cause != nil && ctx.Err() == nil {
			if errors.Is(cause, errSuperseded) {
				log.InfoContext(ctx, "job: superseded while rendering, stopped", "outcome", "superseded", "superseded", true)
				w.metrics().Add(longrun.MetricJobsSuperseded, 1)
				return errSuperseded
			}
			return fmt.Errorf("%w: %w", errPermanent, cause) // too slow: it would be again
		}
		var pe *julia.ParamError
		if errors.As(err, &pe) {
			return fmt.Errorf("%w: %w", errPermanent, err)
		}
		return err
	}
	var buf bytes.Buffer
	if err := julia.Encode(&buf, img); err != nil {
		return err
	}
	if err := w.Images.PutImage(ctx, longrun.ImageKey(job.Hash), buf.Bytes()); err != nil {
		return fmt.Errorf("store image: %w", err)
	}
	r := &longrun.Result{Hash: job.Hash, CreatedAt: now(), Stats: longrun.Stats{
		Iterations: st.Iterations, Pixels: st.Pixels, RenderMs: st.Duration.Milliseconds()}}
	if err := w.Results.PutResult(ctx, r); err != nil {
		return fmt.Errorf("store result: %w", err)
	}
	log.InfoContext(ctx, "job: rendered", "outcome", "rendered", "cacheHit", false, "iterations", st.Iterations,
		"renderMs", st.Duration.Milliseconds(), "pngBytes", buf.Len())
	w.metrics().Add(longrun.MetricJobsRendered, 1)
	w.metrics().Observe(longrun.MetricRenderSeconds, st.Duration.Seconds())
	w.metrics().Observe(longrun.MetricRenderIterations, float64(st.Iterations))
	if err := finish(r); errors.Is(err, errSuperseded) {
		log.InfoContext(ctx, "job: superseded after rendering; the result stays for reuse", "outcome", "superseded", "superseded", true)
		w.metrics().Add(longrun.MetricJobsSuperseded, 1)
		return nil
	} else {
		return err
	}
}

// guard makes fn apply only to the job's version.
func (w *Worker) guard(job longrun.Job, fn func(*longrun.Configuration) error) func(*longrun.Configuration) error {
	return func(c *longrun.Configuration) error {
		if c.Version != job.Version {
			return errSuperseded
		}
		return fn(c)
	}
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
