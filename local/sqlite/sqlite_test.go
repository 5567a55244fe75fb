package sqlite_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/local/sqlite"
	"github.com/longrun/longrun/porttest"
)

func open(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), t.TempDir()+"/db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestStoreConformance(t *testing.T) {
	porttest.TestStore(t, func(t *testing.T) porttest.Store { return open(t) })
}

func TestQueueHidesRetriesAndDeadLetters(t *testing.T) {
	db := open(t)
	ctx := context.Background()
	clock := time.Now()
	db.Now = func() time.Time { return clock }
	if err := db.SendJob(ctx, longrun.Job{ID: "a", Version: 1, Hash: "h"}); err != nil {
		t.Fatal(err)
	}
	for receive := 1; receive <= 2; receive++ {
		msgs, err := db.Receive(ctx, 10, time.Minute, 2)
		if err != nil || len(msgs) != 1 || msgs[0].Receives != receive {
			t.Fatalf("receive %d: %+v %v", receive, msgs, err)
		}
		if again, _ := db.Receive(ctx, 10, time.Minute, 2); len(again) != 0 {
			t.Fatalf("a received job was delivered again within its visibility timeout")
		}
		clock = clock.Add(time.Minute + time.Second) // the visibility timeout passes
	}
	// Received twice (the limit) and not deleted: dead-lettered on the next receive.
	if msgs, _ := db.Receive(ctx, 10, time.Minute, 2); len(msgs) != 0 {
		t.Fatalf("delivered %d times past the limit", len(msgs))
	}
	dead, _ := db.DeadLetters(ctx)
	if len(dead) != 1 || dead[0].Receives != 2 {
		t.Fatalf("dead letters %+v, want the job after 2 receives", dead)
	}
	if _, err := db.Redrive(ctx, dead[0].ID); err != nil {
		t.Fatal(err)
	}
	msgs, _ := db.Receive(ctx, 10, time.Minute, 2)
	if len(msgs) != 1 || msgs[0].Receives != 1 {
		t.Fatalf("after redrive: %+v, want a fresh delivery", msgs)
	}
	if err := db.DeleteJob(ctx, msgs[0].ID); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(time.Hour)
	if msgs, _ := db.Receive(ctx, 10, time.Minute, 2); len(msgs) != 0 {
		t.Errorf("a deleted job came back")
	}
}

func TestReleaseInFlightRequeues(t *testing.T) {
	db := open(t)
	ctx := context.Background()
	db.SendJob(ctx, longrun.Job{ID: "a"})
	if msgs, _ := db.Receive(ctx, 1, time.Hour, 5); len(msgs) != 1 {
		t.Fatal("no delivery")
	}
	if n, err := db.ReleaseInFlight(ctx); n != 1 || err != nil {
		t.Fatalf("released %d, %v", n, err)
	}
	if msgs, _ := db.Receive(ctx, 1, time.Hour, 5); len(msgs) != 1 || msgs[0].Receives != 2 {
		t.Errorf("after release: %+v, want the job again", msgs)
	}
}

func TestEveryWriteIsInTheChangeLog(t *testing.T) {
	db := open(t)
	ctx := context.Background()
	c := &longrun.Configuration{ID: longrun.NewID(), Owner: "o", Name: "n", CreatedAt: time.Now()}
	db.CreateConfiguration(ctx, c)
	db.UpdateConfiguration(ctx, c.ID, func(c *longrun.Configuration) error { c.Name = "m"; return nil })
	db.DeleteConfiguration(ctx, c.ID)
	changes, err := db.Changes(ctx, 0, 10)
	if err != nil || len(changes) != 3 {
		t.Fatalf("changes %d, %v; want 3", len(changes), err)
	}
	if changes[0].Old != nil || changes[1].Old == nil || changes[1].New == nil || changes[2].New != nil {
		t.Errorf("images: want create (new only), update (both), delete (old only)")
	}
	if err := db.SetCursor(ctx, "notify", changes[1].Seq); err != nil {
		t.Fatal(err)
	}
	rest, _ := db.Changes(ctx, 0, 10)
	if len(rest) != 1 || rest[0].Seq != changes[2].Seq {
		t.Errorf("after the cursor passed two changes %d remain, want the last one", len(rest))
	}
}

func TestQueueConformance(t *testing.T) {
	porttest.TestQueue(t, func(t *testing.T) (porttest.Queue, func() []longrun.Job) {
		db := open(t)
		return db, func() []longrun.Job {
			msgs, err := db.Receive(context.Background(), 10, time.Minute, 5)
			if err != nil {
				t.Fatal(err)
			}
			var jobs []longrun.Job
			for _, m := range msgs {
				var j longrun.Job
				if err := json.Unmarshal([]byte(m.Body), &j); err != nil {
					t.Fatal(err)
				}
				jobs = append(jobs, j)
				db.DeleteJob(context.Background(), m.ID)
			}
			return jobs
		}
	})
}
