// Command fakes3 serves an in-memory S3 (github.com/johannesboyne/gofakes3)
// on a loopback port, for make run-aws-local.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:4569", "address to listen on")
	flag.Parse()
	fmt.Printf("fake S3 at http://%s\n", *addr)
	log.Fatal(http.ListenAndServe(*addr, gofakes3.New(s3mem.New()).Server()))
}
