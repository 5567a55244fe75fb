// Package pump feeds the render worker and the notifier from an embedded
// job queue and change log, as Lambda's event source mappings feed them
// from SQS and a DynamoDB stream: the same event shapes (events.SQSEvent,
// events.DynamoDBEvent), partial batch failures, retries with backoff and a
// dead-letter queue. The queue and the log are interfaces with conformance
// suites (porttest), so another database can replace SQLite.
package pump

import (
	"context"
	"time"
)

// A Message is a job as the queue delivers it.
type Message struct {
	ID       int64
	Body     string
	Receives int // including this one
	SentAt   time.Time
}

// A Queue is an embedded job queue with SQS's semantics: a received message
// is hidden for its visibility timeout; each receive counts; a message
// received maxReceives times goes to the dead-letter queue instead.
type Queue interface {
	// Receive delivers up to max visible messages, oldest first, and hides
	// them for visibility.
	Receive(ctx context.Context, max int, visibility time.Duration, maxReceives int) ([]Message, error)
	// ChangeVisibility makes a received message visible again after d.
	ChangeVisibility(ctx context.Context, id int64, d time.Duration) error
	// DeleteJob removes a processed message.
	DeleteJob(ctx context.Context, id int64) error
	// JobsReady is signalled when a message may have become visible.
	JobsReady() <-chan struct{}
}

// Stats describe a queue, for operators.
type Stats struct {
	Visible, InFlight, Dead int
	OldestSent              time.Time // zero if the queue is empty
}

// A Change is one write to a configuration: its record before (nil when it
// was created) and after (nil when it was deleted).
type Change struct {
	Seq      int64
	ID       string
	Old, New []byte
	At       time.Time
}

// A Log is the configurations' change log, read by named consumers.
type Log interface {
	// Changes returns up to limit changes after seq, in order.
	Changes(ctx context.Context, after int64, limit int) ([]Change, error)
	// ChangesReady is signalled when a change is logged.
	ChangesReady() <-chan struct{}
	// Cursor returns the last seq the named consumer finished, 0 if none.
	Cursor(ctx context.Context, name string) (int64, error)
	// SetCursor records that the named consumer finished every change up
	// to seq.
	SetCursor(ctx context.Context, name string, seq int64) error
}

// wait blocks until signalled, d passes, or ctx ends.
func wait(ctx context.Context, ready <-chan struct{}, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-ready:
	case <-t.C:
	}
}
