package main

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
			var u usageError
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

func TestServeBadFlagsNameTheFlag(t *testing.T) {
	cases := map[string][]string{
		"--owner-bytes": {"serve", "--owner-bytes", "1000"},
		"--total-bytes": {"serve", "--owner-bytes", "4194304", "--total-bytes", "2097152"},
		"--cache-bytes": {"serve", "--cache-bytes", "1"},
		"--max-conns":   {"serve", "--max-conns", "-1"},
	}
	for flag, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			data := t.TempDir()
			err := run(context.Background(), append(args, "--data", data, "--addr", "127.0.0.1:0"), os.Getenv, new(bytes.Buffer), new(bytes.Buffer))
			var u usageError
			if !errors.As(err, &u) || !strings.Contains(err.Error(), flag) {
				t.Fatalf("got %v, want a usage error naming %s", err, flag)
			}
			if entries, _ := os.ReadDir(data); len(entries) != 0 {
				t.Errorf("a bad command wrote into the data folder: %v", entries)
			}
		})
	}
}

// Webhook endpoints are the operator's: each must be an http(s) URL, and
// they need the secret their deliveries are signed with.
func TestServeWebhookFlagsNameWhatIsWrong(t *testing.T) {
	for _, c := range []struct {
		args   []string
		secret string
		want   string
	}{
		{[]string{"--webhook-url", "ftp://backend.example/hooks"}, "", "-webhook-url: want an http or https URL"},
		{[]string{"--webhook-url", "https://backend.example/hooks"}, "", "LONGRUN_WEBHOOK_SECRET"},
		{[]string{"--webhook-url", "https://backend.example/hooks"}, "whsec_c2hvcnQ=", "LONGRUN_WEBHOOK_SECRET: a webhook secret is 24 to 64 bytes"},
	} {
		data := t.TempDir()
		getenv := func(k string) string {
			if k == "LONGRUN_WEBHOOK_SECRET" {
				return c.secret
			}
			return ""
		}
		err := run(context.Background(), append(append([]string{"serve"}, c.args...), "--data", data, "--addr", "127.0.0.1:0"), getenv, new(bytes.Buffer), new(bytes.Buffer))
		var u usageError
		if !errors.As(err, &u) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v with secret %q: got %v, want a usage error naming %s", c.args, c.secret, err, c.want)
		}
		if entries, _ := os.ReadDir(data); len(entries) != 0 {
			t.Errorf("a bad command wrote into the data folder: %v", entries)
		}
	}
}
