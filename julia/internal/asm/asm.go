// Command asm generates julia's amd64 SIMD kernels (kernel_amd64.s and
// its Go declarations, kernel_amd64.go) with avo: the escape-time loop over
// 8 float64 lanes (AVX-512) or 4 (AVX2), two vectors in flight. A lane whose
// pixel escapes, or reaches depth, takes the row's next pixel on its own;
// the others go on. Every product and sum is rounded on its own (no fused
// multiply-add), in the scalar kernel's order, so the counts are its counts.
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
	// A scratch of 16 int64: the pixel indices and counts of the lanes
	// just finished, compressed (AVX-512).
	offBuf  = 1248
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
	avx512 := isa{name: "iterAVX512", lanes: 8, chains: 2, vec: ZMM, consts: func(r reg.Register) (four, one, zero Op) {
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
	kernel512(avx512)
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

// kernel512 emits the AVX-512 kernel: as kernel, but a lane's state (z,
// iterations left, pixel index) stays in registers. When lanes finish, the
// mask registers say which: their pixel indices and counts are compressed
// (VPCOMPRESSQ) for the scalar stores of the 32-bit counts, and the next
// pixels are expanded (VEXPANDPD) straight from the row's xs into those
// lanes; past the row's end the lanes left over go idle.
func kernel512(k isa) {
	chains := k.chains
	TEXT(k.name, NOSPLIT, "func(r *byte, steps int64) (finished bool)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s iterates the row's %d lanes (%d vectors of %d) for at most steps", k.name, k.lanes*chains, chains, k.lanes),
		"iterations, refilling each lane from the row as its pixel finishes; it",
		"reports whether the row is finished.")
	r := Load(Param("r"), GP64())
	steps := Load(Param("steps"), GP64())
	bytes := k.lanes * 8

	cr, ci, yv, depth, iota, nan, idle := ZMM(), ZMM(), ZMM(), ZMM(), ZMM(), ZMM(), ZMM()
	VBROADCASTSD(Mem{Base: r, Disp: offCr}, cr)
	VBROADCASTSD(Mem{Base: r, Disp: offCi}, ci)
	VBROADCASTSD(Mem{Base: r, Disp: offY}, yv)
	VPBROADCASTQ(Mem{Base: r, Disp: offDepth}, depth)
	VBROADCASTSD(Mem{Base: r, Disp: offNaN}, nan)
	VPBROADCASTQ(Mem{Base: r, Disp: offIdle}, idle)
	four, one, zero := k.consts(r)
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
	next, n, active := GP64(), GP64(), GP64()
	MOVQ(Mem{Base: r, Disp: offNext}, next)
	MOVQ(Mem{Base: r, Disp: offN}, n)
	MOVQ(Mem{Base: r, Disp: offActive}, active)

	zr, zi, left, idx := make([]reg.VecVirtual, chains), make([]reg.VecVirtual, chains), make([]reg.VecVirtual, chains), make([]reg.VecVirtual, chains)
	for c := range chains {
		zr[c], zi[c], left[c], idx[c] = ZMM(), ZMM(), ZMM(), ZMM()
		VMOVUPD(Mem{Base: r, Disp: offZr + c*bytes}, zr[c])
		VMOVUPD(Mem{Base: r, Disp: offZi + c*bytes}, zi[c])
		VMOVDQU64(Mem{Base: r, Disp: offLeft + c*bytes}, left[c])
		VMOVDQU64(Mem{Base: r, Disp: offIdx + c*bytes}, idx[c])
	}
	save := func() {
		for c := range chains {
			VMOVUPD(zr[c], Mem{Base: r, Disp: offZr + c*bytes})
			VMOVUPD(zi[c], Mem{Base: r, Disp: offZi + c*bytes})
			VMOVDQU64(left[c], Mem{Base: r, Disp: offLeft + c*bytes})
			VMOVDQU64(idx[c], Mem{Base: r, Disp: offIdx + c*bytes})
		}
		MOVQ(next, Mem{Base: r, Disp: offNext})
		MOVQ(active, Mem{Base: r, Disp: offActive})
	}

	fin := make([]reg.OpmaskVirtual, chains)
	for c := range chains {
		fin[c] = K()
	}
	Label(k.name + "_loop")
	rr, ii := make([]reg.VecVirtual, chains), make([]reg.VecVirtual, chains)
	for c := range chains {
		rr[c], ii[c] = ZMM(), ZMM()
		VMULPD(zr[c], zr[c], rr[c])
		VMULPD(zi[c], zi[c], ii[c])
		t := ZMM()
		VADDPD(ii[c], rr[c], t)
		done := K()
		VCMPPD(U8(0x1d), four, t, fin[c]) // t ≥ 4, ordered: false for NaN
		VPCMPEQQ(zero, left[c], done)
		KORW(fin[c], done, fin[c])
	}
	any := K()
	KORW(fin[0], fin[1], any)
	for c := 2; c < chains; c++ {
		KORW(fin[c], any, any)
	}
	KORTESTW(any, any)
	JNZ(LabelRef(k.name + "_finish"))
	for c := range chains {
		twice := ZMM()
		VADDPD(zr[c], zr[c], twice)
		VMULPD(zi[c], twice, twice)
		VADDPD(ci, twice, zi[c])
		VSUBPD(ii[c], rr[c], rr[c])
		VADDPD(cr, rr[c], zr[c])
		VPSUBQ(one, left[c], left[c])
	}
	DECQ(steps)
	JNZ(LabelRef(k.name + "_loop"))
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
		skip := fmt.Sprintf("%s_chain%d_done", k.name, c)
		KORTESTW(fin[c], fin[c])
		JZ(LabelRef(skip))
		// Store the finished lanes' counts: depth − left, at their pixels.
		m, count := GP64(), GP64()
		KMOVW(fin[c], m.As32())
		POPCNTQ(m, count)
		counts, packed := ZMM(), ZMM()
		VPSUBQ(left[c], depth, counts)
		VPCOMPRESSQ_Z(idx[c], fin[c], packed)
		VMOVDQU64(packed, Mem{Base: r, Disp: offBuf})
		VPCOMPRESSQ_Z(counts, fin[c], packed)
		VMOVDQU64(packed, Mem{Base: r, Disp: offBuf + 64})
		i, at, v := GP64(), GP64(), GP64()
		XORQ(i, i)
		Label(fmt.Sprintf("%s_chain%d_store", k.name, c))
		MOVQ(Mem{Base: r, Index: i, Scale: 8, Disp: offBuf}, at)
		MOVQ(Mem{Base: r, Index: i, Scale: 8, Disp: offBuf + 64}, v)
		MOVL(v.As32(), Mem{Base: out, Index: at, Scale: 4})
		INCQ(i)
		CMPQ(i, count)
		JL(LabelRef(fmt.Sprintf("%s_chain%d_store", k.name, c)))
		// Refill: the first min(count, n − next) finished lanes take the
		// next pixels in order; the rest go idle.
		rest, take := GP64(), GP64()
		MOVQ(n, rest)
		SUBQ(next, rest)
		MOVQ(count, take)
		CMPQ(rest, take)
		CMOVQLT(rest, take)
		ones, low := GP64(), GP64()
		MOVQ(I32(-1), ones)
		BZHIQ(take, ones, ones)
		PDEPQ(m, ones, low)
		refill, idled := K(), K()
		KMOVW(low.As32(), refill)
		KANDNW(fin[c], refill, idled)
		VEXPANDPD(Mem{Base: xs, Index: next, Scale: 8}, refill, zr[c])
		VMOVAPD(yv, refill, zi[c])
		VMOVDQA64(depth, refill, left[c])
		base := ZMM()
		VPBROADCASTQ(next, base)
		VPADDQ(iota, base, base)
		VPEXPANDQ(base, refill, idx[c])
		ADDQ(take, next)
		VMOVAPD(nan, idled, zr[c])
		VMOVAPD(nan, idled, zi[c])
		VMOVDQA64(idle, idled, left[c])
		SUBQ(take, count)
		SUBQ(count, active)
		Label(skip)
	}
	TESTQ(active, active)
	JNZ(LabelRef(k.name + "_loop"))
	save()
	ret = GP8()
	MOVB(U8(1), ret)
	Store(ret, ReturnIndex(0))
	VZEROUPPER()
	RET()
}
