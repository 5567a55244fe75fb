// Command asm generates julia's amd64 SIMD kernels (kernel_amd64.s and
// its Go declarations, kernel_amd64.go) with avo: the escape-time loop over
// four vectors of 8 float64 lanes (AVX-512, kernel512: escapes masked per
// step, looked at once per block of steps, finished lanes refilled several
// at a time) or two of 4 (AVX2, kernel: a lane whose pixel escapes, or
// reaches depth, takes the row's next pixel on its own; the others go on).
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
	// 32-byte vectors of 4, 1 and 0, for the AVX2 kernel's memory operands
	// (it has 16 vector registers, not 32).
	offFour4 = 1152
	offOne4  = 1184
	offZero4 = 1216
	// 8 int64: the sums of the counts stored, by lane (AVX-512).
	offSums = 1248
	offZr   = 128
	offZi   = 384
	offLeft = 640
	offIdx  = 896
)

// An isa is what differs between the two kernels.
type isa struct {
	name  string
	lanes int // float64 lanes per vector
	// chains is how many vectors are in flight, to hide the latency of
	// the multiplications.
	chains int
	vec    func() reg.VecVirtual
	// mask sets bits of out (lane i of the chain: bit i) for the lanes
	// whose t ≥ 4 or whose left is 0.
	mask func(t, left reg.VecVirtual, four, zero Op, out reg.GPVirtual)
	// consts returns the vectors of 4, 1 and 0: registers, or memory.
	consts func(r reg.Register) (four, one, zero Op)
}

func main() {
	ConstraintExpr("!purego")
	avx512 := isa{name: "iterAVX512", lanes: 8, chains: 4, vec: ZMM, consts: func(r reg.Register) (four, one, zero Op) {
		f, o, z := ZMM(), ZMM(), ZMM()
		VBROADCASTSD(Mem{Base: r, Disp: offFour}, f)
		VPBROADCASTQ(Mem{Base: r, Disp: offOne}, o)
		VPXORQ(z, z, z)
		return f, o, z
	}, mask: func(t, left reg.VecVirtual, four, zero Op, out reg.GPVirtual) {
		esc, done := K(), K()
		VCMPPD(U8(0x1d), four, t, esc) // t ≥ 4, ordered: false for NaN
		VPCMPEQQ(zero, left, done)
		KORW(esc, done, esc)
		KMOVW(esc, out.As32())
	}}
	avx2 := isa{name: "iterAVX2", lanes: 4, chains: 2, vec: YMM, consts: func(r reg.Register) (four, one, zero Op) {
		return Mem{Base: r, Disp: offFour4}, Mem{Base: r, Disp: offOne4}, Mem{Base: r, Disp: offZero4}
	}, mask: func(t, left reg.VecVirtual, four, zero Op, out reg.GPVirtual) {
		done := YMM()
		VCMPPD(U8(0x1d), four, t, t)
		VPCMPEQQ(zero, left, done)
		VORPD(t, done, t)
		VMOVMSKPD(t, out.As32())
	}}
	kernel512(avx512, 4, 8)
	kernel(avx2)
	Generate()
}

