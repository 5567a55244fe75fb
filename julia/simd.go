package julia

import (
	"math"
	"sync/atomic"
	"unsafe"
)

// A kernelFunc computes the escape counts of one row: out[i] for the pixel
// at (xs[i], y), and returns their sum, the row's iterations. It returns
// false if stop was set before the row finished.
type kernelFunc func(out []uint32, xs []float64, y, cr, ci float64, depth int, stop *atomic.Bool) (iters int64, ok bool)

// A Kernel is one implementation of the escape-time loop. Every kernel
// gives the scalar kernel's count on every pixel.
type Kernel struct {
	Name  string // "avx512", "avx2", "neon" or "scalar"
	Lanes int    // pixels in flight
	run   kernelFunc
}

// scalar is the portable kernel, and the fallback.
var scalar = Kernel{Name: "scalar", Lanes: interleave, run: summed(scalarKernel)}

// summed makes a kernel that leaves the counts' sum to its caller a
// kernelFunc.
func summed(k func(out []uint32, xs []float64, y, cr, ci float64, depth int, stop *atomic.Bool) bool) kernelFunc {
	return func(out []uint32, xs []float64, y, cr, ci float64, depth int, stop *atomic.Bool) (int64, bool) {
		if !k(out, xs, y, cr, ci, depth, stop) {
			return 0, false
		}
		return sum(out), true
	}
}

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
const maxLanes = 32

// lanes is a SIMD kernel's row: the row's input, its next pixel, and
// each lane's pixel (idx), z and iterations left. The assembly reads and
// writes it at fixed offsets (internal/asm; TestLanesLayout checks them).
type lanes struct {
	out    *uint32
	xs     *float64
	n      int64 // pixels in the row
	next   int64 // the next pixel a lane takes
	y      float64
	cr, ci float64
	depth  int64
	active int64 // lanes with a pixel
	four   float64
	one    int64
	idle   int64   // left of an idle lane: never reaches 0
	nan    float64 // z of an idle lane: never escapes
	_      [3]int64
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

// simdKernel runs iter, a kernel of n lanes in assembly, over a row: it
// fills the lanes, then lets iter run checkEvery steps at a time between
// looks at stop. iter refills a lane when its pixel finishes. If sums, iter
// leaves the sums of the counts it stored in the lanes' sums; otherwise
// they are summed after.
func simdKernel(n int, sums bool, iter func(r *byte, steps int64) bool) kernelFunc {
	return func(out []uint32, xs []float64, y, cr, ci float64, depth int, stop *atomic.Bool) (int64, bool) {
		if len(xs) == 0 {
			return 0, true
		}
		r := lanes{out: &out[0], xs: &xs[0], n: int64(len(xs)), y: y, cr: cr, ci: ci, depth: int64(depth),
			four: 4, one: 1, idle: math.MaxInt64, nan: math.NaN(),
			four4: [4]float64{4, 4, 4, 4}}
		for l := range n {
			if r.next < r.n {
				r.idx[l], r.zr[l], r.zi[l], r.left[l] = r.next, xs[r.next], y, r.depth
				r.next++
				r.active++
			} else {
				r.idx[l], r.zr[l], r.zi[l], r.left[l] = -1, r.nan, r.nan, r.idle
			}
		}
		var total int64
		add := func() {
			for _, v := range r.sums {
				total += v
			}
		}
		for !iter((*byte)(unsafe.Pointer(&r)), checkEvery) {
			add()
			if stop.Load() {
				return 0, false
			}
		}
		add()
		if !sums {
			total = sum(out[:len(xs)])
		}
		return total, true
	}
}
