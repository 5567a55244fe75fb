// Package worker computes configurations of any kind: it takes jobs from a
// queue (as the SQS events Lambda delivers), skips what is superseded or
// already computed, runs the rest through their kind's Runner with
// progress — whole, or in parts any worker computes, then assembled — and
// stores the result by params hash. Every change to a configuration goes
// through longrun.Service, whose writes are conditional on the job's
// version.
package worker

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/tracing"
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

// Images keeps results' PNGs and artifacts by key, and what runners keep
// to compute less (Task.Store).
type Images interface {
	PutImage(ctx context.Context, key string, png []byte) error
	OpenImage(ctx context.Context, key string) (io.ReadCloser, error)
}

// A Worker processes jobs of every kind its Service knows.
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
	// PartWork is the most work (in each kind's Spec.Work unit) one part
	// of a computation may have: the queue shares workers part by part,
	// so a part is how long a quiet client's job may wait for a worker. A
	// runner plans a spec over it into parts, which need Requeue to send
	// their jobs. 0 means DefaultPartWork.
	PartWork int64
}

// ErrBusy means another worker is rendering the same parameters; the job
// should be retried later, when the result will exist.
var ErrBusy = errors.New("the same parameters are being rendered by another job")

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
		if a, ok := m.MessageAttributes["traceparent"]; ok && job.Trace == "" && a.StringValue != nil {
			job.Trace = *a.StringValue // a job sent by another producer, its trace beside the body
		}
		receives, _ := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
		if err := w.Process(ctx, job, receives); err != nil {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return resp, nil
}

// tracer is asked for at each use: the global provider may be set after
// this package starts (and again, in tests).
func tracer() trace.Tracer { return otel.Tracer("github.com/longrun/longrun/worker") }

