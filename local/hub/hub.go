// Package hub pushes messages to browsers over WebSockets, in process: each
// connection belongs to one owner and receives only that owner's messages.
package hub

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/longrun/longrun/notify"
)

// A Hub holds the open connections.
type Hub struct {
	Logger *slog.Logger
	mu     sync.Mutex
	conns  map[string]map[*conn]struct{} // by owner
}

// Hub implements this port.
var _ notify.Pusher = (*Hub)(nil)

type conn struct {
	send chan []byte
}

// New returns an empty hub.
func New(logger *slog.Logger) *Hub {
	return &Hub{Logger: logger, conns: map[string]map[*conn]struct{}{}}
}

// Push sends msg to every connection of owner. A connection too slow to
// keep up is closed; its page reloads its state when it reconnects.
func (h *Hub) Push(ctx context.Context, owner string, msg []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.conns[owner] {
		select {
		case c.send <- msg:
		default:
			delete(h.conns[owner], c)
			close(c.send)
		}
	}
	return nil
}

// Connections returns the number of open connections.
func (h *Hub) Connections() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, cs := range h.conns {
		n += len(cs)
	}
	return n
}

// Serve upgrades the request to a WebSocket for owner and pushes to it until
// either side closes. Messages from the browser are read and ignored.
func (h *Hub) Serve(w http.ResponseWriter, r *http.Request, owner string) {
	// Registered before the handshake completes, so nothing pushed after the
	// browser sees the connection open is missed: it waits in send.
	c := &conn{send: make(chan []byte, 64)}
	h.mu.Lock()
	if h.conns[owner] == nil {
		h.conns[owner] = map[*conn]struct{}{}
	}
	h.conns[owner][c] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		if _, ok := h.conns[owner][c]; ok {
			delete(h.conns[owner], c)
			close(c.send)
		}
		if len(h.conns[owner]) == 0 {
			delete(h.conns, owner)
		}
		h.mu.Unlock()
	}()
	ws, err := websocket.Accept(w, r, nil) // same origin only
	if err != nil {
		return
	}
	// Read and ignore what the browser sends (it cannot choose what it
	// receives); the read loop also handles pings and the close handshake.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	ws.SetReadLimit(4096)
	go func() {
		defer cancel()
		for {
			if _, _, err := ws.Read(ctx); err != nil {
				return
			}
		}
	}()
	ping := time.NewTicker(30 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			ws.Close(websocket.StatusNormalClosure, "")
			return
		case msg, ok := <-c.send:
			if !ok {
				ws.Close(websocket.StatusPolicyViolation, "too slow")
				return
			}
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := ws.Write(wctx, websocket.MessageText, msg)
			cancel()
			if err != nil {
				return
			}
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := ws.Ping(pctx)
			cancel()
			if err != nil {
				return
			}
		}
	}
}
