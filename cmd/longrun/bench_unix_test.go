//go:build unix

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/longrun/longrun/julia"
)

// BenchmarkRenderCommand is the whole command a user runs, as a process:
// the built longrun rendering the standard case (1024², c =
// −0.7+0.27015i, depth 256) to a PNG, start to exit. It reports the
// command's breakdown, medians of its runs: its CPU time (user and
// system), the wall time of its compute and of its colouring and encoding
// (as it prints them), when its last package init ended (GODEBUG
// inittrace: what runs before the first pixel), and the ratio of its CPU
// to the CPU of the same compute in this process (the goal: within 3×).
// make bench prints it.
func BenchmarkRenderCommand(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "longrun")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	png := filepath.Join(dir, "julia.png")
	args := []string{"render", "--c=-0.7+0.27015i", "--size", "1024x1024", "--depth", "256", "-o", png}
	printed := regexp.MustCompile(`in ([0-9.]+) ms .*PNG in ([0-9.]+) ms`)
	var runs, cpus, computes, encodes []time.Duration
	for b.Loop() {
		start := time.Now()
		cmd := exec.Command(bin, args...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("longrun render: %v\n%s", err, out)
		}
		runs = append(runs, time.Since(start))
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		cpus = append(cpus, time.Duration(ru.Utime.Nano()+ru.Stime.Nano()))
		if m := printed.FindStringSubmatch(string(out)); m != nil {
			computes, encodes = append(computes, msDuration(m[1])), append(encodes, msDuration(m[2]))
		}
	}
	b.StopTimer()
	if _, err := os.Stat(png); err != nil {
		b.Fatal(err)
	}
	// The same compute, in this process, on every core: its CPU.
	p := julia.Params{C: complex(-0.7, 0.27015), Zoom: 1, Width: 1024, Height: 1024, Depth: 256, Colormap: julia.DefaultColormap}
	var compute []time.Duration
	for range 20 {
		before := cpuTime()
		c, _, err := julia.Compute(context.Background(), p, julia.Options{})
		if err != nil {
			b.Fatal(err)
		}
		compute = append(compute, cpuTime()-before)
		c.Release()
	}
	// What runs before main: the package inits, and when the last ended.
	trace := exec.Command(bin, args...)
	trace.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, _ := trace.CombinedOutput()
	var inits int
	var lastInit, initClock float64
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 5 && f[0] == "init" {
			inits++
			at, _ := strconv.ParseFloat(strings.TrimPrefix(f[2], "@"), 64)
			clock, _ := strconv.ParseFloat(f[4], 64)
			lastInit, initClock = max(lastInit, at), initClock+clock
		}
	}
	b.ReportMetric(ms(median(runs)), "median-ms/run")
	b.ReportMetric(ms(median(cpus)), "cpu-ms/run")
	b.ReportMetric(ms(median(computes)), "compute-ms")
	b.ReportMetric(ms(median(encodes)), "png-ms")
	b.ReportMetric(ms(median(compute)), "compute-cpu-ms")
	b.ReportMetric(float64(median(cpus))/float64(median(compute)), "cpu/compute-cpu")
	b.ReportMetric(lastInit, "inits-end-ms")
	b.ReportMetric(initClock, "init-ms")
	b.ReportMetric(float64(inits), "inits")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func msDuration(s string) time.Duration {
	v, _ := strconv.ParseFloat(s, 64)
	return time.Duration(v * float64(time.Millisecond))
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
