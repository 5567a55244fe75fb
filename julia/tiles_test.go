package julia

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

// A tiled image is byte for byte the single-pass one: sizes and tile
// shapes that do not divide evenly, centred views (where the single pass
// mirrors the top half) and others.
func TestTiledImagesAreTheSinglePassImages(t *testing.T) {
	for _, tc := range []struct {
		w, h, tw, th int
		center       complex128
	}{
		{300, 200, 64, 64, 0},
		{257, 513, 100, 37, 0},
		{257, 513, 100, 37, complex(0.1, -0.05)},
		{1024, 130, 128, 128, 0},
		{33, 33, 1000, 1000, 0},
		{40, 300, 7, 300, complex(0, 0.2)},
	} {
		t.Run(fmt.Sprintf("%dx%d in %dx%d tiles, centre %v", tc.w, tc.h, tc.tw, tc.th, tc.center), func(t *testing.T) {
			p := Params{C: complex(-0.7, 0.27015), Center: tc.center, Zoom: 1.3, Width: tc.w, Height: tc.h, Depth: 300, Colormap: "magma"}
			whole, _, err := Compute(context.Background(), p, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			if err := Encode(&want, whole.Image(p.Colormap)); err != nil {
				t.Fatal(err)
			}
			tiles := p.Tiles(tc.tw, tc.th)
			parts := map[int]*Counts{}
			lo, hi := uint32(math.MaxUint32), uint32(0)
			for _, tile := range tiles {
				c, _, err := ComputeRect(context.Background(), p, tile.Rect, Options{Workers: 2})
				if err != nil {
					t.Fatal(err)
				}
				for y := range c.Height {
					row := whole.Pix[(tile.Rect.Min.Y+y)*p.Width+tile.Rect.Min.X:][:c.Width]
					if !slices.Equal(c.Pix[y*c.Width:(y+1)*c.Width], row) {
						t.Fatalf("tile %d (%v), row %d: counts differ from the whole image's", tile.Index, tile.Rect, y)
					}
				}
				l, h := c.Range()
				lo, hi = min(lo, l), max(hi, h)
				parts[tile.Index] = c
			}
			var got bytes.Buffer
			if err := Assemble(&got, p, tiles, lo, hi, func(t Tile) (*Counts, error) { return parts[t.Index], nil }); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Errorf("the tiled PNG (%d bytes) differs from the single-pass one (%d bytes)", got.Len(), want.Len())
			}
		})
	}
}

func TestTilesCoverTheImageOnce(t *testing.T) {
	p := Params{Width: 100, Height: 70}
	seen := make([]int, p.Width*p.Height)
	tiles := p.Tiles(32, 25)
	if len(tiles) != 4*3 {
		t.Fatalf("%d tiles of 32×25 over 100×70, want 12", len(tiles))
	}
	for i, tile := range tiles {
		if tile.Index != i {
			t.Errorf("tile %d has index %d", i, tile.Index)
		}
		for y := tile.Rect.Min.Y; y < tile.Rect.Max.Y; y++ {
			for x := tile.Rect.Min.X; x < tile.Rect.Max.X; x++ {
				seen[y*p.Width+x]++
			}
		}
	}
	if i := slices.IndexFunc(seen, func(n int) bool { return n != 1 }); i >= 0 {
		t.Errorf("pixel %d covered %d times", i, seen[i])
	}
}

func TestCountsReadBackAsWritten(t *testing.T) {
	p := Params{C: complex(-0.8, 0.156), Zoom: 1, Width: 301, Height: 77, Depth: 900, Colormap: "magma"}
	c, st, err := Compute(context.Background(), p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteCounts(&buf, c, st); err != nil {
		t.Fatal(err)
	}
	got, gst, err := ReadCounts(bytes.NewReader(buf.Bytes()))
	if err != nil || got.Width != c.Width || got.Height != c.Height || got.Depth != c.Depth || !slices.Equal(got.Pix, c.Pix) ||
		gst.Iterations != st.Iterations || gst.Duration != st.Duration {
		t.Fatalf("read back %v: other counts or stats", err)
	}
	for _, bad := range [][]byte{nil, []byte(countsMagic), buf.Bytes()[:buf.Len()/2], []byte("not counts at all, not at all, no, not at all")} {
		if _, _, err := ReadCounts(bytes.NewReader(bad)); err == nil {
			t.Errorf("read %d bytes of a broken file without an error", len(bad))
		}
	}
}

// Kept counts are never trusted: a flipped bit anywhere in the samples, a
// damaged header, and counts above their depth (all 0xFF, which made the
// colouring build a 4 GiB table) are errors, so the counts are computed
// again.
func TestDamagedCountsAreRefused(t *testing.T) {
	p := Params{C: complex(-0.8, 0.156), Zoom: 1, Width: 64, Height: 32, Depth: 300, Colormap: "magma"}
	c, st, _ := Compute(context.Background(), p, Options{})
	var buf bytes.Buffer
	WriteCounts(&buf, c, st)
	good := buf.Bytes()
	flip := func(at int) []byte {
		b := slices.Clone(good)
		b[at] ^= 0x10
		return b
	}
	header := len(countsMagic)
	for name, bad := range map[string][]byte{
		"a sample's bit":   flip(len(good) - 7),
		"the first sample": flip(header + 32),
		"the stored width": flip(header),
		"the stored depth": flip(header + 8),
		"the checksum":     flip(header + 12),
	} {
		if _, _, err := ReadCounts(bytes.NewReader(bad)); err == nil {
			t.Errorf("%s flipped: read without an error", name)
		}
	}
	// All 0xFF, with a checksum that matches: refused by the depth.
	ff := &Counts{Width: 64, Height: 32, Depth: 300, Pix: make([]uint32, 64*32)}
	for i := range ff.Pix {
		ff.Pix[i] = 0xFFFFFFFF
	}
	buf.Reset()
	WriteCounts(&buf, ff, st)
	if _, _, err := ReadCounts(bytes.NewReader(buf.Bytes())); err == nil || !strings.Contains(err.Error(), "above their depth") {
		t.Errorf("counts of 0xFFFFFFFF at depth 300: %v, want refused", err)
	}
}
