package julia

import (
	"context"
	"fmt"
	"image"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"
)

// The assembly reads lanes at the offsets internal/asm names.
func TestLanesLayout(t *testing.T) {
	var r lanes
	for _, f := range []struct {
		name      string
		got, want uintptr
	}{
		{"out", unsafe.Offsetof(r.out), 0}, {"xs", unsafe.Offsetof(r.xs), 8}, {"n", unsafe.Offsetof(r.n), 16},
		{"next", unsafe.Offsetof(r.next), 24}, {"y", unsafe.Offsetof(r.y), 32}, {"cr", unsafe.Offsetof(r.cr), 40},
		{"ci", unsafe.Offsetof(r.ci), 48}, {"depth", unsafe.Offsetof(r.depth), 56}, {"active", unsafe.Offsetof(r.active), 64},
		{"four", unsafe.Offsetof(r.four), 72}, {"one", unsafe.Offsetof(r.one), 80}, {"idle", unsafe.Offsetof(r.idle), 88},
		{"nan", unsafe.Offsetof(r.nan), 96}, {"base", unsafe.Offsetof(r.base), 104},
		{"zr", unsafe.Offsetof(r.zr), 128}, {"zi", unsafe.Offsetof(r.zi), 512},
		{"left", unsafe.Offsetof(r.left), 896}, {"idx", unsafe.Offsetof(r.idx), 1280},
		{"four4", unsafe.Offsetof(r.four4), 1664}, {"zero4", unsafe.Offsetof(r.zero4), 1696},
		{"sums", unsafe.Offsetof(r.sums), 1728}, {"cr4", unsafe.Offsetof(r.cr4), 1792}, {"ci4", unsafe.Offsetof(r.ci4), 1824},
		{"blkM14", unsafe.Offsetof(r.blkM14), 1856},
	} {
		if f.got != f.want {
			t.Errorf("lanes.%s at %d, the assembly reads it at %d", f.name, f.got, f.want)
		}
	}
}

