package porttest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/notify"
)

// Queue is the job queue port, as the API uses it.
type Queue interface {
	SendJob(ctx context.Context, job longrun.Job) error
}

// TestQueue runs the queue suite. newQueue returns an empty queue and a
// function that receives (and deletes) what it holds, waiting briefly.
// receiveAll receives until n distinct jobs have come, or 10 s have
// passed, and counts how often each came.
func receiveAll(receive func() []longrun.Job, n int) map[longrun.Job]int {
	got := map[longrun.Job]int{}
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		for _, j := range receive() {
			got[j]++
		}
	}
	return got
}

func TestQueue(t *testing.T, newQueue func(t *testing.T) (Queue, func() []longrun.Job)) {
	t.Run("jobs arrive whole, each once", func(t *testing.T) {
		q, receive := newQueue(t)
		sent := map[longrun.Job]bool{}
		kinds := []string{longrun.JobWhole, longrun.JobPart, longrun.JobAssemble}
		for i := range 3 {
			// A render, a tile and an assembly: their kind and tile arrive too.
			j := longrun.Job{ID: longrun.NewID(), Version: int64(i + 1), Hash: strings.Repeat("ab", 32), Step: kinds[i], Tile: 7 * i}
			if err := q.SendJob(context.Background(), j); err != nil {
				t.Fatal(err)
			}
			sent[j] = true
		}
		got := receiveAll(receive, len(sent))
		for j := range sent {
			if got[j] != 1 {
				t.Errorf("job %+v received %d times, want once", j, got[j])
			}
		}
	})
	t.Run("a batch of jobs arrives whole, each once", func(t *testing.T) {
		q, receive := newQueue(t)
		bs, ok := q.(interface {
			SendJobs(context.Context, []longrun.Job) error
		})
		if !ok {
			t.Skip("this queue sends one job at a time")
		}
		var jobs []longrun.Job
		id := longrun.NewID()
		for i := range 23 { // two full batches of 10 and a part
			jobs = append(jobs, longrun.Job{ID: id, Version: 1, Hash: strings.Repeat("cd", 32), Owner: "owner", Step: longrun.JobPart, Tile: i})
		}
		if err := bs.SendJobs(context.Background(), jobs); err != nil {
			t.Fatal(err)
		}
		got := receiveAll(receive, len(jobs))
		for _, j := range jobs {
			if got[j] != 1 {
				t.Errorf("tile %d received %d times, want once", j.Tile, got[j])
			}
		}
	})
}

// Mailer is the mail port.
type Mailer interface {
	Send(ctx context.Context, m notify.Mail) error
}

// TestMailer runs the mail suite. newMailer returns a mailer and a function
// that lists the messages delivered to an address.
func TestMailer(t *testing.T, newMailer func(t *testing.T) (Mailer, func(to string) []notify.Mail)) {
	t.Run("a message arrives with its subject and text", func(t *testing.T) {
		m, inbox := newMailer(t)
		to := "porttest-" + longrun.NewID()[:8] + "@example.com"
		mail := notify.Mail{To: to, Subject: "Your Julia set “ünï” is ready", Text: "See it at http://x/#id\n", Owner: "o", ConfigurationID: "c", Version: 2}
		if err := m.Send(context.Background(), mail); err != nil {
			t.Fatal(err)
		}
		got := inbox(to)
		if len(got) != 1 || got[0].Subject != mail.Subject || !strings.Contains(got[0].Text, "http://x/#id") {
			t.Errorf("delivered %+v, want the one message", got)
		}
	})
}

// Pusher is the push port.
type Pusher interface {
	Push(ctx context.Context, owner string, msg []byte) error
}

// TestPusher runs the push suite. newPusher returns a pusher and a function
// that opens a connection for an owner and returns a function that reads
// what arrived on it within a short wait.
func TestPusher(t *testing.T, newPusher func(t *testing.T) (Pusher, func(owner string) func() [][]byte)) {
	t.Run("pushes reach every connection of the owner and no other", func(t *testing.T) {
		p, connect := newPusher(t)
		alice1, alice2, bob := connect("alice"), connect("alice"), connect("bob")
		if err := p.Push(context.Background(), "alice", []byte(`{"type":"configuration","id":"1"}`)); err != nil {
			t.Fatal(err)
		}
		for i, read := range []func() [][]byte{alice1, alice2} {
			if got := read(); len(got) != 1 || string(got[0]) != `{"type":"configuration","id":"1"}` {
				t.Errorf("alice's connection %d got %q", i+1, got)
			}
		}
		if got := bob(); len(got) != 0 {
			t.Errorf("bob got %q", got)
		}
	})
	t.Run("a push to an owner with no connection is no error", func(t *testing.T) {
		p, _ := newPusher(t)
		if err := p.Push(context.Background(), "nobody", []byte(`{}`)); err != nil {
			t.Error(err)
		}
	})
}
