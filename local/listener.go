package local

import (
	"log/slog"
	"net"
	"sync"
)

// A limitListener refuses, at accept, a connection past its client's
// share (MaxPerClient, by the network ClientKey names) or past the
// server's (MaxTotal): idle or slow connections of one client, however
// often it reconnects, cannot take every file descriptor from the others.
// A refused connection is closed at once; its client tries again later.
type limitListener struct {
	net.Listener
	ClientKey              func(addr string) string // nil: every peer is one client
	MaxPerClient, MaxTotal int                      // 0: no limit
	Logger                 *slog.Logger

	mu      sync.Mutex
	total   int
	clients map[string]int
	warned  map[string]bool
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := ""
		if l.ClientKey != nil {
			if host, _, err := net.SplitHostPort(c.RemoteAddr().String()); err == nil {
				key = l.ClientKey(host)
			}
		}
		if l.admit(key) {
			return &limitedConn{Conn: c, release: sync.OnceFunc(func() { l.release(key) })}, nil
		}
		c.Close()
	}
}

func (l *limitListener) admit(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.clients == nil {
		l.clients, l.warned = map[string]int{}, map[string]bool{}
	}
	over := ""
	switch {
	case l.MaxTotal > 0 && l.total >= l.MaxTotal:
		over = "the server's"
	case l.ClientKey != nil && l.MaxPerClient > 0 && l.clients[key] >= l.MaxPerClient:
		over = "its client's"
	}
	if over != "" {
		if !l.warned[key] && l.Logger != nil {
			l.Logger.Warn("connection refused: past "+over+" connection limit", "client", key,
				"clientConnections", l.clients[key], "connections", l.total)
		}
		l.warned[key] = true
		return false
	}
	l.total++
	l.clients[key]++
	return true
}

func (l *limitListener) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.clients[key]--; l.clients[key] <= 0 {
		delete(l.clients, key)
		delete(l.warned, key)
	}
}

// A limitedConn gives its place back when closed.
type limitedConn struct {
	net.Conn
	release func()
}

func (c *limitedConn) Close() error {
	c.release()
	return c.Conn.Close()
}
