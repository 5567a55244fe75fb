package julia

import (
	"image/color"
	"slices"
	"sync"
)

// DefaultColormap is the colormap of the original demo.
const DefaultColormap = "nipy_spectral"

// A table is a colormap's 256 RGB entries.
type table [256][3]uint8

var palettes sync.Map // *table → color.Palette

// Palette returns the table as an image palette, built once.
func (t *table) Palette() color.Palette {
	if p, ok := palettes.Load(t); ok {
		return p.(color.Palette)
	}
	p := make(color.Palette, len(t))
	for i, c := range t {
		p[i] = color.RGBA{c[0], c[1], c[2], 0xff}
	}
	palettes.Store(t, p)
	return p
}

// colormapNames are the colormaps offered, in the order a page lists them.
// It is the one list: internal/gen/colormaps.py and matplotlib_golden.py
// read it from this file, and a test holds the generated tables to it.
var colormapNames = []string{"nipy_spectral", "cubehelix", "Oranges", "gnuplot", "terrain", "ocean", "viridis", "magma"}

// Colormaps lists the colormap names Params accept, in the order a page
// lists them.
func Colormaps() []string { return slices.Clone(colormapNames) }

// Colormap returns the named colormap's 256 colours and whether it exists.
func Colormap(name string) (color.Palette, bool) {
	t, ok := colormaps[name]
	if !ok {
		return nil, false
	}
	return t.Palette(), true
}
