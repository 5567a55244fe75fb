// The arm64 kernel (NEON): the escape-time loop over 4 float64 lanes, two
// vectors of 2 in flight, each lane refilled on its own from the window of
// the stream (a piece of a row: xs, y; its pixel is base + next) as its pixel finishes, and
// a return to Go when the window is dry; see internal/asm for the amd64 kernels and the algorithm.
// Every product and sum is rounded on its own (FMUL then FADD, never FMLA),
// in the scalar kernel's order, so the counts are its counts. Go's
// assembler has no vector floating-point mnemonics: those are WORDs, each
// with the instruction it encodes beside it.
//
// Registers: R0 the lanes struct (simd.go; TestLanesLayout), R1 the steps
// left; V0 c's real part, V1 its imaginary part, V2 4.0, V3 1, V4 0;
// chain k (0, 1): V(8+k) zr, V(10+k) zi, V(12+k) left.

//go:build !purego

#include "textflag.h"

// func iterNEON(r *byte, steps int64) (dry bool)
TEXT ·iterNEON(SB), NOSPLIT, $0-17
	MOVD r+0(FP), R0
	MOVD steps+8(FP), R1
	MOVD 40(R0), R2
	VDUP R2, V0.D2
	MOVD 48(R0), R2
	VDUP R2, V1.D2
	MOVD 72(R0), R2
	VDUP R2, V2.D2
	MOVD 80(R0), R2
	VDUP R2, V3.D2
	VEOR V4.B16, V4.B16, V4.B16

load:
	FMOVQ 128(R0), F8
	FMOVQ 512(R0), F10
	FMOVQ 896(R0), F12
	FMOVQ 144(R0), F9
	FMOVQ 528(R0), F11
	FMOVQ 912(R0), F13

loop:
	// Look: which lanes are finished, before this step (|z|² ≥ 4, or
	// no iterations left).
	WORD $0x6e68dd10 // FMUL V16.2D, V8.2D, V8.2D
	WORD $0x6e6add52 // FMUL V18.2D, V10.2D, V10.2D
	WORD $0x4e72d614 // FADD V20.2D, V16.2D, V18.2D
	WORD $0x6e62e696 // FCMGE V22.2D, V20.2D, V2.2D
	VCMEQ V4.D2, V12.D2, V24.D2
	VORR V24.B16, V22.B16, V22.B16
	WORD $0x6e69dd31 // FMUL V17.2D, V9.2D, V9.2D
	WORD $0x6e6bdd73 // FMUL V19.2D, V11.2D, V11.2D
	WORD $0x4e73d635 // FADD V21.2D, V17.2D, V19.2D
	WORD $0x6e62e6b7 // FCMGE V23.2D, V21.2D, V2.2D
	VCMEQ V4.D2, V13.D2, V25.D2
	VORR V25.B16, V23.B16, V23.B16
	VORR V23.B16, V22.B16, V28.B16
	VMOV V28.D[0], R2
	VMOV V28.D[1], R3
	ORR R2, R3, R3
	CBNZ R3, finish

	// Step: z ← z² + c, as (2·zr)·zi + ci and (zr² − zi²) + cr.
	WORD $0x4e68d51a // FADD V26.2D, V8.2D, V8.2D
	WORD $0x6e6adf5a // FMUL V26.2D, V26.2D, V10.2D
	WORD $0x4e61d74a // FADD V10.2D, V26.2D, V1.2D
	WORD $0x4ef2d610 // FSUB V16.2D, V16.2D, V18.2D
	WORD $0x4e60d608 // FADD V8.2D, V16.2D, V0.2D
	VSUB V3.D2, V12.D2, V12.D2
	WORD $0x4e69d53b // FADD V27.2D, V9.2D, V9.2D
	WORD $0x6e6bdf7b // FMUL V27.2D, V27.2D, V11.2D
	WORD $0x4e61d76b // FADD V11.2D, V27.2D, V1.2D
	WORD $0x4ef3d631 // FSUB V17.2D, V17.2D, V19.2D
	WORD $0x4e60d629 // FADD V9.2D, V17.2D, V0.2D
	VSUB V3.D2, V13.D2, V13.D2
	SUBS $1, R1, R1
	BNE loop
	FMOVQ F8, 128(R0)
	FMOVQ F10, 512(R0)
	FMOVQ F12, 896(R0)
	FMOVQ F9, 144(R0)
	FMOVQ F11, 528(R0)
	FMOVQ F13, 912(R0)
	MOVB ZR, dry+16(FP)
	RET

finish:
	FMOVQ F8, 128(R0)
	FMOVQ F10, 512(R0)
	FMOVQ F12, 896(R0)
	FMOVQ F9, 144(R0)
	FMOVQ F11, 528(R0)
	FMOVQ F13, 912(R0)
	// The lanes' flags: lane 2k+j is lane j of chain k.
	VMOV V22.D[0], R20
	VMOV V22.D[1], R21
	VMOV V23.D[0], R22
	VMOV V23.D[1], R23

	// Lane 0: store its count, take the next pixel or go idle.
	CBZ R20, lane0done
	MOVD 1280(R0), R5
	MOVD 56(R0), R6
	MOVD 896(R0), R7
	SUB R7, R6, R6
	MOVD 0(R0), R8
	ADD R5<<2, R8, R8
	MOVW R6, (R8)
	MOVD 24(R0), R10
	MOVD 16(R0), R11
	CMP R11, R10
	BGE lane0idle
	MOVD 104(R0), R14
	ADD R10, R14, R14
	MOVD R14, 1280(R0)
	MOVD 8(R0), R12
	ADD R10<<3, R12, R12
	MOVD (R12), R13
	MOVD R13, 128(R0)
	MOVD 32(R0), R13
	MOVD R13, 512(R0)
	MOVD 56(R0), R13
	MOVD R13, 896(R0)
	ADD $1, R10, R10
	MOVD R10, 24(R0)
	B lane0done
