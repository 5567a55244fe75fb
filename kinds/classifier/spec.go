// Package classifier is longrun's second kind: it trains a small neural
// network (a multilayer perceptron) to separate the two classes of a
// built-in 2-D dataset. Training is deterministic — the same spec gives
// the same weights, bit for bit, on amd64 and arm64 — reports its loss and
// accuracy per epoch, keeps checkpoints so a killed server resumes where
// it was, and continues a run from its longest checkpoint when only the
// epochs grow. Its artifacts are the decision boundary as a PNG and the
// weights, curves and metrics as JSON.
package classifier

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/julia"
)

// Name is the kind's name.
const Name = "classifier"

// Dataset names a built-in dataset and how it is generated.
type Dataset struct {
	Name   string  `json:"name"`
	Points int     `json:"points"`
	Noise  float64 `json:"noise"`
	Seed   int64   `json:"seed"`
}

// Params are a classifier's normalized spec.
type Params struct {
	Dataset      Dataset `json:"dataset"`
	Hidden       []int   `json:"hidden"` // the hidden layers' widths
	Activation   string  `json:"activation"`
	Optimizer    string  `json:"optimizer"`
	LearningRate float64 `json:"learningRate"`
	BatchSize    int     `json:"batchSize"`
	L2           float64 `json:"l2"`
	Epochs       int     `json:"epochs"`
	Seed         int64   `json:"seed"`
	// Colormap colours the decision boundary; it changes the picture,
	// never the training.
	Colormap string `json:"colormap"`
}

// Input is a spec as a client sends it: any field may be omitted and
// takes its default.
type Input struct {
	Dataset *struct {
		Name   *string  `json:"name"`
		Points *int     `json:"points"`
		Noise  *float64 `json:"noise"`
		Seed   *int64   `json:"seed"`
	} `json:"dataset"`
	Hidden       []int    `json:"hidden"`
	Activation   *string  `json:"activation"`
	Optimizer    *string  `json:"optimizer"`
	LearningRate *float64 `json:"learningRate"`
	BatchSize    *int     `json:"batchSize"`
	L2           *float64 `json:"l2"`
	Epochs       *int     `json:"epochs"`
	Seed         *int64   `json:"seed"`
	Colormap     *string  `json:"colormap"`
}

// Limits are the bounds a classifier's spec keeps.
type Limits struct {
	MinPoints   int      `json:"minPoints"`
	MaxPoints   int      `json:"maxPoints"`
	MaxNoise    float64  `json:"maxNoise"`
	MinLayers   int      `json:"minLayers"`
	MaxLayers   int      `json:"maxLayers"`
	MaxWidth    int      `json:"maxWidth"`
	MaxLearning float64  `json:"maxLearningRate"`
	MaxBatch    int      `json:"maxBatchSize"`
	MaxL2       float64  `json:"maxL2"`
	MaxEpochs   int      `json:"maxEpochs"`
	MaxWork     int64    `json:"maxWork"`
	Activations []string `json:"activations"`
	Optimizers  []string `json:"optimizers"`
	Datasets    []string `json:"datasets"`
}

// DefaultLimits are the bounds of a deployment that sets none: a
// training of at most about a minute of one core (the defaults' 1.2·10⁸
// of work take a second here), within the worker's time for one job.
func DefaultLimits() Limits {
	return Limits{MinPoints: 20, MaxPoints: 5000, MaxNoise: 1, MinLayers: 1, MaxLayers: 4, MaxWidth: 64,
		MaxLearning: 10, MaxBatch: 1024, MaxL2: 1, MaxEpochs: 5000, MaxWork: 6_000_000_000,
		Activations: []string{"relu", "tanh", "sigmoid"}, Optimizers: []string{"sgd", "momentum", "adam"},
		Datasets: slices.Clone(datasets)}
}

// DefaultParams are a new classifier's spec: two hidden layers of 16
// tanh units trained by Adam on the spirals for 300 epochs.
func DefaultParams() Params {
	return Params{Dataset: Dataset{Name: "spirals", Points: 400, Noise: 0.04, Seed: 1}, Hidden: []int{16, 16},
		Activation: "tanh", Optimizer: "adam", LearningRate: 0.03, BatchSize: 8, L2: 0.0001, Epochs: 300, Seed: 1,
		Colormap: "viridis"}
}

