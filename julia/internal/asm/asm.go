// Command asm generates julia's amd64 SIMD kernels (kernel_amd64.s and
// its Go declarations, kernel_amd64.go) with avo: the escape-time loop over
// six vectors of 8 float64 lanes (AVX-512, kernel512: escapes masked per
// step, looked at once per block of steps, finished lanes refilled several
// at a time) or two of 4 (AVX2, kernel: a lane whose pixel escapes, or
// reaches depth, takes the next pixel on its own; the others go on). The
// lanes take their pixels from one stream, the part's pixels row after row,
// a window (a piece of a row) at a time: the kernel returns when its
// window is dry, and Go gives it the next one (simd.go), so no lane waits
// for a row's end.
// Every product and sum is rounded on its own (no fused multiply-add), in
// the scalar kernel's order, so the counts are its counts.
//
//	cd julia/internal/asm && go run . -out ../../kernel_amd64.s -stubs ../../kernel_amd64.go -pkg julia
//
// (make generate runs it.) The lane state is julia's lanes struct; its
// field offsets are below, and TestLanesLayout checks them against the Go
// declaration.
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// Offsets of julia's lanes struct.
const (
	offOut    = 0
	offXs     = 8
	offN      = 16
	offNext   = 24
	offY      = 32
	offCr     = 40
	offCi     = 48
	offDepth  = 56
	offActive = 64
	offFour   = 72
	offOne    = 80
	offIdle   = 88
	offNaN    = 96
	offBase   = 104
	// 32-byte vectors of 4 and 0, for the AVX2 kernel's memory operands
	// (it has 16 vector registers, not 32).
	offFour4 = 1664
	offZero4 = 1696
	// 8 int64: the sums of the counts stored, by lane (AVX-512; the AVX2
	// kernel's sum is the first).
	offSums = 1728
	// c's parts and the block's length less one as vectors, which the AVX2
	// kernel writes on entry and reads as memory operands.
	offCr4    = 1792
	offCi4    = 1824
	offBlkM14 = 1856
	offZr     = 128
	offZi     = 512
	offLeft   = 896
	offIdx    = 1280
)

// An isa is what differs between the two kernels.
type isa struct {
	name  string
	lanes int // float64 lanes per vector
	// chains is how many vectors are in flight, to hide the latency of
	// the multiplications.
	chains int
}

func main() {
	ConstraintExpr("!purego")
	kernel512(isa{name: "iterAVX512", lanes: 8, chains: 6}, 4, 12)
	kernel2(isa{name: "iterAVX2", lanes: 4, chains: 3}, 4, 4)
	roofline512(isa{name: "rooflineAVX512", lanes: 8, chains: 6})
	roofline2(isa{name: "rooflineAVX2", lanes: 4, chains: 3})
	Generate()
}

// begin starts kernel k's function, func(r *byte, steps int64) (dry
// bool), and loads its arguments.
func begin(k isa) (r, steps reg.Register) {
	TEXT(k.name, NOSPLIT, "func(r *byte, steps int64) (dry bool)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s iterates its %d lanes (%d vectors of %d) for at most about steps", k.name, k.lanes*k.chains, k.chains, k.lanes),
		"iterations, refilling each lane from the window of the stream as its",
		"pixel finishes; it reports whether the window is dry (the lanes it",
		"could not refill are idle).")
	return Load(Param("r"), GP64()), Load(Param("steps"), GP64())
}

// threshold returns the register of how many lanes must have finished
// before they are refilled, and the code that sets it: lazy, or the count
// of lanes still holding a pixel when fewer are.
func threshold(count reg.GPVirtual, lazy int) (thr reg.GPVirtual, set func()) {
	thr, lazyN := GP64(), GP64()
	MOVQ(U32(lazy), lazyN)
	return thr, func() {
		MOVQ(count, thr)
		CMPQ(lazyN, thr)
		CMOVQLT(lazyN, thr)
	}
}

