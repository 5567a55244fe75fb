// Command longrun-aws-local runs longrun with its AWS adapters against
// servers that speak the AWS protocols (make run-aws-local starts them):
// the API as a plain HTTP server, the render worker fed from SQS, and the
// notifier fed from the configurations table's stream, as Lambda would feed
// them. Pushes go through an in-process WebSocket hub, since no API Gateway
// runs locally. Endpoints come from AWS_ENDPOINT_URL_<SERVICE>.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/aws/dynamo"
	"github.com/longrun/longrun/aws/s3images"
	"github.com/longrun/longrun/aws/sesmail"
	"github.com/longrun/longrun/aws/sqspoll"
	"github.com/longrun/longrun/aws/sqsqueue"
	"github.com/longrun/longrun/aws/streampoll"
	"github.com/longrun/longrun/infra"
	"github.com/longrun/longrun/kinds/classifier"
	"github.com/longrun/longrun/kinds/juliaset"
	"github.com/longrun/longrun/local/hub"
	"github.com/longrun/longrun/local/prom"
	"github.com/longrun/longrun/notify"
	"github.com/longrun/longrun/web"
	"github.com/longrun/longrun/worker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "longrun-aws-local:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("longrun-aws-local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	prefix := fs.String("prefix", "longrun", "prefix of the table, queue and bucket names")
	inbox := fs.String("ses-inbox", "", "where the local SES server shows the mail it got, for the page")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	// DynamoDB Local answers errors without the checksum the SDK validates.
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = true })
	names := struct{ configs, results, conns, queue, dlq, bucket string }{
		*prefix + "-configurations", *prefix + "-results", *prefix + "-connections", *prefix + "-jobs", *prefix + "-jobs-dlq", *prefix + "-images"}
	sqsClient := sqs.NewFromConfig(cfg)
	s3Client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	queueURL, err := create(ctx, db, sqsClient, s3Client, names.configs, names.results, names.conns, names.queue, names.dlq, names.bucket)
	if err != nil {
		return fmt.Errorf("create resources: %w", err)
	}
	retries, err := sqsClient.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(*prefix + "-mail-retries")})
	if err != nil {
		return fmt.Errorf("create resources: %w", err)
	}

	store := &dynamo.Store{Client: db, ConfigTable: names.configs, ResultTable: names.results}
	// The configuration infra/events/render-sqs.json names, for sam local
	// invoke: queued, never enqueued, so the invoke is what renders it.
	if _, err := store.Configuration(ctx, infra.SampleID); longrun.ErrorCode(err) == longrun.ENOTFOUND {
		if err := store.CreateConfiguration(ctx, infra.Sample(time.Now().UTC()), longrun.Admission{}); err != nil {
			return fmt.Errorf("create the sample configuration: %w", err)
		}
	}
	metrics := prom.New()
	h := hub.New(log)
	key := []byte(getenv("LONGRUN_SESSION_KEY"))
	if len(key) < 32 {
		key = make([]byte, 32)
		rand.Read(key)
		key = []byte(hex.EncodeToString(key)) // sessions last as long as this process
	}
	images := &s3images.Bucket{Client: s3Client, Name: names.bucket}
	// The kinds of computation, as the functions' tables have them.
	kinds := longrun.Kinds{
		juliaset.Name:   juliaset.New(juliaset.Bounds{}),
		classifier.Name: classifier.New(),
	}
	sessions := &web.Sessions{Key: key}
	srv := web.NewServer(web.Deps{
		Service: &longrun.Service{Store: store, Results: store, Images: images, Metrics: metrics, Limiter: store, Addresses: store, Kinds: kinds,
			Queue: &sqsqueue.Queue{Client: sqsClient, URL: queueURL}},
		Images: images, Sessions: sessions,
		Logger: log, Metrics: metrics, Live: h.Serve, MailInbox: *inbox,
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String() + "/"
	w := &worker.Worker{Service: &longrun.Service{Store: store, Results: store, Images: images, Tiles: store, Kinds: kinds}, Leases: store,
		Requeue: &sqsqueue.Queue{Client: sqsClient, URL: queueURL}, Images: images,
		Logger: log, Metrics: metrics, MaxReceives: 5}
	n := &notify.Notifier{Mail: &sesmail.Mailer{Client: sesv2.NewFromConfig(cfg), From: "longrun@example.com"},
		Push: h, Sent: store, Logger: log, Metrics: metrics, BaseURL: url, Link: web.LinkSigner{Key: key}.Path, Kinds: kinds,
		Addresses: store, Limiter: store, Failures: &longrun.Service{Store: store, Results: store},
		Retry: &sqsqueue.Queue{Client: sqsClient, URL: *retries.QueueUrl}, Outbox: &sqsqueue.Queue{Client: sqsClient, URL: queueURL}}

	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() {
		(&sqspoll.Poller{Client: sqsClient, QueueURL: queueURL, Handler: w.HandleSQS, Logger: log}).Run(ctx)
	})
	wg.Go(func() {
		(&sqspoll.Poller{Client: sqsClient, QueueURL: *retries.QueueUrl, Handler: n.HandleRetries, Logger: log}).Run(ctx)
	})
	wg.Go(func() {
		// What stops notifications is said on the terminal too: the log
		// goes to a file nobody watches.
		p := &streampoll.Poller{Client: dynamodbstreams.NewFromConfig(cfg), Table: names.configs, Handler: n.HandleStream,
			Filter: notify.Wants, Logger: log, Status: func(reading bool, err error) {
				if reading {
					fmt.Fprintln(stdout, "notifications resumed: the configurations stream is read again")
				} else {
					fmt.Fprintf(stdout, "notifications paused: cannot read the configurations stream (%v); retrying\n", err)
				}
			}}
		if err := p.Run(ctx); err != nil {
			log.Error("stream poller stopped", "err", err)
			fmt.Fprintf(stdout, "notifications stopped: cannot read the configurations stream: %v\n", err)
		}
	})
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler())
	mux.Handle("/", srv)
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		server.Shutdown(sctx)
	}()
	fmt.Fprintf(stdout, "longrun (AWS adapters, local servers) is running at %s\n", url)
	err = server.Serve(ln)
	cancel()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// create makes the resources template.yaml declares, unless they exist.
func create(ctx context.Context, db *dynamodb.Client, q *sqs.Client, s *s3.Client, configs, results, conns, queue, dlq, bucket string) (string, error) {
	if _, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &configs}); err != nil {
		if err := dynamo.CreateTables(ctx, db, configs, results, conns); err != nil {
			return "", err
		}
	}
	dead, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &dlq})
	if err != nil {
		return "", err
	}
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dead.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return "", err
	}
	redrive, _ := json.Marshal(map[string]string{"deadLetterTargetArn": attrs.Attributes["QueueArn"], "maxReceiveCount": "5"})
	jobs, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &queue,
		Attributes: map[string]string{"VisibilityTimeout": "120", "RedrivePolicy": string(redrive)}})
	if err != nil {
		return "", err
	}
	if _, err := s.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &bucket}); err != nil {
		if _, err := s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
			return "", err
		}
	}
	return *jobs.QueueUrl, nil
}
