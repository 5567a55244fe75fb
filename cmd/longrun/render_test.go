package main

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/longrun/longrun/internal/cli"
)

func TestRenderWritesPNGAndCounts(t *testing.T) {
	dir := t.TempDir()
	out, counts := filepath.Join(dir, "j.png"), filepath.Join(dir, "j.pgm")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"render", "--c=-0.7+0.27015i", "--size", "1024x1024", "--depth", "256",
		"--zoom", "1", "--center", "0+0i", "--colormap", "nipy_spectral", "-o", out, "--counts", counts},
		os.Getenv, &stdout, &stderr)
	if err != nil {
		t.Fatalf("render: %v (stderr %q)", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "74845424 iterations") {
		t.Errorf("stdout %q does not report the 74845424 iterations", stdout.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil || cfg.Width != 1024 || cfg.Height != 1024 {
		t.Fatalf("PNG config %+v, %v; want 1024×1024", cfg, err)
	}
	pgm, err := os.ReadFile(counts)
	if err != nil {
		t.Fatal(err)
	}
	if want := len("P5\n1024 1024\n256\n") + 2*1024*1024; len(pgm) != want {
		t.Errorf("PGM is %d bytes, want %d", len(pgm), want)
	}
}

func TestRenderBadFlagsNameTheFlag(t *testing.T) {
	cases := map[string][]string{
		"-c":         {"render", "--c=abc"},
		"--c":        {"render", "--depth", "10"},
		"-depth":     {"render", "--c=0.3", "--depth", "ten"},
		"--depth":    {"render", "--c=0.3", "--depth", "0"},
		"--zoom":     {"render", "--c=0.3", "--zoom", "-2"},
		"-size":      {"render", "--c=0.3", "--size", "big"},
		"--size":     {"render", "--c=0.3", "--size", "0x10"},
		"--colormap": {"render", "--c=0.3", "--colormap", "jet"},
		"-bogus":     {"render", "--c=0.3", "--bogus"},
		"--counts":   {"render", "--c=0.3", "--size", "16x16", "--depth", "70000", "--counts", "deep.pgm"},
	}
	for flag, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "x.png")
			err := run(context.Background(), append(args, "-o", out), os.Getenv, new(bytes.Buffer), new(bytes.Buffer))
			var u cli.UsageError
			if !errors.As(err, &u) {
				t.Fatalf("got %v, want a usage error (exit status 2)", err)
			}
			if msg := err.Error(); !strings.Contains(msg, flag) || strings.Contains(msg, "\n") {
				t.Errorf("message %q should be one line naming %s", msg, flag)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("a bad command wrote %s", out)
			}
		})
	}
}

// longrun serve becomes the longrun-serve beside it; without one it says
// what to build, with exit status 1.
func TestServeWithoutTheServerSaysWhatToBuild(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("exec(2)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "longrun")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0")
	cmd.Env = []string{"PATH=" + dir}
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "longrun-serve") || !strings.Contains(string(out), "make build") {
		t.Fatalf("longrun serve with no longrun-serve: %v\n%s", err, out)
	}
	// Beside it, a stand-in server gets the arguments and the exit status.
	stub := filepath.Join(dir, "longrun-serve")
	if err := os.WriteFile(stub, []byte("#!/bin/sh\necho \"serving $*\"\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(bin, "serve", "--addr", "127.0.0.1:0")
	out, _ = cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 3 || strings.TrimSpace(string(out)) != "serving --addr 127.0.0.1:0" {
		t.Fatalf("longrun serve ran %q, status %d; want the server beside it with the arguments, status 3", out, cmd.ProcessState.ExitCode())
	}
}
