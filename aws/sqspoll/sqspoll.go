// Package sqspoll receives messages from an SQS queue and hands them to a
// handler as events.SQSEvent batches, as Lambda's event source mapping does:
// messages the handler reports failed stay in the queue and come back after
// their visibility timeout; the rest are deleted. For local runs, where no
// Lambda service polls the queue.
package sqspoll

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Handler is the render function's signature.
type Handler func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// A Poller delivers one queue to a handler.
type Poller struct {
	Client   *sqs.Client
	QueueURL string
	Handler  Handler
	Batch    int32 // messages per batch; 0 means 1, as the template sets
	Logger   *slog.Logger
}

// Run polls until ctx ends.
func (p *Poller) Run(ctx context.Context) {
	batch := p.Batch
	if batch == 0 {
		batch = 1
	}
	for ctx.Err() == nil {
		out, err := p.Client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: &p.QueueURL, MaxNumberOfMessages: batch, WaitTimeSeconds: 5,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		})
		if err != nil {
			if ctx.Err() == nil {
				p.log().Warn("sqspoll: receive failed", "err", err)
				time.Sleep(time.Second)
			}
			continue
		}
		if len(out.Messages) == 0 {
			continue
		}
		var ev events.SQSEvent
		for _, m := range out.Messages {
			ev.Records = append(ev.Records, events.SQSMessage{
				MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
				Attributes: m.Attributes, Md5OfBody: aws.ToString(m.MD5OfBody), EventSource: "aws:sqs",
			})
		}
		resp, err := p.Handler(ctx, ev)
		failed := map[string]bool{}
		for _, f := range resp.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
		for _, m := range ev.Records {
			if err != nil || failed[m.MessageId] || ctx.Err() != nil {
				continue // back after the visibility timeout
			}
			if _, err := p.Client.DeleteMessage(context.WithoutCancel(ctx), &sqs.DeleteMessageInput{QueueUrl: &p.QueueURL, ReceiptHandle: &m.ReceiptHandle}); err != nil {
				p.log().Warn("sqspoll: delete failed", "messageId", m.MessageId, "err", err)
			}
		}
	}
}

func (p *Poller) log() *slog.Logger {
	if p.Logger == nil {
		return slog.Default()
	}
	return p.Logger
}
