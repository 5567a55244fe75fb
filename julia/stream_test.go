package julia

import (
	"bytes"
	"context"
	"io"
	"testing"
)

// WritePNG writes the bytes Encode(Render(p)) does, and the PGM WritePGM
// does, whether the counts stay in memory or go through a file in strips:
// centred (symmetric) or not, odd and even heights, each sample width.
func TestWritePNGIsEncodeOfRender(t *testing.T) {
	cases := []Params{
		{C: complex(-0.7, 0.27015), Zoom: 1, Width: 301, Height: 203, Depth: 200, Colormap: DefaultColormap},
		{C: complex(-0.7, 0.27015), Zoom: 1, Width: 300, Height: 200, Depth: 1000, Colormap: "viridis"},
		{C: complex(0.285, 0.01), Zoom: 3, Center: complex(0.1, -0.2), Width: 97, Height: 131, Depth: 70000, Colormap: DefaultColormap},
		{C: complex(-0.8, 0.156), Zoom: 1, Width: 1, Height: 1, Depth: 50, Colormap: DefaultColormap},
	}
	for _, spill := range []bool{false, true} {
		if spill {
			oldMem, oldStrip := inMemory, stripPixels
			inMemory, stripPixels = 1, 7000 // every image through the file, in several strips
			defer func() { inMemory, stripPixels = oldMem, oldStrip }()
		}
		for _, p := range cases {
			img, wantSt, err := Render(context.Background(), p, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var want, got bytes.Buffer
			if err := Encode(&want, img); err != nil {
				t.Fatal(err)
			}
			var wantPGM, gotPGM bytes.Buffer
			c, _, _ := Compute(context.Background(), p, Options{})
			withPGM := p.Depth <= MaxPGMDepth
			var pgm *bytes.Buffer
			if withPGM {
				c.WritePGM(&wantPGM)
				pgm = &gotPGM
			}
			st, err := WritePNG(context.Background(), &got, p, Options{}, t.TempDir(), writerOrNil(pgm))
			if err != nil {
				t.Fatalf("spill %v, %+v: %v", spill, p, err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Errorf("spill %v, %+v: WritePNG wrote %d bytes unlike Encode's %d", spill, p, got.Len(), want.Len())
			}
			if withPGM && !bytes.Equal(gotPGM.Bytes(), wantPGM.Bytes()) {
				t.Errorf("spill %v, %+v: the PGM differs from WritePGM's", spill, p)
			}
			if st.Iterations != wantSt.Iterations || st.Pixels != p.Width*p.Height {
				t.Errorf("spill %v, %+v: %d iterations over %d pixels, want %d over %d", spill, p, st.Iterations, st.Pixels, wantSt.Iterations, p.Width*p.Height)
			}
			if (st.Spilled > 0) != spill {
				t.Errorf("spill %v, %+v: %d bytes spilled", spill, p, st.Spilled)
			}
		}
	}
}

func writerOrNil(b *bytes.Buffer) io.Writer {
	if b == nil {
		return nil
	}
	return b
}

// Only counts a render made go back to the pool: counts the caller made
// (read from a file, a literal) are never handed to a later render, which
// would write into memory the caller may still hold.
func TestReleaseKeepsOnlyRendersCounts(t *testing.T) {
	p := Params{C: complex(-0.7, 0.27015), Zoom: 1, Width: 64, Height: 48, Depth: 100, Colormap: DefaultColormap}
	mine := make([]uint32, p.Width*p.Height)
	c := &Counts{Width: p.Width, Height: p.Height, Depth: p.Depth, Pix: mine}
	c.Release()
	if c.Pix != nil {
		t.Fatal("released counts still hold their pixels")
	}
	for range 10 {
		got, _, err := Compute(context.Background(), p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if &got.Pix[0] == &mine[0] {
			t.Fatal("a render wrote into counts the caller made and released")
		}
		got.Release()
	}
	for _, v := range mine {
		if v != 0 {
			t.Fatal("a render wrote into the caller's memory")
		}
	}
}
