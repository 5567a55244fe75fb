// Command render is the render Lambda: SQS batches of jobs go to the render
// worker, which reports failed messages so only they are retried. A render's
// deadline is the invocation's, less a margin to record a failure.
package main

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/aws/sqsqueue"
	"github.com/longrun/longrun/functions/internal/awsenv"
	"github.com/longrun/longrun/kinds/classifier"
	"github.com/longrun/longrun/kinds/juliaset"
	"github.com/longrun/longrun/worker"
)

func main() { awsenv.Start(awsenv.Main("render", newHandler)) }

// newHandler builds the render worker, its failed jobs retried after the
// same backoff as the local queue's (RETRY_BASE_SECONDS, default 1).
func newHandler(ctx context.Context, getenv func(string) string) (sqsqueue.Handler, error) {
	e, cfg, err := awsenv.Load(ctx, getenv, "render")
	if err != nil {
		return nil, err
	}
	store := awsenv.Store(e, dynamodb.NewFromConfig(cfg))
	images := awsenv.Images(e, cfg)
	jobs := &sqsqueue.Queue{Client: sqs.NewFromConfig(cfg), URL: e.Required("JOB_QUEUE_URL")}
	log := awsenv.Logger()
	w := &worker.Worker{
		Service: &longrun.Service{Store: store, Results: store, Images: images, Tiles: store, Kinds: kinds(e)}, Leases: store,
		Requeue: jobs, Images: images, Logger: log, Metrics: awsenv.Metrics("render"),
		MaxReceives: e.Int("MAX_RECEIVES", 5),
		Margin:      10 * time.Second,
	}
	return jobs.WithBackoff(w.HandleSQS, time.Duration(e.Int("RETRY_BASE_SECONDS", 1))*time.Second, log), e.Err()
}

// kinds is the function's table of the computations it serves.
func kinds(e *awsenv.Env) longrun.Kinds {
	return longrun.Kinds{
		juliaset.Name:   juliaset.New(awsenv.Bounds(e)),
		classifier.Name: classifier.New(),
	}
}