// iterate emits a kernel's loop: at _loop, a block of steps unless short
// finds an active lane with fewer steps left than a block; then, at
// _single, atDepth takes out the lanes with none left and every lane takes
// one step. After either it looks: on to _finish once thr lanes have
// finished; at _more, back to _loop while steps are left; out of steps,
// to _finish if any lane has finished (so that on return every lane is
// active), else on to the return the caller emits next. countFinished
// counts the finished lanes before each block or step, so the look does
// not wait on their last compare.
//
// With short nil, there are no single steps: a lane that reaches depth
// within a block goes on to the block's end, its count going past depth
// (the kernel stores it clamped to depth, which is right whether or not
// its z escaped meanwhile), and atDepth takes such lanes out after each
// block.
func iterate(k isa, block int, finished, thr, steps reg.Register, short, atDepth, step, countFinished func()) {
	Label(k.name + "_loop")
	if short != nil {
		short()
		JNZ(LabelRef(k.name + "_single"))
	}
	countFinished()
	for range block {
		step()
	}
	SUBQ(U32(block), steps)
	if short == nil {
		atDepth()
	} else {
		JMP(LabelRef(k.name + "_look"))

		Label(k.name + "_single")
		atDepth()
		countFinished()
		step()
		DECQ(steps)
	}

	Label(k.name + "_look")
	CMPQ(finished, thr)
	JGE(LabelRef(k.name + "_finish"))
	Label(k.name + "_more")
	CMPQ(steps, U8(0))
	JG(LabelRef(k.name + "_loop"))
	countFinished()
	TESTQ(finished, finished)
	JNZ(LabelRef(k.name + "_finish"))
}

