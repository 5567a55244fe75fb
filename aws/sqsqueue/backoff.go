package sqsqueue

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/longrun/longrun"
)

// A Handler handles an SQS batch, reporting the messages that failed.
type Handler func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// WithBackoff returns h, with each message it reports failed made visible
// again after longrun.Backoff of its receive count from base: the same
// retry policy as the local queue. Without it a failed job would wait the
// queue's whole visibility timeout.
func (q *Queue) WithBackoff(h Handler, base time.Duration, log *slog.Logger) Handler {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		resp, err := h(ctx, ev)
		if err != nil {
			return resp, err
		}
		failed := map[string]bool{}
		for _, f := range resp.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
		for _, m := range ev.Records {
			if !failed[m.MessageId] {
				continue
			}
			receives, _ := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
			delay := longrun.Backoff(receives, base)
			if _, err := q.Client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &q.URL,
				ReceiptHandle: &m.ReceiptHandle, VisibilityTimeout: int32(delay / time.Second)}); err != nil {
				// The message keeps the queue's visibility timeout: later, not lost.
				log.WarnContext(ctx, "sqs: could not shorten a failed job's wait", "messageId", m.MessageId, "err", err)
			}
		}
		return resp, nil
	}
}
