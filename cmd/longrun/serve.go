//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// serveCommand is the server's own command, built beside longrun.
const serveCommand = "longrun-serve"

// runServe becomes longrun-serve with the same arguments, environment,
// standard streams and process: the one beside this executable, or else
// the one on PATH. Signals, the exit status and the process id are then
// the server's own.
func runServe(args []string) error {
	path := ""
	if self, err := os.Executable(); err == nil {
		if p := filepath.Join(filepath.Dir(self), serveCommand); isFile(p) {
			path = p
		}
	}
	if path == "" {
		p, err := exec.LookPath(serveCommand)
		if err != nil {
			return errors.New("serve runs " + serveCommand + ", which is neither beside this command nor on PATH: make build builds both into bin/ (or: go build -o bin/ ./cmd/longrun ./cmd/longrun-serve)")
		}
		path = p
	}
	err := syscall.Exec(path, append([]string{path}, args...), os.Environ())
	return fmt.Errorf("serve: start %s: %w", path, err)
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
