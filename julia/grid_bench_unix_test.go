//go:build unix

package julia

import (
	"context"
	"flag"
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
// depths 64 to 4096 with the fastest kernel on every core, and prints a
// table of the CPU time per iteration computed (process CPU: user and
// system, every thread; the iterations the kernel ran, so the top half of
// these centred views), its ratio to the standard case's (1024², depth
// 256; the goal is within 1.3× on every cell: cost linear in
// iterations), and the roofline ratio: the CPU per iteration of the
// kernel's own op mix on independent chains that never escape, over the
// cell's (the goal is ≥ 70% on the standard case). On a shared machine
// the figures drift within a run: the cells and the roofline are measured
// in three interleaved rounds, each cell for at least -benchtime of CPU
// after one render untimed, and each figure is the least of its rounds.
// make bench prints the table.
func BenchmarkGrid(b *testing.B) {
	k := Kernels()[0]
	sizes, depths := []int{256, 1024, 4096}, []int{64, 256, 1024, 4096}
	type cell struct {
		p     Params
		iters int64   // computed per render
		ns    float64 // least CPU per iteration
	}
	var cells []*cell
	var standardCell *cell
	for _, size := range sizes {
		for _, depth := range depths {
			p := standard
			p.Width, p.Height, p.Depth = size, size, depth
			c, _, err := Compute(context.Background(), p, Options{})
			if err != nil {
				b.Fatal(err)
			}
			cells = append(cells, &cell{p: p, iters: computed(c, p)})
			c.Release()
			if size == 1024 && depth == 256 {
				standardCell = cells[len(cells)-1]
			}
		}
	}
	least := func(old, v float64) float64 {
		if old == 0 || v < old {
			return v
		}
		return old
	}
	budget := benchtime(b)
	roof := 0.0
	// Once, whatever b.N: the run takes seconds, so the framework asks
	// for no more.
	for range 3 {
		if k.roofline != nil {
			roof = least(roof, rooflineCPU(b, k))
		}
		for _, c := range cells {
			// One render untimed first, so the counts' buffer is the
			// pool's, as for every render after the first of its size: the
			// first touches its pages (16,384 page faults for 4096², which
			// cost more than the render's compute on this virtual machine).
			counts, _, err := Compute(context.Background(), c.p, Options{})
			if err != nil {
				b.Fatal(err)
			}
			counts.Release()
			start, runs := cpuTime(), 0
			for runs == 0 || cpuTime()-start < budget {
				counts, _, err := Compute(context.Background(), c.p, Options{})
				if err != nil {
					b.Fatal(err)
				}
				counts.Release()
				runs++
			}
			c.ns = least(c.ns, float64(cpuTime()-start)/float64(runs)/float64(c.iters))
		}
	}

	w := os.Stdout
	fmt.Fprintf(w, "\nkernel %s, %d cores: CPU per iteration computed (ns), × the standard case's", k.Name, runtime.GOMAXPROCS(0))
	if roof > 0 {
		fmt.Fprintf(w, ", %% of the roofline (%.4f ns)", roof)
	}
	fmt.Fprintf(w, "\n%-8s", "")
	for _, d := range depths {
		fmt.Fprintf(w, " %24s", fmt.Sprintf("depth %d", d))
	}
	fmt.Fprintln(w)
	worst := 0.0
	for i, c := range cells {
		if i%len(depths) == 0 {
			fmt.Fprintf(w, "%-8s", fmt.Sprintf("%d²", c.p.Width))
		}
		ratio := c.ns / standardCell.ns
		worst = max(worst, ratio)
		s := fmt.Sprintf("%.4f ×%.2f", c.ns, ratio)
		if roof > 0 {
			s += fmt.Sprintf(" %3.0f%%", 100*roof/c.ns)
		}
		fmt.Fprintf(w, " %24s", s)
		if i%len(depths) == len(depths)-1 {
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintln(w)
	b.ReportMetric(standardCell.ns, "standard-cpu-ns/iter")
	b.ReportMetric(worst, "worst-×standard")
	if roof > 0 {
		b.ReportMetric(100*roof/standardCell.ns, "standard-%roofline")
	}
}

// benchtime is -test.benchtime as a duration (100 ms if it is a count).
func benchtime(b *testing.B) time.Duration {
	if f := flag.Lookup("test.benchtime"); f != nil {
		if d, err := time.ParseDuration(f.Value.String()); err == nil {
			return d
		}
	}
	return 100 * time.Millisecond
}
