// Package julia renders Julia sets: the escape-time counts of the map
// z → z² + c over a grid of the complex plane, coloured through one of
// matplotlib's colormaps and encoded as an 8-bit paletted PNG.
//
// The arithmetic is exact float64 with every product rounded on its own (no
// fused multiply-add), so the counts are the same on every architecture. Work
// is spread over as many goroutines as the caller allows, halved by symmetry
// when the view is centred on the origin, and stops promptly when the
// context is done.
package julia

//go:generate go run internal/gen/kernels.go

import (
	"cmp"
	"context"
	"fmt"
	"image"
	"image/color"
	"math"
	"math/cmplx"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// MaxDepth is the largest depth the renderer takes: counts are 32-bit, and
// a depth beyond this would take days.
const MaxDepth = 1_000_000

// checkEvery is how many interleaved steps a kernel takes between looks at
// the stop flag: a few microseconds of work.
const checkEvery = 1024

// Params describe one image. The zero Center and a Zoom of 1 show the square
// [-1, 1]² scaled to the longer side.
type Params struct {
	C        complex128
	Center   complex128
	Zoom     float64
	Width    int
	Height   int
	Depth    int
	Colormap string
}

// A ParamError names the parameter that cannot be rendered and why.
type ParamError struct {
	Field string
	Rule  string
}

func (e *ParamError) Error() string { return "julia: " + e.Field + " " + e.Rule }

// Validate reports the first parameter that cannot be rendered, as a
// *ParamError. Upper limits on size and depth are left to the caller, except
// that a depth must fit a count's 16 bits.
func (p Params) Validate() error {
	finite := func(z complex128) bool { return !cmplx.IsNaN(z) && !cmplx.IsInf(z) }
	switch {
	case !finite(p.C):
		return &ParamError{"c", "must be a finite complex number"}
	case !finite(p.Center):
		return &ParamError{"center", "must be a finite complex number"}
	case math.IsNaN(p.Zoom) || math.IsInf(p.Zoom, 0) || p.Zoom <= 0:
		return &ParamError{"zoom", "must be a finite number > 0"}
	case p.Width < 1:
		return &ParamError{"width", "must be at least 1"}
	case p.Height < 1:
		return &ParamError{"height", "must be at least 1"}
	case p.Depth < 1 || p.Depth > MaxDepth:
		return &ParamError{"depth", fmt.Sprintf("must be between 1 and %d", MaxDepth)}
	}
	if _, ok := colormaps[p.Colormap]; !ok {
		return &ParamError{"colormap", "must be one of " + fmt.Sprint(Colormaps())}
	}
	if d := float64(max(p.Width, p.Height)-1) * p.Zoom; math.IsInf(d, 0) {
		return &ParamError{"zoom", "is too large for the image size"}
	}
	return nil
}

// Options tune how a render runs. The zero value uses GOMAXPROCS goroutines
// and reports no progress.
type Options struct {
	// Workers is the number of goroutines; 0 means GOMAXPROCS.
	Workers int
	// Progress, if set, is called with the fraction of pixels taken, from one
	// goroutine at a time, at most once per ProgressEvery, and with 1 when
	// the counts are complete. It is never called after Counts returns.
	Progress func(done float64)
	// ProgressEvery is the least time between Progress calls; 0 means 100ms.
	ProgressEvery time.Duration

	// kernel, when set, replaces the fastest kernel (tests compare them).
	kernel *Kernel
}

// Stats describe a finished render.
type Stats struct {
	Iterations int64         // total iterations, the sum of all counts
	Pixels     int           // width × height
	Duration   time.Duration // wall time of the counts
}

// Counts are the escape counts of an image, row by row.
type Counts struct {
	Width, Height int
	Depth         int
	Pix           []uint32
	pooled        bool // Pix came from countBufs (a render made it)
}

// countBufs keeps the pixels of released counts for the next Compute of
// about their size: a render writes every count, so a buffer is reused as
// it is, not cleared.
var countBufs sync.Pool // of *[]uint32

func newCounts(w, h, depth int) *Counts {
	n := w * h
	if b, ok := countBufs.Get().(*[]uint32); ok && cap(*b) >= n && cap(*b) <= 2*n {
		return &Counts{Width: w, Height: h, Depth: depth, Pix: (*b)[:n], pooled: true}
	}
	return &Counts{Width: w, Height: h, Depth: depth, Pix: make([]uint32, n), pooled: true}
}

// Release gives the memory of counts a render made to later renders; c is
// empty after it. Whoever holds counts they no longer need may release them
// (a poster's tile, once stored), and nothing else may hold c.Pix then.
// Counts made otherwise (read from a file, a literal) are only emptied.
func (c *Counts) Release() {
	if c.pooled && cap(c.Pix) > 0 {
		pix := c.Pix
		countBufs.Put(&pix)
	}
	c.Pix = nil
}

// At returns the count of pixel (col, row).
func (c *Counts) At(col, row int) uint32 { return c.Pix[row*c.Width+col] }

// Point returns the complex number that pixel (col, row) stands for: with
// side = max(width, height) and d = (side−1)·zoom,
// x = (2·col − width + 1)/d + Re(center) and y = (height − 1 − 2·row)/d + Im(center).
// A one-pixel image stands for its center.
func (p Params) Point(col, row int) complex128 {
	d := float64(max(p.Width, p.Height)-1) * p.Zoom
	if d == 0 {
		return p.Center
	}
	x := float64(2*col-p.Width+1)/d + real(p.Center)
	y := float64(p.Height-1-2*row)/d + imag(p.Center)
	return complex(x, y)
}

// Compute returns the escape counts of p. It returns the context's error if
// ctx is done before the counts are complete.
func Compute(ctx context.Context, p Params, opt Options) (*Counts, Stats, error) {
	return ComputeRect(ctx, p, image.Rect(0, 0, p.Width, p.Height), opt)
}

// ComputeRect returns the escape counts of the pixels of p's image in r
// (a tile): exactly the counts Compute gives them.
func ComputeRect(ctx context.Context, p Params, r image.Rectangle, opt Options) (*Counts, Stats, error) {
	start := time.Now()
	if err := p.Validate(); err != nil {
		return nil, Stats{}, err
	}
	if r.Empty() || !r.In(image.Rect(0, 0, p.Width, p.Height)) {
		return nil, Stats{}, fmt.Errorf("julia: %v is not a part of the %d×%d image", r, p.Width, p.Height)
	}
	if err := ctx.Err(); err != nil {
		return nil, Stats{}, err
	}
	g := newGrid(p, r)
	g.kernel = kernels[0].run
	if opt.kernel != nil {
		g.kernel = opt.kernel.run
	}
	// The context stops the grid through a callback, not a goroutine of
	// its own; progress, if asked for, has one.
	unwatch := context.AfterFunc(ctx, func() { g.stop.Store(true) })
	finished := make(chan struct{})
	var watcher sync.WaitGroup
	if opt.Progress != nil {
		watcher.Go(func() { g.watch(opt, finished) })
	}
	g.run(cmp.Or(opt.Workers, runtime.GOMAXPROCS(0)))
	unwatch()
	close(finished)
	watcher.Wait()
	if g.stop.Load() {
		return nil, Stats{}, ctx.Err()
	}
	total := g.iters.Load()
	if opt.Progress != nil {
		opt.Progress(1)
	}
	return g.counts, Stats{Iterations: total, Pixels: r.Dx() * r.Dy(), Duration: time.Since(start)}, nil
}

// A grid is one Compute in progress. Its pixels, row after row, are one
// stream: workers take windows of it in turn, so a kernel's lanes go from
// one row to the next without waiting for a row's slowest pixel.
type grid struct {
	p         Params
	rect      image.Rectangle // the pixels computed
	counts    *Counts
	xs        []float64 // the x coordinate of each column
	ys        []float64 // the y coordinate of each row
	pixels    int       // in the stream: all, or the top half of a symmetric view
	symmetric bool
	kernel    kernelFunc

	stop    atomic.Bool
	nextPix atomic.Int64
	iters   atomic.Int64

	// Helpers: the caller computes alone at first, and the other workers
	// start once it has been at it for helpAfter with at least as long
	// again to go (take looks), so a render of a fraction of a millisecond
	// pays no goroutines, wake-ups or idle spinning of a second thread.
	started time.Time
	helpers sync.WaitGroup
	helping atomic.Bool
	extra   int // workers besides the caller
}

// helpAfter is how long a render runs on its caller alone.
const helpAfter = 200 * time.Microsecond

func newGrid(p Params, r image.Rectangle) *grid {
	w, h := r.Dx(), r.Dy()
	g := &grid{p: p, rect: r, counts: newCounts(w, h, p.Depth), xs: make([]float64, w), ys: make([]float64, h), pixels: w * h}
	for col := range g.xs {
		g.xs[col] = real(p.Point(r.Min.X+col, 0))
	}
	for row := range g.ys {
		g.ys[row] = imag(p.Point(0, r.Min.Y+row))
	}
	// Centred on the origin, pixel (col, row) and (w−1−col, h−1−row) stand
	// for z and −z exactly, which have equal counts: compute the top half
	// (of a whole image; a tile is computed whole).
	if g.symmetric = p.Center == 0 && r == image.Rect(0, 0, p.Width, p.Height); g.symmetric {
		g.pixels = w * ((h + 1) / 2)
	}
	return g
}

// take returns the next window of the stream, [from, to), or false if
// none is left or the grid is stopped.
func (g *grid) take() (from, to int, ok bool) {
	if g.stop.Load() {
		return 0, 0, false
	}
	end := g.nextPix.Add(window)
	from = int(end) - window
	if from >= g.pixels {
		return 0, 0, false
	}
	if g.extra > 0 && !g.helping.Load() && int(end) < g.pixels {
		// Help once the caller has computed for helpAfter and what is left,
		// at its pace so far, would take it as long again.
		t := time.Since(g.started)
		if t >= helpAfter && float64(t)*float64(g.pixels-int(end))/float64(end) >= float64(helpAfter) && g.helping.CompareAndSwap(false, true) {
			for range g.extra {
				g.helpers.Go(g.work)
			}
		}
	}
	return from, min(int(end), g.pixels), true
}

// piece returns the pixels of [from, to) that share from's row: their x
// coordinates, the row's y, and where the piece ends.
func (g *grid) piece(from, to int) (xs []float64, y float64, end int) {
	w := g.rect.Dx()
	row, col := from/w, from%w
	end = min(to, (row+1)*w)
	return g.xs[col : col+end-from], g.ys[row], end
}

// work runs the kernel over the stream until it is dry.
func (g *grid) work() {
	if iters, ok := g.kernel(g); ok {
		g.iters.Add(iters)
	}
}

// run computes the stream on the given number of goroutines, then, in a
// symmetric view, fills the bottom half: pixel (col, row) and
// (w−1−col, h−1−row) stand for z and −z, which have equal counts.
func (g *grid) run(workers int) {
	g.extra = max(1, min(workers, (g.pixels+window-1)/window)) - 1
	g.started = time.Now()
	g.work() // the caller is the first worker; take starts the others
	g.helpers.Wait()
	if !g.symmetric || g.stop.Load() {
		return
	}
	w, h := g.rect.Dx(), g.rect.Dy()
	middle := int64(0) // the middle row of an odd height is its own mirror
	if h%2 == 1 {
		middle = sum(g.counts.Pix[h/2*w : (h/2+1)*w])
	}
	g.iters.Store(2*g.iters.Load() - middle)
	parts(h/2*w, func(_, from, to int) {
		src, dst := g.counts.Pix[from:to], g.counts.Pix[w*h-to:w*h-from]
		for i, v := range src {
			dst[len(src)-1-i] = v
		}
	})
}

// watch reports progress until finished.
func (g *grid) watch(opt Options, finished <-chan struct{}) {
	t := time.NewTicker(cmp.Or(opt.ProgressEvery, 100*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-finished:
			return
		case <-t.C:
			opt.Progress(min(1, float64(g.nextPix.Load())/float64(g.pixels)))
		}
	}
}

// Render computes p and colours it: the image's counts are scaled linearly
// from their minimum to their maximum onto p's colormap.
func Render(ctx context.Context, p Params, opt Options) (*image.Paletted, Stats, error) {
	c, st, err := Compute(ctx, p, opt)
	if err != nil {
		return nil, st, err
	}
	return c.Image(p.Colormap), st, nil
}

// Image colours the counts with the named colormap as matplotlib's imsave
// does: t = (v − min)/(max − min) selects entry ⌊t·256⌋ of the 256-entry
// table, the maximum taking the last. Equal counts all take the first.
func (c *Counts) Image(colormap string) *image.Paletted {
	lo, hi := c.Range()
	col := NewColouring(colormap, lo, hi)
	img := image.NewPaletted(image.Rect(0, 0, c.Width, c.Height), col.Palette)
	parts(len(c.Pix), func(_, from, to int) { col.Index(img.Pix[from:to], c.Pix[from:to]) })
	return img
}

// A Colouring maps counts within [lo, hi] (an image's range) onto a
// colormap, as Image does.
type Colouring struct {
	Palette color.Palette
	index   []uint8 // by count
}

// NewColouring returns the colouring of counts lo to hi with the named
// colormap (the default if there is none of that name).
func NewColouring(colormap string, lo, hi uint32) *Colouring {
	pal, ok := colormaps[colormap]
	if !ok {
		pal = colormaps[DefaultColormap]
	}
	// One table lookup per pixel: the index of every count in [lo, hi].
	index := make([]uint8, int(hi)+1)
	if hi > lo {
		span := float64(hi - lo)
		for v := int(lo); v <= int(hi); v++ {
			index[v] = uint8(min(int(float64(v-int(lo))/span*256), 255))
		}
	}
	return &Colouring{Palette: pal.Palette(), index: index}
}

// Index writes the palette index of each count of counts to dst.
func (c *Colouring) Index(dst []uint8, counts []uint32) {
	for i, v := range counts {
		dst[i] = c.index[v]
	}
}

// Sum returns the total of the counts: the iterations they cost.
func (c *Counts) Sum() int64 {
	var n int64
	for _, v := range c.Pix {
		n += int64(v)
	}
	return n
}

// Range returns the least and the greatest count.
func (c *Counts) Range() (lo, hi uint32) {
	n := runtime.GOMAXPROCS(0)
	los, his := make([]uint32, n), make([]uint32, n)
	parts(len(c.Pix), func(part, from, to int) {
		l, h := uint32(math.MaxUint32), uint32(0)
		for _, v := range c.Pix[from:to] {
			l, h = min(l, v), max(h, v)
		}
		los[part], his[part] = l, h
	})
	return slices.Min(los), slices.Max(his)
}

// parts runs f over [0, n) in GOMAXPROCS contiguous parts at once, each
// told its index; small n in one part, and the others empty.
func parts(n int, f func(part, from, to int)) {
	k := runtime.GOMAXPROCS(0)
	if n < 1<<16 {
		f(0, 0, n)
		for i := 1; i < k; i++ {
			f(i, n, n)
		}
		return
	}
	var wg sync.WaitGroup
	for i := range k {
		wg.Go(func() { f(i, n*i/k, n*(i+1)/k) })
	}
	wg.Wait()
}
