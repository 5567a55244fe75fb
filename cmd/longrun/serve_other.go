//go:build !unix

package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
)

// runServe runs longrun-serve, the one beside this executable or else the
// one on PATH, with the same arguments and standard streams, and exits
// with its status (there is no exec(2) here to become it).
func runServe(args []string) error {
	path, err := exec.LookPath("longrun-serve")
	if self, e := os.Executable(); e == nil {
		if p := filepath.Join(filepath.Dir(self), "longrun-serve.exe"); fileExists(p) {
			path, err = p, nil
		}
	}
	if err != nil {
		return errors.New("serve runs longrun-serve, which is neither beside this command nor on PATH: go build -o bin/ ./cmd/longrun ./cmd/longrun-serve")
	}
	cmd := exec.Command(path, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			os.Exit(exit.ExitCode())
		}
		return err
	}
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
