package local_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/longrun/longrun/internal/testutil"
	"github.com/longrun/longrun/notify"
	"github.com/longrun/longrun/web"
)

// A page's pushes are numbered; one that was away asks for what it missed
// after the last it applied and gets exactly that, in order; one too far
// behind is told to load afresh.
func TestAPageThatWasAwayGetsWhatItMissed(t *testing.T) {
	_, url := start(t, newRenderer())
	c := testutil.NewClient(t, url)
	var list struct{ Seq *int64 }
	c.Do("GET", "/api/configurations", nil).JSON(t, &list)
	if list.Seq == nil || *list.Seq != 0 {
		t.Fatalf("a new owner's list: seq %v, want 0", list.Seq)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws := c.Live(ctx)
	v := c.Create(map[string]any{"name": "first", "params": small(-0.2, 0.6)})
	var last int64
	for !seenDone(ws, ctx, t, &last) {
	}
	ws.CloseNow() // the laptop's lid closes
	for _, name := range []string{"two", "three", "four"} {
		cur := c.Get(v.ID)
		if res := c.Do("PUT", "/api/configurations/"+v.ID, map[string]any{"name": name, "params": cur.Params}, "If-Match", cur.ETag); res.Status != 200 {
			t.Fatalf("rename: %d %s", res.Status, res.Body)
		}
	}
	var got web.Updates
	deadline := time.Now().Add(10 * time.Second)
	for len(got.Updates) < 3 && time.Now().Before(deadline) {
		c.Do("GET", "/api/updates?since="+itoa(last), nil).JSON(t, &got)
	}
	if got.Snapshot || len(got.Updates) != 3 {
		t.Fatalf("after %d: %+v, want the three renames", last, got)
	}
	for i, raw := range got.Updates {
		var m notify.Message
		json.Unmarshal(raw, &m)
		if m.Seq != last+1+int64(i) || m.Configuration == nil || m.Configuration.Name != []string{"two", "three", "four"}[i] {
			t.Errorf("update %d: seq %d, %+v", i, m.Seq, m.Configuration)
		}
	}
	if got.Seq != last+3 {
		t.Errorf("seq %d, want %d", got.Seq, last+3)
	}
	// A number the owner never had: load afresh.
	var far web.Updates
	c.Do("GET", "/api/updates?since=1000", nil).JSON(t, &far)
	if !far.Snapshot || far.Seq != last+3 {
		t.Errorf("far ahead: %+v, want a snapshot at %d", far, last+3)
	}
}

// seenDone reads one push, keeps its number, and says whether it showed
// the configuration done.
func seenDone(ws *websocket.Conn, ctx context.Context, t *testing.T, last *int64) bool {
	t.Helper()
	_, data, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	var m notify.Message
	json.Unmarshal(data, &m)
	if m.Seq <= *last {
		t.Fatalf("push numbered %d after %d", m.Seq, *last)
	}
	*last = m.Seq
	return m.Configuration != nil && m.Configuration.Status == "done"
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