// Process runs one job, delivered for the receives-th time. A nil error
// means the job is finished with (rendered, skipped or failed for good).
func (w *Worker) Process(ctx context.Context, job longrun.Job, receives int) (err error) {
	// The job's span continues its version's trace, begun by the request
	// that made the version.
	ctx, span := tracer().Start(tracing.Parent(ctx, job.Trace), "job "+cmp.Or(job.Step, "whole"), trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("longrun.configuration.id", job.ID), attribute.Int64("longrun.version", job.Version),
			attribute.Int("longrun.part", job.Tile), attribute.Int("longrun.receives", receives)))
	defer func() { tracing.End(span, err) }()
	log := w.logger().With("configurationId", job.ID, "version", job.Version, "paramsHash", job.Hash, "receives", receives)
	if sc := span.SpanContext(); sc.IsValid() {
		log = log.With("traceId", sc.TraceID().String(), "spanId", sc.SpanID().String())
	}
	err = w.process(ctx, job, log)
	if err == nil || errors.Is(err, longrun.ErrSuperseded) || errors.Is(err, longrun.ErrStopped) {
		return nil
	}
	if errors.Is(err, errContinue) && w.Requeue != nil {
		return w.continueJob(ctx, job, err, log)
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

// continueJob sends again at once the job of a computation that kept its
// progress and stopped, out of its time: the next delivery goes on from
// there. It is no failure.
func (w *Worker) continueJob(ctx context.Context, job longrun.Job, err error, log *slog.Logger) error {
	if serr := w.Requeue.SendJobAfter(context.WithoutCancel(ctx), job, 0); serr != nil {
		return fmt.Errorf("send the job again to go on: %w", serr)
	}
	log.InfoContext(ctx, "job: out of its time with its progress kept; sent again to go on", "outcome", "continued", "reason", err)
	return nil
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
	switch job.Step {
	case longrun.JobPart:
		return w.part(ctx, job, log)
	case longrun.JobAssemble:
		return w.assemble(ctx, job, log)
	}
	c, spec, run, err := w.prepare(ctx, job, log)
	if err != nil || c == nil {
		return err
	}
	if plan := w.plan(run, spec); plan != nil {
		w.preview(ctx, job, c, spec, run, plan, log)
		return w.planParts(ctx, job, plan, log)
	}
	// One computation per lease: Julia's parameters that differ only in
	// colormap share the counts, so its lease is on the counts.
	l, err := w.claim(ctx, run.Lease(spec))
	if errors.Is(err, ErrBusy) && w.Requeue != nil {
		return w.putBack(ctx, job, l.hash, log)
	}
	if err != nil {
		return err
	}
	defer l.release(ctx, log)
	if err := w.Service.StartRender(ctx, job); err != nil {
		return err
	}
	out, err := w.run(ctx, job, l, w.task(c, spec, log), run)
	if err != nil {
		if errors.Is(err, longrun.ErrSuperseded) || errors.Is(err, longrun.ErrStopped) {
			log.InfoContext(ctx, "job: superseded or stopped while computing", "outcome", "superseded", "superseded", true)
			w.metrics().Add(longrun.MetricJobsSuperseded, 1)
		}
		return err
	}
	return w.finish(ctx, job, c.KindName(), out, log)
}

// prepare is every job's first step: the service says whether the job is
// still wanted (a whole job whose spec was computed before is finished
// there, from that result), then the configuration's spec and runner
// are found. A nil configuration and error: the job needs nothing more.
func (w *Worker) prepare(ctx context.Context, job longrun.Job, log *slog.Logger) (*longrun.Configuration, longrun.Spec, Runner, error) {
	prepare := w.Service.Prepare
	if job.Step != longrun.JobWhole {
		prepare = w.Service.PrepareTiled
	}
	c, skip, err := prepare(ctx, job)
	if err != nil {
		return nil, nil, nil, err
	}
	if skip != longrun.SkipNone {
		w.skipped(ctx, log, skip)
		return nil, nil, nil, nil
	}
	spec, run, err := w.runner(c)
	if err != nil {
		return nil, nil, nil, err
	}
	return c, spec, run, nil
}

// runner returns the configuration's spec and its kind's runner.
func (w *Worker) runner(c *longrun.Configuration) (longrun.Spec, Runner, error) {
	k, err := w.Service.Kinds.Kind(c.KindName())
	if err != nil {
		return nil, nil, Permanent(fmt.Errorf("this deployment has no kind %q", c.KindName()))
	}
	run, ok := k.(Runner)
	if !ok {
		return nil, nil, Permanent(fmt.Errorf("this deployment cannot compute kind %q", c.KindName()))
	}
	spec, err := k.Decode(c.Params)
	if err != nil {
		return nil, nil, Permanent(err)
	}
	return spec, run, nil
}

// task is what a runner computes of c.
func (w *Worker) task(c *longrun.Configuration, spec longrun.Spec, log *slog.Logger) *Task {
	t := &Task{Spec: spec, Hash: c.ParamsHash, Workers: w.Workers, Store: w.Images, Log: log,
		ProgressEvery: cmp.Or(w.ProgressEvery, 250*time.Millisecond)}
	if c.Tiling != nil {
		t.Parts, t.Size, t.Lo, t.Hi = c.Tiling.Total, c.Tiling.Size, c.Tiling.Lo, c.Tiling.Hi
	}
	return t
}

// finish stores the output as the job's result and the version done.
func (w *Worker) finish(ctx context.Context, job longrun.Job, kind string, out *Output, log *slog.Logger) error {
	r, err := w.store(ctx, job, kind, out, log)
	if err != nil {
		return err
	}
	err = w.Service.FinishRender(ctx, job, r)
	if errors.Is(err, longrun.ErrSuperseded) || errors.Is(err, longrun.ErrStopped) || longrun.ErrorCode(err) == longrun.ENOTFOUND {
		log.InfoContext(ctx, "job: superseded after computing; the result stays for reuse", "outcome", "superseded", "superseded", true)
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
func (w *Worker) putBack(ctx context.Context, job longrun.Job, lease string, log *slog.Logger) error {
	ends, err := w.Leases.LeaseEnds(ctx, lease)
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

// run runs a whole computation, writing its progress (which renews the
// lease) and stopping it when the version is edited, deleted or cancelled
// (ErrSuperseded, ErrStopped) or the time is up (a permanent failure).
func (w *Worker) run(ctx context.Context, job longrun.Job, l *lease, t *Task, run Runner) (*Output, error) {
	rctx, cancel := w.bounded(ctx, "the computation")
	defer cancel()
	rctx, stop := context.WithCancelCause(rctx)
	defer stop(nil)
	var last time.Time
	t.progress = func(f float64, live json.RawMessage) {
		if f >= 1 && live == nil {
			return // the final write says done
		}
		if now := time.Now(); now.Sub(last) >= t.ProgressEvery || f >= 1 {
			last = now
		} else {
			return
		}
		err := w.Service.ReportProgress(rctx, job, min(f, 0.999), live)
		switch {
		case errors.Is(err, longrun.ErrSuperseded), errors.Is(err, longrun.ErrStopped):
			stop(err)
		case longrun.ErrorCode(err) == longrun.ENOTFOUND:
			stop(longrun.ErrSuperseded) // deleted
		}
		l.renew(rctx)
	}
	out, err := run.Run(rctx, t)
	if err != nil {
		return nil, outcome(ctx, rctx, err)
	}
	return out, nil
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
// (too slow, which it would be again; what the runner marked Permanent),
// or err itself, for a retry.
func outcome(ctx, rctx context.Context, err error) error {
	if errors.Is(err, errContinue) {
		return err
	}
	if cause := context.Cause(rctx); cause != nil && ctx.Err() == nil {
		if errors.Is(cause, longrun.ErrSuperseded) || errors.Is(cause, longrun.ErrStopped) {
			return cause
		}
		return Permanent(cause)
	}
	return err
}

// store keeps the output's image, its artifacts and its result record,
// and reports the computation (or the reuse of outputs kept before).
func (w *Worker) store(ctx context.Context, job longrun.Job, kind string, out *Output, log *slog.Logger) (*longrun.Result, error) {
	var size int64
	counted := func(o io.Writer) error { return out.Image(&countingWriter{o, &size}) }
	key := longrun.ImageKey(job.Hash)
	var err error
	if iw, ok := w.Images.(ImageWriter); ok {
		err = iw.WriteImage(ctx, key, counted)
	} else {
		var buf bytes.Buffer
		if err = counted(&buf); err == nil {
			err = w.Images.PutImage(ctx, key, buf.Bytes())
		}
	}
	if err != nil {
		return nil, fmt.Errorf("store image: %w", err)
	}
	if out.Thumbnail != nil {
		// A thumbnail lost costs a list the full image, not the result.
		var buf bytes.Buffer
		if err := out.Thumbnail(&buf); err != nil {
			log.WarnContext(ctx, "job: no thumbnail", "err", err)
		} else if err := w.Images.PutImage(ctx, longrun.ThumbnailKey(job.Hash), buf.Bytes()); err != nil {
			log.WarnContext(ctx, "job: could not store the thumbnail", "err", err)
		} else {
			size += int64(buf.Len())
		}
	}
	for _, name := range slices.Sorted(maps.Keys(out.Artifacts)) {
		b := out.Artifacts[name]
		if err := w.Images.PutImage(ctx, longrun.ArtifactKey(job.Hash, name), b); err != nil {
			return nil, fmt.Errorf("store %s: %w", name, err)
		}
		size += int64(len(b))
	}
	st := out.Stats
	st.Bytes = size
	st.Artifacts = slices.Sorted(maps.Keys(out.Artifacts))
	r := &longrun.Result{Hash: job.Hash, CreatedAt: now(), Stats: st}
	if err := w.Leases.PutResult(ctx, r); err != nil {
		return nil, fmt.Errorf("store result: %w", err)
	}
	if out.Reused {
		log.InfoContext(ctx, "job: made from outputs kept before", "outcome", "recoloured", "cacheHit", true, "bytes", size)
		w.metrics().Add(longrun.MetricJobsRecoloured, 1)
		return r, nil
	}
	log.InfoContext(ctx, "job: computed", "outcome", "rendered", "cacheHit", false, "iterations", st.Iterations,
		"renderMs", st.RenderMs, "bytes", size)
	w.metrics().Add(longrun.MetricJobsRendered, 1, "kind", kind)
	w.metrics().Observe(longrun.MetricRenderSeconds, float64(st.RenderMs)/1000, "kind", kind)
	w.metrics().Observe(longrun.MetricRenderIterations, float64(st.Iterations))
	return r, nil
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
