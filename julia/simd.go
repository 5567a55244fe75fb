package julia

import (
	"math"
	"sync"
	"unsafe"
)

// A kernelFunc computes the pixels one worker takes from the grid's
// stream (grid.take) until none is left, writing each count in place, and
// returns their sum, the iterations. It returns false if the grid was
// stopped first.
type kernelFunc func(g *grid) (iters int64, ok bool)

// A Kernel is one implementation of the escape-time loop. Every kernel
// gives the scalar kernel's count on every pixel.
type Kernel struct {
	Name  string // "avx512", "avx2", "neon" or "scalar"
	Lanes int    // pixels in flight
	run   kernelFunc
	// roofline, where the kernel has one, runs the kernel's step on
	// independent chains that never escape, no looks, no refills, no
	// memory, about loops·100 times, and returns the pixel-iterations done:
	// the most this core can do with the kernel's op mix.
	roofline func(loops int64) (iterations int64)
}

// scalar is the portable kernel, and the fallback. It runs the stream row
// by row: each window's pieces of rows in turn.
var scalar = Kernel{Name: "scalar", Lanes: interleave, run: func(g *grid) (int64, bool) {
	var total int64
	for {
		from, to, ok := g.take()
		if !ok {
			return total, true
		}
		for from < to {
			xs, y, end := g.piece(from, to)
			out := g.counts.Pix[from:end]
			if !scalarKernel(out, xs, y, real(g.p.C), imag(g.p.C), g.p.Depth, &g.stop) {
				return 0, false
			}
			total += sum(out)
			from = end
		}
	}
}}

// sum returns the total of counts.
func sum(counts []uint32) int64 {
	var n int64
	for _, v := range counts {
		n += int64(v)
	}
	return n
}

// Kernels lists the kernels this machine can run, the fastest first; the
// renderer uses the first.
func Kernels() []Kernel { return kernels }

// kernels is set by the architecture's init (simd_amd64.go, simd_arm64.go)
// when its CPU has SIMD kernels.
var kernels = []Kernel{scalar}

// maxLanes is the most lanes a SIMD kernel keeps.
const maxLanes = 48

// window is how many pixels of the stream a worker takes at once: a SIMD
// kernel's lanes take them in order, and the worker takes the next window
// while they still iterate the last one's pixels.
const window = 1024

// lanes is a SIMD kernel's state: the window of the stream it takes
// pixels from (a piece of a row: its pixels' x coordinates, its y, and
// base, its first pixel's index in the part), its next pixel, and each
// lane's pixel (idx, in the part), z and iterations left. The assembly
// reads and writes it at fixed offsets (internal/asm; TestLanesLayout
// checks them).
type lanes struct {
	out    *uint32  // the part's counts
	xs     *float64 // the window's x coordinates
	n      int64    // pixels in the window
	next   int64    // the next pixel a lane takes, in the window
	y      float64  // the window's y coordinate
	cr, ci float64
	depth  int64
	active int64 // lanes with a pixel
	four   float64
	one    int64
	idle   int64   // left of an idle lane: never reaches 0
	nan    float64 // z of an idle lane: never escapes
	base   int64   // the window's first pixel, in the part
	_      [2]int64
	zr, zi [maxLanes]float64
	left   [maxLanes]int64
	idx    [maxLanes]int64
	// 4 and 0 as vectors, for kernels short of registers.
	four4 [4]float64
	zero4 [4]int64
	// sums hold the sum of the counts a kernel stored since it was called:
	// by lane of a vector (AVX-512), or all in the first (AVX2).
	sums [8]int64
	// c's parts and a block's length less one, as vectors: the AVX2
	// kernel writes them on entry and reads them as memory operands.
	cr4, ci4 [4]float64
	blkM14   [4]int64
}

// simdStates pools the lanes of SIMD kernels' workers, not made per
// render.
var simdStates = sync.Pool{New: func() any { return new(lanes) }}

// simdKernel runs iter, a kernel of n lanes in assembly, over the
// worker's share of the stream: it takes a window, gives its pixels to the
// idle lanes, and lets iter run checkEvery steps at a time between looks
// at the stop flag. iter refills a lane when its pixel finishes, from the
// window while it lasts; it returns true when the window is dry, and the
// lanes it could not refill are idle. When the stream is dry too, the lanes
// drain. If sums, iter leaves the sums of the counts it stored in the
// lanes' sums; otherwise the worker sums its pixels after.
func simdKernel(n int, sums bool, iter func(r *byte, steps int64) bool) kernelFunc {
	return func(g *grid) (int64, bool) {
		w := simdWorker{r: simdStates.Get().(*lanes), g: g, n: n, sums: sums}
		defer w.release()
		w.reset()
		var total int64
		for w.feed() {
			dry := iter((*byte)(unsafe.Pointer(w.r)), checkEvery)
			for _, v := range w.r.sums {
				total += v
			}
			if !dry && g.stop.Load() {
				return 0, false
			}
		}
		if !sums {
			total = 0
			for _, sp := range w.spans {
				total += sum(g.counts.Pix[sp[0]:sp[1]])
			}
		}
		return total, true
	}
}

// A simdWorker is one worker's lanes over the grid's stream.
type simdWorker struct {
	r     *lanes
	g     *grid
	n     int      // lanes
	sums  bool     // whether the kernel sums the counts it stores
	spans [][2]int // what the worker took, when it sums after
	from  int      // what is left of the worker's last take
	to    int
}

// reset gives the worker's lanes the grid's constants, every lane idle.
func (w *simdWorker) reset() {
	g, r := w.g, w.r
	*r = lanes{out: &g.counts.Pix[0], cr: real(g.p.C), ci: imag(g.p.C), depth: int64(g.p.Depth),
		four: 4, one: 1, idle: math.MaxInt64, nan: math.NaN(), four4: [4]float64{4, 4, 4, 4}}
	for l := range w.n {
		r.idx[l], r.zr[l], r.zi[l], r.left[l] = -1, r.nan, r.nan, r.idle
	}
}

// release gives the lanes back to the pool, which must not keep the
// counts alive.
func (w *simdWorker) release() {
	w.r.out, w.r.xs = nil, nil
	simdStates.Put(w.r)
}

// feed gives the kernel its next window once its window is dry: the rest
// of a row within the worker's take (taking more from the stream when
// that is used up), its pixels first given to the idle lanes. It reports
// whether the kernel has anything to do: a window, or lanes still active
// when the stream is dry.
func (w *simdWorker) feed() bool {
	r := w.r
	if r.next < r.n {
		return true
	}
	if w.from == w.to {
		var ok bool
		if w.from, w.to, ok = w.g.take(); ok && !w.sums {
			w.spans = append(w.spans, [2]int{w.from, w.to})
		}
	}
	if w.from == w.to {
		return r.active > 0
	}
	xs, y, end := w.g.piece(w.from, w.to)
	r.xs, r.y, r.base, r.n, r.next = &xs[0], y, int64(w.from), int64(len(xs)), 0
	w.from = end
	for l := range w.n {
		if r.idx[l] < 0 && r.next < r.n {
			r.idx[l], r.zr[l], r.zi[l], r.left[l] = r.base+r.next, xs[r.next], r.y, r.depth
			r.next++
			r.active++
		}
	}
	return true
}
