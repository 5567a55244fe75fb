package classifier

import (
	"math"
	"math/rand/v2"
)

// The built-in datasets: points of the plane in two classes, generated
// from a seed (nothing is downloaded), the same on every platform.
var datasets = []string{"spirals", "moons", "circles", "xor"}

// A point is one example: its coordinates and its class, 0 or 1.
type point struct {
	x, y  float64
	label float64
}

// generate returns the dataset's points, half of each class, with noise
// (a standard deviation, in the data's units) added to each coordinate.
func generate(d Dataset) []point {
	r := rand.New(rand.NewPCG(uint64(d.Seed), 0x6461746173657473))
	pts := make([]point, d.Points)
	for i := range pts {
		label := i % 2
		t := r.Float64()
		var x, y float64
		switch d.Name {
		case "spirals": // two arms, a turn and a half each
			rad := 0.05 + float64(0.95*t)
			s, c := sincos(float64(3*math.Pi*t) + float64(float64(label)*math.Pi))
			x, y = float64(rad*c), float64(rad*s)
		case "moons":
			s, c := sincos(float64(math.Pi * t))
			if label == 0 {
				x, y = c-0.5, float64(s*0.8)-0.2
			} else {
				x, y = 0.5-c, 0.2-float64(s*0.8)
			}
			x, y = float64(x*0.7), float64(y*0.9)
		case "circles": // an inner disc and a ring around it
			s, c := sincos(float64(2 * math.Pi * t))
			rad := float64(r.Float64()*0.35) + 0.6
			if label == 0 {
				rad = float64(r.Float64() * 0.3)
			}
			x, y = float64(rad*c), float64(rad*s)
		case "xor": // the four quadrants, alternate classes
			x, y = float64(r.Float64()*1.8)-0.9, float64(r.Float64()*1.8)-0.9
			if x > -0.05 && x < 0.05 {
				x += 0.1
			}
			if (x > 0) == (y > 0) {
				label = 0
			} else {
				label = 1
			}
		}
		x += float64(d.Noise * normal(r))
		y += float64(d.Noise * normal(r))
		pts[i] = point{x, y, float64(label)}
	}
	return pts
}

// normal is a standard normal deviate, approximately: the sum of twelve
// uniforms less six (Irwin–Hall), which needs no logarithm.
func normal(r *rand.Rand) float64 {
	s := 0.0
	for range 12 {
		s += r.Float64()
	}
	return s - 6
}
