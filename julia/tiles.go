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
	rows := tileRows(tiles)
	// A row's tiles are fetched at once (16 at a time), and the next row's
	// while this one is coloured and encoded: reading (from S3, tens of
	// milliseconds a tile) overlaps the work.
	var ahead <-chan fetched
	if len(rows) > 0 {
		ahead = fetchRow(rows[0], counts)
	}
	for r, row := range rows {
		f := <-ahead
		if r+1 < len(rows) {
			ahead = fetchRow(rows[r+1], counts)
		}
		band, err := colourRow(p.Width, row, f, col, lo, hi)
		if err != nil {
			return err
		}
		if err := pw.WriteRows(band); err != nil {
			return err
		}
	}
	return pw.Close()
}

// tileRows groups tiles by row: the tiles of one row share its top.
func tileRows(tiles []Tile) [][]Tile {
	var rows [][]Tile
	for i := 0; i < len(tiles); {
		j := i
		for j < len(tiles) && tiles[j].Rect.Min.Y == tiles[i].Rect.Min.Y {
			j++
		}
		rows, i = append(rows, tiles[i:j]), j
	}
	return rows
}

// fetched are a row's tiles' counts, or why each could not be had.
type fetched struct {
	counts []*Counts
	errs   []error
}

// fetchRow gets a row's tiles' counts, 16 at a time, in the background.
func fetchRow(row []Tile, counts func(Tile) (*Counts, error)) <-chan fetched {
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

// colourRow colours a row of tiles into the image's band of rows they
// cover, refusing a tile of the wrong shape or of counts outside lo–hi
// (which would index past the colouring's table).
func colourRow(width int, row []Tile, f fetched, col *Colouring, lo, hi uint32) ([]uint8, error) {
	top, bottom := row[0].Rect.Min.Y, row[0].Rect.Max.Y
	band := make([]uint8, width*(bottom-top))
	for k, t := range row {
		c, err := f.counts[k], f.errs[k]
		if err != nil {
			return nil, err
		}
		if c.Width != t.Rect.Dx() || c.Height != t.Rect.Dy() {
			return nil, fmt.Errorf("julia: tile %d holds %d×%d counts, want %d×%d", t.Index, c.Width, c.Height, t.Rect.Dx(), t.Rect.Dy())
		}
		if clo, chi := c.Range(); clo < lo || chi > hi {
			return nil, fmt.Errorf("julia: tile %d holds counts %d–%d, outside the image's range %d–%d", t.Index, clo, chi, lo, hi)
		}
		for y := range c.Height {
			at := (t.Rect.Min.Y+y-top)*width + t.Rect.Min.X
			col.Index(band[at:at+c.Width], c.Pix[y*c.Width:(y+1)*c.Width])
		}
	}
	return band, nil
}
