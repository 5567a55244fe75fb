package classifier

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math"
	"os"
	"sync"
	"testing"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/worker"
)

// memStore is a worker.Images in memory.
type memStore struct {
	mu   sync.Mutex
	m    map[string][]byte
	puts int
}

func (s *memStore) PutImage(_ context.Context, key string, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[key] = bytes.Clone(b)
	s.puts++
	return nil
}

func (s *memStore) OpenImage(_ context.Context, key string) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[key]
	if !ok {
		return nil, longrun.Errorf(longrun.ENOTFOUND, "no %s", key)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// train runs the spec to its end against store.
func train(t *testing.T, p Params, store *memStore) *worker.Output {
	t.Helper()
	out, err := New().Run(context.Background(), &worker.Task{Spec: p, Hash: p.Hash(), Store: store})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// weightsDigest is the SHA-256 of the trained weights' exact bits.
func weightsDigest(t *testing.T, out *worker.Output) string {
	t.Helper()
	var w struct {
		Layers []struct {
			Weights [][]float64 `json:"weights"`
			Biases  []float64   `json:"biases"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(out.Artifacts["weights.json"], &w); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	for _, l := range w.Layers {
		for _, row := range append(l.Weights, l.Biases) {
			for _, v := range row {
				var b [8]byte
				bits := math.Float64bits(v)
				for i := range b {
					b[i] = byte(bits >> (8 * i))
				}
				h.Write(b[:])
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestTheDefaultSpiralsAreLearned(t *testing.T) {
	p := DefaultParams()
	out := train(t, p, &memStore{})
	acc := out.Stats.Extra["accuracy"]
	t.Logf("spirals, 2×16 tanh, adam, 300 epochs: accuracy %.4f, loss %.4f, %d ms", acc, out.Stats.Extra["loss"], out.Stats.RenderMs)
	if acc < 0.97 {
		t.Errorf("accuracy %.4f, want at least 0.97", acc)
	}
	if out.Stats.Extra["epochsTrained"] != 300 || out.Reused {
		t.Errorf("stats %+v, want 300 epochs trained", out.Stats)
	}
	var img bytes.Buffer
	if err := out.Image(&img); err != nil || !bytes.HasPrefix(img.Bytes(), []byte("\x89PNG")) {
		t.Fatalf("image: %v", err)
	}
	if dir := os.Getenv("LONGRUN_LOOK"); dir != "" {
		os.WriteFile(dir+"/spirals.png", img.Bytes(), 0o644)
	}
}

// trainedDigest pins the default training's weights, bit for bit: the
// same on every platform (TestTrainingIsTheSameOnArm64 runs this test
// under qemu). A change of it is a change of the arithmetic, the data or
// the initialisation, and must bump Hash's version.
const trainedDigest = "b65310863c4dbd904f346e6c7ae1a2ddc1cdee2b684bd1c26cbd351adec3aed6"

func TestTrainingIsBitForBitReproducible(t *testing.T) {
	p := DefaultParams()
	p.Epochs = 60
	a, b := train(t, p, &memStore{}), train(t, p, &memStore{})
	if da, db := weightsDigest(t, a), weightsDigest(t, b); da != db || da != trainedDigest {
		t.Errorf("weights digest %s then %s, want %s", da, db, trainedDigest)
	}
}

// A run killed between checkpoints resumes from the last one and ends
// with the weights of a run never interrupted; more epochs continue the
// longest checkpoint, fewer that a checkpoint covers train nothing.
func TestCheckpointsResumeAndContinueExactly(t *testing.T) {
	p := DefaultParams()
	p.Epochs = 100
	whole := train(t, p, &memStore{})

	store := &memStore{}
	ctx, cancel := context.WithCancel(context.Background())
	task := &worker.Task{Spec: p, Hash: p.Hash(), Store: store}
	epochs := 0
	task = worker.NewTask(task, func(done float64, live json.RawMessage) {
		if epochs++; epochs == 60 { // killed at epoch 60: the last checkpoint is 50's
			cancel()
		}
	})
	if _, err := New().Run(ctx, task); err == nil {
		t.Fatal("a cancelled training finished")
	}
	resumed := train(t, p, store)
	if got := resumed.Stats.Extra["epochsReused"]; got != 50 {
		t.Errorf("resumed from epoch %v, want 50", got)
	}
	if weightsDigest(t, resumed) != weightsDigest(t, whole) {
		t.Error("the resumed run's weights differ from the uninterrupted run's")
	}

	longer := p
	longer.Epochs = 140
	out := train(t, longer, store)
	if out.Stats.Extra["epochsTrained"] != 40 || out.Stats.Extra["epochsReused"] != 100 {
		t.Errorf("140 epochs after 100: trained %v, reused %v; want 40, 100", out.Stats.Extra["epochsTrained"], out.Stats.Extra["epochsReused"])
	}
	fresh := longer
	if weightsDigest(t, out) != weightsDigest(t, train(t, fresh, &memStore{})) {
		t.Error("continuing to 140 epochs gave other weights than training 140 from the start")
	}
	shorter := p
	shorter.Epochs, shorter.Colormap = 75, "magma"
	out = train(t, shorter, store)
	if out.Stats.Extra["epochsTrained"] != 0 || !out.Reused {
		t.Errorf("75 epochs (a checkpoint) in another colormap trained %v, want none", out.Stats.Extra["epochsTrained"])
	}

	// A damaged checkpoint is not trusted: the one before it is used.
	store.m[ckptKey(p.RunHash(), 75)][40] ^= 0xff
	out = train(t, shorter, store)
	if out.Stats.Extra["epochsReused"] != 50 {
		t.Errorf("after damaging epoch 75's checkpoint: reused %v, want 50", out.Stats.Extra["epochsReused"])
	}
}

// Every rule is a field error naming its field; a training over the work
// bound (about a minute of one core) is refused by its epochs.
func TestBadSpecsNameTheirFields(t *testing.T) {
	k := New()
	for raw, field := range map[string]string{
		`{"dataset": {"name": "mnist"}}`: "params.dataset.name",
		`{"dataset": {"points": 5}}`:     "params.dataset.points",
		`{"hidden": [8, 65]}`:            "params.hidden[1]",
		`{"hidden": [1, 1, 1, 1, 1]}`:    "params.hidden",
		`{"activation": "gelu"}`:         "params.activation",
		`{"learningRate": 0}`:            "params.learningRate",
		`{"batchSize": 500}`:             "params.batchSize",
		`{"epochs": 5000, "hidden": [64, 64, 64], "dataset": {"points": 5000}}`: "params.epochs",
		`{"colormap": "nope"}`: "params.colormap",
		`{"depth": 5}`:         "params.depth",
		`{"epochs": "many"}`:   "params.epochs",
	} {
		_, err := k.Normalize(json.RawMessage(raw), "params.")
		found := false
		for _, f := range longrun.Fields(err) {
			found = found || f.Field == field
		}
		if !found {
			t.Errorf("%s: %v, want an error naming %s", raw, err, field)
		}
	}
}
