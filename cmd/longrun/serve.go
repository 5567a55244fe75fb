package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// serveCommand is the server's own command, built beside longrun.
const serveCommand = "longrun-serve"

// serverPath finds longrun-serve: the one beside this executable, or else
// the one on PATH.
func serverPath() (string, error) {
	name := serveCommand
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	if self, err := os.Executable(); err == nil {
		if p := filepath.Join(filepath.Dir(self), name); isFile(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath(serveCommand); err == nil {
		return p, nil
	}
	return "", errors.New("serve runs " + serveCommand + ", which is neither beside this command nor on PATH: make build builds both into bin/ (or: go build -o bin/ ./cmd/longrun ./cmd/longrun-serve)")
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