// Normalize fills in the defaults of in and checks every field.
func (in *Input) Normalize(prefix string, l Limits) (Params, error) {
	p := DefaultParams()
	if in.Dataset != nil {
		d := in.Dataset
		set(&p.Dataset.Name, d.Name)
		set(&p.Dataset.Points, d.Points)
		set(&p.Dataset.Noise, d.Noise)
		set(&p.Dataset.Seed, d.Seed)
	}
	if in.Hidden != nil {
		p.Hidden = slices.Clone(in.Hidden)
	}
	set(&p.Activation, in.Activation)
	set(&p.Optimizer, in.Optimizer)
	set(&p.LearningRate, in.LearningRate)
	set(&p.BatchSize, in.BatchSize)
	set(&p.L2, in.L2)
	set(&p.Epochs, in.Epochs)
	set(&p.Seed, in.Seed)
	set(&p.Colormap, in.Colormap)
	p.Dataset.Name, p.Activation, p.Optimizer = strings.ToLower(p.Dataset.Name), strings.ToLower(p.Activation), strings.ToLower(p.Optimizer)
	for _, name := range julia.Colormaps() {
		if strings.EqualFold(name, p.Colormap) {
			p.Colormap = name
		}
	}
	if err := p.check(prefix, l); err != nil {
		return Params{}, err
	}
	return p, nil
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// rules collects the rules a spec breaks, with their field paths.
type rules struct {
	fe     longrun.FieldErrors
	prefix string
}

func (r *rules) oneOf(field, v string, names []string) {
	if !slices.Contains(names, v) {
		r.fe.Add(r.prefix+field, "must be one of "+strings.Join(names, ", "))
	}
}

// between reports whether lo ≤ v ≤ hi, and adds the rule when not.
func (r *rules) between(field string, v, lo, hi float64) bool {
	if math.IsNaN(v) || v < lo || v > hi {
		r.fe.Add(r.prefix+field, fmt.Sprintf("must be between %g and %g", lo, hi))
		return false
	}
	return true
}

// check reports every rule p breaks within l.
func (p Params) check(prefix string, l Limits) error {
	r := &rules{prefix: prefix}
	pointsOK := p.checkDataset(r, l)
	p.checkNetwork(r, l)
	p.checkTraining(r, l, pointsOK)
	return r.fe.Err()
}

// checkDataset checks the dataset, and reports whether its points are
// within bounds.
func (p Params) checkDataset(r *rules, l Limits) bool {
	r.oneOf("dataset.name", p.Dataset.Name, l.Datasets)
	ok := r.between("dataset.points", float64(p.Dataset.Points), float64(l.MinPoints), float64(l.MaxPoints))
	r.between("dataset.noise", p.Dataset.Noise, 0, l.MaxNoise)
	r.between("dataset.seed", float64(p.Dataset.Seed), 0, 1<<53)
	return ok
}

func (p Params) checkNetwork(r *rules, l Limits) {
	if len(p.Hidden) < l.MinLayers || len(p.Hidden) > l.MaxLayers {
		r.fe.Add(r.prefix+"hidden", fmt.Sprintf("must have %d to %d layers", l.MinLayers, l.MaxLayers))
	}
	for i, w := range p.Hidden {
		r.between(fmt.Sprintf("hidden[%d]", i), float64(w), 1, float64(l.MaxWidth))
	}
	r.oneOf("activation", p.Activation, l.Activations)
	if _, ok := julia.Colormap(p.Colormap); !ok {
		r.fe.Add(r.prefix+"colormap", "must be one of "+strings.Join(julia.Colormaps(), ", "))
	}
}

func (p Params) checkTraining(r *rules, l Limits, pointsOK bool) {
	r.oneOf("optimizer", p.Optimizer, l.Optimizers)
	if math.IsNaN(p.LearningRate) || p.LearningRate <= 0 || p.LearningRate > l.MaxLearning {
		r.fe.Add(r.prefix+"learningRate", fmt.Sprintf("must be over 0 and at most %g", l.MaxLearning))
	}
	if r.between("batchSize", float64(p.BatchSize), 1, float64(l.MaxBatch)) && pointsOK && p.BatchSize > p.Dataset.Points {
		r.fe.Add(r.prefix+"batchSize", "must be at most the dataset's points")
	}
	r.between("l2", p.L2, 0, l.MaxL2)
	r.between("seed", float64(p.Seed), 0, 1<<53)
	if r.between("epochs", float64(p.Epochs), 1, float64(l.MaxEpochs)) && r.fe.Err() == nil && p.Work() > l.MaxWork {
		r.fe.Add(r.prefix+"epochs", fmt.Sprintf("epochs × points × weights × 3 must be at most %d (this is %d)", l.MaxWork, p.Work()))
	}
}

// Weights counts the network's weights and biases: two inputs, the
// hidden layers, one output.
func (p Params) Weights() int {
	n, in := 0, 2
	for _, w := range append(slices.Clone(p.Hidden), 1) {
		n += in*w + w
		in = w
	}
	return n
}

// Work is the training's multiply-adds, about: three per weight (forward,
// backward, update) per example per epoch.
func (p Params) Work() int64 {
	return 3 * int64(p.Epochs) * int64(p.Dataset.Points) * int64(p.Weights())
}

// JSON is the spec as stores keep it.
func (p Params) JSON() json.RawMessage {
	b, err := json.Marshal(p)
	if err != nil {
		panic(err)
	}
	return b
}

// Hash is the SHA-256 of "classifier/1 " and the spec's JSON (fields in
// their fixed order, numbers in Go's shortest exact form). The version
// goes up when the same spec would train to other weights or draw
// another picture: a change of the datasets, the initialisation, the
// arithmetic or the drawing.
func (p Params) Hash() string { return digest("classifier/1 ", p) }

// RunHash identifies a training run whatever its length and colours: the
// hash of the spec without its epochs and colormap. Runs of one RunHash
// share their checkpoints, so more epochs continue a shorter run.
func (p Params) RunHash() string {
	p.Epochs, p.Colormap = 0, ""
	return digest("classifier-run/1 ", p)
}

func digest(prefix string, p Params) string {
	sum := sha256.Sum256(append([]byte(prefix), p.JSON()...))
	return hex.EncodeToString(sum[:])
}

// Summary is the spec in one line.
func (p Params) Summary() string {
	hidden := make([]string, len(p.Hidden))
	for i, w := range p.Hidden {
		hidden[i] = fmt.Sprint(w)
	}
	return fmt.Sprintf("%s (%d points), hidden %s %s, %s lr %g, %d epochs", p.Dataset.Name, p.Dataset.Points,
		strings.Join(hidden, "×"), p.Activation, p.Optimizer, p.LearningRate, p.Epochs)
}

// Name is a new classifier's default name.
func (p Params) Name() string {
	return fmt.Sprintf("%s, %d epochs", p.Dataset.Name, p.Epochs)
}
