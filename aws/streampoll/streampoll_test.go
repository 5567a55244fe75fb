package streampoll_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/smithy-go/middleware"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/aws/attr"
	"github.com/longrun/longrun/aws/awstest"
	"github.com/longrun/longrun/aws/dynamo"
	"github.com/longrun/longrun/aws/streampoll"
	"github.com/longrun/longrun/internal/testutil"
	"github.com/longrun/longrun/kinds/juliaset"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// newStore makes fresh tables in DynamoDB Local; the context ends with the
// test, within a minute.
func newStore(t *testing.T) (aws.Config, *dynamo.Store, context.Context) {
	t.Helper()
	awstest.DynamoDB(t)
	cfg := awstest.Config(t)
	db := dynamodb.NewFromConfig(cfg)
	st := &dynamo.Store{Client: db, ConfigTable: awstest.Name("configurations"), ResultTable: awstest.Name("results")}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	if err := dynamo.CreateTables(ctx, db, st.ConfigTable, st.ResultTable, ""); err != nil {
		t.Fatal(err)
	}
	return cfg, st, ctx
}

// TestStreamCarriesOldAndNewImagesFiltered writes through the DynamoDB
// store and sees the stream deliver decodable old and new images, without
// the renames the filter drops, and redelivered after a failure.
func TestStreamCarriesOldAndNewImagesFiltered(t *testing.T) {
	cfg, st, ctx := newStore(t)
	now := time.Now().UTC()
	d := longrun.Draft{Name: "a", Spec: juliaset.Params{C: juliaset.Complex{Re: 0.3}, Zoom: 1, Width: 16, Height: 16, Depth: 5, Colormap: "magma"}}
	c := longrun.NewConfiguration(longrun.NewID(), d, nil, now)
	st.CreateConfiguration(ctx, c, longrun.Admission{})
	d.Name = "renamed"
	st.UpdateConfiguration(ctx, c.ID, func(c *longrun.Configuration) error { c.Edit(d, nil, now); return nil })
	st.UpdateConfiguration(ctx, c.ID, func(c *longrun.Configuration) error { return c.StartRender(c.Version, now) })
	st.UpdateConfiguration(ctx, c.ID, func(c *longrun.Configuration) error { return c.ReportProgress(c.Version, 0.5, nil) })
	st.DeleteConfiguration(ctx, c.ID)
	// The poller applies its filter as Lambda's event source mapping does:
	// here, one that passes over progress.
	noProgress := func(r events.DynamoDBEventRecord) bool {
		return r.EventName == "REMOVE" || r.Change.NewImage["change"].String() != longrun.ChangeProgress
	}

	var mu sync.Mutex
	var got []string
	failOnce := true
	done := make(chan struct{})
	p := &streampoll.Poller{Client: dynamodbstreams.NewFromConfig(cfg), Table: st.ConfigTable, Filter: noProgress,
		Handler: func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			mu.Lock()
			defer mu.Unlock()
			var resp events.DynamoDBEventResponse
			for i, r := range ev.Records {
				if failOnce && i == 1 { // fail the second record once
					failOnce = false
					resp.BatchItemFailures = []events.DynamoDBBatchItemFailure{{ItemIdentifier: r.Change.SequenceNumber}}
					return resp, nil
				}
				img := r.Change.NewImage
				if r.EventName == "REMOVE" {
					img = r.Change.OldImage
				}
				cfg, err := attr.Configuration(img)
				if err != nil {
					t.Errorf("%s image: %v", r.EventName, err)
					continue
				}
				got = append(got, r.EventName+":"+string(cfg.Status)+":"+cfg.Name)
				if r.EventName == "REMOVE" {
					close(done)
				}
			}
			return resp, nil
		}}
	go p.Run(ctx)
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("stream delivered only %v", got)
	}
	want := []string{"INSERT:queued:a", "MODIFY:queued:renamed", "MODIFY:rendering:renamed", "REMOVE:rendering:renamed"}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v (the progress filtered out, the failed record redelivered once)", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d: got %s, want %s", i, got[i], want[i])
		}
	}
}

