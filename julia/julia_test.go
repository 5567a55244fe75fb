package julia

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden images in testdata/")

// standard is the case the original demo renders: its total cost is pinned.
var standard = Params{C: complex(-0.7, 0.27015), Zoom: 1, Width: 1024, Height: 1024, Depth: 256, Colormap: DefaultColormap}

// naive is the reference kernel: one goroutine, complex128, no symmetry, no
// interleaving. Benchmarks compare against it; tests check the fast path
// gives the same counts.
func naive(p Params) ([]uint32, int64) {
	out := make([]uint32, p.Width*p.Height)
	var total int64
	for row := 0; row < p.Height; row++ {
		for col := 0; col < p.Width; col++ {
			z := p.Point(col, row)
			n := 0
			for n < p.Depth && real(z)*real(z)+imag(z)*imag(z) < 4 {
				z = z*z + p.C
				n++
			}
			out[row*p.Width+col] = uint32(n)
			total += int64(n)
		}
	}
	return out, total
}

func TestStandardCaseCostsExactly74845424Iterations(t *testing.T) {
	c, st, err := Compute(context.Background(), standard, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st.Iterations, int64(74_845_424); got != want {
		t.Errorf("iterations: got %d, want %d", got, want)
	}
	var sum int64
	for _, v := range c.Pix {
		sum += int64(v)
	}
	if sum != st.Iterations {
		t.Errorf("sum of counts %d, stats say %d", sum, st.Iterations)
	}
	if st.Pixels != 1024*1024 {
		t.Errorf("pixels: got %d, want %d", st.Pixels, 1024*1024)
	}
}

func TestFastPathMatchesReference(t *testing.T) {
	cases := map[string]Params{
		"symmetric even":        {C: complex(-0.7, 0.27015), Zoom: 1, Width: 96, Height: 64, Depth: 200},
		"symmetric odd":         {C: complex(-0.8, 0.156), Zoom: 1.5, Width: 75, Height: 51, Depth: 300},
		"tall":                  {C: complex(0.285, 0.01), Zoom: 0.8, Width: 33, Height: 90, Depth: 500},
		"off centre":            {C: complex(-0.4, 0.6), Center: complex(0.1, -0.2), Zoom: 3, Width: 80, Height: 60, Depth: 400},
		"off centre, real only": {C: complex(-0.4, 0.6), Center: complex(0.25, 0), Zoom: 2, Width: 41, Height: 41, Depth: 100},
		"one pixel":             {C: complex(-0.4, 0.6), Zoom: 1, Width: 1, Height: 1, Depth: 50},
		"one row":               {C: complex(-0.4, 0.6), Zoom: 1, Width: 64, Height: 1, Depth: 50},
		"depth one":             {C: complex(-0.4, 0.6), Zoom: 1, Width: 16, Height: 16, Depth: 1},
	}
	for name, p := range cases {
		p.Colormap = DefaultColormap
		want, wantTotal := naive(p)
		for _, workers := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/workers=%d", name, workers), func(t *testing.T) {
				c, st, err := Compute(context.Background(), p, Options{Workers: workers})
				if err != nil {
					t.Fatal(err)
				}
				for i := range want {
					if c.Pix[i] != want[i] {
						t.Fatalf("pixel (%d, %d): got %d, want %d", i%p.Width, i/p.Width, c.Pix[i], want[i])
					}
				}
				if st.Iterations != wantTotal {
					t.Errorf("iterations: got %d, want %d", st.Iterations, wantTotal)
				}
			})
		}
	}
}

func TestCentredGridIsPointSymmetric(t *testing.T) {
	p := Params{Zoom: 1.7, Width: 101, Height: 37}
	for row := 0; row < p.Height; row++ {
		for col := 0; col < p.Width; col++ {
			if a, b := p.Point(col, row), p.Point(p.Width-1-col, p.Height-1-row); a != -b {
				t.Fatalf("(%d, %d) is %v but its mirror is %v", col, row, a, b)
			}
		}
	}
}

var goldens = map[string]Params{
	"standard-128": {C: complex(-0.7, 0.27015), Zoom: 1, Width: 128, Height: 128, Depth: 256, Colormap: "nipy_spectral"},
	"dendrite":     {C: complex(0, 1), Zoom: 1, Width: 120, Height: 80, Depth: 300, Colormap: "magma"},
	"zoomed":       {C: complex(-0.8, 0.156), Center: complex(-0.2, 0.1), Zoom: 4, Width: 96, Height: 96, Depth: 500, Colormap: "ocean"},
}

