package classifier

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// A layer is a dense layer: out × in weights, row by row, and out biases.
type layer struct {
	In, Out int
	W, B    []float64
}

// state is a training's whole state after some epochs: the weights, the
// optimizer's moments and the curves so far. A checkpoint is a state; a
// run resumed from one ends bit for bit as an uninterrupted run.
type state struct {
	Epoch  int     `json:"epoch"`
	Step   int64   `json:"step"` // optimizer steps taken
	Layers []layer `json:"layers"`
	// M and V are the optimizer's first and second moments, by weight
	// then bias, layer by layer.
	M []float64 `json:"m,omitempty"`
	V []float64 `json:"v,omitempty"`
	// B1 and B2 are beta1 and beta2 to the power of Step, Adam's bias
	// corrections, kept by one product a step.
	B1    float64  `json:"b1"`
	B2    float64  `json:"b2"`
	Curve []sample `json:"curve"`
	// Sum is the SHA-256 of the rest, so a damaged checkpoint is known.
	Sum string `json:"sum,omitempty"`
}

// A sample is one epoch's figures over the whole dataset.
type sample struct {
	Epoch    int     `json:"epoch"`
	Loss     float64 `json:"loss"`
	Accuracy float64 `json:"accuracy"`
}

// newState is a network initialised from the seed (Glorot-uniform
// weights, zero biases), before any epoch.
func newState(p Params) *state {
	r := rand.New(rand.NewPCG(uint64(p.Seed), 0x696e6974))
	s := &state{B1: 1, B2: 1}
	in := 2
	for _, out := range append(append([]int(nil), p.Hidden...), 1) {
		l := layer{In: in, Out: out, W: make([]float64, in*out), B: make([]float64, out)}
		limit := math.Sqrt(6 / float64(in+out))
		for i := range l.W {
			l.W[i] = float64(float64(r.Float64()*2)-1) * limit
		}
		s.Layers = append(s.Layers, l)
		in = out
	}
	n := s.params()
	if p.Optimizer != "sgd" {
		s.M = make([]float64, n)
	}
	if p.Optimizer == "adam" {
		s.V = make([]float64, n)
	}
	return s
}

// params counts the weights and biases.
func (s *state) params() int {
	n := 0
	for _, l := range s.Layers {
		n += len(l.W) + len(l.B)
	}
	return n
}

// activate applies the hidden layers' activation.
func activate(kind string, x float64) float64 {
	switch kind {
	case "relu":
		return max(x, 0)
	case "sigmoid":
		return sigmoid(x)
	}
	return tanh(x)
}

// slope is the activation's derivative, from its output y.
func slope(kind string, y float64) float64 {
	switch kind {
	case "relu":
		if y > 0 {
			return 1
		}
		return 0
	case "sigmoid":
		return float64(y * (1 - y))
	}
	return 1 - float64(y*y)
}

// forward computes every layer's outputs for one point; the last is the
// probability of class 1.
func (s *state) forward(act string, x, y float64, outs [][]float64) float64 {
	in := []float64{x, y}
	for li, l := range s.Layers {
		out := outs[li]
		for o := range l.Out {
			sum := l.B[o]
			row := l.W[o*l.In : (o+1)*l.In]
			for i, w := range row {
				sum += float64(w * in[i])
			}
			if li == len(s.Layers)-1 {
				out[o] = sigmoid(sum)
			} else {
				out[o] = activate(act, sum)
			}
		}
		in = out
	}
	return outs[len(outs)-1][0]
}

// buffers are one example's layer outputs and error terms.
func (s *state) buffers() (outs, deltas [][]float64) {
	for _, l := range s.Layers {
		outs = append(outs, make([]float64, l.Out))
		deltas = append(deltas, make([]float64, l.Out))
	}
	return outs, deltas
}

// epoch trains one epoch: the points in an order drawn from the seed and
// the epoch's number (so a resumed run draws the same), in batches, each
// a step of the optimizer on the batch's mean gradient of the binary
// cross-entropy plus L2.
func (s *state) epoch(p Params, pts []point) {
	r := rand.New(rand.NewPCG(uint64(p.Seed), uint64(s.Epoch)+1))
	order := r.Perm(len(pts))
	outs, deltas := s.buffers()
	grad := make([]float64, s.params())
	for start := 0; start < len(order); start += p.BatchSize {
		batch := order[start:min(start+p.BatchSize, len(order))]
		clear(grad)
		for _, idx := range batch {
			s.backward(p.Activation, pts[idx], outs, deltas, grad)
		}
		s.step(p, grad, len(batch))
	}
	s.Epoch++
}

