package hub_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/local/hub"
	"github.com/longrun/longrun/porttest"
)

func TestPusherConformance(t *testing.T) {
	porttest.TestPusher(t, func(t *testing.T) (porttest.Pusher, func(string) func() [][]byte) {
		h := hub.New(nil)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.Serve(w, r, longrun.Caller{Owner: r.URL.Query().Get("owner")})
		}))
		t.Cleanup(srv.Close)
		return h, func(owner string) func() [][]byte {
			before := h.Connections()
			ctx := context.Background()
			c, _, err := websocket.Dial(ctx, strings.Replace(srv.URL, "http", "ws", 1)+"?owner="+owner, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.CloseNow() })
			for h.Connections() == before { // registered after the handshake
				time.Sleep(time.Millisecond)
			}
			return func() [][]byte {
				var got [][]byte
				for {
					rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
					_, data, err := c.Read(rctx)
					cancel()
					if err != nil {
						return got
					}
					got = append(got, data)
				}
			}
		}
	})
}

// One client address cannot hold every connection by making up owners: past
// MaxPerClient its connects get 429, whatever owner each names, while
// another address still connects.
func TestAClientCannotHoldEveryConnection(t *testing.T) {
	h := hub.New(nil)
	h.MaxPerClient = 3
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.Serve(w, r, longrun.Caller{Owner: r.URL.Query().Get("owner"), Addr: r.URL.Query().Get("addr")})
	}))
	defer srv.Close()
	ctx := context.Background()
	dial := func(owner, addr string) (*websocket.Conn, int) {
		c, res, err := websocket.Dial(ctx, strings.Replace(srv.URL, "http", "ws", 1)+"?owner="+owner+"&addr="+addr, nil)
		if err != nil {
			return nil, res.StatusCode
		}
		t.Cleanup(func() { c.CloseNow() })
		return c, 101
	}
	for i := range 3 {
		if _, status := dial(longrun.NewID(), "10.0.0.1"); status != 101 {
			t.Fatalf("connection %d of the address: %d", i+1, status)
		}
	}
	if _, status := dial(longrun.NewID(), "10.0.0.1"); status != http.StatusTooManyRequests {
		t.Errorf("a fourth connection from the address, as a new owner: %d, want 429", status)
	}
	if _, status := dial(longrun.NewID(), "10.0.0.2"); status != 101 {
		t.Errorf("another address: %d, want connected", status)
	}
	// A closed connection frees its place.
	c, _ := dial(longrun.NewID(), "10.0.0.3")
	c.Close(websocket.StatusNormalClosure, "")
	for h.Connections() != 4 {
		time.Sleep(time.Millisecond)
	}
	for range 3 {
		if _, status := dial(longrun.NewID(), "10.0.0.3"); status != 101 {
			t.Errorf("after a close, the address's connections: %d, want connected", status)
		}
	}
}