lane0idle:
	MOVD $-1, R13
	MOVD R13, 1280(R0)
	MOVD 96(R0), R13
	MOVD R13, 128(R0)
	MOVD R13, 512(R0)
	MOVD 88(R0), R13
	MOVD R13, 896(R0)
	MOVD 64(R0), R13
	SUB $1, R13, R13
	MOVD R13, 64(R0)
	CBZ R13, dry
lane0done:

	// Lane 1: store its count, take the next pixel or go idle.
	CBZ R21, lane1done
	MOVD 1288(R0), R5
	MOVD 56(R0), R6
	MOVD 904(R0), R7
	SUB R7, R6, R6
	MOVD 0(R0), R8
	ADD R5<<2, R8, R8
	MOVW R6, (R8)
	MOVD 24(R0), R10
	MOVD 16(R0), R11
	CMP R11, R10
	BGE lane1idle
	MOVD 104(R0), R14
	ADD R10, R14, R14
	MOVD R14, 1288(R0)
	MOVD 8(R0), R12
	ADD R10<<3, R12, R12
	MOVD (R12), R13
	MOVD R13, 136(R0)
	MOVD 32(R0), R13
	MOVD R13, 520(R0)
	MOVD 56(R0), R13
	MOVD R13, 904(R0)
	ADD $1, R10, R10
	MOVD R10, 24(R0)
	B lane1done
lane1idle:
	MOVD $-1, R13
	MOVD R13, 1288(R0)
	MOVD 96(R0), R13
	MOVD R13, 136(R0)
	MOVD R13, 520(R0)
	MOVD 88(R0), R13
	MOVD R13, 904(R0)
	MOVD 64(R0), R13
	SUB $1, R13, R13
	MOVD R13, 64(R0)
	CBZ R13, dry
lane1done:

	// Lane 2: store its count, take the next pixel or go idle.
	CBZ R22, lane2done
	MOVD 1296(R0), R5
	MOVD 56(R0), R6
	MOVD 912(R0), R7
	SUB R7, R6, R6
	MOVD 0(R0), R8
	ADD R5<<2, R8, R8
	MOVW R6, (R8)
	MOVD 24(R0), R10
	MOVD 16(R0), R11
	CMP R11, R10
	BGE lane2idle
	MOVD 104(R0), R14
	ADD R10, R14, R14
	MOVD R14, 1296(R0)
	MOVD 8(R0), R12
	ADD R10<<3, R12, R12
	MOVD (R12), R13
	MOVD R13, 144(R0)
	MOVD 32(R0), R13
	MOVD R13, 528(R0)
	MOVD 56(R0), R13
	MOVD R13, 912(R0)
	ADD $1, R10, R10
	MOVD R10, 24(R0)
	B lane2done
lane2idle:
	MOVD $-1, R13
	MOVD R13, 1296(R0)
	MOVD 96(R0), R13
	MOVD R13, 144(R0)
	MOVD R13, 528(R0)
	MOVD 88(R0), R13
	MOVD R13, 912(R0)
	MOVD 64(R0), R13
	SUB $1, R13, R13
	MOVD R13, 64(R0)
	CBZ R13, dry
lane2done:

	// Lane 3: store its count, take the next pixel or go idle.
	CBZ R23, lane3done
	MOVD 1304(R0), R5
	MOVD 56(R0), R6
	MOVD 920(R0), R7
	SUB R7, R6, R6
	MOVD 0(R0), R8
	ADD R5<<2, R8, R8
	MOVW R6, (R8)
	MOVD 24(R0), R10
	MOVD 16(R0), R11
	CMP R11, R10
	BGE lane3idle
	MOVD 104(R0), R14
	ADD R10, R14, R14
	MOVD R14, 1304(R0)
	MOVD 8(R0), R12
	ADD R10<<3, R12, R12
	MOVD (R12), R13
	MOVD R13, 152(R0)
	MOVD 32(R0), R13
	MOVD R13, 536(R0)
	MOVD 56(R0), R13
	MOVD R13, 920(R0)
	ADD $1, R10, R10
	MOVD R10, 24(R0)
	B lane3done
lane3idle:
	MOVD $-1, R13
	MOVD R13, 1304(R0)
	MOVD 96(R0), R13
	MOVD R13, 152(R0)
	MOVD R13, 536(R0)
	MOVD 88(R0), R13
	MOVD R13, 920(R0)
	MOVD 64(R0), R13
	SUB $1, R13, R13
	MOVD R13, 64(R0)
	CBZ R13, dry
lane3done:
	// Back to the loop while the window lasts; dry, back to Go for the
	// next window.
	MOVD 24(R0), R10
	MOVD 16(R0), R11
	CMP R11, R10
	BLT load

dry:
	MOVD $1, R2
	MOVB R2, dry+16(FP)
	RET
