package julia

import (
	"image"
	"image/color"
	"image/png"
	"io"
)

// A Thumbnail shrinks a coloured image to at most a given side, each of
// its pixels the mean colour of the image's pixels it covers (a box
// filter: a fractal's fine edges average out rather than alias). The image
// may be added a rectangle at a time, in any order, as tiles arrive.
type Thumbnail struct {
	W, H          int
	width, height int
	pal           color.Palette
	rgb           [][3]uint32 // by palette index, premultiplied colour
	sum           []uint64    // per thumbnail pixel: r, g, b, count
}

// NewThumbnail returns the thumbnail, at most side pixels a side with the
// image's proportions, of a width×height image in palette pal.
func NewThumbnail(width, height, side int, pal color.Palette) *Thumbnail {
	scale := min(1, float64(side)/float64(max(width, height)))
	t := &Thumbnail{W: max(1, int(float64(width)*scale+0.5)), H: max(1, int(float64(height)*scale+0.5)),
		width: width, height: height, pal: pal, rgb: make([][3]uint32, len(pal))}
	for i, c := range pal {
		r, g, b, _ := c.RGBA()
		t.rgb[i] = [3]uint32{r >> 8, g >> 8, b >> 8}
	}
	t.sum = make([]uint64, 4*t.W*t.H)
	return t
}

// Add adds the pixels of rectangle r of the image, as palette indices,
// row by row.
func (t *Thumbnail) Add(r image.Rectangle, idx []uint8) {
	w := r.Dx()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		ty := y * t.H / t.height
		row := idx[(y-r.Min.Y)*w : (y-r.Min.Y+1)*w]
		for x, v := range row {
			tx := (r.Min.X + x) * t.W / t.width
			s := t.sum[4*(ty*t.W+tx):]
			c := t.rgb[v]
			s[0] += uint64(c[0])
			s[1] += uint64(c[1])
			s[2] += uint64(c[2])
			s[3]++
		}
	}
}

// Image returns the thumbnail as it stands: a pixel nothing was added to
// is transparent.
func (t *Thumbnail) Image() *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, t.W, t.H))
	for i := range t.W * t.H {
		s := t.sum[4*i:]
		if s[3] == 0 {
			continue
		}
		img.Pix[4*i] = uint8(s[0] / s[3])
		img.Pix[4*i+1] = uint8(s[1] / s[3])
		img.Pix[4*i+2] = uint8(s[2] / s[3])
		img.Pix[4*i+3] = 255
	}
	return img
}

// Encode writes the thumbnail as a PNG.
func (t *Thumbnail) Encode(w io.Writer) error {
	return (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(w, t.Image())
}
