package awsfaults_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/aws/attr"
	"github.com/longrun/longrun/aws/awstest"
	"github.com/longrun/longrun/aws/dynamo"
	"github.com/longrun/longrun/aws/s3images"
	"github.com/longrun/longrun/aws/sesmail"
	"github.com/longrun/longrun/aws/sqsqueue"
	"github.com/longrun/longrun/kinds/juliaset"
	"github.com/longrun/longrun/notify"
	"github.com/longrun/longrun/worker"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// flaky proxies to a server, answering 503 while down is set.
func flaky(t *testing.T, target string) (string, *atomic.Bool) {
	t.Helper()
	u, _ := url.Parse(target)
	proxy := httputil.NewSingleHostReverseProxy(u)
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "<Error><Code>ServiceUnavailable</Code><Message>down for the test</Message></Error>", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &down
}

func store(t *testing.T) *dynamo.Store {
	t.Helper()
	awstest.DynamoDB(t)
	db := dynamodb.NewFromConfig(awstest.Config(t))
	st := &dynamo.Store{Client: db, ConfigTable: awstest.Name("configurations"), ResultTable: awstest.Name("results")}
	if err := dynamo.CreateTables(context.Background(), db, st.ConfigTable, st.ResultTable, ""); err != nil {
		t.Fatal(err)
	}
	return st
}

func queued(t *testing.T, st *dynamo.Store, re float64) (*longrun.Configuration, events.SQSMessage) {
	t.Helper()
	c := longrun.NewConfiguration(longrun.NewID(), longrun.Draft{Name: "f",
		Spec: juliaset.Params{C: juliaset.Complex{Re: re, Im: 0.4}, Zoom: 1, Width: 32, Height: 32, Depth: 30, Colormap: "magma"}}, nil, time.Now().UTC())
	if err := st.CreateConfiguration(context.Background(), c, longrun.Admission{}); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(longrun.Job{ID: c.ID, Version: c.Version, Hash: c.ParamsHash})
	return c, events.SQSMessage{MessageId: c.ID, Body: string(body), Attributes: map[string]string{"ApproximateReceiveCount": "1"}}
}

// TestS3DownFailsOnlyThatJob: with S3 down, the job that must store an image
// is reported failed alone; a job served from an existing result goes
// through; when S3 is back the retry stores the image.
func TestS3DownFailsOnlyThatJob(t *testing.T) {
	st := store(t)
	endpoint, down := flaky(t, awstest.S3(t))
	client := s3.NewFromConfig(awstest.Config(t), func(o *s3.Options) {
		o.UsePathStyle = true
		o.BaseEndpoint = aws.String(endpoint)
		o.Retryer = retry.AddWithMaxAttempts(retry.NewStandard(), 1)
	})
	bucket := awstest.Name("images")
	if _, err := client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	w := &worker.Worker{Service: &longrun.Service{Store: st, Results: st, Kinds: longrun.Kinds{juliaset.Name: juliaset.New(juliaset.Bounds{})}}, Leases: st, Images: &s3images.Bucket{Client: client, Name: bucket}, MaxReceives: 5, Workers: 1}

	needsS3, m1 := queued(t, st, 0.11)
	rendered, m0 := queued(t, st, 0.12)
	if resp, _ := w.HandleSQS(context.Background(), events.SQSEvent{Records: []events.SQSMessage{m0}}); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("setup render failed: %+v", resp)
	}
	// Same parameters as the rendered one: a dedup hit needs no S3.
	dedup, m2 := queued(t, st, 0.12)

	down.Store(true)
	resp, err := w.HandleSQS(context.Background(), events.SQSEvent{Records: []events.SQSMessage{m1, m2}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != needsS3.ID {
		t.Fatalf("failures %+v, want only the job that needs S3", resp.BatchItemFailures)
	}
	if c, _ := st.Configuration(context.Background(), dedup.ID); c.Status != longrun.StatusDone || c.RenderedHash != rendered.ParamsHash {
		t.Errorf("the dedup job was blocked: %s", c.Status)
	}
	if c, _ := st.Configuration(context.Background(), needsS3.ID); c.Status == longrun.StatusFailed {
		t.Errorf("one failed delivery of five marked the configuration failed")
	}

	down.Store(false)
	m1.Attributes["ApproximateReceiveCount"] = "2"
	if resp, _ := w.HandleSQS(context.Background(), events.SQSEvent{Records: []events.SQSMessage{m1}}); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("retry with S3 back: %+v", resp)
	}
	if c, _ := st.Configuration(context.Background(), needsS3.ID); c.Status != longrun.StatusDone {
		t.Errorf("after the retry: %s, want done", c.Status)
	}
}

