package classifier

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/julia"
	"github.com/longrun/longrun/worker"
)

// Kind is the classifier kind within its limits, and its runner
// (worker.Runner).
type Kind struct {
	// Limits bound a spec; the zero value takes DefaultLimits.
	Limits Limits
}

// New returns the kind within the default limits.
func New() *Kind { return &Kind{Limits: DefaultLimits()} }

func (k *Kind) limits() Limits {
	if k.Limits.MaxEpochs == 0 {
		return DefaultLimits()
	}
	return k.Limits
}

// Name is "classifier".
func (k *Kind) Name() string { return Name }

// Normalize reads and validates a spec as a client sends it.
func (k *Kind) Normalize(raw json.RawMessage, prefix string) (longrun.Spec, error) {
	var in Input
	if longrun.Given(raw) {
		if err := longrun.DecodeParams(raw, prefix, &in); err != nil {
			return nil, err
		}
	}
	p, err := in.Normalize(prefix, k.limits())
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Decode reads a kept spec.
func (k *Kind) Decode(raw json.RawMessage) (longrun.Spec, error) {
	return longrun.DecodeSpec[Params](Name, raw)
}

// Describe is what /api/meta serves of the kind.
func (k *Kind) Describe() longrun.KindMeta {
	l := k.limits()
	d := DefaultParams()
	intIn := func(lo, hi int, def any) map[string]any {
		return map[string]any{"type": "integer", "minimum": lo, "maximum": hi, "default": def}
	}
	schema := map[string]any{
		"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "additionalProperties": false,
		"x-order": []string{"dataset", "hidden", "activation", "optimizer", "learningRate", "batchSize", "l2", "epochs", "seed", "colormap"},
		"properties": map[string]any{
			"dataset": map[string]any{"type": "object", "additionalProperties": false, "x-order": []string{"name", "points", "noise", "seed"}, "properties": map[string]any{
				"name":   map[string]any{"type": "string", "enum": l.Datasets, "default": d.Dataset.Name},
				"points": intIn(l.MinPoints, l.MaxPoints, d.Dataset.Points),
				"noise":  map[string]any{"type": "number", "minimum": 0, "maximum": l.MaxNoise, "default": d.Dataset.Noise},
				"seed":   intIn(0, 1<<53, d.Dataset.Seed),
			}},
			"hidden": map[string]any{"type": "array", "minItems": l.MinLayers, "maxItems": l.MaxLayers, "default": d.Hidden,
				"items": map[string]any{"type": "integer", "minimum": 1, "maximum": l.MaxWidth}},
			"activation":   map[string]any{"type": "string", "enum": l.Activations, "default": d.Activation},
			"optimizer":    map[string]any{"type": "string", "enum": l.Optimizers, "default": d.Optimizer},
			"learningRate": map[string]any{"type": "number", "exclusiveMinimum": 0, "maximum": l.MaxLearning, "default": d.LearningRate},
			"batchSize":    intIn(1, l.MaxBatch, d.BatchSize),
			"l2":           map[string]any{"type": "number", "minimum": 0, "maximum": l.MaxL2, "default": d.L2},
			"epochs": map[string]any{"type": "integer", "minimum": 1, "maximum": l.MaxEpochs, "default": d.Epochs,
				"description": fmt.Sprintf("epochs × points × weights × 3 at most %d", l.MaxWork)},
			"seed":     intIn(0, 1<<53, d.Seed),
			"colormap": map[string]any{"type": "string", "enum": julia.Colormaps(), "default": d.Colormap},
		},
	}
	b, _ := json.Marshal(schema)
	return longrun.KindMeta{
		Title:       "classifier",
		Description: "A small neural network trained to separate the two classes of a 2-D dataset: its decision boundary, loss and accuracy curves, and weights.",
		Result:      "training",
		Schema:      b,
		Defaults:    d,
		Limits:      l,
	}
}

// Checkpoints are kept every ckptEvery epochs and at a run's last.
const ckptEvery = 25

// Lease is the run's hash: a run is trained by one job at a time, and a
// longer one waits for a shorter one's checkpoints.
func (k *Kind) Lease(spec longrun.Spec) string { return "classifier:" + spec.(Params).RunHash() }

// Plan is nil: a training is one sequence of epochs, run whole.
func (k *Kind) Plan(longrun.Spec, int64) *worker.Plan { return nil }

// RunPart is never asked for: Plan cuts no parts.
func (k *Kind) RunPart(context.Context, *worker.Task, int) (worker.Part, error) {
	return worker.Part{}, worker.Permanent(errors.New("a classifier is trained whole"))
}

// Assemble is never asked for: Plan cuts no parts.
func (k *Kind) Assemble(context.Context, *worker.Task) (*worker.Output, error) {
	return nil, worker.Permanent(errors.New("a classifier is trained whole"))
}

// Run trains the network from the run's longest checkpoint within the
// spec's epochs (none: from the start), reporting each epoch's loss and
// accuracy and keeping a checkpoint every ckptEvery epochs, and makes the
// artifacts.
func (k *Kind) Run(ctx context.Context, t *worker.Task) (*worker.Output, error) {
	start := time.Now()
	p := t.Spec.(Params)
	pts := generate(p.Dataset)
	run := p.RunHash()
	s := k.resume(ctx, t, p, run)
	reused := s.Epoch
	if reused > 0 {
		logger(t).InfoContext(ctx, "job: training continues from a checkpoint", "epoch", reused, "epochs", p.Epochs)
	}
	for s.Epoch < p.Epochs {
		if err := ctx.Err(); err != nil {
			return nil, k.outOfTime(ctx, t, run, s, reused, p)
		}
		s.epoch(p, pts)
		m := s.measure(p, pts)
		if math.IsNaN(m.Loss) || math.IsInf(m.Loss, 0) || !finite(s) {
			return nil, worker.Permanent(fmt.Errorf("the training diverged at epoch %d (its loss is not a number): lower the learning rate", s.Epoch))
		}
		if s.Epoch%ckptEvery == 0 || s.Epoch == p.Epochs {
			if err := k.checkpoint(ctx, t, run, s); err != nil {
				logger(t).WarnContext(ctx, "job: could not keep a checkpoint", "epoch", s.Epoch, "err", err)
			}
		}
		t.Progress(float64(s.Epoch)/float64(p.Epochs), live(s, p.Epochs))
	}
	final := s.Curve[len(s.Curve)-1]
	weights, err := weightsJSON(s, p, final)
	if err != nil {
		return nil, err
	}
	var img bytes.Buffer
	if err := drawBoundary(&img, s, p, pts); err != nil {
		return nil, err
	}
	trained := p.Epochs - reused
	t.Progress(1, live(s, p.Epochs))
	return &worker.Output{
		Image:     func(w io.Writer) error { _, err := w.Write(img.Bytes()); return err },
		Artifacts: map[string][]byte{"weights.json": weights},
		Reused:    trained == 0,
		Stats: longrun.Stats{Iterations: int64(trained) * int64(len(pts)), Pixels: boundarySize * boundarySize,
			RenderMs: time.Since(start).Milliseconds(),
			Extra: map[string]float64{"epochs": float64(p.Epochs), "epochsTrained": float64(trained), "epochsReused": float64(reused),
				"accuracy": final.Accuracy, "loss": final.Loss}},
	}, nil
}

// outOfTime is what a training stopped by its context returns: when its
// time is up (not an edit, a cancel or a delete) after an epoch or more
// since it began, it keeps a checkpoint where it is and asks to go on in
// another delivery (worker.Continue); otherwise the context's error.
func (k *Kind) outOfTime(ctx context.Context, t *worker.Task, run string, s *state, began int, p Params) error {
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) || s.Epoch <= began {
		return ctx.Err()
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := k.checkpoint(wctx, t, run, s); err != nil {
		return fmt.Errorf("out of time at epoch %d, and its checkpoint could not be kept: %w", s.Epoch, err)
	}
	return worker.Continue(fmt.Errorf("trained to epoch %d of %d in this delivery's time", s.Epoch, p.Epochs))
}

func finite(s *state) bool {
	for _, l := range s.Layers {
		for _, ws := range [][]float64{l.W, l.B} {
			for _, w := range ws {
				if math.IsNaN(w) || math.IsInf(w, 0) {
					return false
				}
			}
		}
	}
	return true
}

// liveCurve bounds the samples a live report carries.
const liveCurve = 300

// live is what the page draws while training goes: the epoch and the
// curve so far, at most liveCurve samples (evenly chosen, the last kept).
func live(s *state, epochs int) json.RawMessage {
	curve := s.Curve
	if len(curve) > liveCurve {
		step := float64(len(curve)-1) / float64(liveCurve-1)
		picked := make([]sample, liveCurve)
		for i := range picked {
			picked[i] = curve[int(math.Round(float64(i)*step))]
		}
		curve = picked
	}
	b, _ := json.Marshal(map[string]any{"epoch": s.Epoch, "epochs": epochs, "curve": curve})
	return b
}

// ckptKey and indexKey are the store's keys of a run's checkpoint at an
// epoch and of the list of its checkpoints.
func ckptKey(run string, epoch int) string {
	return fmt.Sprintf("%sckpt-%s-e%d.json", longrun.CountsPrefix, run, epoch)
}
func indexKey(run string) string { return longrun.CountsPrefix + "ckpt-" + run + ".index" }

// resume is the run's longest checkpoint within p's epochs that reads
// back whole, or a new network; checkpoints are a cache, never trusted.
func (k *Kind) resume(ctx context.Context, t *worker.Task, p Params, run string) *state {
	for _, e := range slices.Backward(readIndex(ctx, t, run)) {
		if e > p.Epochs {
			continue
		}
		b, err := read(ctx, t, ckptKey(run, e))
		if err == nil {
			var s *state
			if s, err = unmarshalState(b, p, e); err == nil {
				return s
			}
		}
		if longrun.ErrorCode(err) != longrun.ENOTFOUND {
			logger(t).WarnContext(ctx, "job: checkpoint unreadable or damaged; trying an earlier one", "epoch", e, "err", err)
		}
	}
	return newState(p)
}

// checkpoint keeps s and adds its epoch to the run's index. The lease on
// the run makes this job the index's only writer.
func (k *Kind) checkpoint(ctx context.Context, t *worker.Task, run string, s *state) error {
	b, err := s.marshal()
	if err != nil {
		return err
	}
	if err := t.Store.PutImage(ctx, ckptKey(run, s.Epoch), b); err != nil {
		return err
	}
	idx := readIndex(ctx, t, run)
	if !slices.Contains(idx, s.Epoch) {
		idx = append(idx, s.Epoch)
		slices.Sort(idx)
	}
	ib, _ := json.Marshal(idx)
	return t.Store.PutImage(ctx, indexKey(run), ib)
}

// readIndex is the epochs of the run's checkpoints, ascending; none when
// the index is gone or damaged.
func readIndex(ctx context.Context, t *worker.Task, run string) []int {
	b, err := read(ctx, t, indexKey(run))
	var idx []int
	if err != nil || json.Unmarshal(b, &idx) != nil {
		return nil
	}
	slices.Sort(idx)
	return idx
}

func read(ctx context.Context, t *worker.Task, key string) ([]byte, error) {
	rc, err := t.Store.OpenImage(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, 64<<20))
}

