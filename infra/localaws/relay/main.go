// Command relay makes the local AWS servers, which listen on 127.0.0.1
// only, reachable from containers on the Docker bridge (sam local's function
// containers): for each port, it listens on the bridge's address (never on
// every interface) and pipes each connection to the same port on 127.0.0.1.
//
//	relay --on 172.17.0.1 8000 4566 8005 4569
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "relay:", err)
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	on := fs.String("on", "", "the address to listen on (the Docker bridge's, such as 172.17.0.1); not 0.0.0.0")
	to := fs.String("to", "127.0.0.1", "the address the servers listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ip := net.ParseIP(*on)
	switch {
	case ip == nil:
		return fmt.Errorf("--on %q: want an IP address", *on)
	case ip.IsUnspecified():
		return fmt.Errorf("--on %s: every interface is what the relay avoids; give the bridge's address", *on)
	case fs.NArg() == 0:
		return errors.New("no ports to relay")
	}
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for _, p := range fs.Args() {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %q: want 1-65535", p)
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(*on, p))
		if err != nil {
			return err
		}
		lns = append(lns, ln)
	}
	var wg sync.WaitGroup
	for _, ln := range lns {
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		target := net.JoinHostPort(*to, port)
		fmt.Fprintf(stdout, "relay %s → %s\n", ln.Addr(), target)
		wg.Go(func() { serve(ln, target) })
	}
	<-ctx.Done()
	for _, ln := range lns {
		ln.Close()
	}
	lns = nil
	wg.Wait()
	return nil
}

// serve pipes every connection the listener accepts to target.
func serve(ln net.Listener, target string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			s, err := net.Dial("tcp", target)
			if err != nil {
				log.Printf("relay %s: %v", target, err)
				return
			}
			defer s.Close()
			done := make(chan struct{}, 2)
			go func() { io.Copy(s, c); s.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
			go func() { io.Copy(c, s); c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
			<-done
			<-done
		}()
	}
}
