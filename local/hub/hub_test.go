package hub_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/longrun/longrun/local/hub"
	"github.com/longrun/longrun/porttest"
)

func TestPusherConformance(t *testing.T) {
	porttest.TestPusher(t, func(t *testing.T) (porttest.Pusher, func(string) func() [][]byte) {
		h := hub.New(nil)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.Serve(w, r, r.URL.Query().Get("owner"))
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
