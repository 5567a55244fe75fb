// Package sqsqueue sends render jobs to an SQS queue; Lambda's event source
// mapping delivers them to the render function.
package sqsqueue

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/longrun/longrun"
)

// A Queue is an SQS queue of render jobs.
type Queue struct {
	Client *sqs.Client
	URL    string
}

// Queue implements this port.
var _ longrun.Queue = (*Queue)(nil)

// SendJob enqueues a render job.
func (q *Queue) SendJob(ctx context.Context, job longrun.Job) error {
	body, err := json.Marshal(job)
	if err != nil {
		return err
	}
	if _, err := q.Client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &q.URL, MessageBody: aws.String(string(body))}); err != nil {
		return longrun.Unavailable("the job queue", err)
	}
	return nil
}
