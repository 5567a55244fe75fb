package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/internal/testutil"
	"github.com/longrun/longrun/julia"
	"github.com/longrun/longrun/kinds/juliaset"
	"github.com/longrun/longrun/notify"
	"github.com/longrun/longrun/web"
)

func TestServeOverHTTPAndWebSocket(t *testing.T) {
	s := serve(t, t.TempDir())
	c := testutil.NewClient(t, s.URL)
	if res := c.Do("GET", "/api/health", nil); res.Status != 200 {
		t.Fatalf("health: %d %s", res.Status, res.Body)
	}
	c.Session()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ws := c.Live(ctx)
	// Heavy enough to report progress: 2·10⁹ iterations at most, off centre.
	v := c.Create(map[string]any{"name": "e2e", "notifyEmail": "e2e@example.com",
		"params": testutil.Params(-0.123, 0.745, "center", map[string]float64{"re": 0.001, "im": 0}, "width", 2048, "height", 2048, "depth", 400)})
	var statuses []string
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("push: %v; statuses so far %v\n%s", err, statuses, s.log)
		}
		var m notify.Message
		if json.Unmarshal(data, &m) != nil || m.Configuration == nil || m.ID != v.ID {
			continue
		}
		statuses = append(statuses, string(m.Configuration.Status))
		if m.Configuration.Status == longrun.StatusDone {
			break
		}
	}
	if strings.Join(statuses, " ") == "done" || statuses[0] == "done" {
		t.Errorf("pushes %v: want queued or rendering before done", statuses)
	}
	done := c.Get(v.ID)
	img := c.Do("GET", done.ImageURL, nil)
	if img.Status != 200 || len(img.Body) < 1000 || string(img.Body[1:4]) != "PNG" {
		t.Fatalf("image: %d, %d bytes", img.Status, len(img.Body))
	}
	var mail struct{ Messages []notify.Mail }
	c.Do("GET", "/api/mail", nil).JSON(t, &mail)
	// A new address gets its confirmation, and nothing else until it is confirmed.
	if len(mail.Messages) != 1 || mail.Messages[0].To != "e2e@example.com" || !strings.HasPrefix(mail.Messages[0].Subject, "Confirm") {
		t.Errorf("mailbox %+v: want only the confirmation to e2e@example.com", mail.Messages)
	}
}

// TestKilledMidRenderFinishesAfterRestart kills the server with SIGKILL
// while a job renders, starts it again on the same data folder, and sees
// the job finish, with one e-mail.
func TestKilledMidRenderFinishesAfterRestart(t *testing.T) {
	data := t.TempDir()
	s := serve(t, data, "--render-goroutines", "1")
	c := testutil.NewClient(t, s.URL)
	c.ConfirmEmail("ops@example.com")
	// About 1.5·10⁹ iterations on one goroutine: seconds of work.
	v := c.Create(map[string]any{"name": "survivor", "notifyEmail": "ops@example.com",
		"params": testutil.Params(0, 0, "center", map[string]float64{"re": 0.001, "im": 0}, "width", 4096, "height", 4096, "depth", 119)})
	c.Await(v.ID, 30*time.Second, "rendering", func(v web.View) bool { return v.Status == longrun.StatusRendering })
	s.kill(t)

	s2 := serve(t, data, "--render-goroutines", "1")
	c.Base = s2.URL // the same browser: the session cookie is signed with the same key
	c.HTTP.Jar = rejar(t, c, s.URL, s2.URL)
	if got := c.Get(v.ID); got.Status == longrun.StatusDone {
		t.Fatalf("done before the restart rendered it; the kill came too late")
	}
	done := c.Await(v.ID, 60*time.Second, "done after restart", testutil.Done)
	if done.Stats == nil || done.Stats.Pixels != 4096*4096 {
		t.Errorf("stats %+v", done.Stats)
	}
	// The e-mail follows the done state through the change feed: wait for
	// it, then make sure no second one comes.
	var mail struct{ Messages []notify.Mail }
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.Do("GET", "/api/mail", nil).JSON(t, &mail)
		if countFor(mail.Messages, v.ID) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := countFor(mail.Messages, v.ID); n != 1 {
		t.Errorf("%d e-mails after the restart, want 1", n)
	}
}

// countFor counts the messages about one configuration.
func countFor(msgs []notify.Mail, id string) int {
	n := 0
	for _, m := range msgs {
		if m.ConfigurationID == id {
			n++
		}
	}
	return n
}

// TestKilledMidTiledRenderRendersOnlyTheMissingTiles kills the server with
// SIGKILL while a big render's tiles render, starts it again, and counts
// (from the metrics of the new process) the tiles it renders: only those
// not done before the kill, and the one then in flight.
func TestKilledMidTiledRenderRendersOnlyTheMissingTiles(t *testing.T) {
	data := t.TempDir()
	args := []string{"--render-goroutines", "1", "--tile-size", "256"}
	s := serve(t, data, args...)
	c := testutil.NewClient(t, s.URL)
	v := c.Create(map[string]any{"name": "poster", "params": testutil.Params(-0.8, 0.156, "width", 4096, "height", 4096, "depth", 119)})
	mid := c.Await(v.ID, 60*time.Second, "a quarter of the tiles", func(v web.View) bool { return v.Tiles != nil && v.Tiles.Done >= v.Tiles.Total/4 })
	s.kill(t)
	total, before := mid.Tiles.Total, mid.Tiles.Done

	s2 := serve(t, data, args...)
	c.Base = s2.URL
	c.HTTP.Jar = rejar(t, c, s.URL, s2.URL)
	done := c.Await(v.ID, 120*time.Second, "done after restart", testutil.Done)
	if done.Stats == nil || done.Stats.Pixels != 4096*4096 {
		t.Errorf("stats %+v", done.Stats)
	}
	res := c.Do("GET", "/metrics", nil, "Authorization", "Bearer "+opsToken)
	m := regexp.MustCompile(`(?m)^longrun_tiles_rendered_total (\d+)`).FindSubmatch(res.Body)
	if m == nil {
		t.Fatalf("no longrun_tiles_rendered_total in /metrics:\n%.2000s", res.Body)
	}
	after, _ := strconv.Atoi(string(m[1]))
	t.Logf("%d tiles: %d done before the kill, %d rendered after the restart", total, before, after)
	if after > total-before+2 || after < total-before-4 {
		t.Errorf("after the restart %d tiles rendered; want the %d missing ones (give or take those in flight)", after, total-before)
	}
	// The image is the single pass's, byte for byte.
	var p juliaset.Params
	b, _ := json.Marshal(done.Params)
	json.Unmarshal(b, &p)
	whole, _, err := julia.Compute(context.Background(), p.Julia(), julia.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	julia.Encode(&want, whole.Image(p.Colormap))
	if got := c.Do("GET", done.ImageURL, nil); !bytes.Equal(got.Body, want.Bytes()) {
		t.Errorf("the resumed image (%d bytes) is not the single pass's (%d bytes)", len(got.Body), want.Len())
	}
}
