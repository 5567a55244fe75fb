package porttest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/local/pump"
)

// JobQueue is an embedded job queue: what the API sends to, what the local
// runner's pump receives from, and what operators see.
type JobQueue interface {
	longrun.Queue
	pump.Queue
	QueueStats(ctx context.Context) (pump.Stats, error)
	DeadLetters(ctx context.Context) ([]pump.Message, error)
	Redrive(ctx context.Context, id int64) (longrun.Job, error)
	// ReleaseInFlight makes every received message visible again, at
	// start-up, and says how many there were.
	ReleaseInFlight(ctx context.Context) (int64, error)
}

// queuedJob is the job the queue suite sends.
var queuedJob = longrun.Job{ID: longrun.NewID(), Version: 1, Hash: "h"}

// receive receives what the queue has, for a receive limit.
func receive(t *testing.T, q JobQueue, maxReceives int) []pump.Message {
	t.Helper()
	msgs, err := q.Receive(context.Background(), 10, time.Minute, maxReceives)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// TestJobQueue runs the embedded queue suite. newQueue returns an empty
// queue and a function that moves its clock forward.
func TestJobQueue(t *testing.T, newQueue func(t *testing.T) (JobQueue, func(time.Duration))) {
	for _, c := range []struct {
		name string
		test func(*testing.T, JobQueue, func(time.Duration))
	}{
		{"a received job is hidden, then redelivered, then dead-lettered", queueAReceivedJobIsHiddenThenRedeliveredThenDeadLettered},
		{"a redriven job comes back fresh, and a deleted one never", queueARedrivenJobComesBackFreshAndADeletedOneNever},
		{"a delayed job comes back after its delay", queueADelayedJobComesBackAfterItsDelay},
		{"owners take turns, each first in first out", queueOwnersTakeTurnsEachFirstInFirstOut},
		{"an owner with a job in flight waits for one without", queueAnOwnerWithAJobInFlightWaitsForOneWithout},
		{"jobs in flight at start-up are released", queueJobsInFlightAtStartUpAreReleased},
		{"a newcomer goes next however a flood is spread over owners", queueANewcomerGoesNextHoweverAFloodIsSpread},
		{"clients share by the work they were served", queueClientsShareByWork},
		{"a client back from idle neither banks credit nor carries debt", queueAnIdleClientRestartsEven},
	} {
		t.Run(c.name, func(t *testing.T) {
			q, advance := newQueue(t)
			c.test(t, q, advance)
		})
	}
}

// queueAReceivedJobIsHiddenThenRedeliveredThenDeadLettered checks that a received job is hidden, then redelivered, then dead-lettered.
func queueAReceivedJobIsHiddenThenRedeliveredThenDeadLettered(t *testing.T, q JobQueue, advance func(time.Duration)) {
	deadLetter(t, q, advance)
	if st, err := q.QueueStats(context.Background()); err != nil || st.Dead != 1 || st.Visible+st.InFlight != 0 {
		t.Errorf("stats %+v %v, want one dead letter and nothing queued", st, err)
	}
}

// deadLetter sends the job and lets it fail twice, its receive limit; it
// returns the dead letter.
func deadLetter(t *testing.T, q JobQueue, advance func(time.Duration)) pump.Message {
	t.Helper()
	ctx := context.Background()
	if err := q.SendJob(ctx, queuedJob); err != nil {
		t.Fatal(err)
	}
	select {
	case <-q.JobsReady():
	default:
		t.Errorf("sending a job did not signal JobsReady")
	}
	for n := 1; n <= 2; n++ {
		msgs := receive(t, q, 2)
		var got longrun.Job
		if len(msgs) != 1 || msgs[0].Receives != n || json.Unmarshal([]byte(msgs[0].Body), &got) != nil || got != queuedJob {
			t.Fatalf("receive %d: %+v, want the job, received %d times", n, msgs, n)
		}
		if again := receive(t, q, 2); len(again) != 0 {
			t.Fatalf("a received job was delivered again within its visibility timeout")
		}
		advance(time.Minute + time.Second)
	}
	if msgs := receive(t, q, 2); len(msgs) != 0 {
		t.Fatalf("delivered %d times past the limit", len(msgs))
	}
	dead, err := q.DeadLetters(ctx)
	if err != nil || len(dead) != 1 || dead[0].Receives != 2 {
		t.Fatalf("dead letters %+v %v, want the job after 2 receives", dead, err)
	}
	return dead[0]
}

// queueARedrivenJobComesBackFreshAndADeletedOneNever checks that a redriven job comes back fresh, and a deleted one never.
func queueARedrivenJobComesBackFreshAndADeletedOneNever(t *testing.T, q JobQueue, advance func(time.Duration)) {
	ctx := context.Background()
	dead := deadLetter(t, q, advance)
	if got, err := q.Redrive(ctx, dead.ID); err != nil || got != queuedJob {
		t.Fatalf("redrive: %+v %v, want the job", got, err)
	}
	if _, err := q.Redrive(ctx, dead.ID); longrun.ErrorCode(err) != longrun.ENOTFOUND {
		t.Errorf("a second redrive: %v, want ENOTFOUND", err)
	}
	msgs := receive(t, q, 2)
	if len(msgs) != 1 || msgs[0].Receives != 1 {
		t.Fatalf("after redrive: %+v, want a fresh delivery", msgs)
	}
	if err := q.DeleteJob(ctx, msgs[0].ID); err != nil {
		t.Fatal(err)
	}
	advance(time.Hour)
	if msgs := receive(t, q, 2); len(msgs) != 0 {
		t.Errorf("a deleted job came back")
	}
}

// owned sends n jobs of owner, numbered from 1 by their version.
func owned(t *testing.T, q JobQueue, owner string, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		if err := q.SendJob(context.Background(), longrun.Job{ID: longrun.NewID(), Version: int64(i), Hash: "h", Owner: owner}); err != nil {
			t.Fatal(err)
		}
	}
}

