package julia

import (
	"bufio"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// countsMagic begins a counts file: the format's name and version.
const countsMagic = "julia-counts/1\n"

// WriteCounts writes the counts and the stats of their render, deflated:
// what a later render of the same view in another colormap reads back
// (ReadCounts) instead of computing it again.
func WriteCounts(w io.Writer, c *Counts, st Stats) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	bw.WriteString(countsMagic)
	var hdr [32]byte
	binary.LittleEndian.PutUint32(hdr[0:], uint32(c.Width))
	binary.LittleEndian.PutUint32(hdr[4:], uint32(c.Height))
	binary.LittleEndian.PutUint32(hdr[8:], uint32(c.Depth))
	binary.LittleEndian.PutUint64(hdr[16:], uint64(st.Iterations))
	binary.LittleEndian.PutUint64(hdr[24:], uint64(st.Duration))
	bw.Write(hdr[:])
	fw, err := flate.NewWriter(bw, flate.BestSpeed)
	if err != nil {
		return err
	}
	buf := make([]byte, 2*4096)
	for pix := c.Pix; len(pix) > 0; {
		n := min(len(pix), len(buf)/2)
		for i, v := range pix[:n] {
			binary.LittleEndian.PutUint16(buf[2*i:], v)
		}
		if _, err := fw.Write(buf[:2*n]); err != nil {
			return err
		}
		pix = pix[n:]
	}
	if err := fw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

// ReadCounts reads what WriteCounts wrote: the counts, and the stats of
// the render that computed them.
func ReadCounts(r io.Reader) (*Counts, Stats, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	magic := make([]byte, len(countsMagic))
	var hdr [32]byte
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != countsMagic {
		return nil, Stats{}, errors.New("julia: not a counts file")
	}
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return nil, Stats{}, fmt.Errorf("julia: counts header: %w", err)
	}
	w, h := int(binary.LittleEndian.Uint32(hdr[0:])), int(binary.LittleEndian.Uint32(hdr[4:]))
	if w < 1 || h < 1 || w > 1<<16 || h > 1<<16 {
		return nil, Stats{}, fmt.Errorf("julia: counts of %d×%d", w, h)
	}
	c := &Counts{Width: w, Height: h, Depth: int(binary.LittleEndian.Uint32(hdr[8:])), Pix: make([]uint16, w*h)}
	st := Stats{Iterations: int64(binary.LittleEndian.Uint64(hdr[16:])), Pixels: w * h,
		Duration: time.Duration(binary.LittleEndian.Uint64(hdr[24:]))}
	fr := flate.NewReader(br)
	buf := make([]byte, 2*4096)
	for pix := c.Pix; len(pix) > 0; {
		n := min(len(pix), len(buf)/2)
		if _, err := io.ReadFull(fr, buf[:2*n]); err != nil {
			return nil, Stats{}, fmt.Errorf("julia: counts: %w", err)
		}
		for i := range pix[:n] {
			pix[i] = binary.LittleEndian.Uint16(buf[2*i:])
		}
		pix = pix[n:]
	}
	return c, st, nil
}
