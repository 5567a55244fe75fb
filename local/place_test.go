package local_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/internal/testutil"
	"github.com/longrun/longrun/local"
	"github.com/longrun/longrun/web"
)

// TestAQueuedViewSaysWhereItStands: while one client's five renders wait
// behind its first, a quiet client's render is next (nothing ahead of it,
// the fair order), the flooder's last has five ahead, and once jobs have
// finished (the pace) the views say when they should start.
func TestAQueuedViewSaysWhereItStands(t *testing.T) {
	r := newRenderer()
	release := r.holdRender(-0.5)
	defer release()
	_, url := start(t, r, func(c *local.Config) { c.TrustForwardedFor = true })
	flood := testutil.NewClient(t, url)
	as := func(c *testutil.Client, addr string, method, path string, body any) *testutil.Response {
		return c.Do(method, path, body, "X-Forwarded-For", addr)
	}
	var views []web.View
	for i, re := range []float64{-0.5, -0.51, -0.52, -0.53, -0.54, -0.55} {
		var v web.View
		as(flood, "203.0.113.7", "POST", "/api/configurations", map[string]any{"name": "flood", "params": small(re, 0.5)}).JSON(t, &v)
		views = append(views, v)
		if i == 0 {
			r.awaitStart(t, -0.5)
		}
	}
	quiet := testutil.NewClient(t, url)
	var mine web.View
	as(quiet, "198.51.100.9", "POST", "/api/configurations", map[string]any{"name": "quiet", "params": small(0.3, 0.5)}).JSON(t, &mine)

	// The queue's places are read at most every 50 ms: a render queued
	// since has its place by the next reading.
	get := func(c *testutil.Client, addr, id string) web.View {
		var v web.View
		for deadline := time.Now().Add(5 * time.Second); ; {
			res := as(c, addr, "GET", "/api/configurations/"+id, nil)
			if res.Status != http.StatusOK {
				t.Fatalf("get: %d %s", res.Status, res.Body)
			}
			res.JSON(t, &v)
			if v.Queue != nil || v.Status != longrun.StatusQueued || time.Now().After(deadline) {
				return v
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if v := get(quiet, "198.51.100.9", mine.ID); v.Queue == nil || v.Queue.Ahead != 0 {
		t.Errorf("the quiet client's render: queue %+v, want nothing ahead (it goes next)", v.Queue)
	}
	last := get(flood, "203.0.113.7", views[5].ID)
	if last.Queue == nil || last.Queue.Ahead != 5 {
		t.Errorf("the flood's last render: queue %+v, want 5 ahead (its own 4 and the quiet one)", last.Queue)
	}
	if last.Queue != nil && last.Queue.StartsInSeconds != nil {
		t.Errorf("the flood's last render says it starts in %v s, before any job finished to measure the pace by", *last.Queue.StartsInSeconds)
	}
	if v := get(flood, "203.0.113.7", views[0].ID); v.Status != longrun.StatusRendering || v.Queue != nil {
		t.Errorf("the render under way: %s, queue %+v; want rendering and no place", v.Status, v.Queue)
	}
	// Once jobs have finished, the pace says when: the flood's second
	// render goes next (its share and the quiet one's tie once nothing is
	// in flight, and its job is older), then the quiet one, then the
	// flood's third, held; the last has two ahead.
	releaseNext := r.holdRender(-0.52)
	defer releaseNext()
	release()
	r.awaitStart(t, -0.52)
	// (A reading of the places serves for a second.)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if last = get(flood, "203.0.113.7", views[5].ID); last.Queue != nil && last.Queue.Ahead == 2 {
			break
		}
	}
	if last.Queue == nil || last.Queue.Ahead != 2 || last.Queue.StartsInSeconds == nil || *last.Queue.StartsInSeconds < 0 {
		t.Errorf("the flood's last render, three renders done: queue %+v, want 2 ahead and when it starts", last.Queue)
	}
	if v := get(quiet, "198.51.100.9", mine.ID); v.Status != longrun.StatusDone {
		t.Errorf("the quiet client's render is %s once the flood's third started, want done", v.Status)
	}
	var list struct{ Configurations []web.View }
	as(flood, "203.0.113.7", "GET", "/api/configurations", nil).JSON(t, &list)
	places := 0
	for _, v := range list.Configurations {
		if v.Queue != nil {
			places++
		}
	}
	if places != 3 {
		t.Errorf("the flood's list shows %d places, want its 3 queued renders'", places)
	}
}
