// Command longrun renders Julia sets and runs the longrun system locally.
//
//	longrun render --c=-0.7+0.27015i [--size 1024x1024] [--depth 256] [-o julia.png]
//	longrun serve  [--addr 127.0.0.1:8080] [--data ./data]
//
// The render command links the renderer and nothing else, so that what
// the process does before its first pixel is short (the README lists it);
// serve runs the server, longrun-serve, built beside this command (make
// build builds both).
package main

import (
	"context"
	"fmt"
	"io"

	"github.com/longrun/longrun/internal/cli"
)

func main() { cli.Main("longrun", run) }

var usagef = cli.Usagef

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
		return runServe(args[1:])
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return usagef("unknown command %q", args[0])
}