// sendWork sends a job of client and owner, numbered by version, of work.
func sendWork(t *testing.T, q JobQueue, client, owner string, version, work int64) {
	t.Helper()
	err := q.SendJob(context.Background(), longrun.Job{ID: longrun.NewID(), Version: version, Hash: "h", Owner: owner, Client: client, Work: work})
	if err != nil {
		t.Fatal(err)
	}
}

// queueANewcomerGoesNextHoweverAFloodIsSpread: one client floods with a
// big job from each of 200 owners (round-robin over owners never served
// would put a newcomer behind all of them); with one of the flood's jobs
// in flight, a new client's small job is the next handed out, and so is a
// second new client's after it.
func queueANewcomerGoesNextHoweverAFloodIsSpread(t *testing.T, q JobQueue, _ func(time.Duration)) {
	for i := range 200 {
		sendWork(t, q, "flood", fmt.Sprint("f", i), 1, 1e9)
	}
	if first := receiveOne(t, q); len(first) != 1 { // in flight
		t.Fatal("nothing to receive")
	}
	sendWork(t, q, "quiet", "q", 1, 64*64*256)
	sendWork(t, q, "other", "r", 1, 64*64*256)
	got := strings.Join(order(t, q, 3), " ")
	if !strings.HasPrefix(got, "q1 r1") && !strings.HasPrefix(got, "r1 q1") {
		t.Errorf("after the flood's first job: %s; want the two newcomers' jobs next", got)
	}
}

// queueClientsShareByWork: client a's jobs are ten times client b's; b is
// handed ten jobs for each of a's, and within b its two owners alternate.
func queueClientsShareByWork(t *testing.T, q JobQueue, _ func(time.Duration)) {
	for i := range 4 {
		sendWork(t, q, "a", "a", int64(i+1), 10)
	}
	for i := range 12 {
		sendWork(t, q, "b", []string{"b", "c"}[i%2], int64(i/2+1), 1)
	}
	got := strings.Join(order(t, q, 14), " ")
	if want := "a1 b1 c1 b2 c2 b3 c3 b4 c4 b5 c5 a2 b6 c6"; got != want {
		t.Errorf("order %s, want %s", got, want)
	}
}

