package sqsqueue_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/aws/awstest"
	"github.com/longrun/longrun/aws/sqsqueue"
	"github.com/longrun/longrun/porttest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// TestJobsArriveAndPoisonMovesToTheDLQ sends a job, receives it, and lets a
// failing one be received maxReceiveCount times: then it is in the DLQ.
func TestJobsArriveAndPoisonMovesToTheDLQ(t *testing.T) {
	awstest.SQS(t)
	ctx := context.Background()
	client := sqs.NewFromConfig(awstest.Config(t))
	dlq, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awstest.Name("dlq"))})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	redrive, _ := json.Marshal(map[string]string{"deadLetterTargetArn": attrs.Attributes["QueueArn"], "maxReceiveCount": "2"})
	q, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awstest.Name("jobs")),
		Attributes: map[string]string{"RedrivePolicy": string(redrive), "VisibilityTimeout": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	queue := &sqsqueue.Queue{Client: client, URL: *q.QueueUrl}
	job := longrun.Job{ID: longrun.NewID(), Version: 3, Hash: "abc", Owner: longrun.NewID()}
	if err := queue.SendJob(ctx, job); err != nil {
		t.Fatal(err)
	}
	for receive := 1; receive <= 2; receive++ {
		// Long polling waits for the failed message to become visible again.
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 5,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount}})
		if err != nil || len(out.Messages) != 1 {
			t.Fatalf("receive %d: %v %v", receive, out, err)
		}

		var got longrun.Job
		json.Unmarshal([]byte(*out.Messages[0].Body), &got)
		if got != job {
			t.Fatalf("got %+v, want %+v", got, job)
		}
		// Not deleted: the render failed.
	}
	out, _ := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 3})
	if len(out.Messages) != 0 {
		t.Fatalf("delivered a third time past maxReceiveCount 2")
	}
	dead, _ := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: dlq.QueueUrl, WaitTimeSeconds: 3})
	if len(dead.Messages) != 1 {
		t.Fatalf("the DLQ holds %d messages, want the job", len(dead.Messages))
	}
}

func TestSendToAMissingQueueIsUnavailable(t *testing.T) {
	awstest.SQS(t)
	queue := &sqsqueue.Queue{Client: sqs.NewFromConfig(awstest.Config(t)), URL: os.Getenv("AWS_ENDPOINT_URL_SQS") + "/000000000000/missing"}
	if err := queue.SendJob(context.Background(), longrun.Job{ID: "x"}); longrun.ErrorCode(err) != longrun.EUNAVAILABLE {
		t.Errorf("got %v, want EUNAVAILABLE", err)
	}
}

func TestQueueConformance(t *testing.T) {
	porttest.TestQueue(t, func(t *testing.T) (porttest.Queue, func() []longrun.Job) {
		awstest.SQS(t)
		ctx := context.Background()
		client := sqs.NewFromConfig(awstest.Config(t))
		q, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awstest.Name("conformance"))})
		if err != nil {
			t.Fatal(err)
		}
		return &sqsqueue.Queue{Client: client, URL: *q.QueueUrl}, func() []longrun.Job {
			out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
			if err != nil {
				t.Fatal(err)
			}
			var jobs []longrun.Job
			for _, m := range out.Messages {
				var j longrun.Job
				json.Unmarshal([]byte(*m.Body), &j)
				jobs = append(jobs, j)
				client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: m.ReceiptHandle})
			}
			return jobs
		}
	})
}

// recorder keeps the bodies of the requests it passes on.
type recorder struct {
	next   aws.HTTPClient
	mu     sync.Mutex
	bodies []string
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(b))
		r.mu.Lock()
		r.bodies = append(r.bodies, string(b))
		r.mu.Unlock()
	}
	return r.next.Do(req)
}

