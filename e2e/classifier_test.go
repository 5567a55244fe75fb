package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/longrun/longrun/internal/testutil"
	"github.com/longrun/longrun/kinds/classifier"
	"github.com/longrun/longrun/local/files"
	"github.com/longrun/longrun/web"
	"github.com/longrun/longrun/worker"
)

// epochOf is how far a training's live report says it is.
func epochOf(v web.View) int {
	var live struct{ Epoch int }
	json.Unmarshal(v.Live, &live)
	return live.Epoch
}

// TestKilledMidTrainingResumesFromItsCheckpoint kills the server with
// SIGKILL while a classifier trains, starts it again, and sees the
// training resume from its last checkpoint and end with the weights of a
// training never interrupted, bit for bit; then more epochs train only the
// difference.
func TestKilledMidTrainingResumesFromItsCheckpoint(t *testing.T) {
	data := t.TempDir()
	s := serve(t, data)
	c := testutil.NewClient(t, s.URL)
	spec := map[string]any{"epochs": 900}
	v := c.Create(map[string]any{"name": "survivor", "kind": "classifier", "params": spec})
	c.Await(v.ID, 30*time.Second, "past its first checkpoint", func(v web.View) bool { return epochOf(v) > 30 })
	s.kill(t)

	s2 := serve(t, data)
	c.Base = s2.URL
	c.HTTP.Jar = rejar(t, c, s.URL, s2.URL)
	if got := c.Get(v.ID); got.Status == "done" {
		t.Fatal("done before the restart trained it; the kill came too late")
	}
	done := c.Await(v.ID, 60*time.Second, "trained after restart", testutil.Done)
	reused, trained := done.Stats.Extra["epochsReused"], done.Stats.Extra["epochsTrained"]
	if reused < 25 || int(reused)%25 != 0 || reused+trained != 900 {
		t.Errorf("after the restart: %v epochs from a checkpoint, %v trained; want a multiple of 25, then the rest of 900", reused, trained)
	}

	// The same spec trained whole, in this process.
	store, err := files.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var p classifier.Params
	if err := json.Unmarshal(done.Params, &p); err != nil {
		t.Fatal(err)
	}
	whole, err := classifier.New().Run(context.Background(), &worker.Task{Spec: p, Hash: p.Hash(), Store: store})
	if err != nil {
		t.Fatal(err)
	}
	got := c.Do("GET", done.Artifacts["weights.json"], nil)
	if got.Status != 200 || !bytes.Equal(got.Body, whole.Artifacts["weights.json"]) {
		t.Errorf("the resumed training's weights (%d, %d bytes) differ from an uninterrupted one's (%d bytes)",
			got.Status, len(got.Body), len(whole.Artifacts["weights.json"]))
	}

	// 900 → 1000 epochs trains 100.
	spec["epochs"] = 1000
	more := c.Do("PUT", "/api/configurations/"+v.ID, map[string]any{"name": "survivor", "params": spec}, "If-Match", done.ETag).View(t)
	more = c.Await(more.ID, 30*time.Second, "trained 100 more", testutil.Done)
	if more.Stats.Extra["epochsTrained"] != 100 || more.Stats.Extra["epochsReused"] != 900 {
		t.Errorf("1000 epochs after 900: trained %v, reused %v; want 100, 900", more.Stats.Extra["epochsTrained"], more.Stats.Extra["epochsReused"])
	}
}
