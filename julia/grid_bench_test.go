package julia

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time the process has used, user and system, on
// every thread: the figure a shared machine does not blur as it does the
// wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// computed is the iterations a render of p actually runs: the sum of its
// counts, but of the top half only in a symmetric view (the bottom half is
// copied).
func computed(c *Counts, p Params) int64 {
	if p.Center != 0 {
		return c.Sum()
	}
	return sum(c.Pix[:c.Width*((c.Height+1)/2)])
}

// rooflineCPU is the CPU time per pixel-iteration of kernel k's roofline
// loop, run on every core at once as a render runs.
func rooflineCPU(b *testing.B, k Kernel) float64 {
	k.roofline(1) // warm up
	procs := runtime.GOMAXPROCS(0)
	var best float64
	for range 3 {
		start := cpuTime()
		var wg sync.WaitGroup
		var iters [64]int64
		for i := range procs {
			wg.Go(func() { iters[i] = k.roofline(20_000) })
		}
		wg.Wait()
		var n int64
		for _, v := range iters {
			n += v
		}
		if ns := float64(cpuTime()-start) / float64(n); best == 0 || ns < best {
			best = ns
		}
	}
	return best
}

// BenchmarkGrid renders c = −0.7+0.27015i at 256², 1024² and 4096² and
// depths 64 to 4096 with the fastest kernel on every core, and reports the
// CPU time per iteration computed (process CPU: user and system, every
// thread; the iterations the kernel ran, so the top half of these centred
// views), its ratio to the standard case's (1024², depth 256; the goal is
// within 1.3× on every cell: cost linear in iterations), and the roofline
// ratio: the CPU per iteration of the kernel's own op mix on independent
// chains that never escape, measured in the same run, over the cell's (the
// goal is ≥ 70% on the standard case). make bench prints the table.
func BenchmarkGrid(b *testing.B) {
	k := Kernels()[0]
	roof := 0.0
	if k.roofline != nil {
		roof = rooflineCPU(b, k)
	}
	type cell struct {
		size, depth int
		ns          float64 // CPU per iteration
		iters       int64
	}
	cells := []cell{{size: 1024, depth: 256}} // the standard case first: the others' yardstick
	for _, size := range []int{256, 1024, 4096} {
		for _, depth := range []int{64, 256, 1024, 4096} {
			if size != 1024 || depth != 256 {
				cells = append(cells, cell{size: size, depth: depth})
			}
		}
	}
	for i := range cells {
		c := &cells[i]
		p := standard
		p.Width, p.Height, p.Depth = c.size, c.size, c.depth
		b.Run(fmt.Sprintf("%d²/depth=%d", c.size, c.depth), func(b *testing.B) {
			counts, _, err := Compute(context.Background(), p, Options{})
			if err != nil {
				b.Fatal(err)
			}
			c.iters = computed(counts, p)
			counts.Release()
			start := cpuTime()
			for b.Loop() {
				counts, _, err := Compute(context.Background(), p, Options{})
				if err != nil {
					b.Fatal(err)
				}
				counts.Release()
			}
			c.ns = float64(cpuTime()-start) / float64(b.N) / float64(c.iters)
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N)/1e6, "cpu-ms/op")
			b.ReportMetric(c.ns, "cpu-ns/iter")
			b.ReportMetric(c.ns/cells[0].ns, "×standard")
			if roof > 0 {
				b.ReportMetric(100*roof/c.ns, "%roofline")
			}
		})
	}
	// The table, once, in the grid's order.
	w := os.Stdout
	fmt.Fprintf(w, "\nkernel %s, %d cores: CPU per iteration computed (ns), × the standard case's", k.Name, runtime.GOMAXPROCS(0))
	if roof > 0 {
		fmt.Fprintf(w, ", %% of the roofline (%.4f ns)", roof)
	}
	fmt.Fprintf(w, "\n%-8s", "")
	for _, d := range []int{64, 256, 1024, 4096} {
		fmt.Fprintf(w, " %24s", fmt.Sprintf("depth %d", d))
	}
	fmt.Fprintln(w)
	for _, size := range []int{256, 1024, 4096} {
		fmt.Fprintf(w, "%-8s", fmt.Sprintf("%d²", size))
		for _, d := range []int{64, 256, 1024, 4096} {
			for _, c := range cells {
				if c.size == size && c.depth == d {
					s := fmt.Sprintf("%.4f ×%.2f", c.ns, c.ns/cells[0].ns)
					if roof > 0 {
						s += fmt.Sprintf(" %3.0f%%", 100*roof/c.ns)
					}
					fmt.Fprintf(w, " %24s", s)
				}
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
}