// Every job is sent in its client's message group (its owner's if it has
// no client), which makes the standard queue an SQS fair queue shared by
// clients. fauxqs accepts the group on a standard queue but does not keep
// it, so the requests themselves are checked.
func TestJobsAreSentInTheirClientsMessageGroup(t *testing.T) {
	awstest.SQS(t)
	ctx := context.Background()
	cfg := awstest.Config(t)
	rec := &recorder{next: awshttp.NewBuildableClient()}
	cfg.HTTPClient = rec
	client := sqs.NewFromConfig(cfg)
	q, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awstest.Name("fair"))})
	if err != nil {
		t.Fatal(err)
	}
	for _, job := range []longrun.Job{
		{ID: longrun.NewID(), Version: 1, Hash: "h", Owner: longrun.NewID(), Client: "203.0.113.0/24"},
		{ID: longrun.NewID(), Version: 1, Hash: "h", Owner: longrun.NewID()},
	} {
		if err := (&sqsqueue.Queue{Client: client, URL: *q.QueueUrl}).SendJob(ctx, job); err != nil {
			t.Fatal(err)
		}
		rec.mu.Lock()
		var send struct{ MessageGroupId string }
		json.Unmarshal([]byte(rec.bodies[len(rec.bodies)-1]), &send)
		if want := cmp.Or(job.Client, job.Owner); send.MessageGroupId != want {
			t.Errorf("SendMessage %s: message group %q, want %q", rec.bodies[len(rec.bodies)-1], send.MessageGroupId, want)
		}
		rec.mu.Unlock()
	}
}

// A failed job comes back after the backoff, not the queue's whole
// visibility timeout.
func TestAFailedJobComesBackAfterTheBackoff(t *testing.T) {
	awstest.SQS(t)
	ctx := context.Background()
	client := sqs.NewFromConfig(awstest.Config(t))
	q, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awstest.Name("backoff")),
		Attributes: map[string]string{"VisibilityTimeout": "720"}})
	if err != nil {
		t.Fatal(err)
	}
	queue := &sqsqueue.Queue{Client: client, URL: *q.QueueUrl}
	queue.SendJob(ctx, longrun.Job{ID: longrun.NewID(), Version: 1, Hash: "h"})
	out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 5,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount}})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("receive: %v %v", out, err)
	}
	m := out.Messages[0]
	ev := events.SQSEvent{Records: []events.SQSMessage{{MessageId: *m.MessageId, ReceiptHandle: *m.ReceiptHandle, Attributes: m.Attributes}}}
	failing := func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
		return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: *m.MessageId}}}, nil
	}
	start := time.Now()
	if _, err := queue.WithBackoff(failing, time.Second, slog.Default())(ctx, ev); err != nil {
		t.Fatal(err)
	}
	again, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 10})
	if err != nil || len(again.Messages) != 1 {
		t.Fatalf("the failed job did not come back within 10 s of a 1 s backoff (visibility timeout 720 s): %v %v", again, err)
	}
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Errorf("back after %v, before its backoff", waited)
	}
}

// TestAJobsTraceTravelsAsAMessageAttribute: a job's traceparent is on its
// message as the traceparent attribute, sent alone or in a batch, and
// the consumer reads it back.
func TestAJobsTraceTravelsAsAMessageAttribute(t *testing.T) {
	awstest.SQS(t)
	ctx := context.Background()
	client := sqs.NewFromConfig(awstest.Config(t))
	q, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awstest.Name("traced"))})
	if err != nil {
		t.Fatal(err)
	}
	queue := &sqsqueue.Queue{Client: client, URL: *q.QueueUrl}
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	job := longrun.Job{ID: longrun.NewID(), Version: 1, Hash: "h", Owner: longrun.NewID(), Trace: tp}
	if err := queue.SendJob(ctx, job); err != nil {
		t.Fatal(err)
	}
	if err := queue.SendJobs(ctx, []longrun.Job{job}); err != nil {
		t.Fatal(err)
	}
	got := 0
	for range 5 {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			if a, ok := m.MessageAttributes[sqsqueue.TraceAttribute]; !ok || aws.ToString(a.StringValue) != tp {
				t.Errorf("message %s: attributes %v, want traceparent %s", aws.ToString(m.Body), m.MessageAttributes, tp)
			}
			got++
		}
		if got == 2 {
			break
		}
	}
	if got != 2 {
		t.Fatalf("%d of 2 messages received", got)
	}
}