// weightsJSON is the trained network, for download: each layer's
// weights (a row per output) and biases, its activation, the spec, the
// final figures and the curve.
func weightsJSON(s *state, p Params, final sample) ([]byte, error) {
	type layerJSON struct {
		In         int         `json:"in"`
		Out        int         `json:"out"`
		Activation string      `json:"activation"`
		Weights    [][]float64 `json:"weights"`
		Biases     []float64   `json:"biases"`
	}
	layers := make([]layerJSON, len(s.Layers))
	for i, l := range s.Layers {
		act := p.Activation
		if i == len(s.Layers)-1 {
			act = "sigmoid"
		}
		rows := make([][]float64, l.Out)
		for o := range rows {
			rows[o] = l.W[o*l.In : (o+1)*l.In]
		}
		layers[i] = layerJSON{In: l.In, Out: l.Out, Activation: act, Weights: rows, Biases: l.B}
	}
	return json.MarshalIndent(map[string]any{
		"kind": Name, "spec": p, "inputs": []string{"x", "y"}, "output": "the probability of class 1",
		"layers": layers, "epochs": s.Epoch, "loss": final.Loss, "accuracy": final.Accuracy, "curve": s.Curve,
	}, "", " ")
}

func logger(t *worker.Task) *slog.Logger {
	if t.Log == nil {
		return slog.Default()
	}
	return t.Log
}
