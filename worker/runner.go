package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/longrun/longrun"
)

// A Runner computes the specs of one kind (longrun.Kind): a kind that
// can be computed implements it. The worker does everything around it the
// same way for every kind — the job's checks, one computation per lease,
// the status and progress writes, cancellation when the version is edited
// or deleted, the parts' jobs on the queue, storing the result — and a
// runner only computes:
//
//   - Run computes a spec whole;
//   - or Plan cuts it into parts, RunPart computes one part (on any
//     worker, in any order, perhaps more than once) and keeps its output
//     under a key of its own, and Assemble makes the result from them.
//
// Errors are retried later, unless marked Permanent (what a retry cannot
// mend); a runner whose context ends returns its error, and the worker
// reads the cause.
type Runner interface {
	// Lease is the key of what a spec's computation makes that another
	// spec's may share (Julia: the escape counts, the same for every
	// colormap): jobs of one lease wait while one of them computes, then
	// reuse what it kept.
	Lease(spec longrun.Spec) string
	// Plan cuts the spec's computation into parts of at most partWork
	// each (Spec.Work's unit); nil computes it whole.
	Plan(spec longrun.Spec, partWork int64) *Plan
	// Run computes the spec whole.
	Run(ctx context.Context, t *Task) (*Output, error)
	// RunPart computes part i of t's plan and keeps its output.
	RunPart(ctx context.Context, t *Task, i int) (Part, error)
	// Assemble makes the result from every part's kept output.
	Assemble(ctx context.Context, t *Task) (*Output, error)
}

// A Previewer is a Runner that makes, cheaply, a low-resolution preview of
// a computation it cuts into parts (Julia: the view at thumbnail size,
// about a hundred-thousandth of a poster's work): the page shows it while
// the parts fill in. It writes a PNG at most longrun.ThumbnailSide
// pixels a side.
type Previewer interface {
	Preview(ctx context.Context, t *Task, w io.Writer) error
}

// ErrNoPreview is a Previewer's answer for a spec that needs no preview
// (small, or its parts kept already).
var ErrNoPreview = errors.New("no preview needed")

// A Plan is how a spec's computation is cut into parts.
type Plan struct {
	Parts int
	// Size is the kind's own measure of its parts (Julia: a tile's side),
	// kept with the version, so every part's job reads the same plan.
	Size int
	// Work is each part's estimated work, by index; AssembleWork the
	// assembly's. The queue's fair shares charge them.
	Work         []int64
	AssembleWork int64
}

// A Part is what computing one part found.
type Part struct {
	// Lo and Hi bound a value over the parts, which the assembly may need
	// (Julia: the escape counts, to colour every tile alike); the worker
	// keeps their least and greatest.
	Lo, Hi   int
	Work     int64 // done, in Spec.Work's unit
	Duration time.Duration
	// Kept is true when the part's output was kept already, not computed.
	Kept bool
}

// A Task is one computation a runner is asked for.
type Task struct {
	Spec longrun.Spec
	// Hash is the result's: the spec's hash.
	Hash string
	// Parts and Size are the version's plan, for RunPart and Assemble;
	// Lo and Hi the bounds its parts reported, for Assemble.
	Parts, Size int
	Lo, Hi      int
	// Workers is how many goroutines one computation may use; 0: all cores.
	Workers int
	// Store keeps a runner's outputs by key: under longrun.CountsPrefix
	// what later versions may reuse, under longrun.TilesPrefix the parts'
	// outputs. What it keeps is a cache, never trusted: a runner checks
	// what it reads and computes again what is gone or damaged.
	Store Images
	Log   *slog.Logger
	// ProgressEvery is the least time between the progress a runner
	// reports and the worker writes.
	ProgressEvery time.Duration

	progress func(done float64, live json.RawMessage)
}

// NewTask returns a copy of t whose progress goes to progress: for a
// runner's tests, and for callers that run a runner without a worker.
func NewTask(t *Task, progress func(done float64, live json.RawMessage)) *Task {
	c := *t
	c.progress = progress
	return &c
}

// Progress reports the fraction done (0–1) of a whole computation and,
// if live is not nil, what the kind shows of it meanwhile (a training's
// curves): the worker writes them to the configuration, and pages see
// them pushed. It is cheap to call often; the worker writes at most every
// ProgressEvery, and the last call's live is never lost.
func (t *Task) Progress(done float64, live json.RawMessage) {
	if t.progress != nil {
		t.progress(done, live)
	}
}

// An Output is a computed result.
type Output struct {
	// Image writes the result's PNG, what lists, e-mails and pages show;
	// it may stream (a poster's is hundreds of megabytes).
	Image func(io.Writer) error
	// Thumbnail, if set, writes the image shrunk to at most
	// longrun.ThumbnailSide pixels a side (a PNG), which lists show in its
	// place; it is called after Image, which may make it as it streams.
	Thumbnail func(io.Writer) error
	// Artifacts are the result's other files, by name
	// (longrun.ArtifactKey), such as a model's weights.
	Artifacts map[string][]byte
	// Stats describe the computation; the worker sets Bytes.
	Stats longrun.Stats
	// Reused is true when the result was made from outputs kept before
	// without computing (Julia: counts of another colormap, recoloured).
	Reused bool
}

// errPermanent marks failures that a retry cannot mend.
var errPermanent = errors.New("permanent")

// Permanent marks err as a failure that retrying cannot mend (parameters
// the computation refuses, data that cannot be): the version fails at
// once, with err's words as the owner's reason.
func Permanent(err error) error {
	if err == nil || errors.Is(err, errPermanent) {
		return err
	}
	return fmt.Errorf("%w: %w", errPermanent, err)
}

// errContinue marks a computation that kept its progress and stopped to
// go on in another delivery.
var errContinue = errors.New("to be continued")

// Continue marks a computation out of its time that kept what it did (a
// training's checkpoint): the worker sends its job again at once, and the
// next delivery goes on from there, instead of failing the version. A
// runner returns it only when it kept progress since it began, so a job
// always moves forward.
func Continue(err error) error { return fmt.Errorf("%w: %w", errContinue, err) }

// IsPermanent reports whether err is marked Permanent.
func IsPermanent(err error) bool { return errors.Is(err, errPermanent) }
