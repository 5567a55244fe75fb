package classifier

import (
	"image"
	"image/color"
	"image/png"
	"io"
	"math"

	"github.com/longrun/longrun/julia"
)

// boundarySize is the decision boundary image's side, in pixels.
const boundarySize = 384

// drawBoundary draws the network's probability of class 1 over the
// data's square (the colormap, from class 0 at its start to class 1 at
// its end, the boundary a dark line where it is one half) and the points
// over it: class 0 white, class 1 black, each ringed in the other.
func drawBoundary(w io.Writer, s *state, p Params, pts []point) error {
	lo, hi := bounds(pts)
	pal, _ := julia.Colormap(p.Colormap)
	img := image.NewRGBA(image.Rect(0, 0, boundarySize, boundarySize))
	scale := (hi - lo) / boundarySize
	outs, _ := s.buffers()
	prob := make([]float64, boundarySize*boundarySize)
	for py := range boundarySize {
		y := hi - float64(float64(py)+0.5)*scale
		for px := range boundarySize {
			prob[py*boundarySize+px] = s.forward(p.Activation, lo+float64(float64(px)+0.5)*scale, y, outs)
		}
	}
	class := func(px, py int) bool {
		return prob[min(max(py, 0), boundarySize-1)*boundarySize+min(max(px, 0), boundarySize-1)] >= 0.5
	}
	for py := range boundarySize {
		for px := range boundarySize {
			q := prob[py*boundarySize+px]
			c := color.RGBAModel.Convert(pal[min(int(q*float64(len(pal))), len(pal)-1)]).(color.RGBA)
			if here := class(px, py); class(px+1, py) != here || class(px, py+1) != here {
				c = color.RGBA{20, 20, 20, 255}
			}
			img.SetRGBA(px, py, c)
		}
	}
	for _, pt := range pts {
		cx, cy := int((pt.x-lo)/scale), int((hi-pt.y)/scale)
		fill, ring := color.RGBA{255, 255, 255, 255}, color.RGBA{0, 0, 0, 255}
		if pt.label == 1 {
			fill, ring = ring, fill
		}
		for dy := -3; dy <= 3; dy++ {
			for dx := -3; dx <= 3; dx++ {
				switch d := dx*dx + dy*dy; {
				case d <= 4:
					img.SetRGBA(cx+dx, cy+dy, fill)
				case d <= 10:
					img.SetRGBA(cx+dx, cy+dy, ring)
				}
			}
		}
	}
	return (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(w, img)
}

// bounds is a square around every point, with a margin.
func bounds(pts []point) (lo, hi float64) {
	m := 1.0
	for _, pt := range pts {
		m = max(m, math.Abs(pt.x), math.Abs(pt.y))
	}
	return -m * 1.15, m * 1.15
}