func TestGoldenImages(t *testing.T) {
	for name, p := range goldens {
		t.Run(name, func(t *testing.T) {
			img, _, err := Render(context.Background(), p, Options{})
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name+".png")
			if *update {
				var buf bytes.Buffer
				if err := Encode(&buf, img); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			assertSamePixels(t, img, readPNG(t, path))
		})
	}
}

// TestColoursMatchMatplotlib compares with images written by matplotlib's
// imsave from our counts (internal/gen/matplotlib_golden.py), so colouring
// matches the original demo's for every colormap.
func TestColoursMatchMatplotlib(t *testing.T) {
	p := Params{C: complex(-0.7, 0.27015), Zoom: 1, Width: 64, Height: 48, Depth: 256, Colormap: DefaultColormap}
	c, _, err := Compute(context.Background(), p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		f, err := os.Create(filepath.Join("testdata", "matplotlib", "counts.pgm"))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WritePGM(f); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	for _, name := range Colormaps() {
		t.Run(name, func(t *testing.T) {
			assertSamePixels(t, c.Image(name), readPNG(t, filepath.Join("testdata", "matplotlib", name+".png")))
		})
	}
}

func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run go test ./julia -update to create it)", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func assertSamePixels(t *testing.T, got, want image.Image) {
	t.Helper()
	if got.Bounds() != want.Bounds() {
		t.Fatalf("bounds: got %v, want %v", got.Bounds(), want.Bounds())
	}
	b := got.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r1, g1, b1, _ := got.At(x, y).RGBA()
			r2, g2, b2, _ := want.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 {
				t.Fatalf("pixel (%d, %d): got %v, want %v", x, y, got.At(x, y), want.At(x, y))
			}
		}
	}
}

func TestEncodeWritesPalettedPNG(t *testing.T) {
	img, _, err := Render(context.Background(), goldens["dendrite"], Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Width != 120 || cfg.Height != 80 {
		t.Errorf("size: got %dx%d, want 120x80", cfg.Width, cfg.Height)
	}
	// IHDR colour type 3 is "indexed colour", bit depth 8.
	if got := buf.Bytes()[24:26]; got[0] != 8 || got[1] != 3 {
		t.Errorf("bit depth and colour type: got %v, want [8 3]", got)
	}
}

// slow costs minutes to finish: every pixel of the disk |z| < 1 runs to depth.
var slow = Params{C: 0, Zoom: 1, Width: 4096, Height: 4096, Depth: MaxDepth, Colormap: DefaultColormap}

func TestCancelStopsPromptly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	var once sync.Once
	type result struct {
		c   *Counts
		err error
		at  time.Time
	}
	done := make(chan result, 1)
	go func() {
		c, _, err := Compute(ctx, slow, Options{Progress: func(float64) { once.Do(func() { close(started) }) }, ProgressEvery: time.Millisecond})
		done <- result{c, err, time.Now()}
	}()
	<-started
	cancelled := time.Now()
	cancel()
	r := <-done
	if !errors.Is(r.err, context.Canceled) || r.c != nil {
		t.Fatalf("got %v, %v; want no counts and context.Canceled", r.c != nil, r.err)
	}
	// The whole render takes minutes; stopping must take a tiny part of it.
	if lag := r.at.Sub(cancelled); lag > time.Second {
		t.Errorf("returned %v after the cancel", lag)
	}
}

