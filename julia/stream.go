package julia

import (
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"io"
	"os"
	"runtime"
	"slices"
	"time"
)

// inMemory is the most counts, in bytes, WritePNG keeps in memory: an
// image of more pixels (past 4096²) is computed in strips whose counts go
// to a temporary file until the image's range, which its colouring needs,
// is known. (Tests lower it.)
var inMemory int64 = 64 << 20

// stripPixels is about how many pixels WritePNG computes at once when it
// spills: strips of whole rows. (Tests lower it.)
var stripPixels = 1 << 22

// A PNGStats is what WritePNG did: the counts' Stats, the time it spent
// colouring and encoding, and the counts' bytes it spilled to disk (0 when
// they fit in memory).
type PNGStats struct {
	Stats
	Encode  time.Duration
	Spilled int64
}

// rowsFunc returns the counts of rows y0 to y1 of an image; they are read
// in order, once each, and the slice is good until the next call.
type rowsFunc func(y0, y1 int) ([]uint32, error)

// WritePNG renders p to w as the PNG Encode(Render(p)) writes, byte for
// byte, with memory bounded whatever the size: up to 64 MiB of counts
// (4096²) it computes the image whole (with symmetry), and colours and
// encodes it in bands, never holding the whole paletted image; past that
// it computes strips of rows (the top half of a symmetric view) one after
// the other, spills their counts to a temporary file in dir (the narrowest
// samples the depth allows), and encodes the image band by band from the
// file. If counts is set it also gets the counts as a PGM (WritePGM), in
// the same pass.
func WritePNG(ctx context.Context, w io.Writer, p Params, opt Options, dir string, counts io.Writer) (PNGStats, error) {
	if err := p.Validate(); err != nil {
		return PNGStats{}, err
	}
	var pgm *pgmWriter
	if counts != nil {
		var err error
		if pgm, err = newPGMWriter(counts, p.Width, p.Height, p.Depth); err != nil {
			return PNGStats{}, err
		}
	}
	var st PNGStats
	var rows rowsFunc
	var lo, hi uint32
	if int64(p.Width)*int64(p.Height)*4 <= inMemory {
		c, s, err := Compute(ctx, p, opt)
		if err != nil {
			return PNGStats{}, err
		}
		defer c.Release()
		st.Stats = s
		lo, hi = c.Range()
		rows = func(y0, y1 int) ([]uint32, error) { return c.Pix[y0*p.Width : y1*p.Width], nil }
	} else {
		f, err := os.CreateTemp(dir, ".longrun-counts-*")
		if err != nil {
			return PNGStats{}, fmt.Errorf("julia: a file for the counts: %w", err)
		}
		defer os.Remove(f.Name()) // where an open file cannot be removed
		defer f.Close()
		os.Remove(f.Name()) // gone when closed, whatever happens (on Linux)
		if st, lo, hi, rows, err = spill(ctx, f, p, opt); err != nil {
			return PNGStats{}, err
		}
	}
	start := time.Now()
	if pgm != nil {
		read := rows
		rows = func(y0, y1 int) ([]uint32, error) {
			c, err := read(y0, y1)
			if err == nil {
				pgm.write(c)
			}
			return c, err
		}
	}
	if err := encodeRows(w, p, lo, hi, rows); err != nil {
		return PNGStats{}, err
	}
	if pgm != nil {
		if err := pgm.flush(); err != nil {
			return PNGStats{}, err
		}
	}
	st.Encode = time.Since(start)
	return st, nil
}

// spill computes p in strips of rows into f, and returns the render's
// stats, its counts' range and the reader of its rows from f.
func spill(ctx context.Context, f *os.File, p Params, opt Options) (st PNGStats, lo, hi uint32, rows rowsFunc, err error) {
	start := time.Now()
	sample := sampleBytes(p.Depth)
	// A centred view's bottom half is its top half turned around: only the
	// top is computed and kept.
	symmetric := p.Center == 0
	top := p.Height
	if symmetric {
		top = (p.Height + 1) / 2
	}
	strip := max(1, stripPixels/p.Width)
	lo = 1<<32 - 1
	// The strips are computed one after the other, each on every core;
	// a strip's counts are written while the next is computed.
	out := newStripWriter(f, strip*p.Width*sample)
	defer out.wait()
	for y := 0; y < top; y += strip {
		r := image.Rect(0, y, p.Width, min(y+strip, top))
		c, s, err := ComputeRect(ctx, p, r, Options{Workers: opt.Workers, kernel: opt.kernel})
		if err != nil {
			return PNGStats{}, 0, 0, nil, err
		}
		st.Iterations += s.Iterations
		if symmetric {
			st.Iterations += mirrored(p, r, top, c, s)
		}
		clo, chi := c.Range()
		lo, hi = min(lo, clo), max(hi, chi)
		err = out.write(c.Pix, sample)
		c.Release()
		if err != nil {
			return PNGStats{}, 0, 0, nil, err
		}
		if opt.Progress != nil {
			opt.Progress(float64(r.Max.Y) / float64(top))
		}
	}
	if err := out.wait(); err != nil {
		return PNGStats{}, 0, 0, nil, err
	}
	st.Pixels = p.Width * p.Height
	st.Duration = time.Since(start)
	st.Spilled = int64(top) * int64(p.Width) * int64(sample)
	return st, lo, hi, spilledRows(f, p, top, sample), nil
}