// kernel emits func name(r *byte, steps int64) (finished bool):
// at most steps iterations of every lane, or until the row is finished.
func kernel(k isa) {
	chains := k.chains
	TEXT(k.name, NOSPLIT, "func(r *byte, steps int64) (finished bool)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s iterates the row's %d lanes (%d vectors of %d) for at most steps", k.name, k.lanes*chains, chains, k.lanes),
		"iterations, refilling each lane from the row as its pixel finishes; it",
		"reports whether the row is finished.")
	r := Load(Param("r"), GP64())
	steps := Load(Param("steps"), GP64())
	bytes := k.lanes * 8

	cr, ci := k.vec(), k.vec()
	VBROADCASTSD(Mem{Base: r, Disp: offCr}, cr)
	VBROADCASTSD(Mem{Base: r, Disp: offCi}, ci)
	four, one, zero := k.consts(r)

	zr, zi, left := make([]reg.VecVirtual, chains), make([]reg.VecVirtual, chains), make([]reg.VecVirtual, chains)
	for c := range chains {
		zr[c], zi[c], left[c] = k.vec(), k.vec(), k.vec()
	}
	load := func() {
		for c := range chains {
			VMOVUPD(Mem{Base: r, Disp: offZr + c*bytes}, zr[c])
			VMOVUPD(Mem{Base: r, Disp: offZi + c*bytes}, zi[c])
			VMOVDQU64orDQU(Mem{Base: r, Disp: offLeft + c*bytes}, left[c], k)
		}
	}
	store := func() {
		for c := range chains {
			VMOVUPD(zr[c], Mem{Base: r, Disp: offZr + c*bytes})
			VMOVUPD(zi[c], Mem{Base: r, Disp: offZi + c*bytes})
			VMOVDQU64orDQU(left[c], Mem{Base: r, Disp: offLeft + c*bytes}, k)
		}
	}
	load()

	Label(k.name + "_loop")
	// Look: which lanes are finished, before this step, as the scalar
	// kernel looks before each of its steps.
	rr, ii := make([]reg.VecVirtual, chains), make([]reg.VecVirtual, chains)
	mask := GP64()
	XORQ(mask, mask)
	for c := range chains {
		rr[c], ii[c] = k.vec(), k.vec()
		VMULPD(zr[c], zr[c], rr[c])
		VMULPD(zi[c], zi[c], ii[c])
		t := k.vec()
		VADDPD(ii[c], rr[c], t)
		m := GP64()
		k.mask(t, left[c], four, zero, m)
		if c > 0 {
			SHLQ(U8(c*k.lanes), m)
		}
		ORQ(m, mask)
	}
	TESTQ(mask, mask)
	JNZ(LabelRef(k.name + "_finish"))
	// Step: z ← z² + c, as (2·zr)·zi + ci and (zr² − zi²) + cr.
	for c := range chains {
		twice := k.vec()
		VADDPD(zr[c], zr[c], twice)
		VMULPD(zi[c], twice, twice)
		VADDPD(ci, twice, zi[c])
		VSUBPD(ii[c], rr[c], rr[c])
		VADDPD(cr, rr[c], zr[c])
		VPSUBQ(one, left[c], left[c])
	}
	DECQ(steps)
	JNZ(LabelRef(k.name + "_loop"))
	store()
	ret := GP8()
	MOVB(U8(0), ret)
	Store(ret, ReturnIndex(0))
	VZEROUPPER()
	RET()

	// Finish the lanes of mask: each stores its count and takes the next
	// pixel, or goes idle (z NaN never escapes; left never reaches 0).
	Label(k.name + "_finish")
	store()
	lane, idx, count, next := GP64(), GP64(), GP64(), GP64()
	Label(k.name + "_lane")
	BSFQ(mask, lane)
	MOVQ(Mem{Base: r, Index: lane, Scale: 8, Disp: offIdx}, idx)
	MOVQ(Mem{Base: r, Disp: offDepth}, count)
	SUBQ(Mem{Base: r, Index: lane, Scale: 8, Disp: offLeft}, count)
	out := GP64()
	MOVQ(Mem{Base: r, Disp: offOut}, out)
	MOVL(count.As32(), Mem{Base: out, Index: idx, Scale: 4})
	MOVQ(Mem{Base: r, Disp: offNext}, next)
	CMPQ(next, Mem{Base: r, Disp: offN})
	JGE(LabelRef(k.name + "_idle"))
	MOVQ(next, Mem{Base: r, Index: lane, Scale: 8, Disp: offIdx})
	xs, x := GP64(), GP64()
	MOVQ(Mem{Base: r, Disp: offXs}, xs)
	MOVQ(Mem{Base: xs, Index: next, Scale: 8}, x)
	MOVQ(x, Mem{Base: r, Index: lane, Scale: 8, Disp: offZr})
	MOVQ(Mem{Base: r, Disp: offY}, x)
	MOVQ(x, Mem{Base: r, Index: lane, Scale: 8, Disp: offZi})
	MOVQ(Mem{Base: r, Disp: offDepth}, x)
	MOVQ(x, Mem{Base: r, Index: lane, Scale: 8, Disp: offLeft})
	INCQ(next)
	MOVQ(next, Mem{Base: r, Disp: offNext})
	JMP(LabelRef(k.name + "_next"))

	Label(k.name + "_idle")
	MOVQ(I32(-1), Mem{Base: r, Index: lane, Scale: 8, Disp: offIdx})
	MOVQ(Mem{Base: r, Disp: offNaN}, x)
	MOVQ(x, Mem{Base: r, Index: lane, Scale: 8, Disp: offZr})
	MOVQ(x, Mem{Base: r, Index: lane, Scale: 8, Disp: offZi})
	MOVQ(Mem{Base: r, Disp: offIdle}, x)
	MOVQ(x, Mem{Base: r, Index: lane, Scale: 8, Disp: offLeft})
	DECQ(Mem{Base: r, Disp: offActive})
	JZ(LabelRef(k.name + "_done"))

	Label(k.name + "_next")
	// Clear the lowest set bit: the lane just finished.
	lower := GP64()
	LEAQ(Mem{Base: mask, Disp: -1}, lower)
	ANDQ(lower, mask)
	JNZ(LabelRef(k.name + "_lane"))
	load()
	JMP(LabelRef(k.name + "_loop"))

	Label(k.name + "_done")
	ret = GP8()
	MOVB(U8(1), ret)
	Store(ret, ReturnIndex(0))
	VZEROUPPER()
	RET()
}

