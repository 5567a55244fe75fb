package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// BenchmarkRenderCommand is the whole command a user runs, as a process:
// the built longrun rendering the standard case (1024², c =
// −0.7+0.27015i, depth 256) to a PNG, start to exit. make bench prints it.
func BenchmarkRenderCommand(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "longrun")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	png := filepath.Join(dir, "julia.png")
	var runs []time.Duration
	for b.Loop() {
		start := time.Now()
		cmd := exec.Command(bin, "render", "--c=-0.7+0.27015i", "--size", "1024x1024", "--depth", "256", "-o", png)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("longrun render: %v\n%s", err, out)
		}
		runs = append(runs, time.Since(start))
	}
	if _, err := os.Stat(png); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(median(runs).Microseconds())/1000, "median-ms/run")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
