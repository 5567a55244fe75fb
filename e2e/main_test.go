// Package e2e drives the built longrun command as users and operators do:
// over HTTP and WebSocket, through SIGKILL and restart, and in Chromium.
package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

var binary string

// opsToken is the operator token of the servers tests start.
const opsToken = "e2e-operator-token"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "longrun-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "longrun")
	if runtime.GOOS == "windows" {
		binary += ".exe"
	}
	// longrun serve runs longrun-serve, built beside it.
	build := exec.Command("go", "build", "-o", dir+string(os.PathSeparator), "../cmd/longrun", "../cmd/longrun-serve")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build longrun:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// A server is a running `longrun serve` process.
type server struct {
	URL  string
	cmd  *exec.Cmd
	done chan error
	log  *strings.Builder
	out  *lockedWriter // what it printed to stdout
}

var urlLine = regexp.MustCompile(`running at (http://\S+)`)

// serve starts `longrun serve` on a free port over the data folder.
func serve(t *testing.T, data string, args ...string) *server {
	t.Helper()
	return serveWith(t, data, nil, args...)
}

// serveWith is serve with more environment variables.
func serveWith(t *testing.T, data string, env []string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data}, args...)...)
	cmd.Env = append(append(os.Environ(), "LONGRUN_SESSION_KEY=e2e-session-key-that-is-long-enough-to-use", "LONGRUN_OPS_TOKEN="+opsToken), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, done: make(chan error, 1), log: &strings.Builder{}, out: &lockedWriter{b: &strings.Builder{}}}
	cmd.Stderr = &lockedWriter{b: s.log}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- cmd.Wait() }()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			s.out.Write(append(sc.Bytes(), '\n'))
			if m := urlLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- strings.TrimSuffix(m[1], "/")
			}
		}
	}()
	select {
	case s.URL = <-found:
	case err := <-s.done:
		t.Fatalf("longrun serve exited: %v\n%s", err, s.log)
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("longrun serve printed no URL\n%s", s.log)
	}
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop ends the server with SIGTERM, as Ctrl-C would.
func (s *server) stop(t *testing.T) {
	if s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		t.Errorf("longrun serve did not stop on SIGTERM")
	}
}

// kill ends the server with SIGKILL: no chance to clean up.
func (s *server) kill(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.done
}