// TestPollerStartedOnAnEmptyStreamDeliversLaterRecords starts the poller
// before anything is written, as make run-aws-local does, so its first
// iterators are taken on an empty shard (which DynamoDB Local has answered
// with TrimmedDataAccessException once records exist, seen under make
// run-aws-local after some 20 s idle), and finds the records written later
// delivered, with a streak of failures logged at most once.
func TestPollerStartedOnAnEmptyStreamDeliversLaterRecords(t *testing.T) {
	cfg, st, ctx := newStore(t)
	var reads atomic.Int64
	polled := make(chan struct{})
	count := middleware.FinalizeMiddlewareFunc("countReads", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		if middleware.GetOperationName(ctx) == "GetRecords" && reads.Add(1) == 100 {
			close(polled)
		}
		return next.HandleFinalize(ctx, in)
	})
	client := dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error { return s.Finalize.Add(count, middleware.After) })
	})
	var logs testutil.SyncBuffer
	delivered := make(chan string, 10)
	p := &streampoll.Poller{Client: client, Table: st.ConfigTable, Every: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Handler: func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			for _, r := range ev.Records {
				delivered <- r.EventName
			}
			return events.DynamoDBEventResponse{}, nil
		}}
	go p.Run(ctx)
	select { // the poller holds iterators taken on the empty shard
	case <-polled:
	case <-ctx.Done():
		t.Fatal("the poller never read the empty stream")
	}
	d := longrun.Draft{Name: "a", Spec: juliaset.Params{C: juliaset.Complex{Re: 0.3}, Zoom: 1, Width: 16, Height: 16, Depth: 5, Colormap: "magma"}}
	if err := st.CreateConfiguration(ctx, longrun.NewConfiguration(longrun.NewID(), d, nil, time.Now()), longrun.Admission{}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-delivered:
		if got != "INSERT" {
			t.Errorf("delivered %s, want the INSERT", got)
		}
	case <-ctx.Done():
		t.Fatalf("a record written after the poller started was never delivered (%d reads)\n%s", reads.Load(), logs.String())
	}
	if n := strings.Count(logs.String(), "cannot read the stream"); n > 1 {
		t.Errorf("a failing iterator was logged %d times, want at most once per streak\n%s", n, logs.String())
	}
}

// A stream that cannot be read for a while (the server gone, throttling)
// is said once when it begins and once when it ends, to the log and to
// Status (make run-aws-local prints it), and nothing written meanwhile is
// lost.
func TestAStreakOfFailuresIsSaidOnceAndNothingIsLost(t *testing.T) {
	cfg, st, ctx := newStore(t)
	d := longrun.Draft{Name: "a", Spec: juliaset.Params{C: juliaset.Complex{Re: 0.3}, Zoom: 1, Width: 16, Height: 16, Depth: 5, Colormap: "magma"}}
	if err := st.CreateConfiguration(ctx, longrun.NewConfiguration(longrun.NewID(), d, nil, time.Now()), longrun.Admission{}); err != nil {
		t.Fatal(err)
	}
	var failures atomic.Int64
	failures.Store(20) // the next 20 reads fail, each with a new request id
	broken := middleware.FinalizeMiddlewareFunc("failReads", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		if middleware.GetOperationName(ctx) == "GetRecords" && failures.Add(-1) >= 0 {
			return middleware.FinalizeOutput{}, middleware.Metadata{}, fmt.Errorf("throttled, request %d", failures.Load())
		}
		return next.HandleFinalize(ctx, in)
	})
	client := dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) {
		o.RetryMaxAttempts = 1
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error { return s.Finalize.Add(broken, middleware.Before) })
	})
	var logs testutil.SyncBuffer
	var mu sync.Mutex
	var said []string
	mended := make(chan struct{}, 1)
	delivered := make(chan struct{})
	p := &streampoll.Poller{Client: client, Table: st.ConfigTable, Every: 5 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Status: func(reading bool, err error) {
			mu.Lock()
			defer mu.Unlock()
			said = append(said, fmt.Sprint(reading))
			if reading {
				mended <- struct{}{}
			}
		},
		Handler: func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			close(delivered)
			return events.DynamoDBEventResponse{}, nil
		}}
	go p.Run(ctx)
	select {
	case <-delivered:
	case <-ctx.Done():
		t.Fatalf("the record written before the failures was never delivered\n%s", logs.String())
	}
	select { // (said after the batch that read is delivered)
	case <-mended:
	case <-ctx.Done():
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(said, ",") != "false,true" {
		t.Errorf("Status heard %v, want the streak's beginning and end once each (false, true)", said)
	}
	if n := strings.Count(logs.String(), "cannot read the stream"); n != 1 {
		t.Errorf("20 failing reads logged %d times, want once\n%s", n, logs.String())
	}
}