// kernel512 emits the AVX-512 kernel. A lane's state (z and iterations
// left) stays in registers, its pixel's index in the lanes' memory, and a
// mask register per vector says which lanes still iterate (active). Each
// step clears from active the lanes whose |z|² ≥ 4 and counts only the
// active ones, so a finished lane's count stays as it was when its pixel
// escaped while its z goes on, unread. The kernel looks for finished lanes
// once every block of steps, not at every step: one branch per block in
// place of one mispredicted branch per escaping pixel. Blocks never fall
// back to single steps: a lane that reaches depth within one goes on to
// its end (its count clamped to depth when stored), and after each block
// the lanes with no iterations left are taken out.
//
// Six vectors are in flight because a step's chain of dependent
// operations is longer than the time the FP units need for four vectors'
// steps on a core that runs 512-bit operations at full width (Zen 5): with
// four, the kernel waited on its own latency (the roofline loop of the
// same step ran 0.109 ns a lane-iteration with four vectors, 0.090 with
// six, and the kernel's standard case went from 0.168 to 0.155). Six take
// 18 of the 32 vector registers for z and left, and every mask register
// but a temporary or two: the pixel indices live in memory, read and
// written only by a refill, and the finished lanes are counted in
// general registers.
//
// Finished lanes wait until lazy of them have finished (or every lane
// still holding a pixel, near the stream's end), then scatter their counts
// (depth − left) to their pixels, add them to the sums, and take the
// window's next pixels (VEXPANDPD straight from its xs; y is the row's); past the
// window's end the lanes left over go idle (z NaN, which never escapes;
// pixel index −1) and the kernel returns for the next window. One refill
// of a vector for several lanes costs little more than for one lane; a
// refill looks at every vector, so lazy grows with the vectors (12 of 48
// lanes, as 8 of 32 with four).
func kernel512(k isa, block, lazy int) {
	chains := k.chains
	r, steps := begin(k)
	bytes := k.lanes * 8

	cr, ci, depth, iota, zero, sums := ZMM(), ZMM(), ZMM(), ZMM(), ZMM(), ZMM()
	VBROADCASTSD(Mem{Base: r, Disp: offCr}, cr)
	VBROADCASTSD(Mem{Base: r, Disp: offCi}, ci)
	VPBROADCASTQ(Mem{Base: r, Disp: offDepth}, depth)
	VPXORQ(sums, sums, sums)
	four, one := ZMM(), ZMM()
	VBROADCASTSD(Mem{Base: r, Disp: offFour}, four)
	VPBROADCASTQ(Mem{Base: r, Disp: offOne}, one)
	// iota = 0, 1, …, 7: lane i of it is the i-th next pixel.
	VPXORQ(iota, iota, iota)
	{
		acc := ZMM()
		VMOVDQA64(iota, acc)
		for i := 1; i < 8; i++ {
			m := GP32()
			MOVL(U32(uint32(0xff<<i)&0xff), m)
			km := K()
			KMOVW(m, km)
			VPADDQ(one, acc, km, acc)
		}
		VMOVDQA64(acc, iota)
	}
	VPXORQ(zero, zero, zero)
	next, n, count := GP64(), GP64(), GP64()
	MOVQ(Mem{Base: r, Disp: offNext}, next)
	MOVQ(Mem{Base: r, Disp: offN}, n)
	MOVQ(Mem{Base: r, Disp: offActive}, count)
	thr, setThr := threshold(count, lazy)
	setThr()

	// Each lane's pixel index stays in the lanes' memory: only a refill
	// reads and writes it, and the registers hold six vectors' z and left.
	zr, zi, left := make([]reg.VecVirtual, chains), make([]reg.VecVirtual, chains), make([]reg.VecVirtual, chains)
	active := make([]reg.OpmaskVirtual, chains)
	for c := range chains {
		zr[c], zi[c], left[c] = ZMM(), ZMM(), ZMM()
		active[c] = K()
		VMOVUPD(Mem{Base: r, Disp: offZr + c*bytes}, zr[c])
		VMOVUPD(Mem{Base: r, Disp: offZi + c*bytes}, zi[c])
		VMOVDQU64(Mem{Base: r, Disp: offLeft + c*bytes}, left[c])
		KXNORB(active[c], active[c], active[c])
	}

	// step is one iteration of every active lane.
	step := func() {
		for c := range chains {
			step512(zr[c], zi[c], left[c], active[c], cr, ci, four, one)
		}
	}

	// finished counts the lanes finished and not yet refilled; the look
	// (iterate) compares it with thr as it was before the last block (or
	// single step), so that the branch does not wait on the block's last
	// compare. Finished lanes wait a block longer; their counts stay.
	finished := GP64()
	countFinished := func() {
		// The active lanes counted vector by vector in general registers:
		// no mask register is free beside the six vectors' own.
		held := GP64()
		XORQ(finished, finished)
		for c := range chains {
			KMOVB(active[c], held.As32())
			POPCNTL(held.As32(), held.As32())
			ADDQ(held, finished)
		}
		NEGQ(finished)
		ADDQ(U32(chains*k.lanes), finished)
	}

	atDepth := func() { // left > 0, or the lane is finished
		for c := range chains {
			VPCMPQ(U8(6), zero, left[c], active[c], active[c])
		}
	}
	iterate(k, block, finished, thr, steps, nil, atDepth, step, countFinished)
	// Out of steps, with no lane finished: every lane is active.
	save := func() {
		for c := range chains {
			VMOVUPD(zr[c], Mem{Base: r, Disp: offZr + c*bytes})
			VMOVUPD(zi[c], Mem{Base: r, Disp: offZi + c*bytes})
			VMOVDQU64(left[c], Mem{Base: r, Disp: offLeft + c*bytes})
		}
		MOVQ(next, Mem{Base: r, Disp: offNext})
		MOVQ(count, Mem{Base: r, Disp: offActive})
		VMOVDQU64(sums, Mem{Base: r, Disp: offSums})
	}
	save()
	ret := GP8()
	MOVB(U8(0), ret)
	Store(ret, ReturnIndex(0))
	VZEROUPPER()
	RET()

	Label(k.name + "_finish")
	out, xs := GP64(), GP64()
	MOVQ(Mem{Base: r, Disp: offOut}, out)
	MOVQ(Mem{Base: r, Disp: offXs}, xs)
	for c := range chains {
		fin := K()
		KNOTB(active[c], fin)
		m, done := GP64(), GP64()
		KMOVB(fin, m.As32())

		// Scatter the finished lanes' counts, depth − left but at most
		// depth (a block goes past it), to their pixels.
		counts, idx := ZMM(), ZMM()
		VMOVDQU64(Mem{Base: r, Disp: offIdx + c*bytes}, idx)
		VPSUBQ(left[c], depth, counts)
		VPMINSQ(depth, counts, counts)
		VPADDQ(counts, sums, fin, sums)
		counts32 := YMM()
		VPMOVQD(counts, counts32)
		VPSCATTERQD(counts32, fin, Mem{Base: out, Index: idx, Scale: 4})
		// Refill: the first min(finished, n − next) finished lanes take
		// the next pixels in order; the rest go idle.
		POPCNTQ(m, done)
		rest, take := GP64(), GP64()
		MOVQ(n, rest)
		SUBQ(next, rest)
		MOVQ(done, take)
		CMPQ(rest, take)
		CMOVQLT(rest, take)
		ones, low := GP64(), GP64()
		MOVQ(I32(-1), ones)
		BZHIQ(take, ones, ones)
		PDEPQ(m, ones, low)
		refill := K()
		KMOVW(low.As32(), refill)
		VEXPANDPD(Mem{Base: xs, Index: next, Scale: 8}, refill, zr[c])
		VBROADCASTSD(Mem{Base: r, Disp: offY}, refill, zi[c])
		VMOVDQA64(depth, refill, left[c])
		first, base := GP64(), ZMM()
		MOVQ(Mem{Base: r, Disp: offBase}, first)
		ADDQ(next, first)
		VPBROADCASTQ(first, base)
		VPADDQ(iota, base, base)
		VPEXPANDQ(base, refill, idx)
		ADDQ(take, next)
		idledM := GP64()
		ANDNQ(m, low, idledM) // m &^ low
		idled := K()
		KMOVW(idledM.As32(), idled)
		VBROADCASTSD(Mem{Base: r, Disp: offNaN}, idled, zr[c])
		VBROADCASTSD(Mem{Base: r, Disp: offNaN}, idled, zi[c])
		VPBROADCASTQ(Mem{Base: r, Disp: offIdle}, idled, left[c])
		VPTERNLOGQ(U8(0xff), idx, idx, idled, idx) // −1
		VMOVDQU64(idx, Mem{Base: r, Disp: offIdx + c*bytes})
		KXNORB(active[c], active[c], active[c])
		SUBQ(take, done)
		SUBQ(done, count)
	}
	setThr()
	XORQ(finished, finished)
	CMPQ(next, n)
	JL(LabelRef(k.name + "_more"))
	save()
	ret = GP8()
	MOVB(U8(1), ret)
	Store(ret, ReturnIndex(0))
	VZEROUPPER()
	RET()
}

