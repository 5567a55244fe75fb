// Package hub pushes messages to browsers over WebSockets, in process: each
// connection belongs to one owner and receives only that owner's messages.
package hub

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/notify"
	"github.com/longrun/longrun/web"
)

// A Hub holds the open connections.
type Hub struct {
	Logger *slog.Logger
	// MaxPerOwner, MaxPerClient and MaxTotal cap the open connections of
	// one owner, of one client address (whatever owners it makes up), and
	// of everyone; 0 means 8, 32 and 2,000. Over a cap a connect gets 429.
	MaxPerOwner, MaxPerClient, MaxTotal int
	mu                                  sync.Mutex
	conns                               map[string]map[*conn]struct{} // by owner
	clients                             map[string]int                // open connections by client address
	total                               int
}

// Hub implements this port.
var _ notify.Pusher = (*Hub)(nil)

type conn struct {
	send chan []byte
}

// New returns an empty hub.
func New(logger *slog.Logger) *Hub {
	return &Hub{Logger: logger, conns: map[string]map[*conn]struct{}{}, clients: map[string]int{}}
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

// register adds c to the caller's connections, unless a cap is reached.
func (h *Hub) register(caller longrun.Caller, c *conn) error {
	owner := caller.Owner
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.total >= cmp.Or(h.MaxTotal, 2000) {
		return &longrun.Error{Code: longrun.ETOOMANY, RetryAfter: time.Minute, Message: "too many live connections: the server is full"}
	}
	if caller.Addr != "" && h.clients[caller.Addr] >= cmp.Or(h.MaxPerClient, 32) {
		return &longrun.Error{Code: longrun.ETOOMANY, RetryAfter: time.Minute,
			Message: fmt.Sprintf("at most %d live connections from one address; close some pages", cmp.Or(h.MaxPerClient, 32))}
	}
	if len(h.conns[owner]) >= cmp.Or(h.MaxPerOwner, 8) {
		return &longrun.Error{Code: longrun.ETOOMANY, RetryAfter: 30 * time.Second,
			Message: fmt.Sprintf("at most %d open pages get live updates; close one", cmp.Or(h.MaxPerOwner, 8))}
	}
	if h.conns[owner] == nil {
		h.conns[owner] = map[*conn]struct{}{}
	}
	h.conns[owner][c] = struct{}{}
	h.total++
	if caller.Addr != "" {
		h.clients[caller.Addr]++
	}
	return nil
}

// Serve upgrades the request to a WebSocket for the caller's owner and
// pushes to it until either side closes. Messages from the browser are read
// and ignored.
func (h *Hub) Serve(w http.ResponseWriter, r *http.Request, caller longrun.Caller) {
	// Registered before the handshake completes, so nothing pushed after the
	// browser sees the connection open is missed: it waits in send.
	c := &conn{send: make(chan []byte, 64)}
	if err := h.register(caller, c); err != nil {
		web.WriteError(w, r, h.Logger, err)
		return
	}
	defer h.unregister(caller, c)
	// A WebSocket lives past the server's read and write timeouts.
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Time{})
	rc.SetWriteDeadline(time.Time{})
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
	pump(ctx, ws, c.send)
}

// unregister forgets c, a connection of the caller's.
func (h *Hub) unregister(caller longrun.Caller, c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.total--
	if caller.Addr != "" {
		if h.clients[caller.Addr]--; h.clients[caller.Addr] <= 0 {
			delete(h.clients, caller.Addr)
		}
	}
	owner := caller.Owner
	if _, ok := h.conns[owner][c]; ok {
		delete(h.conns[owner], c)
		close(c.send)
	}
	if len(h.conns[owner]) == 0 {
		delete(h.conns, owner)
	}
}

// pump writes what send brings to ws, and pings it every 30 s, until ctx
// ends, a write or ping fails, or send is closed (the connection was too
// slow to keep up).
func pump(ctx context.Context, ws *websocket.Conn, send <-chan []byte) {
	ping := time.NewTicker(30 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			ws.Close(websocket.StatusNormalClosure, "")
			return
		case msg, ok := <-send:
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
