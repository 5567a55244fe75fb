//go:build !purego

package julia

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

func init() {
	if cpu.X86.HasAVX2 {
		kernels = append([]Kernel{{Name: "avx2", Lanes: 12, run: simdKernel(12, true, iterAVX2), roofline: func(loops int64) int64 {
			r := lanes{four4: [4]float64{4, 4, 4, 4}}
			return rooflineAVX2((*byte)(unsafe.Pointer(&r)), 25*loops)
		}}}, kernels...)
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512BW && cpu.X86.HasBMI2 && cpu.X86.HasPOPCNT {
		kernels = append([]Kernel{{Name: "avx512", Lanes: 48, run: simdKernel(48, true, iterAVX512), roofline: func(loops int64) int64 {
			return rooflineAVX512(25 * loops)
		}}}, kernels...)
	}
}
