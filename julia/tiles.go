package julia

import (
	"fmt"
	"image"
	"io"
	"sync"
)

// A Tile is a rectangle of an image's pixels, computed on its own
// (ComputeRect). Index is its place among the image's tiles, row-major.
type Tile struct {
	Index int
	Rect  image.Rectangle
}

// Tiles splits p's image into tiles of w×h pixels, row-major; the tiles
// of the right and bottom edges are cut to fit.
func (p Params) Tiles(w, h int) []Tile {
	var out []Tile
	for y := 0; y < p.Height; y += h {
		for x := 0; x < p.Width; x += w {
			out = append(out, Tile{Index: len(out), Rect: image.Rect(x, y, min(x+w, p.Width), min(y+h, p.Height))})
		}
	}
	return out
}

// Assemble writes the PNG of p's image from the counts of its tiles
// (counts(t) returns tile t's; it is called for the tiles of a row at
// once, from several goroutines, since fetching a tile is mostly
// waiting), coloured over the whole image's count range lo to hi: the PNG
// Encode writes of the image Compute and Image make, byte for byte. It
// holds two rows of tiles at a time (the one it encodes, the next it
// reads), so an image far larger than memory can be written.
func Assemble(w io.Writer, p Params, tiles []Tile, lo, hi uint32, counts func(Tile) (*Counts, error)) error {
	col := NewColouring(p.Colormap, lo, hi)
	pw, err := NewPNGWriter(w, p.Width, p.Height, col.Palette)
	if err != nil {
		return err
	}
	// The tiles of one row share its top.
	var rows [][]Tile
	for i := 0; i < len(tiles); {
		j := i
		for j < len(tiles) && tiles[j].Rect.Min.Y == tiles[i].Rect.Min.Y {
			j++
		}
		rows, i = append(rows, tiles[i:j]), j
	}
	// A row's tiles are fetched at once (16 at a time), and the next row's
	// while this one is coloured and encoded: reading (from S3, tens of
	// milliseconds a tile) overlaps the work.
	type fetched struct {
		counts []*Counts
		errs   []error
	}
	fetch := func(row []Tile) <-chan fetched {
		ch := make(chan fetched, 1)
		go func() {
			f := fetched{make([]*Counts, len(row)), make([]error, len(row))}
			sem := make(chan struct{}, 16)
			var wg sync.WaitGroup
			for k, t := range row {
				sem <- struct{}{}
				wg.Go(func() {
					defer func() { <-sem }()
					f.counts[k], f.errs[k] = counts(t)
				})
			}
			wg.Wait()
			ch <- f
		}()
		return ch
	}
	var ahead <-chan fetched
	if len(rows) > 0 {
		ahead = fetch(rows[0])
	}
	for r, row := range rows {
		f := <-ahead
		if r+1 < len(rows) {
			ahead = fetch(rows[r+1])
		}
		top, bottom := row[0].Rect.Min.Y, row[0].Rect.Max.Y
		band := make([]uint8, p.Width*(bottom-top))
		for k, t := range row {
			c, err := f.counts[k], f.errs[k]
			if err != nil {
				return err
			}
			if c.Width != t.Rect.Dx() || c.Height != t.Rect.Dy() {
				return fmt.Errorf("julia: tile %d holds %d×%d counts, want %d×%d", t.Index, c.Width, c.Height, t.Rect.Dx(), t.Rect.Dy())
			}
			// The colouring's table spans lo to hi: a count outside would
			// index past it.
			if clo, chi := c.Range(); clo < lo || chi > hi {
				return fmt.Errorf("julia: tile %d holds counts %d–%d, outside the image's range %d–%d", t.Index, clo, chi, lo, hi)
			}
			for y := range c.Height {
				at := (t.Rect.Min.Y+y-top)*p.Width + t.Rect.Min.X
				col.Index(band[at:at+c.Width], c.Pix[y*c.Width:(y+1)*c.Width])
			}
		}
		if err := pw.WriteRows(band); err != nil {
			return err
		}
	}
	return pw.Close()
}
