package local_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/longrun/longrun/internal/testutil"
	"github.com/longrun/longrun/local"
	"github.com/longrun/longrun/notify"
	"github.com/longrun/longrun/webhook"
)

// The operator's backend hears of each finished version once, signed, with
// a link that opens the result without the owner's session.
func TestTheBackendHearsOfFinishedVersions(t *testing.T) {
	key := []byte("a-webhook-key-of-32-bytes-012345")
	got := make(chan notify.HookEvent, 10)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if _, err := webhook.Verify(key, r.Header, body, time.Now()); err != nil {
			t.Errorf("a delivery that does not verify: %v", err)
			return
		}
		var ev notify.HookEvent
		json.Unmarshal(body, &ev)
		got <- ev
	}))
	defer backend.Close()
	_, url := start(t, newRenderer(), func(c *local.Config) {
		c.Webhooks = notify.Webhooks{Endpoints: []string{backend.URL + "/longrun"}, Key: key}
	})
	c := testutil.NewClient(t, url)
	v := c.Create(map[string]any{"name": "hooked", "params": small(-0.3, 0.6)})
	c.Await(v.ID, 10*time.Second, "done", testutil.Done)
	var ev notify.HookEvent
	select {
	case ev = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook within 10 s of the render's end")
	}
	if ev.Type != "configuration.done" || ev.Data.Configuration.ID != v.ID || ev.Data.Configuration.Version != 1 {
		t.Fatalf("webhook %+v", ev)
	}
	// The link opens the result for anyone holding it: the backend's own
	// client, which has no session.
	res, err := http.Get(ev.Data.Link)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("the webhook's link %s: %v %v", ev.Data.Link, res, err)
	}
	res.Body.Close()
	select {
	case more := <-got:
		t.Errorf("a second delivery %+v", more)
	default:
	}
}
