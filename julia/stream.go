package julia

import (
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"io"
	"os"
	"runtime"
	"sync/atomic"
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

// WritePNG renders p to w as the PNG Encode(Render(p)) writes, byte for
// byte, with memory bounded whatever the size: up to InMemory bytes of
// counts it computes the image whole (with symmetry) and colours and
// encodes it in bands, never holding the whole paletted image; past 64 MiB
// of counts (4096²) it
// computes strips of rows (the top half of a symmetric view) one after the
// other, spills their counts to a temporary file in dir (the narrowest
// samples the depth allows), and encodes the image band by band from the
// file. If counts is set it also gets the counts as a PGM (WritePGM).
func WritePNG(ctx context.Context, w io.Writer, p Params, opt Options, dir string, counts io.Writer) (PNGStats, error) {
	if err := p.Validate(); err != nil {
		return PNGStats{}, err
	}
	if int64(p.Width)*int64(p.Height)*4 <= inMemory {
		c, st, err := Compute(ctx, p, opt)
		if err != nil {
			return PNGStats{}, err
		}
		defer c.Release()
		start := time.Now()
		lo, hi := c.Range()
		err = encodeRows(w, p, lo, hi, func(y0, y1 int) ([]uint32, error) { return c.Pix[y0*p.Width : y1*p.Width], nil })
		if err == nil && counts != nil {
			err = c.WritePGM(counts)
		}
		return PNGStats{Stats: st, Encode: time.Since(start)}, err
	}
	return writeSpilled(ctx, w, p, opt, dir, counts)
}

// writeSpilled is WritePNG past InMemory.
func writeSpilled(ctx context.Context, w io.Writer, p Params, opt Options, dir string, counts io.Writer) (PNGStats, error) {
	start := time.Now()
	f, err := os.CreateTemp(dir, ".longrun-counts-*")
	if err != nil {
		return PNGStats{}, fmt.Errorf("julia: a file for the counts: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	os.Remove(f.Name()) // gone when closed, whatever happens (on Linux)

	sample := 4 // bytes per count in the file
	switch {
	case p.Depth <= 0xff:
		sample = 1
	case p.Depth <= 0xffff:
		sample = 2
	}
	// A centred view's bottom half is its top half turned around: only the
	// top is computed and kept.
	symmetric := p.Center == 0
	rows := p.Height
	if symmetric {
		rows = (p.Height + 1) / 2
	}
	strip := max(1, stripPixels/p.Width)
	lo, hi := uint32(1<<32-1), uint32(0)
	var st PNGStats
	// The strips are computed one after the other, each on every core; the
	// last one's counts are written while the next is computed, through two
	// buffers.
	free, full, written := make(chan []byte, 2), make(chan []byte, 2), make(chan error, 1)
	free <- make([]byte, strip*p.Width*sample)
	free <- make([]byte, strip*p.Width*sample)
	var failed atomic.Bool
	go func() {
		var err error
		for b := range full {
			if err == nil {
				if _, err = f.Write(b); err != nil {
					failed.Store(true)
				}
			}
			free <- b
		}
		written <- err
	}()
	defer func() {
		if full != nil {
			close(full)
			<-written
		}
	}()
	for y := 0; y < rows && !failed.Load(); y += strip {
		r := image.Rect(0, y, p.Width, min(y+strip, rows))
		c, s, err := ComputeRect(ctx, p, r, Options{Workers: opt.Workers, kernel: opt.kernel})
		if err != nil {
			return PNGStats{}, err
		}
		st.Iterations += s.Iterations
		if symmetric && !(p.Height%2 == 1 && r.Max.Y == rows) {
			st.Iterations += s.Iterations
		} else if symmetric { // the middle row is its own mirror
			st.Iterations += s.Iterations - sum(c.Pix[(r.Dy()-1)*p.Width:])
		}
		clo, chi := c.Range()
		lo, hi = min(lo, clo), max(hi, chi)
		b := (<-free)[:len(c.Pix)*sample]
		putSamples(b, c.Pix, sample)
		c.Release()
		full <- b
		if opt.Progress != nil {
			opt.Progress(float64(r.Max.Y) / float64(rows))
		}
	}
	close(full)
	err = <-written
	full = nil
	if err != nil {
		return PNGStats{}, fmt.Errorf("julia: spilling the counts: %w", err)
	}
	st.Pixels = p.Width * p.Height
	st.Duration = time.Since(start)
	st.Spilled = int64(rows) * int64(p.Width) * int64(sample)

	encodeStart := time.Now()
	line := make([]byte, p.Width*sample)
	band := make([]uint32, BandRows*runtime.GOMAXPROCS(0)*p.Width)
	read := func(y0, y1 int) ([]uint32, error) {
		dst := band[:(y1-y0)*p.Width]
		for y := y0; y < y1; y++ {
			row, mirrored := y, false
			if symmetric && y >= rows {
				row, mirrored = p.Height-1-y, true
			}
			if _, err := f.ReadAt(line, int64(row)*int64(len(line))); err != nil {
				return nil, fmt.Errorf("julia: reading the spilled counts: %w", err)
			}
			out := dst[(y-y0)*p.Width : (y-y0+1)*p.Width]
			getSamples(out, line, sample)
			if mirrored {
				for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
					out[i], out[j] = out[j], out[i]
				}
			}
		}
		return dst, nil
	}
	if err := encodeRows(w, p, lo, hi, read); err != nil {
		return PNGStats{}, err
	}
	if counts != nil {
		if err := writePGMRows(counts, p, read); err != nil {
			return PNGStats{}, err
		}
	}
	st.Encode = time.Since(encodeStart)
	return st, nil
}

// encodeRows colours and encodes p's image, its counts in [lo, hi] read by
// rows (y0 to y1 into dst), a few bands at a time: one band per core,
// coloured and deflated at once.
func encodeRows(w io.Writer, p Params, lo, hi uint32, rows func(y0, y1 int) ([]uint32, error)) error {
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

// writePGMRows is WritePGM of counts read by rows.
func writePGMRows(w io.Writer, p Params, rows func(y0, y1 int) ([]uint32, error)) error {
	if p.Depth > MaxPGMDepth {
		return fmt.Errorf("julia: a PGM holds counts up to %d, and depth %d may pass that", MaxPGMDepth, p.Depth)
	}
	if _, err := fmt.Fprintf(w, "P5\n%d %d\n%d\n", p.Width, p.Height, max(p.Depth, 1)); err != nil {
		return err
	}
	line := make([]byte, 0, 2*p.Width)
	for y := range p.Height {
		dst, err := rows(y, y+1)
		if err != nil {
			return err
		}
		line = line[:0]
		for _, v := range dst {
			if p.Depth >= 256 {
				line = append(line, byte(v>>8))
			}
			line = append(line, byte(v))
		}
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
	return nil
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