// kernel2 emits the AVX2 kernel, kernel512's way with vectors for masks:
// each step clears from a chain's active vector (all ones per active lane)
// the lanes whose |z|² ≥ 4, and adds it to left (−1 per active lane); the
// kernel looks at the masks once a block and, once lazy lanes have
// finished, spills the lanes, stores and refills the finished ones in
// scalar code, and reloads. AVX2 has 16 vector registers: the lanes' state
// takes 4 per vector, and c, 4, 0 and the block come from memory.
func kernel2(k isa, block, lazy int) {
	chains := k.chains
	r, steps := begin(k)
	bytes := k.lanes * 8
	{
		v := YMM()
		VBROADCASTSD(Mem{Base: r, Disp: offCr}, v)
		VMOVUPD(v, Mem{Base: r, Disp: offCr4})
		VBROADCASTSD(Mem{Base: r, Disp: offCi}, v)
		VMOVUPD(v, Mem{Base: r, Disp: offCi4})
		b := GP64()
		MOVQ(U32(block-1), b)
		x := XMM()
		MOVQ(b, x)
		VPBROADCASTQ(x, v)
		VMOVDQU(v, Mem{Base: r, Disp: offBlkM14})
	}
	four, zero := Mem{Base: r, Disp: offFour4}, Mem{Base: r, Disp: offZero4}
	cr, ci, blkM1 := Mem{Base: r, Disp: offCr4}, Mem{Base: r, Disp: offCi4}, Mem{Base: r, Disp: offBlkM14}

	count, sum := GP64(), GP64()
	MOVQ(Mem{Base: r, Disp: offActive}, count)
	XORQ(sum, sum)
	thr, setThr := threshold(count, lazy)
	setThr()

	zr, zi, left, act := make([]reg.VecVirtual, chains), make([]reg.VecVirtual, chains), make([]reg.VecVirtual, chains), make([]reg.VecVirtual, chains)
	for c := range chains {
		zr[c], zi[c], left[c], act[c] = YMM(), YMM(), YMM(), YMM()
	}
	load := func() {
		for c := range chains {
			VMOVUPD(Mem{Base: r, Disp: offZr + c*bytes}, zr[c])
			VMOVUPD(Mem{Base: r, Disp: offZi + c*bytes}, zi[c])
			VMOVDQU(Mem{Base: r, Disp: offLeft + c*bytes}, left[c])
			VPCMPEQQ(act[c], act[c], act[c]) // all active
		}
	}
	spill := func() {
		for c := range chains {
			VMOVUPD(zr[c], Mem{Base: r, Disp: offZr + c*bytes})
			VMOVUPD(zi[c], Mem{Base: r, Disp: offZi + c*bytes})
			VMOVDQU(left[c], Mem{Base: r, Disp: offLeft + c*bytes})
		}
	}
	load()

	step := func() {
		for c := range chains {
			step2(zr[c], zi[c], left[c], act[c], cr, ci, four)
		}
	}
	// active returns, in a GP register, a bit per lane that is active
	// (lane i of vector c: bit c·lanes + i).
	active := func() reg.GPVirtual {
		bits := GP64()
		for c := range chains {
			m := GP64()
			VMOVMSKPD(act[c], m.As32())
			if c == 0 {
				MOVQ(m, bits)
				continue
			}
			SHLQ(U8(c*k.lanes), m)
			ORQ(m, bits)
		}
		return bits
	}
	finished := GP64()
	countFinished := func() {
		POPCNTQ(active(), finished)
		NEGQ(finished)
		ADDQ(U32(chains*k.lanes), finished)
	}

	short := func() { // sets ZF clear if an active lane has fewer than block steps left
		short := YMM()
		for c := range chains {
			s := YMM()
			VPCMPGTQ(blkM1, left[c], s) // left ≥ block
			VPANDN(act[c], s, s)        // active, and left < block
			if c == 0 {
				VMOVDQA(s, short)
			} else {
				VPOR(s, short, short)
			}
		}
		VPTEST(short, short)
	}
	atDepth := func() {
		for c := range chains {
			eq := YMM()
			VPCMPEQQ(zero, left[c], eq)
			VPANDN(act[c], eq, act[c])
		}
	}
	iterate(k, block, finished, thr, steps, short, atDepth, step, countFinished)
	spill()
	MOVQ(count, Mem{Base: r, Disp: offActive})
	MOVQ(sum, Mem{Base: r, Disp: offSums})
	ret := GP8()
	MOVB(U8(0), ret)
	Store(ret, ReturnIndex(0))
	VZEROUPPER()
	RET()

	// Store the finished lanes' counts and refill them, one by one, in
	// memory; then reload.
	Label(k.name + "_finish")
	fin := active()
	NOTQ(fin)
	{
		all := GP64()
		MOVQ(U32(1<<(chains*k.lanes)-1), all)
		ANDQ(all, fin)
	}
	spill()
	lane, idx, c, next, out, x := GP64(), GP64(), GP64(), GP64(), GP64(), GP64()
	MOVQ(Mem{Base: r, Disp: offOut}, out)
	MOVQ(Mem{Base: r, Disp: offNext}, next)
	Label(k.name + "_lane")
	BSFQ(fin, lane)
	MOVQ(Mem{Base: r, Index: lane, Scale: 8, Disp: offIdx}, idx)
	MOVQ(Mem{Base: r, Disp: offDepth}, c)
	SUBQ(Mem{Base: r, Index: lane, Scale: 8, Disp: offLeft}, c)
	MOVL(c.As32(), Mem{Base: out, Index: idx, Scale: 4})
	ADDQ(c, sum)
	CMPQ(next, Mem{Base: r, Disp: offN})
	JGE(LabelRef(k.name + "_idle"))
	MOVQ(Mem{Base: r, Disp: offBase}, x)
	ADDQ(next, x)
	MOVQ(x, Mem{Base: r, Index: lane, Scale: 8, Disp: offIdx})
	xs := GP64()
	MOVQ(Mem{Base: r, Disp: offXs}, xs)
	MOVQ(Mem{Base: xs, Index: next, Scale: 8}, x)
	MOVQ(x, Mem{Base: r, Index: lane, Scale: 8, Disp: offZr})
	MOVQ(Mem{Base: r, Disp: offY}, x)
	MOVQ(x, Mem{Base: r, Index: lane, Scale: 8, Disp: offZi})
	MOVQ(Mem{Base: r, Disp: offDepth}, x)
	MOVQ(x, Mem{Base: r, Index: lane, Scale: 8, Disp: offLeft})
	INCQ(next)
	JMP(LabelRef(k.name + "_next"))

	Label(k.name + "_idle")
	MOVQ(I32(-1), Mem{Base: r, Index: lane, Scale: 8, Disp: offIdx})
	MOVQ(Mem{Base: r, Disp: offNaN}, x)
	MOVQ(x, Mem{Base: r, Index: lane, Scale: 8, Disp: offZr})
	MOVQ(x, Mem{Base: r, Index: lane, Scale: 8, Disp: offZi})
	MOVQ(Mem{Base: r, Disp: offIdle}, x)
	MOVQ(x, Mem{Base: r, Index: lane, Scale: 8, Disp: offLeft})
	DECQ(count)

	Label(k.name + "_next")
	lower := GP64()
	LEAQ(Mem{Base: fin, Disp: -1}, lower)
	ANDQ(lower, fin)
	JNZ(LabelRef(k.name + "_lane"))
	MOVQ(next, Mem{Base: r, Disp: offNext})
	load()
	setThr()
	XORQ(finished, finished)
	CMPQ(next, Mem{Base: r, Disp: offN})
	JL(LabelRef(k.name + "_more"))
	MOVQ(count, Mem{Base: r, Disp: offActive})
	MOVQ(sum, Mem{Base: r, Disp: offSums})
	ret = GP8()
	MOVB(U8(1), ret)
	Store(ret, ReturnIndex(0))
	VZEROUPPER()
	RET()
}

