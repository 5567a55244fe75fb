package sqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/longrun/longrun"
)

// TestPlacesForetellTheOrderJobsAreHandedOut: over a queue of many clients
// and owners, with jobs of every size, some in flight and shares already
// served, the place Places gives each waiting version is the number of
// jobs Receive hands out before it, and the work ahead is theirs.
func TestPlacesForetellTheOrderJobsAreHandedOut(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	r := rand.New(rand.NewPCG(7, 21))
	send := func(i int) {
		client := fmt.Sprintf("10.0.%d.0/24", r.IntN(4))
		owner := fmt.Sprintf("owner-%d", r.IntN(9))
		j := longrun.Job{ID: fmt.Sprintf("c%03d", i), Version: 1, Hash: "h", Owner: owner, Client: client, Work: int64(100 * (1 + r.IntN(3)))} // few sizes: many ties, which the jobs in flight break
		if err := db.SendJob(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 30 {
		send(i)
	}
	// Some handed out already: their shares are served, and they are in flight.
	if _, err := db.Receive(ctx, 5, time.Hour, 10); err != nil {
		t.Fatal(err)
	}
	for i := 30; i < 80; i++ {
		send(i)
	}
	places, _, err := db.Places(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(places) != 75 {
		t.Fatalf("%d places, want the 75 waiting jobs'", len(places))
	}
	var handed int
	var work int64
	var done []int64
	for {
		msgs, err := db.Receive(ctx, 1, time.Hour, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			break
		}
		var j longrun.Job
		json.Unmarshal([]byte(msgs[0].Body), &j)
		p, ok := places[longrun.JobRef{ID: j.ID, Version: j.Version}]
		if !ok || p.Ahead != handed || p.AheadWork != work {
			t.Fatalf("job %s was handed out after %d jobs (%d work); its place said %+v (known %v)", j.ID, handed, work, p, ok)
		}
		handed++
		work += j.Work
		done = append(done, msgs[0].ID) // in flight until the walk ends, as renders are
	}
	for _, id := range done {
		if err := db.DeleteJob(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if handed != 75 {
		t.Errorf("%d handed out, want 75", handed)
	}
	if _, pace, _ := db.Places(ctx); pace <= 0 {
		t.Errorf("pace %v after finishing 75 jobs, want their work a second", pace)
	}
}
