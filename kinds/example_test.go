package kinds_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/kinds/juliaset"
	"github.com/longrun/longrun/local/files"
	"github.com/longrun/longrun/local/sqlite"
	"github.com/longrun/longrun/worker"
)

// squares is a third kind, the smallest a developer could bring: the sum
// of the first n squares, with progress. It is a longrun.Kind (its spec)
// and a worker.Runner (its computation).
type squares struct{}

type squaresSpec struct {
	N int `json:"n"`
}

func (squares) Name() string { return "squares" }

func (squares) Normalize(raw json.RawMessage, prefix string) (longrun.Spec, error) {
	s := squaresSpec{N: 10}
	if longrun.Given(raw) {
		if err := longrun.DecodeParams(raw, prefix, &s); err != nil {
			return nil, err
		}
	}
	if s.N < 1 || s.N > 1_000_000 {
		var fe longrun.FieldErrors
		fe.Add(prefix+"n", "must be between 1 and 1000000")
		return nil, fe.Err()
	}
	return s, nil
}

func (squares) Decode(raw json.RawMessage) (longrun.Spec, error) {
	return longrun.DecodeSpec[squaresSpec]("squares", raw)
}

func (squares) Describe() longrun.KindMeta {
	return longrun.KindMeta{Title: "sum of squares", Result: "image", Defaults: squaresSpec{N: 10},
		Schema: json.RawMessage(`{"type":"object","properties":{"n":{"type":"integer","minimum":1,"maximum":1000000}}}`)}
}

func (s squaresSpec) JSON() json.RawMessage { b, _ := json.Marshal(s); return b }
func (s squaresSpec) Hash() string {
	sum := sha256.Sum256(append([]byte("squares/1 "), s.JSON()...))
	return hex.EncodeToString(sum[:])
}
func (s squaresSpec) Work() int64     { return int64(s.N) }
func (s squaresSpec) Summary() string { return fmt.Sprintf("the squares of 1 to %d", s.N) }
func (s squaresSpec) Name() string    { return fmt.Sprintf("squares to %d", s.N) }

func (squares) Lease(spec longrun.Spec) string        { return spec.Hash() }
func (squares) Plan(longrun.Spec, int64) *worker.Plan { return nil }
func (squares) RunPart(context.Context, *worker.Task, int) (worker.Part, error) {
	return worker.Part{}, worker.Permanent(fmt.Errorf("not in parts"))
}
func (squares) Assemble(context.Context, *worker.Task) (*worker.Output, error) {
	return nil, worker.Permanent(fmt.Errorf("not in parts"))
}

// Run sums the squares, reporting its progress, and draws its result.
func (squares) Run(ctx context.Context, t *worker.Task) (*worker.Output, error) {
	n, sum := t.Spec.(squaresSpec).N, 0
	for i := 1; i <= n; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err // edited, cancelled, deleted or out of time
		}
		sum += i * i
		t.Progress(float64(i)/float64(n), nil)
	}
	img := image.NewGray(image.Rect(0, 0, 16, 16))
	for i := range img.Pix {
		img.Pix[i] = uint8(sum % 256)
	}
	img.Set(0, 0, color.White)
	return &worker.Output{
		Image: func(w io.Writer) error { return png.Encode(w, img) },
		Stats: longrun.Stats{Iterations: int64(n), Extra: map[string]float64{"sum": float64(sum)}},
	}, nil
}

// A deployment serves a kind by adding it to its table; the store, the
// queue, the worker and the API stay as they are.
func ExampleKinds() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "longrun-example")
	defer os.RemoveAll(dir)
	db, _ := sqlite.Open(ctx, dir+"/longrun.db")
	defer db.Close()
	images, _ := files.Open(dir + "/images")

	kinds := longrun.Kinds{
		juliaset.Name: juliaset.New(juliaset.Bounds{}),
		"squares":     squares{},
	}
	svc := &longrun.Service{Store: db, Results: db, Queue: db, Images: images, Kinds: kinds}
	kind, owner := "squares", longrun.Caller{Owner: longrun.NewID()}
	c, err := svc.Create(ctx, owner, &longrun.Input{Kind: &kind, Params: json.RawMessage(`{"n": 10}`)})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = svc.Create(ctx, owner, &longrun.Input{Kind: &kind, Params: json.RawMessage(`{"n": 0}`)})
	fmt.Println(err)

	w := &worker.Worker{Service: svc, Leases: db, Images: images}
	if err := w.Process(ctx, c.Job(), 1); err != nil {
		fmt.Println(err)
		return
	}
	done, _ := svc.Get(ctx, owner.Owner, c.ID)
	fmt.Println(done.Name, done.Status, done.Stats.Extra["sum"])
	// Output:
	// invalid request: params.n: must be between 1 and 1000000
	// squares to 10 done 385
}
