// Package sqsqueue sends render jobs to an SQS queue; Lambda's event source
// mapping delivers them to the render function.
package sqsqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/notify"
	"github.com/longrun/longrun/worker"
)

// A Queue is an SQS queue of render jobs.
type Queue struct {
	Client *sqs.Client
	URL    string
}

// Queue implements these ports: pointed at the job queue, the first two;
// at the e-mail retry queue, the third.
var (
	_ longrun.Queue      = (*Queue)(nil)
	_ worker.Requeuer    = (*Queue)(nil)
	_ worker.BatchSender = (*Queue)(nil)
	_ notify.RetryQueue  = (*Queue)(nil)
)

// SendMailAfter queues an e-mail to try again after delay (SQS delays at
// most 15 minutes).
func (q *Queue) SendMailAfter(ctx context.Context, r notify.Retry, delay time.Duration) error {
	return q.send(ctx, r, "", r.Trace, delay)
}

// TraceAttribute is the message attribute that carries a job's trace (a
// W3C traceparent) beside its body, for any consumer of the queue.
const TraceAttribute = "traceparent"

// traced returns the message attributes carrying traceparent, if any.
func traced(traceparent string) map[string]types.MessageAttributeValue {
	if traceparent == "" {
		return nil
	}
	return map[string]types.MessageAttributeValue{TraceAttribute: {DataType: aws.String("String"), StringValue: aws.String(traceparent)}}
}

func (q *Queue) send(ctx context.Context, v any, group, traceparent string, delay time.Duration) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	in := &sqs.SendMessageInput{QueueUrl: &q.URL, MessageBody: aws.String(string(body)),
		DelaySeconds:      int32(min(max(delay, 0), 15*time.Minute).Round(time.Second) / time.Second),
		MessageAttributes: traced(traceparent)}
	if group != "" {
		// On a standard queue a message group makes it a fair queue: SQS
		// holds back a tenant with a backlog so the others' jobs keep
		// their dwell time low.
		in.MessageGroupId = aws.String(group)
	}
	if _, err := q.Client.SendMessage(ctx, in); err != nil {
		return longrun.Unavailable("the queue", err)
	}
	return nil
}

// SendJob enqueues a render job, in its client's message group (its
// owner's, if it has none): SQS's fair queues share between groups as the
// embedded queue shares between clients.
func (q *Queue) SendJob(ctx context.Context, job longrun.Job) error {
	return q.SendJobAfter(ctx, job, 0)
}

// SendJobAfter enqueues a render job, in its client's message group, to be
// delivered after delay.
func (q *Queue) SendJobAfter(ctx context.Context, job longrun.Job, delay time.Duration) error {
	return q.send(ctx, job, job.Group(), job.Trace, delay)
}

// SendJobs enqueues jobs in batches of 10 (SendMessageBatch), each in its
// client's message group.
func (q *Queue) SendJobs(ctx context.Context, jobs []longrun.Job) error {
	for len(jobs) > 0 {
		batch := jobs[:min(len(jobs), 10)]
		jobs = jobs[len(batch):]
		in := &sqs.SendMessageBatchInput{QueueUrl: &q.URL}
		for i, job := range batch {
			body, err := json.Marshal(job)
			if err != nil {
				return err
			}
			e := types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(body)),
				MessageAttributes: traced(job.Trace)}
			if g := job.Group(); g != "" {
				e.MessageGroupId = aws.String(g)
			}
			in.Entries = append(in.Entries, e)
		}
		out, err := q.Client.SendMessageBatch(ctx, in)
		if err != nil {
			return longrun.Unavailable("the queue", err)
		}
		if len(out.Failed) > 0 {
			f := out.Failed[0]
			return longrun.Unavailable("the queue", fmt.Errorf("%d of %d jobs not sent: %s %s", len(out.Failed), len(batch), aws.ToString(f.Code), aws.ToString(f.Message)))
		}
	}
	return nil
}
