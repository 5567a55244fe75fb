//go:build !purego

package julia

import "golang.org/x/sys/cpu"

func init() {
	if cpu.X86.HasAVX2 {
		kernels = append([]Kernel{{Name: "avx2", Lanes: 12, run: simdKernel(12, true, iterAVX2)}}, kernels...)
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512BW && cpu.X86.HasBMI2 && cpu.X86.HasPOPCNT {
		kernels = append([]Kernel{{Name: "avx512", Lanes: 32, run: simdKernel(32, true, iterAVX512)}}, kernels...)
	}
}
