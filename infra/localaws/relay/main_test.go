package main

import (
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The relay pipes a port on the address it is given to the same port on
// 127.0.0.1, and refuses to listen on every interface.
func TestItRelaysOneAddressAndNeverEvery(t *testing.T) {
	if err := run(context.Background(), []string{"--on", "0.0.0.0", "4566"}, io.Discard); err == nil || !strings.Contains(err.Error(), "every interface") {
		t.Errorf("--on 0.0.0.0: %v, want refused", err)
	}
	if err := run(context.Background(), []string{"--on", "127.0.0.2", "99999"}, io.Discard); err == nil {
		t.Errorf("port 99999 accepted")
	}
	// A server on 127.0.0.1, relayed from 127.0.0.2 (a loopback address
	// other than the server's, as the Docker bridge's is).
	server, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	go func() {
		for {
			c, err := server.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	port := strconv.Itoa(server.Addr().(*net.TCPAddr).Port)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"--on", "127.0.0.2", port}, io.Discard) }()
	var c net.Conn
	for deadline := time.Now().Add(5 * time.Second); ; {
		if c, err = net.Dial("tcp", "127.0.0.2:"+port); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("the relay does not listen: %v", err)
	}
	c.Write([]byte("ping"))
	c.(*net.TCPConn).CloseWrite()
	got, _ := io.ReadAll(c)
	c.Close()
	if string(got) != "ping" {
		t.Errorf("through the relay: got %q, want the server's echo", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("the relay stopped with %v", err)
	}
}
