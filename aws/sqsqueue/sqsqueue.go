// Package sqsqueue sends render jobs to an SQS queue; Lambda's event source
// mapping delivers them to the render function.
package sqsqueue

import (
	"context"
	"encoding/json"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/worker"
)

// A Queue is an SQS queue of render jobs.
type Queue struct {
	Client *sqs.Client
	URL    string
}

// Queue implements these ports.
var (
	_ longrun.Queue   = (*Queue)(nil)
	_ worker.Requeuer = (*Queue)(nil)
)

// SendJob enqueues a render job, in its owner's message group.
func (q *Queue) SendJob(ctx context.Context, job longrun.Job) error {
	return q.SendJobAfter(ctx, job, 0)
}

// SendJobAfter enqueues a render job, to be delivered after delay (SQS
// delays at most 15 minutes).
func (q *Queue) SendJobAfter(ctx context.Context, job longrun.Job, delay time.Duration) error {
	body, err := json.Marshal(job)
	if err != nil {
		return err
	}
	in := &sqs.SendMessageInput{QueueUrl: &q.URL, MessageBody: aws.String(string(body)),
		DelaySeconds: int32(min(max(delay, 0), 15*time.Minute).Round(time.Second) / time.Second)}
	if job.Owner != "" {
		// On a standard queue a message group makes it a fair queue: SQS
		// holds back a tenant with a backlog so the others' jobs keep
		// their dwell time low.
		in.MessageGroupId = aws.String(job.Owner)
	}
	if _, err := q.Client.SendMessage(ctx, in); err != nil {
		return longrun.Unavailable("the job queue", err)
	}
	return nil
}
