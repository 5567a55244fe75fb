package pump

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/longrun/longrun"
)

// Jobs hands a queue's messages to a handler one at a time, as SQS events.
// A failed message comes back after longrun.Backoff; one received
// MaxReceives times is dead-lettered.
type Jobs struct {
	Queue   Queue
	Handler func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)
	// Visibility hides a received message; it must outlast a render.
	Visibility time.Duration
	// MaxReceives is the receive count after which a message is
	// dead-lettered.
	MaxReceives int
	// RetryBase is the first backoff of a failed message.
	RetryBase time.Duration
	Logger    *slog.Logger

	mu      sync.Mutex
	failing error             // the last receive's error, while they fail
	since   time.Time         // when they began to
	running map[int]time.Time // handlers at work, when each began
	next    int
}

// Health reports what keeps the pump from its work: the error of receives
// failing since a time (nil when they do not), and when the handler that
// has run longest began (zero when none runs).
func (j *Jobs) Health() (failing error, since, oldest time.Time) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, t := range j.running {
		if oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	return j.failing, j.since, oldest
}

func (j *Jobs) received(err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err == nil {
		j.failing = nil
		return
	}
	if j.failing == nil {
		j.since = time.Now()
	}
	j.failing = err
}

// handle runs the handler, noting when it began for Health.
func (j *Jobs) handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	j.mu.Lock()
	if j.running == nil {
		j.running = map[int]time.Time{}
	}
	id := j.next
	j.next++
	j.running[id] = time.Now()
	j.mu.Unlock()
	defer func() {
		j.mu.Lock()
		delete(j.running, id)
		j.mu.Unlock()
	}()
	return j.Handler(ctx, ev)
}

// Run delivers messages until ctx ends. On shutdown a message in flight is
// left hidden; the next start makes it visible (ReleaseInFlight).
func (j *Jobs) Run(ctx context.Context) {
	for ctx.Err() == nil {
		msgs, err := j.Queue.Receive(ctx, 1, j.Visibility, j.MaxReceives)
		if ctx.Err() == nil {
			j.received(err)
		}
		if err != nil {
			if ctx.Err() == nil {
				j.Logger.Error("queue: receive failed", "err", err)
				wait(ctx, nil, time.Second)
			}
			continue
		}
		if len(msgs) == 0 {
			wait(ctx, j.Queue.JobsReady(), time.Second)
			continue
		}
		resp, err := j.handle(ctx, sqsEvent(msgs))
		failed := map[string]bool{}
		for _, f := range resp.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
		if ctx.Err() != nil {
			return
		}
		for _, m := range msgs {
			j.settle(context.WithoutCancel(ctx), m, err != nil || failed[strconv.FormatInt(m.ID, 10)])
		}
	}
}

// settle deletes a processed message, or delays a failed one.
func (j *Jobs) settle(ctx context.Context, m Message, failed bool) {
	if failed {
		if err := j.Queue.ChangeVisibility(ctx, m.ID, longrun.Backoff(m.Receives, j.RetryBase)); err != nil {
			j.Logger.Error("queue: could not delay a failed job", "err", err)
		}
		return
	}
	if err := j.Queue.DeleteJob(ctx, m.ID); err != nil {
		j.Logger.Error("queue: could not delete a finished job", "err", err)
	}
}

// sqsEvent is the event SQS would send for the messages.
func sqsEvent(msgs []Message) events.SQSEvent {
	var ev events.SQSEvent
	for _, m := range msgs {
		id := strconv.FormatInt(m.ID, 10)
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId: id, ReceiptHandle: id, Body: m.Body, EventSource: "longrun:local-queue",
			Attributes: map[string]string{
				"ApproximateReceiveCount": strconv.Itoa(m.Receives),
				"SentTimestamp":           strconv.FormatInt(m.SentAt.UnixMilli(), 10),
			},
		})
	}
	return ev
}