func TestDeadlineReturnsDeadlineExceeded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, _, err := Compute(ctx, slow, Options{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
}

func TestAlreadyCancelledDoesNoWork(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Compute(ctx, standard, Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestProgressIsMonotonicBoundedAndEndsAtOne(t *testing.T) {
	// About 40 ms on one core of a fast machine: several intervals of
	// 5 ms however fast the kernel (1024², which this was, took 8.6 ms).
	p := Params{C: complex(-0.7, 0.27015), Zoom: 1, Width: 2048, Height: 2048, Depth: 3000, Colormap: DefaultColormap}
	var got []float64
	every := 5 * time.Millisecond
	_, st, err := Compute(context.Background(), p, Options{Workers: 1, ProgressEvery: every, Progress: func(f float64) { got = append(got, f) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 2 {
		t.Fatalf("got %d progress reports over %v, want several", len(got), st.Duration)
	}
	if max := int(st.Duration/every) + 2; len(got) > max {
		t.Errorf("got %d reports in %v, want at most %d (one per %v)", len(got), st.Duration, max, every)
	}
	for i, f := range got {
		if f < 0 || f > 1 || (i > 0 && f < got[i-1]) {
			t.Fatalf("report %d is %v after %v", i, f, got[max(i-1, 0)])
		}
	}
	if got[len(got)-1] != 1 {
		t.Errorf("last report %v, want 1", got[len(got)-1])
	}
	if got[len(got)/2] <= 0 {
		t.Errorf("halfway report %v: progress did not move", got[len(got)/2])
	}
}

func TestRejectsImpossibleParams(t *testing.T) {
	nan := func() float64 { var z float64; return z / z }()
	inf := 1 / func() float64 { return 0 }()
	ok := goldens["dendrite"]
	cases := []struct {
		field string
		edit  func(*Params)
	}{
		{"width", func(p *Params) { p.Width = 0 }},
		{"height", func(p *Params) { p.Height = -3 }},
		{"depth", func(p *Params) { p.Depth = 0 }},
		{"depth", func(p *Params) { p.Depth = MaxDepth + 1 }},
		{"zoom", func(p *Params) { p.Zoom = 0 }},
		{"zoom", func(p *Params) { p.Zoom = -1 }},
		{"zoom", func(p *Params) { p.Zoom = nan }},
		{"zoom", func(p *Params) { p.Zoom = inf }},
		{"c", func(p *Params) { p.C = complex(nan, 0) }},
		{"c", func(p *Params) { p.C = complex(0, inf) }},
		{"center", func(p *Params) { p.Center = complex(inf, 0) }},
		{"colormap", func(p *Params) { p.Colormap = "jet" }},
		{"colormap", func(p *Params) { p.Colormap = "" }},
	}
	for _, tc := range cases {
		p := ok
		tc.edit(&p)
		_, _, err := Render(context.Background(), p, Options{})
		var pe *ParamError
		if !errors.As(err, &pe) || pe.Field != tc.field {
			t.Errorf("%+v: got %v, want an error naming %q", p, err, tc.field)
		}
	}
}

// The PGM holds the counts as the Netpbm format says: one byte per sample
// below maxval 256, two (big-endian) from 256; netpbm's own tools read it
// back where they are installed.
func TestPGMHoldsTheCounts(t *testing.T) {
	for _, depth := range []int{1, 100, 255, 256, 1000} {
		p := goldens["dendrite"]
		p.Depth = depth
		c, _, err := Compute(context.Background(), p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := c.WritePGM(&buf); err != nil {
			t.Fatal(err)
		}
		header := fmt.Sprintf("P5\n%d %d\n%d\n", p.Width, p.Height, depth)
		if !bytes.HasPrefix(buf.Bytes(), []byte(header)) {
			t.Fatalf("depth %d: header %q, want %q", depth, buf.Bytes()[:len(header)], header)
		}
		width := 1
		if depth >= 256 {
			width = 2
		}
		body := buf.Bytes()[len(header):]
		if len(body) != width*len(c.Pix) {
			t.Fatalf("depth %d: %d sample bytes, want %d (%d per sample)", depth, len(body), width*len(c.Pix), width)
		}
		for i, v := range c.Pix {
			got := uint32(body[i*width])
			if width == 2 {
				got = got<<8 | uint32(body[2*i+1])
			}
			if got != v {
				t.Fatalf("depth %d, sample %d: got %d, want %d", depth, i, got, v)
			}
		}
		pamfile, err := exec.LookPath("pamfile")
		if err != nil {
			continue
		}
		path := filepath.Join(t.TempDir(), "counts.pgm")
		os.WriteFile(path, buf.Bytes(), 0o644)
		out, err := exec.Command(pamfile, path).CombinedOutput()
		if err != nil || !strings.Contains(string(out), fmt.Sprintf("%d by %d", p.Width, p.Height)) || !strings.Contains(string(out), fmt.Sprintf("maxval %d", depth)) {
			t.Errorf("depth %d: pamfile says %q (%v)", depth, out, err)
		}
		read := exec.Command("pgmtopgm")
		read.Stdin = bytes.NewReader(buf.Bytes())
		if out, err := read.Output(); err != nil || !bytes.Equal(out, buf.Bytes()) {
			t.Errorf("depth %d: pgmtopgm does not read it back as written: %v", depth, err)
		}
	}
	deep := &Counts{Width: 1, Height: 1, Depth: MaxPGMDepth + 1, Pix: []uint32{MaxPGMDepth + 1}}
	if err := deep.WritePGM(io.Discard); err == nil {
		t.Errorf("counts of depth %d written as a PGM, whose maxval stops at %d", deep.Depth, MaxPGMDepth)
	}
	if _, err := exec.LookPath("pamfile"); err != nil {
		t.Log("netpbm is not installed: the files were checked against the format only (apt-get install netpbm)")
	}
}

// Benchmarks. make bench runs them; compare ratios from one run.

func BenchmarkStandardAllCores(b *testing.B) { benchCompute(b, Options{}) }

func BenchmarkStandardOneCore(b *testing.B) { benchCompute(b, Options{Workers: 1}) }

// BenchmarkStandardWithProgress is the all-cores case reporting progress
// every millisecond, a hundred times the default rate: compare with
// BenchmarkStandardAllCores.
func BenchmarkStandardWithProgress(b *testing.B) {
	var calls int
	benchCompute(b, Options{ProgressEvery: time.Millisecond, Progress: func(float64) { calls++ }})
	b.ReportMetric(float64(calls)/float64(b.N), "reports/op")
}

func benchCompute(b *testing.B, opt Options) {
	b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "procs")
	for b.Loop() {
		c, _, err := Compute(context.Background(), standard, opt)
		if err != nil {
			b.Fatal(err)
		}
		c.Release() // as a caller that is done with them: the next render reuses them
	}
	b.ReportMetric(74845424*float64(b.N)/b.Elapsed().Seconds()/1e6, "Miter/s")
}

// BenchmarkKernels is the standard case on all cores with each kernel this
// machine has, the fastest first; make bench prints them beside the naive
// reference.
func BenchmarkKernels(b *testing.B) {
	for _, k := range Kernels() {
		b.Run(k.Name, func(b *testing.B) {
			for b.Loop() {
				c, _, err := Compute(context.Background(), standard, Options{kernel: &k})
				if err != nil {
					b.Fatal(err)
				}
				c.Release()
			}
			s := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(s*1e3, "ms/op")
			b.ReportMetric(float64(standard.Width*standard.Height)/s/1e6, "Mpx/s")
			b.ReportMetric(74845424/s/1e6, "Miter/s")
		})
	}
}

func BenchmarkNaiveReference(b *testing.B) {
	for b.Loop() {
		naive(standard)
	}
	s := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(s*1e3, "ms/op")
	b.ReportMetric(float64(standard.Width*standard.Height)/s/1e6, "Mpx/s")
	b.ReportMetric(74845424/s/1e6, "Miter/s")
}

func BenchmarkEncode(b *testing.B) {
	c, _, err := Compute(context.Background(), standard, Options{})
	if err != nil {
		b.Fatal(err)
	}
	img := c.Image(DefaultColormap)
	levels := map[string]png.CompressionLevel{"Default": png.DefaultCompression, "BestSpeed": png.BestSpeed}
	for name, level := range levels {
		b.Run(name, func(b *testing.B) {
			enc := png.Encoder{CompressionLevel: level}
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				if err := enc.Encode(&buf, img); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(buf.Len()), "bytes")
		})
	}
	b.Run("Encode", func(b *testing.B) { // what the worker uses: BestSpeed, bands in parallel
		var buf bytes.Buffer
		for b.Loop() {
			buf.Reset()
			if err := Encode(&buf, img); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(buf.Len()), "bytes")
	})
	b.Run("RGBA", func(b *testing.B) {
		rgba := image.NewRGBA(img.Bounds())
		for i, v := range img.Pix {
			r, g, bl, _ := img.Palette[v].RGBA()
			copy(rgba.Pix[4*i:], []byte{byte(r >> 8), byte(g >> 8), byte(bl >> 8), 0xff})
		}
		var buf bytes.Buffer
		for b.Loop() {
			buf.Reset()
			if err := png.Encode(&buf, rgba); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(buf.Len()), "bytes")
	})
}

func BenchmarkColour(b *testing.B) {
	c, _, err := Compute(context.Background(), standard, Options{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		c.Image(DefaultColormap)
	}
}

// BenchmarkJob is a render job's work, counts to PNG bytes, for the two
// cases the AWS cost table prices (cmd/longrun-cost): the default 512²
// configuration and 1024² at depth 256, both of c = −0.7+0.27015i.
func BenchmarkJob(b *testing.B) {
	for _, size := range []int{512, 1024} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			p := standard
			p.Width, p.Height = size, size
			var buf bytes.Buffer
			for b.Loop() {
				img, _, err := Render(context.Background(), p, Options{})
				if err != nil {
					b.Fatal(err)
				}
				buf.Reset()
				if err := Encode(&buf, img); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/job")
		})
	}
}
