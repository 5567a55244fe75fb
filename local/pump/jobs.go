package pump

import (
	"context"
	"log/slog"
	"strconv"
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
}

// Run delivers messages until ctx ends. On shutdown a message in flight is
// left hidden; the next start makes it visible (ReleaseInFlight).
func (j *Jobs) Run(ctx context.Context) {
	for ctx.Err() == nil {
		msgs, err := j.Queue.Receive(ctx, 1, j.Visibility, j.MaxReceives)
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
		resp, err := j.Handler(ctx, sqsEvent(msgs))
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