// VMOVDQU64orDQU moves int64 lanes: VMOVDQU64 for ZMM (AVX-512 has no
// plain VMOVDQU of them), VMOVDQU for YMM.
func VMOVDQU64orDQU(src, dst Op, k isa) {
	if k.lanes == 8 {
		VMOVDQU64(src, dst)
		return
	}
	VMOVDQU(src, dst)
}

// kernel512 emits the AVX-512 kernel. A lane's state (z, iterations left,
// pixel index) stays in registers, and a mask register per vector says
// which lanes still iterate (active). Each step clears from active the
// lanes whose |z|² ≥ 4 and counts only the active ones, so a finished
// lane's count stays as it was when its pixel escaped while its z goes on,
// unread. The kernel looks for finished lanes once every block of steps,
// not at every step: one branch per block in place of one mispredicted
// branch per escaping pixel. A block runs only when every active lane has
// a block's steps left; otherwise single steps take lanes out at depth.
//
// Finished lanes wait until lazy of them have finished (or every lane
// still holding a pixel, near the row's end), then scatter their counts
// (depth − left) to their pixels, add them to the sums, and take the row's
// next pixels (VEXPANDPD straight from the row's xs); past the row's end
// the lanes left over go idle (z NaN, which never escapes; pixel index
// −1). One refill for several lanes costs little more than one for one
// lane: on the standard case, with 32 lanes, lazy 8 takes about 9% more
// steps than refilling at each escape, and a quarter of the refills. (Blocks, lazy refills and the sums
// together took the standard case from 14.8 to 8.3 ms on two cores.)
func kernel512(k isa, block, lazy int) {
	chains := k.chains
	TEXT(k.name, NOSPLIT, "func(r *byte, steps int64) (finished bool)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s iterates the row's %d lanes (%d vectors of %d) for at most about steps", k.name, k.lanes*chains, chains, k.lanes),
		"iterations, refilling each lane from the row as its pixel finishes; it",
		"reports whether the row is finished.")
	r := Load(Param("r"), GP64())
	steps := Load(Param("steps"), GP64())
	bytes := k.lanes * 8

	cr, ci, depth, iota, blk, sums := ZMM(), ZMM(), ZMM(), ZMM(), ZMM(), ZMM()
	VBROADCASTSD(Mem{Base: r, Disp: offCr}, cr)
	VBROADCASTSD(Mem{Base: r, Disp: offCi}, ci)
	VPBROADCASTQ(Mem{Base: r, Disp: offDepth}, depth)
	VPXORQ(sums, sums, sums)
	four, one, _ := k.consts(r)
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
	{
		b := GP64()
		MOVQ(U32(block), b)
		VPBROADCASTQ(b, blk)
	}
	next, n, count := GP64(), GP64(), GP64()
	MOVQ(Mem{Base: r, Disp: offNext}, next)
	MOVQ(Mem{Base: r, Disp: offN}, n)
	MOVQ(Mem{Base: r, Disp: offActive}, count)
	thr, lazyN := GP64(), GP64()
	MOVQ(U32(lazy), lazyN)
	setThr := func() {
		MOVQ(count, thr)
		CMPQ(lazyN, thr)
		CMOVQLT(lazyN, thr)
	}
	setThr()

	zr, zi, left, idx := make([]reg.VecVirtual, chains), make([]reg.VecVirtual, chains), make([]reg.VecVirtual, chains), make([]reg.VecVirtual, chains)
	active := make([]reg.OpmaskVirtual, chains)
	for c := range chains {
		zr[c], zi[c], left[c], idx[c] = ZMM(), ZMM(), ZMM(), ZMM()
		active[c] = K()
		VMOVUPD(Mem{Base: r, Disp: offZr + c*bytes}, zr[c])
		VMOVUPD(Mem{Base: r, Disp: offZi + c*bytes}, zi[c])
		VMOVDQU64(Mem{Base: r, Disp: offLeft + c*bytes}, left[c])
		VMOVDQU64(Mem{Base: r, Disp: offIdx + c*bytes}, idx[c])
		KXNORB(active[c], active[c], active[c])
	}

	// step is one iteration of every active lane.
	step := func() {
		for c := range chains {
			rr, ii, t := ZMM(), ZMM(), ZMM()
			VMULPD(zr[c], zr[c], rr)
			VMULPD(zi[c], zi[c], ii)
			VADDPD(ii, rr, t)
			VCMPPD(U8(0x19), four, t, active[c], active[c]) // not t ≥ 4 (NaN never escapes)
			VPSUBQ(one, left[c], active[c], left[c])
			VADDPD(zr[c], zr[c], t)
			VMULPD(zi[c], t, t)
			VADDPD(ci, t, zi[c])
			VSUBPD(ii, rr, rr)
			VADDPD(cr, rr, zr[c])
		}
	}

	// finished counts the lanes finished and not yet refilled; look
	// compares it with thr as it was before the last block (or single
	// step), so that the branch does not wait on the block's last compare.
	// Finished lanes wait a block longer; their counts stay as they are.
	finished := GP64()
	countFinished := func() {
		all := K()
		KUNPCKBW(active[0], active[1], all)
		if chains > 2 {
			hi := K()
			if chains == 4 {
				KUNPCKBW(active[2], active[3], hi)
			} else {
				KMOVW(active[2], hi)
			}
			KUNPCKWD(all, hi, all)
		}
		KMOVD(all, finished.As32())
		POPCNTL(finished.As32(), finished.As32())
		NEGQ(finished)
		ADDQ(U32(chains*k.lanes), finished)
	}

	Label(k.name + "_loop")
	// A block if every active lane has a block's steps left.
	{
		short := K()
		VPCMPUQ(U8(1), blk, left[0], active[0], short) // left < block
		for c := 1; c < chains; c++ {
			s := K()
			VPCMPUQ(U8(1), blk, left[c], active[c], s)
			KORW(s, short, short)
		}
		KORTESTW(short, short)
		JNZ(LabelRef(k.name + "_single"))
	}
	countFinished()
	for range block {
		step()
	}
	SUBQ(U32(block), steps)
	JMP(LabelRef(k.name + "_look"))

	Label(k.name + "_single")
	// Lanes at depth are finished; the others take one step.
	for c := range chains {
		VPTESTMQ(left[c], left[c], active[c], active[c])
	}
	countFinished()
	step()
	DECQ(steps)

	Label(k.name + "_look")
	// Finish lanes once at least thr have finished: thr is lazy lanes, or
	// every lane still live when fewer are.
	CMPQ(finished, thr)
	JGE(LabelRef(k.name + "_finish"))
	Label(k.name + "_more")
	CMPQ(steps, U8(0))
	JG(LabelRef(k.name + "_loop"))
	countFinished()
	// Out of steps: finish what has finished first, so that on return
	// every lane is active.
	TESTQ(finished, finished)
	JNZ(LabelRef(k.name + "_finish"))
	// Out of steps, with no lane finished: every lane is active.
	save := func() {
		for c := range chains {
			VMOVUPD(zr[c], Mem{Base: r, Disp: offZr + c*bytes})
			VMOVUPD(zi[c], Mem{Base: r, Disp: offZi + c*bytes})
			VMOVDQU64(left[c], Mem{Base: r, Disp: offLeft + c*bytes})
			VMOVDQU64(idx[c], Mem{Base: r, Disp: offIdx + c*bytes})
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

		// Scatter the finished lanes' counts, depth − left, to their pixels.
		counts := ZMM()
		VPSUBQ(left[c], depth, counts)
		counts32 := YMM()
		VPMOVQD(counts, counts32)
		scatter := K()
		KMOVW(fin, scatter)
		VPSCATTERQD(counts32, scatter, Mem{Base: out, Index: idx[c], Scale: 4})
		VPADDQ(counts, sums, fin, sums)
		// Refill: the first min(finished, n − next) finished lanes take
		// the next pixels in order; the rest go idle.
		m, done := GP64(), GP64()
		KMOVB(fin, m.As32())
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
		refill, idled := K(), K()
		KMOVW(low.As32(), refill)
		KANDNW(fin, refill, idled)
		VEXPANDPD(Mem{Base: xs, Index: next, Scale: 8}, refill, zr[c])
		VBROADCASTSD(Mem{Base: r, Disp: offY}, refill, zi[c])
		VMOVDQA64(depth, refill, left[c])
		base := ZMM()
		VPBROADCASTQ(next, base)
		VPADDQ(iota, base, base)
		VPEXPANDQ(base, refill, idx[c])
		ADDQ(take, next)
		VBROADCASTSD(Mem{Base: r, Disp: offNaN}, idled, zr[c])
		VBROADCASTSD(Mem{Base: r, Disp: offNaN}, idled, zi[c])
		VPBROADCASTQ(Mem{Base: r, Disp: offIdle}, idled, left[c])
		VPTERNLOGQ(U8(0xff), idx[c], idx[c], idled, idx[c]) // −1
		KXNORB(active[c], active[c], active[c])
		SUBQ(take, done)
		SUBQ(done, count)

	}
	setThr()
	XORQ(finished, finished)
	TESTQ(count, count)
	JNZ(LabelRef(k.name + "_more"))
	save()
	ret = GP8()
	MOVB(U8(1), ret)
	Store(ret, ReturnIndex(0))
	VZEROUPPER()
	RET()
}