// backward adds one point's gradient to grad (weights then biases, layer
// by layer, as the moments are kept).
func (s *state) backward(act string, pt point, outs, deltas [][]float64, grad []float64) {
	s.forward(act, pt.x, pt.y, outs)
	last := len(s.Layers) - 1
	deltas[last][0] = outs[last][0] - pt.label // sigmoid with cross-entropy
	for li := last; li > 0; li-- {
		l, below := s.Layers[li], deltas[li-1]
		for i := range l.In {
			sum := 0.0
			for o := range l.Out {
				sum += float64(l.W[o*l.In+i] * deltas[li][o])
			}
			below[i] = float64(sum * slope(act, outs[li-1][i]))
		}
	}
	off := 0
	in := []float64{pt.x, pt.y}
	for li, l := range s.Layers {
		for o := range l.Out {
			d := deltas[li][o]
			for i := range l.In {
				grad[off+o*l.In+i] += float64(d * in[i])
			}
			grad[off+len(l.W)+o] += d
		}
		off += len(l.W) + len(l.B)
		in = outs[li]
	}
}

// Adam's and momentum's constants.
const (
	beta1, beta2, epsilon = 0.9, 0.999, 1e-8
)

// step updates the weights from the summed gradient of n points.
func (s *state) step(p Params, grad []float64, n int) {
	s.Step++
	s.B1, s.B2 = float64(s.B1*beta1), float64(s.B2*beta2)
	c1, c2 := 1-s.B1, 1-s.B2
	k, off := 0, 0
	for li := range s.Layers {
		l := &s.Layers[li]
		for j, ws := range [][]float64{l.W, l.B} {
			for i := range ws {
				g := grad[off+i] / float64(n)
				if j == 0 {
					g += float64(p.L2 * ws[i])
				}
				switch p.Optimizer {
				case "sgd":
					ws[i] -= float64(p.LearningRate * g)
				case "momentum":
					s.M[k] = float64(beta1*s.M[k]) + g
					ws[i] -= float64(p.LearningRate * s.M[k])
				default:
					s.M[k] = float64(beta1*s.M[k]) + float64((1-beta1)*g)
					s.V[k] = float64(beta2*s.V[k]) + float64((1-beta2)*float64(g*g))
					mh, vh := s.M[k]/c1, s.V[k]/c2
					ws[i] -= float64(p.LearningRate*mh) / (math.Sqrt(vh) + epsilon)
				}
				k++
			}
			off += len(ws)
		}
	}
}

// measure appends the epoch's loss (mean cross-entropy, without L2) and
// accuracy over every point to the curve.
func (s *state) measure(p Params, pts []point) sample {
	outs, _ := s.buffers()
	loss, right := 0.0, 0
	for _, pt := range pts {
		q := min(max(s.forward(p.Activation, pt.x, pt.y, outs), 1e-12), 1-1e-12)
		if pt.label == 1 {
			loss -= log(q)
		} else {
			loss -= log(1 - q)
		}
		if (q >= 0.5) == (pt.label == 1) {
			right++
		}
	}
	m := sample{Epoch: s.Epoch, Loss: loss / float64(len(pts)), Accuracy: float64(right) / float64(len(pts))}
	s.Curve = append(s.Curve, m)
	return m
}

// predict is the probability of class 1 at (x, y).
func (s *state) predict(act string, x, y float64) float64 {
	outs, _ := s.buffers()
	return s.forward(act, x, y, outs)
}

// marshal encodes the state with its checksum.
func (s *state) marshal() ([]byte, error) {
	c := *s
	c.Sum = ""
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	c.Sum = hex.EncodeToString(sum[:])
	return json.Marshal(c)
}

// unmarshalState decodes a checkpoint, refusing one whose checksum or
// shape does not match p's network at epoch.
func unmarshalState(b []byte, p Params, epoch int) (*state, error) {
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	want := s.Sum
	s.Sum = ""
	plain, _ := json.Marshal(s)
	if sum := sha256.Sum256(plain); hex.EncodeToString(sum[:]) != want {
		return nil, errors.New("checkpoint: checksum mismatch")
	}
	fresh := newState(p)
	ok := s.Epoch == epoch && len(s.Layers) == len(fresh.Layers) && len(s.M) == len(fresh.M) && len(s.V) == len(fresh.V)
	for i := 0; ok && i < len(s.Layers); i++ {
		l, f := s.Layers[i], fresh.Layers[i]
		ok = l.In == f.In && l.Out == f.Out && len(l.W) == len(f.W) && len(l.B) == len(f.B)
	}
	if !ok {
		return nil, fmt.Errorf("checkpoint: not of this network at epoch %d", epoch)
	}
	return &s, nil
}