// sampleBytes is the narrowest sample, in bytes, that holds every count
// of depth.
func sampleBytes(depth int) int {
	switch {
	case depth <= 0xff:
		return 1
	case depth <= 0xffff:
		return 2
	}
	return 4
}

// mirrored is the iterations of the copy of strip r of a symmetric view in
// its bottom half, c its counts and s its stats: all of them, but for the
// middle row of an odd height, which is its own mirror.
func mirrored(p Params, r image.Rectangle, top int, c *Counts, s Stats) int64 {
	if p.Height%2 == 1 && r.Max.Y == top {
		return s.Iterations - sum(c.Pix[(r.Dy()-1)*p.Width:])
	}
	return s.Iterations
}

// A stripWriter writes strips of counts to a file while the next strip is
// computed, two buffers taking turns: a strip's buffer is filled only once
// the write before the one in flight has ended.
type stripWriter struct {
	f       *os.File
	bufs    [2][]byte
	turn    int
	writing chan error // the write in flight, if any
}

func newStripWriter(f *os.File, size int) *stripWriter {
	return &stripWriter{f: f, bufs: [2][]byte{make([]byte, size), make([]byte, size)}}
}

// write starts writing counts as samples of sample bytes, once the write
// in flight has ended.
func (w *stripWriter) write(counts []uint32, sample int) error {
	b := w.bufs[w.turn][:len(counts)*sample]
	w.turn ^= 1
	putSamples(b, counts, sample)
	if err := w.wait(); err != nil {
		return err
	}
	done := make(chan error, 1)
	w.writing = done
	go func() {
		_, err := w.f.Write(b)
		done <- err
	}()
	return nil
}

// wait returns once no write is in flight, with its error.
func (w *stripWriter) wait() error {
	if w.writing == nil {
		return nil
	}
	err := <-w.writing
	w.writing = nil
	if err != nil {
		return fmt.Errorf("julia: spilling the counts: %w", err)
	}
	return nil
}

// spilledRows reads the rows of p's image back from f, which holds its
// first top rows as samples of sample bytes; the rows past top of a
// symmetric view are those above turned around.
func spilledRows(f *os.File, p Params, top, sample int) rowsFunc {
	line := make([]byte, p.Width*sample)
	band := make([]uint32, BandRows*runtime.GOMAXPROCS(0)*p.Width)
	return func(y0, y1 int) ([]uint32, error) {
		dst := band[:(y1-y0)*p.Width]
		for y := y0; y < y1; y++ {
			row := y
			if y >= top {
				row = p.Height - 1 - y
			}
			if _, err := f.ReadAt(line, int64(row)*int64(len(line))); err != nil {
				return nil, fmt.Errorf("julia: reading the spilled counts: %w", err)
			}
			out := dst[(y-y0)*p.Width : (y-y0+1)*p.Width]
			getSamples(out, line, sample)
			if row != y {
				slices.Reverse(out)
			}
		}
		return dst, nil
	}
}

// encodeRows colours and encodes p's image, its counts in [lo, hi] read by
// rows, a few bands at a time: one band per core, coloured and deflated at
// once.
func encodeRows(w io.Writer, p Params, lo, hi uint32, rows rowsFunc) error {
	col := NewColouring(p.Colormap, lo, hi)
	pw, err := NewPNGWriter(w, p.Width, p.Height, col.Palette)
	if err != nil {
		return err
	}
	chunk := BandRows * runtime.GOMAXPROCS(0)
	pix := make([]uint8, chunk*p.Width)
	for y := 0; y < p.Height; y += chunk {
		n := min(chunk, p.Height-y)
		counts, err := rows(y, y+n)
		if err != nil {
			return err
		}
		parts(n*p.Width, func(_, from, to int) { col.Index(pix[from:to], counts[from:to]) })
		if err := pw.WriteRows(pix[:n*p.Width]); err != nil {
			return err
		}
	}
	return pw.Close()
}

// putSamples writes counts as samples of size bytes, little-endian.
func putSamples(dst []byte, counts []uint32, size int) {
	switch size {
	case 1:
		for i, v := range counts {
			dst[i] = byte(v)
		}
	case 2:
		for i, v := range counts {
			binary.LittleEndian.PutUint16(dst[2*i:], uint16(v))
		}
	default:
		for i, v := range counts {
			binary.LittleEndian.PutUint32(dst[4*i:], v)
		}
	}
}

// getSamples reads putSamples' samples back.
func getSamples(dst []uint32, src []byte, size int) {
	switch size {
	case 1:
		for i := range dst {
			dst[i] = uint32(src[i])
		}
	case 2:
		for i := range dst {
			dst[i] = uint32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	default:
		for i := range dst {
			dst[i] = binary.LittleEndian.Uint32(src[4*i:])
		}
	}
}
