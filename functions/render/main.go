// Command render is the render Lambda: SQS batches of jobs go to the render
// worker, which reports failed messages so only they are retried. A render's
// deadline is the invocation's, less a margin to record a failure.
package main

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/aws/sqsqueue"
	"github.com/longrun/longrun/functions/internal/awsenv"
	"github.com/longrun/longrun/worker"
)

func main() { lambda.Start(awsenv.Main("render", newWorker).HandleSQS) }

func newWorker(ctx context.Context, getenv func(string) string) (*worker.Worker, error) {
	e, cfg, err := awsenv.Load(ctx, getenv)
	if err != nil {
		return nil, err
	}
	store := awsenv.Store(e, dynamodb.NewFromConfig(cfg))
	images := awsenv.Images(e, cfg)
	w := &worker.Worker{
		Service: &longrun.Service{Store: store, Results: store, Images: images}, Leases: store,
		Requeue: &sqsqueue.Queue{Client: sqs.NewFromConfig(cfg), URL: e.Required("JOB_QUEUE_URL")},
		Images:  awsenv.Images(e, cfg), Logger: awsenv.Logger(), Metrics: awsenv.Metrics("render"),
		MaxReceives: e.Int("MAX_RECEIVES", 5),
		Margin:      10 * time.Second,
	}
	return w, e.Err()
}
