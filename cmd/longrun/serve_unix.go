//go:build unix

package main

import (
	"fmt"
	"os"
	"syscall"
)

// runServe becomes longrun-serve with the same arguments, environment,
// standard streams and process: signals, the exit status and the process
// id are then the server's own.
func runServe(args []string) error {
	path, err := serverPath()
	if err != nil {
		return err
	}
	err = syscall.Exec(path, append([]string{path}, args...), os.Environ())
	return fmt.Errorf("serve: start %s: %w", path, err)
}
