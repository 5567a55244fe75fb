//go:build !unix

package main

import (
	"errors"
	"os"
	"os/exec"
)

// runServe runs longrun-serve with the same arguments and standard
// streams, and exits with its status (there is no exec(2) here to become
// it).
func runServe(args []string) error {
	path, err := serverPath()
	if err != nil {
		return err
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