// Every kernel the machine has gives the scalar kernel's count on every
// pixel: random c, views, sizes (odd, tiny, wider than the lanes) and
// depths, centred (symmetric) or not.
func TestEveryKernelIsExact(t *testing.T) {
	ks := Kernels()
	t.Logf("kernels here: %v", kernelNames(ks))
	if len(ks) == 1 {
		t.Logf("only the scalar kernel runs on this machine")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []Params{
		{C: complex(-0.7, 0.27015), Zoom: 1, Width: 301, Height: 203, Depth: 256, Colormap: DefaultColormap},
		{C: complex(-0.8, 0.156), Zoom: 1, Width: 1, Height: 1, Depth: 100, Colormap: DefaultColormap},
		{C: complex(0.285, 0.01), Zoom: 3, Center: complex(0.1, -0.2), Width: 17, Height: 5, Depth: 5000, Colormap: DefaultColormap},
		{C: complex(4, 0), Zoom: 1e-3, Center: complex(1, 1), Width: 40, Height: 3, Depth: 1, Colormap: DefaultColormap},
		{C: complex(-0.4, 0.6), Zoom: 1, Width: 3, Height: 64, Depth: 65535, Colormap: DefaultColormap},
		// Counts past 16 bits: the set's interior reaches the depth.
		{C: complex(0, 0), Zoom: 1, Width: 5, Height: 9, Depth: 150_000, Colormap: DefaultColormap},
		// |z|² = 4 exactly: at x = ±2, y = 0 (zoom ½), and after one step
		// from 0 (c = 2): escaped, as the scalar kernel's ≥ says.
		{C: complex(0.25, 0), Zoom: 0.5, Width: 9, Height: 9, Depth: 50, Colormap: DefaultColormap},
		{C: complex(2, 0), Zoom: 0.5, Width: 9, Height: 9, Depth: 50, Colormap: DefaultColormap},
		// Rows long enough to run out of a call's steps (checkEvery) many
		// times, between and just after refills, and to span windows of
		// the stream (a row of 4099 is four, and not whole ones).
		{C: complex(-0.7, 0.27015), Zoom: 1, Width: 1024, Height: 6, Depth: 256, Colormap: DefaultColormap},
		{C: complex(-0.7, 0.27015), Zoom: 1, Width: 4099, Height: 2, Depth: 1000, Colormap: DefaultColormap},
	}
	for range 60 {
		p := Params{C: complex(rng.Float64()*3-1.5, rng.Float64()*3-1.5), Zoom: 0.5 + rng.ExpFloat64()*20,
			Width: 1 + rng.IntN(120), Height: 1 + rng.IntN(90), Depth: 1 + rng.IntN(3000), Colormap: DefaultColormap}
		if rng.IntN(2) == 0 {
			p.Center = complex(rng.Float64()*2-1, rng.Float64()*2-1)
		}
		cases = append(cases, p)
	}
	for i, p := range cases {
		want, _, err := Compute(context.Background(), p, Options{Workers: 2, kernel: &scalar})
		if err != nil {
			t.Fatal(err)
		}
		if _, hi := want.Range(); p.Depth == 150_000 && hi != 150_000 {
			t.Fatalf("case %d: the deepest count is %d, want the depth, 150000", i, hi)
		}
		for _, k := range ks[:len(ks)-1] {
			// A kernel that never returns its row hangs here, and go test's
			// -timeout fails the test.
			got, st, err := Compute(context.Background(), p, Options{Workers: 2, kernel: &k})
			if err != nil {
				t.Fatal(err)
			}
			if st.Iterations != want.Sum() {
				t.Errorf("case %d %+v: the %s kernel reports %d iterations, its counts sum to %d", i, p, k.Name, st.Iterations, want.Sum())
			}
			if !slices.Equal(got.Pix, want.Pix) {
				for j := range want.Pix {
					if got.Pix[j] != want.Pix[j] {
						t.Errorf("case %d %+v: %s kernel counts pixel (%d, %d) %d, the scalar kernel %d", i, p, k.Name, j%p.Width, j/p.Width, got.Pix[j], want.Pix[j])
						break
					}
				}
			}
			// Released, the buffer serves a later case as it is, with this
			// case's counts in it: every pixel must be written again.
			got.Release()
			// A part (a poster's tile): the same counts as in the whole.
			x0, y0 := rng.IntN(p.Width), rng.IntN(p.Height)
			part := image.Rect(x0, y0, x0+1+rng.IntN(p.Width-x0), y0+1+rng.IntN(p.Height-y0))
			tile, _, err := ComputeRect(context.Background(), p, part, Options{Workers: 2, kernel: &k})
			if err != nil {
				t.Fatal(err)
			}
			for row := range part.Dy() {
				for col := range part.Dx() {
					if g, w := tile.At(col, row), want.At(part.Min.X+col, part.Min.Y+row); g != w {
						t.Errorf("case %d %+v: %s kernel counts pixel (%d, %d) of the part %v %d, the whole image %d", i, p, k.Name, col, row, part, g, w)
					}
				}
			}
			tile.Release()
		}
	}
}

func kernelNames(ks []Kernel) string {
	var s []string
	for _, k := range ks {
		s = append(s, fmt.Sprintf("%s (%d lanes)", k.Name, k.Lanes))
	}
	return fmt.Sprint(s)
}

// A roofline loop says how many lane-iterations it did (the grid divides
// its CPU time by them), 100 steps of its lanes a loop, in proportion to
// the loops asked.
func TestRooflinesCountTheirIterations(t *testing.T) {
	for _, k := range Kernels() {
		if k.roofline == nil {
			continue
		}
		one := k.roofline(1)
		if one <= 0 || one%100 != 0 {
			t.Errorf("%s: a loop of its roofline did %d lane-iterations", k.Name, one)
		}
		if three := k.roofline(3); three != 3*one {
			t.Errorf("%s: three loops did %d lane-iterations, one %d", k.Name, three, one)
		}
	}
}
