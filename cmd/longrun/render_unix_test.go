//go:build unix

package main

import (
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
)

// A poster of 16384² renders in bounded memory: its counts go through a
// file in strips, and its PNG is written band by band (the process's peak
// resident memory under 200 MiB, where whole counts alone take 1 GiB).
func TestRenderPosterInBoundedMemory(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("peak resident memory is read in KiB, as Linux's rusage gives it")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "longrun")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out := filepath.Join(dir, "poster.png")
	cmd := exec.Command(bin, "render", "--c=-0.7+0.27015i", "--size", "16384x16384", "--depth", "40", "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("longrun render: %v\n%s", err, b)
	}
	peak := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10 // KiB on Linux
	t.Logf("16384² at depth 40: peak resident memory %d MiB", peak>>20)
	if peak > 200<<20 {
		t.Errorf("peak resident memory %d MiB, want under 200 MiB", peak>>20)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil || cfg.Width != 16384 || cfg.Height != 16384 {
		t.Fatalf("the poster is %+v (%v), want a 16384×16384 PNG", cfg, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("the folder holds %d entries, want the command and the PNG (the counts' file removed)", len(entries))
	}
}
