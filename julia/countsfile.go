package julia

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"
	"unsafe"
)

// countsMagic begins a counts file: the format's name and version. Version
// 4 added the samples' checksum; files of older versions read as not
// counts files, so what they held is computed again (they are a cache).
const countsMagic = "julia-counts/4\n"

// castagnoli is CRC-32C, which amd64 and arm64 compute in hardware.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksum is the CRC-32C of the shape and depth (the header's first 12
// bytes) and the samples.
func checksum(shape, samples []byte) uint32 {
	return crc32.Update(crc32.Checksum(shape, castagnoli), castagnoli, samples)
}

// WriteCounts writes the counts and the stats of their render: what a
// later render of the same view in another colormap, or the assembly of a
// tiled image, reads back (ReadCounts) instead of computing it again. The
// samples are 32-bit little-endian, uncompressed: deflating them cost
// more time than a tile's render saves in storage. The header holds the
// shape, the depth and the CRC-32C of both and the samples.
func WriteCounts(w io.Writer, c *Counts, st Stats) error {
	var hdr [len(countsMagic) + 32]byte
	copy(hdr[:], countsMagic)
	h := hdr[len(countsMagic):]
	binary.LittleEndian.PutUint32(h[0:], uint32(c.Width))
	binary.LittleEndian.PutUint32(h[4:], uint32(c.Height))
	binary.LittleEndian.PutUint32(h[8:], uint32(c.Depth))
	binary.LittleEndian.PutUint32(h[12:], checksum(h[:12], samples(c.Pix)))
	binary.LittleEndian.PutUint64(h[16:], uint64(st.Iterations))
	binary.LittleEndian.PutUint64(h[24:], uint64(st.Duration))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(samples(c.Pix))
	return err
}

// ReadCounts reads what WriteCounts wrote: the counts, and the stats of
// the render that computed them. Kept data is never trusted: a file whose
// samples fail their checksum, or hold a count above its depth (which no
// render makes), is an error, and its counts are to be computed again.
func ReadCounts(r io.Reader) (*Counts, Stats, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var hdr [len(countsMagic) + 32]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil || string(hdr[:len(countsMagic)]) != countsMagic {
		return nil, Stats{}, errors.New("julia: not a counts file")
	}
	h := hdr[len(countsMagic):]
	w, ht := int(binary.LittleEndian.Uint32(h[0:])), int(binary.LittleEndian.Uint32(h[4:]))
	if w < 1 || ht < 1 || w > 1<<16 || ht > 1<<16 {
		return nil, Stats{}, fmt.Errorf("julia: counts of %d×%d", w, ht)
	}
	c := &Counts{Width: w, Height: ht, Depth: int(binary.LittleEndian.Uint32(h[8:])), Pix: make([]uint32, w*ht)}
	st := Stats{Iterations: int64(binary.LittleEndian.Uint64(h[16:])), Pixels: w * ht,
		Duration: time.Duration(binary.LittleEndian.Uint64(h[24:]))}
	b := samples(c.Pix) // c.Pix's own bytes where the machine is little-endian
	if _, err := io.ReadFull(br, b); err != nil {
		return nil, Stats{}, fmt.Errorf("julia: counts: %w", err)
	}
	if checksum(h[:12], b) != binary.LittleEndian.Uint32(h[12:]) {
		return nil, Stats{}, errors.New("julia: counts damaged: their checksum does not match")
	}
	if !littleEndian {
		for i := range c.Pix {
			c.Pix[i] = binary.LittleEndian.Uint32(b[4*i:])
		}
	}
	if c.Depth < 1 || c.Depth > MaxDepth {
		return nil, Stats{}, fmt.Errorf("julia: counts of depth %d", c.Depth)
	}
	if _, hi := c.Range(); int(hi) > c.Depth {
		return nil, Stats{}, fmt.Errorf("julia: counts damaged: a count of %d above their depth %d", hi, c.Depth)
	}
	return c, st, nil
}

// littleEndian is true on the machines Go runs on here (amd64, arm64):
// their counts are already the file's bytes.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// samples is the bytes of pix, little-endian: pix itself where the machine
// is, else a copy.
func samples(pix []uint32) []byte {
	if len(pix) == 0 {
		return nil
	}
	if littleEndian {
		return unsafe.Slice((*byte)(unsafe.Pointer(&pix[0])), 4*len(pix))
	}
	b := make([]byte, 4*len(pix))
	for i, v := range pix {
		binary.LittleEndian.PutUint32(b[4*i:], v)
	}
	return b
}