// TestSESDownNeitherBlocksTheFeedNorLosesTheEmail: with SES down, the
// stream batch succeeds (other records' pushes go out), the e-mail waits in
// the SQS retry queue, and when SES is back the retry sends it once.
func TestSESDownNeitherBlocksTheFeedNorLosesTheEmail(t *testing.T) {
	st := store(t)
	ctx := context.Background()
	sesURL := awstest.SES(t)
	endpoint, down := flaky(t, sesURL)
	mailer := &sesmail.Mailer{From: "longrun@example.com", Client: sesv2.NewFromConfig(awstest.Config(t), func(o *sesv2.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.Retryer = retry.AddWithMaxAttempts(retry.NewStandard(), 1)
	})}
	awstest.SQS(t)
	sqsClient := sqs.NewFromConfig(awstest.Config(t))
	q, err := sqsClient.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awstest.Name("mail-retries"))})
	if err != nil {
		t.Fatal(err)
	}
	var pushes atomic.Int64
	n := &notify.Notifier{Mail: mailer, Sent: st, Addresses: st, BaseURL: "http://x",
		Retry: &sqsqueue.Queue{Client: sqsClient, URL: *q.QueueUrl},
		Push:  pushFunc(func(context.Context, string, []byte) error { pushes.Add(1); return nil })}
	notify.RetryBase = time.Second
	to := awstest.Name("ses") + "@example.com"
	owner := longrun.NewID()
	st.PutAddress(ctx, longrun.Address{Owner: owner, Addr: to, Token: longrun.NewID(), Confirmed: true}, true)
	rec := func(seq string, status longrun.Status, email string) events.DynamoDBEventRecord {
		c := &longrun.Configuration{ID: longrun.NewID(), Owner: owner, Name: seq, Version: 1, Status: status, NotifyEmail: email, ParamsHash: "h"}
		old := *c
		old.Status = longrun.StatusRendering
		oi, _ := attr.StreamImage(&old)
		ni, _ := attr.StreamImage(c)
		return events.DynamoDBEventRecord{EventName: "MODIFY", Change: events.DynamoDBStreamRecord{SequenceNumber: seq, OldImage: oi, NewImage: ni}}
	}
	ev := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		rec("100", longrun.StatusRendering, ""), // progress: no mail needed
		rec("101", longrun.StatusDone, to),
		rec("102", longrun.StatusDone, ""),
	}}
	down.Store(true)
	if resp, _ := n.HandleStream(ctx, ev); len(resp.BatchItemFailures) != 0 || pushes.Load() != 3 {
		t.Fatalf("failures %+v, %d pushes: want the batch through and every record pushed", resp.BatchItemFailures, pushes.Load())
	}
	down.Store(false)
	// The retry arrives after its delay, as Lambda's SQS event source hands it over.
	out, err := sqsClient.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 10})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("retry queue: %v %v, want the e-mail", out, err)
	}
	retryEv := events.SQSEvent{Records: []events.SQSMessage{{MessageId: *out.Messages[0].MessageId, Body: *out.Messages[0].Body}}}
	if resp, _ := n.HandleRetries(ctx, retryEv); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("retry: %+v", resp)
	}
	n.HandleStream(ctx, events.DynamoDBEvent{Records: ev.Records[1:]}) // a redelivery sends nothing more
	if sent := len(awstest.Inbox(t, to)); sent != 1 {
		t.Errorf("%d e-mails to %s, want exactly 1", sent, to)
	}
}

type pushFunc func(context.Context, string, []byte) error

func (f pushFunc) Push(ctx context.Context, owner string, msg []byte) error {
	return f(ctx, owner, msg)
}

// TestAWriteWhoseSendWasLostIsSentFromTheFeed: the API stores a
// configuration and then cannot send its job (SQS down, as if the function
// stopped between the two); the change feed, the outbox of that write,
// sends a copy of the job, which the worker takes as a render still to do.
func TestAWriteWhoseSendWasLostIsSentFromTheFeed(t *testing.T) {
	st := store(t)
	ctx := context.Background()
	endpoint, down := flaky(t, awstest.SQS(t))
	sqsClient := sqs.NewFromConfig(awstest.Config(t), func(o *sqs.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.Retryer = retry.AddWithMaxAttempts(retry.NewStandard(), 1)
	})
	q, err := sqsClient.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awstest.Name("jobs"))})
	if err != nil {
		t.Fatal(err)
	}
	jobs := &sqsqueue.Queue{Client: sqsClient, URL: *q.QueueUrl}
	svc := &longrun.Service{Store: st, Results: st, Queue: jobs, Kinds: longrun.Kinds{juliaset.Name: juliaset.New(juliaset.Bounds{})}}
	down.Store(true)
	name := "lost send"
	c, err := svc.Create(ctx, longrun.Caller{Owner: longrun.NewID()}, &longrun.Input{Name: &name,
		Params: juliaset.ParamsInput{C: &juliaset.Complex{Re: -0.4, Im: 0.6}}.JSON()})
	if !errors.Is(err, longrun.ErrNotQueued) {
		t.Fatalf("create with the queue down: %v, want ErrNotQueued", err)
	}
	down.Store(false)

	stored, err := st.Configuration(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	image, _ := attr.StreamImage(stored) // what the table's stream carries for the write
	n := &notify.Notifier{Sent: st, Outbox: jobs, OutboxDelay: time.Nanosecond,
		Push: pushFunc(func(context.Context, string, []byte) error { return nil })}
	ev := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{{EventName: "INSERT",
		Change: events.DynamoDBStreamRecord{SequenceNumber: "1", NewImage: image}}}}
	if resp, err := n.HandleStream(ctx, ev); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatal(resp, err)
	}
	out, err := sqsClient.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 10})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("job queue: %v %v, want the outbox's copy of the job", out, err)
	}
	var job longrun.Job
	json.Unmarshal([]byte(*out.Messages[0].Body), &job)
	if job.ID != c.ID || job.Version != c.Version || !job.Recheck {
		t.Fatalf("sent %+v, want a recheck of %s v%d", job, c.ID, c.Version)
	}
	if _, skip, err := svc.Prepare(ctx, job); err != nil || skip != longrun.SkipNone {
		t.Errorf("the worker's first step for it: skip %q, %v; want a render to do", skip, err)
	}
}
