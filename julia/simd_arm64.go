//go:build !purego

package julia

// Every arm64 CPU Go runs on has NEON (Advanced SIMD); Lambda's Graviton
// among them.
func init() {
	kernels = append([]Kernel{{Name: "neon", Lanes: 4, run: simdKernel(4, false, iterNEON)}}, kernels...)
}

// iterNEON iterates its 4 lanes (2 vectors of 2) for at most steps
// iterations, refilling each lane from the window as its pixel finishes; it
// reports whether the window is dry (kernel_arm64.s).
//
//go:noescape
func iterNEON(r *byte, steps int64) (dry bool)