// roofline512 emits the roofline of kernel512's step: the same
// instructions on independent chains that never escape (z = 0, c = 0), with
// no look, no refill and no memory: what this machine's cores can do for
// the kernel's own op mix. It runs steps × 4 steps of every chain; each is
// one iteration of k.lanes·k.chains pixels. (Six chains: a mask register
// each, of the seven there are.)
func roofline512(k isa) {
	TEXT(k.name, NOSPLIT, "func(steps int64) (iterations int64)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s runs steps×4 steps of the AVX-512 kernel's op mix on %d independent", k.name, k.chains),
		fmt.Sprintf("chains of %d lanes that never escape, and returns the lane-iterations done.", k.lanes))
	steps := Load(Param("steps"), GP64())
	iterations(k, steps)
	cr, ci, four, one := ZMM(), ZMM(), ZMM(), ZMM()
	VPXORQ(cr, cr, cr)
	VPXORQ(ci, ci, ci)
	{
		t := GP64()
		MOVQ(U64(0x4010000000000000), t) // 4.0
		VPBROADCASTQ(t, four)
		MOVQ(U32(1), t)
		VPBROADCASTQ(t, one)
	}
	zr, zi, left := make([]reg.VecVirtual, k.chains), make([]reg.VecVirtual, k.chains), make([]reg.VecVirtual, k.chains)
	active := make([]reg.OpmaskVirtual, k.chains)
	for c := range k.chains {
		zr[c], zi[c], left[c], active[c] = ZMM(), ZMM(), ZMM(), K()
		VPXORQ(zr[c], zr[c], zr[c])
		VPXORQ(zi[c], zi[c], zi[c])
		VPXORQ(left[c], left[c], left[c])
		KXNORB(active[c], active[c], active[c])
	}
	Label(k.name + "_loop")
	for range 4 {
		for c := range k.chains {
			step512(zr[c], zi[c], left[c], active[c], cr, ci, four, one)
		}
	}
	DECQ(steps)
	JNZ(LabelRef(k.name + "_loop"))
	VZEROUPPER()
	RET()
}

