package pump_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/longrun/longrun/local/pump"
)

// flaky is a queue whose receives fail until it is mended, then deliver
// one message.
type flaky struct {
	mended, delivered atomic.Bool
	ready             chan struct{}
}

func (q *flaky) Receive(ctx context.Context, max int, visibility time.Duration, maxReceives int) ([]pump.Message, error) {
	if !q.mended.Load() {
		return nil, errors.New("database is locked")
	}
	if q.delivered.CompareAndSwap(false, true) {
		return []pump.Message{{ID: 1, Body: "{}", Receives: 1, SentAt: time.Now()}}, nil
	}
	return nil, nil
}
func (q *flaky) ChangeVisibility(context.Context, int64, time.Duration) error { return nil }
func (q *flaky) DeleteJob(context.Context, int64) error                       { return nil }
func (q *flaky) JobsReady() <-chan struct{}                                   { return q.ready }

// Health says when receives fail, and since when, and which handler has
// run longest; both clear when the pump works again.
func TestJobsHealthSaysWhatKeepsItFromWork(t *testing.T) {
	q := &flaky{ready: make(chan struct{})}
	running, finish := make(chan struct{}), make(chan struct{})
	j := &pump.Jobs{Queue: q, Visibility: time.Minute, MaxReceives: 3, RetryBase: time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Handler: func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			close(running)
			<-finish
			return events.SQSEventResponse{}, nil
		}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go j.Run(ctx)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if err, since, _ := j.Health(); err != nil && !since.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("failing receives never showed in Health")
		}
	}
	q.mended.Store(true)
	<-running
	if err, _, oldest := j.Health(); err != nil || oldest.IsZero() {
		t.Errorf("with the queue read and a handler at work: failing %v, oldest %v; want none, and the handler's start", err, oldest)
	}
	close(finish)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, _, oldest := j.Health(); oldest.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a finished handler still shows as running")
		}
	}
}
