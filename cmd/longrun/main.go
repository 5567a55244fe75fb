// Command longrun runs the longrun system locally and renders Julia sets.
//
//	longrun serve  [--addr 127.0.0.1:8080] [--data ./data]
//	longrun render --c=-0.7+0.27015i [--size 1024x1024] [--depth 256] [-o julia.png]
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "longrun:", err)
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// A usageError is a bad command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

const usage = `usage:
  longrun serve  [--addr 127.0.0.1:8080] [--data ./data]   run the local system
  longrun render --c=RE+IMi [flags] -o FILE.png            render one Julia set
run 'longrun COMMAND -h' for a command's flags`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return usagef("no command given")
	}
	switch args[0] {
	case "render":
		return runRender(ctx, args[1:], stdout, stderr)
	case "serve":
		return runServe(ctx, args[1:], getenv, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return usagef("unknown command %q", args[0])
}
