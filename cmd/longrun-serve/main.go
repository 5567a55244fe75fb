// Command longrun-serve runs the longrun system locally: the API, the
// workers, the notifier and the page over SQLite, a folder of images, a
// dev mailbox and an in-process WebSocket hub. longrun serve runs it.
//
//	longrun-serve [--addr 127.0.0.1:8080] [--data ./data]
package main

import "github.com/longrun/longrun/internal/cli"

func main() { cli.Main("longrun", runServe) }