// iterations stores a roofline's result: the lane-iterations its steps×4
// steps of k.chains vectors of k.lanes do, so its caller need not know how
// many chains it runs.
func iterations(k isa, steps reg.Register) {
	n := GP64()
	IMUL3Q(U32(4*k.chains*k.lanes), steps, n)
	Store(n, ReturnIndex(0))
}

// roofline2 is roofline512 for kernel2's AVX2 step (masks as vectors, c
// and 4 from memory as there).
func roofline2(k isa) {
	TEXT(k.name, NOSPLIT, "func(r *byte, steps int64) (iterations int64)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s runs steps×4 steps of the AVX2 kernel's op mix on %d independent", k.name, k.chains),
		fmt.Sprintf("chains of %d lanes that never escape, and returns the lane-iterations done;", k.lanes),
		"r is a zeroed lanes struct but for four4.")
	r := Load(Param("r"), GP64())
	steps := Load(Param("steps"), GP64())
	iterations(k, steps)
	four, cr, ci := Mem{Base: r, Disp: offFour4}, Mem{Base: r, Disp: offCr4}, Mem{Base: r, Disp: offCi4}
	zr, zi, left, act := make([]reg.VecVirtual, k.chains), make([]reg.VecVirtual, k.chains), make([]reg.VecVirtual, k.chains), make([]reg.VecVirtual, k.chains)
	for c := range k.chains {
		zr[c], zi[c], left[c], act[c] = YMM(), YMM(), YMM(), YMM()
		VPXOR(zr[c], zr[c], zr[c])
		VPXOR(zi[c], zi[c], zi[c])
		VPXOR(left[c], left[c], left[c])
		VPCMPEQQ(act[c], act[c], act[c])
	}
	Label(k.name + "_loop")
	for range 4 {
		for c := range k.chains {
			step2(zr[c], zi[c], left[c], act[c], cr, ci, four)
		}
	}
	DECQ(steps)
	JNZ(LabelRef(k.name + "_loop"))
	VZEROUPPER()
	RET()
}