// queueAnIdleClientRestartsEven: client a was served much, then left;
// while b is busy it comes back: it takes turns with b at once, not
// after b has caught up (debt), nor ahead of b for long (credit).
func queueAnIdleClientRestartsEven(t *testing.T, q JobQueue, _ func(time.Duration)) {
	for i := range 5 {
		sendWork(t, q, "a", "a", int64(i+1), 100)
	}
	order(t, q, 5) // a served 500, idle now
	for i := range 4 {
		sendWork(t, q, "b", "b", int64(i+1), 100)
	}
	order(t, q, 1) // b1 in service: b's share 100 ahead of its restart
	for i := range 3 {
		sendWork(t, q, "a", "a", int64(i+6), 100)
	}
	got := strings.Join(order(t, q, 5), " ")
	if want := "b2 a6 b3 a7 b4"; got != want {
		t.Errorf("order %s, want %s", got, want)
	}
}

// receiveOne receives one job, if any.
func receiveOne(t *testing.T, q JobQueue) []pump.Message {
	t.Helper()
	msgs, err := q.Receive(context.Background(), 1, time.Minute, 5)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// order receives and deletes n jobs one at a time, and names each by owner
// and version.
func order(t *testing.T, q JobQueue, n int) []string {
	t.Helper()
	var got []string
	for range n {
		msgs := receiveOne(t, q)
		if len(msgs) != 1 {
			t.Fatalf("after %v nothing to receive", got)
		}
		var j longrun.Job
		json.Unmarshal([]byte(msgs[0].Body), &j)
		got = append(got, fmt.Sprintf("%s%d", j.Owner, j.Version))
		q.DeleteJob(context.Background(), msgs[0].ID)
	}
	return got
}

// queueOwnersTakeTurnsEachFirstInFirstOut checks that owners take turns,
// each first in first out: a backlog of one owner's jobs does not hold
// back another's.
func queueOwnersTakeTurnsEachFirstInFirstOut(t *testing.T, q JobQueue, _ func(time.Duration)) {
	owned(t, q, "a", 4)
	owned(t, q, "b", 2)
	owned(t, q, "c", 1)
	got := strings.Join(order(t, q, 7), " ")
	if want := "a1 b1 c1 a2 b2 a3 a4"; got != want {
		t.Errorf("order %s, want %s", got, want)
	}
}

// queueAnOwnerWithAJobInFlightWaitsForOneWithout checks that the next job
// goes to an owner with none in flight.
func queueAnOwnerWithAJobInFlightWaitsForOneWithout(t *testing.T, q JobQueue, _ func(time.Duration)) {
	owned(t, q, "a", 3)
	if first := receiveOne(t, q); len(first) != 1 { // a1 in flight, not deleted
		t.Fatal("nothing to receive")
	}
	owned(t, q, "b", 1)
	if got := order(t, q, 1); got[0] != "b1" {
		t.Errorf("with a's job in flight the next was %s, want b1", got[0])
	}
}

// queueADelayedJobComesBackAfterItsDelay checks that a delayed job comes back after its delay.
func queueADelayedJobComesBackAfterItsDelay(t *testing.T, q JobQueue, advance func(time.Duration)) {
	ctx := context.Background()
	q.SendJob(ctx, queuedJob)
	msgs := receive(t, q, 5)
	if err := q.ChangeVisibility(ctx, msgs[0].ID, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	advance(5 * time.Second)
	if again := receive(t, q, 5); len(again) != 0 {
		t.Fatalf("delivered before its delay")
	}
	advance(6 * time.Second)
	if again := receive(t, q, 5); len(again) != 1 || again[0].Receives != 2 {
		t.Errorf("after its delay: %+v, want the job, received twice", again)
	}
}

// queueJobsInFlightAtStartUpAreReleased checks that jobs in flight at start-up are released.
func queueJobsInFlightAtStartUpAreReleased(t *testing.T, q JobQueue, advance func(time.Duration)) {
	ctx := context.Background()
	q.SendJob(ctx, queuedJob)
	receive(t, q, 5)
	if n, err := q.ReleaseInFlight(ctx); n != 1 || err != nil {
		t.Fatalf("released %d, %v; want 1", n, err)
	}
	if msgs := receive(t, q, 5); len(msgs) != 1 || msgs[0].Receives != 2 {
		t.Errorf("after release: %+v, want the job again", msgs)
	}
}

// ChangeLog is an embedded store whose every write is logged.
type ChangeLog interface {
	longrun.Store
	pump.Log
}

// TestChangeLog runs the change log suite; newLog returns an empty store.
func TestChangeLog(t *testing.T, newLog func(t *testing.T) ChangeLog) {
	for _, c := range []struct {
		name string
		test func(*testing.T, ChangeLog)
	}{
		{"every write is logged in order with its records", logEveryWriteIsLoggedInOrderWithItsRecords},
		{"a cursor forgets what it passed", logACursorForgetsWhatItPassed},
	} {
		t.Run(c.name, func(t *testing.T) { c.test(t, newLog(t)) })
	}
}

// logEveryWriteIsLoggedInOrderWithItsRecords checks that every write is logged in order with its records.
func logEveryWriteIsLoggedInOrderWithItsRecords(t *testing.T, l ChangeLog) {
	changes := writeThree(t, l)
	if changes[0].Old != nil || changes[1].Old == nil || changes[1].New == nil || changes[2].New != nil {
		t.Errorf("records: want create (new only), update (both), delete (old only)")
	}
	for i, ch := range changes {
		if ch.ID != changes[0].ID || (i > 0 && ch.Seq <= changes[i-1].Seq) {
			t.Errorf("change %d: id %s seq %d, want %s in increasing order", i, ch.ID, ch.Seq, changes[0].ID)
		}
	}
	if after, _ := longrun.UnmarshalRecord(changes[1].New); after == nil || after.Name != "m" {
		t.Errorf("the update's new record is not the renamed configuration")
	}
}

// writeThree creates, renames and deletes a configuration, and returns the
// three changes logged.
func writeThree(t *testing.T, l ChangeLog) []pump.Change {
	t.Helper()
	ctx := context.Background()
	c := newConfiguration("o", time.Now().UTC(), 0.2)
	if err := l.CreateConfiguration(ctx, c, longrun.Admission{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.ChangesReady():
	default:
		t.Errorf("a write did not signal ChangesReady")
	}
	l.UpdateConfiguration(ctx, c.ID, func(c *longrun.Configuration) error {
		c.Edit(longrun.Draft{Name: "m", Spec: juliaOf(t, c.Params)}, nil, time.Now())
		return nil
	})
	l.DeleteConfiguration(ctx, c.ID)
	changes, err := l.Changes(ctx, 0, 10)
	if err != nil || len(changes) != 3 {
		t.Fatalf("changes %d, %v; want 3", len(changes), err)
	}
	return changes
}

// logACursorForgetsWhatItPassed checks that a cursor is kept, and what
// every cursor passed is forgotten.
func logACursorForgetsWhatItPassed(t *testing.T, l ChangeLog) {
	ctx := context.Background()
	changes := writeThree(t, l)
	if n, err := l.Cursor(ctx, "notify"); n != 0 || err != nil {
		t.Errorf("a new cursor is %d, %v; want 0", n, err)
	}
	if err := l.SetCursor(ctx, "notify", changes[1].Seq); err != nil {
		t.Fatal(err)
	}
	if n, _ := l.Cursor(ctx, "notify"); n != changes[1].Seq {
		t.Errorf("cursor %d, want %d", n, changes[1].Seq)
	}
	rest, _ := l.Changes(ctx, 0, 10)
	if len(rest) != 1 || rest[0].Seq != changes[2].Seq {
		t.Errorf("after the cursor %d changes remain, want the last one", len(rest))
	}
}
