package classifier

import (
	"math"
	"testing"
)

// The backward pass is the loss's gradient: each weight's analytic
// derivative matches a finite difference.
func TestGradientsMatchFiniteDifferences(t *testing.T) {
	p := DefaultParams()
	p.Hidden = []int{3, 2}
	s := newState(p)
	pt := point{0.3, -0.4, 1}
	outs, deltas := s.buffers()
	grad := make([]float64, s.params())
	s.backward(p.Activation, pt, outs, deltas, grad)
	lossAt := func() float64 {
		q := s.predict(p.Activation, pt.x, pt.y)
		return -math.Log(q)
	}
	off := 0
	for li := range s.Layers {
		l := &s.Layers[li]
		for j, ws := range [][]float64{l.W, l.B} {
			for i := range ws {
				old := ws[i]
				ws[i] = old + 1e-6
				a := lossAt()
				ws[i] = old - 1e-6
				b := lossAt()
				ws[i] = old
				num := (a - b) / 2e-6
				if math.Abs(num-grad[off+i]) > 1e-5 {
					t.Errorf("layer %d part %d i %d: numeric %g analytic %g", li, j, i, num, grad[off+i])
				}
			}
			off += len(ws)
		}
	}
}

// The platform-independent functions agree with the math package to
// within rounding.
func TestDeterministicMathIsAccurate(t *testing.T) {
	for _, x := range []float64{-3, -0.5, 0, 0.1, 2, 10} {
		if math.Abs(tanh(x)-math.Tanh(x)) > 1e-14 || math.Abs(exp(x)-math.Exp(x)) > 1e-12*math.Exp(x) {
			t.Errorf("x %g tanh %g %g exp %g %g", x, tanh(x), math.Tanh(x), exp(x), math.Exp(x))
		}
		s, c := sincos(x)
		if math.Abs(s-math.Sin(x)) > 1e-12 || math.Abs(c-math.Cos(x)) > 1e-12 {
			t.Errorf("sincos %g: %g %g vs %g %g", x, s, c, math.Sin(x), math.Cos(x))
		}
		if x > 0 && math.Abs(log(x)-math.Log(x)) > 1e-14 {
			t.Errorf("log %g: %g %g", x, log(x), math.Log(x))
		}
	}
}