// step512 emits one iteration of a vector of kernel512's lanes: z ← z² + c
// as (2·zr)·zi + ci and (zr² − zi²) + cr, each rounded on its own, with the
// lanes whose |z|² ≥ 4 cleared from active before and left counted down
// for the active ones. The kernel and its roofline share it.
func step512(zr, zi, left reg.VecVirtual, active reg.OpmaskVirtual, cr, ci, four, one Op) {
	rr, ii, t := ZMM(), ZMM(), ZMM()
	VMULPD(zr, zr, rr)
	VMULPD(zi, zi, ii)
	VADDPD(ii, rr, t)
	VCMPPD(U8(0x19), four, t, active, active) // not t ≥ 4 (NaN never escapes)
	VPSUBQ(one, left, active, left)
	VADDPD(zr, zr, t)
	VMULPD(zi, t, t)
	VADDPD(ci, t, zi)
	VSUBPD(ii, rr, rr)
	VADDPD(cr, rr, zr)
}

// step2 is step512 for kernel2's AVX2 lanes: active is a vector of all
// ones per active lane, added to left (−1 each); c and 4 may be memory.
func step2(zr, zi, left, act reg.VecVirtual, cr, ci, four Op) {
	rr, ii, t := YMM(), YMM(), YMM()
	VMULPD(zr, zr, rr)
	VMULPD(zi, zi, ii)
	VADDPD(ii, rr, t)
	VCMPPD(U8(0x19), four, t, t) // not t ≥ 4 (NaN never escapes)
	VANDPD(t, act, act)
	VPADDQ(act, left, left)
	VADDPD(zr, zr, t)
	VMULPD(zi, t, t)
	VADDPD(ci, t, zi)
	VSUBPD(ii, rr, rr)
	VADDPD(cr, rr, zr)
}
