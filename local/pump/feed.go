package pump

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/longrun/longrun/aws/attr"
)

// Feed hands a change log to a handler in order, as DynamoDB Stream
// batches, and advances its cursor past what succeeded. Like an event
// source mapping it applies a filter (notify.Wants): records it drops are
// passed over, never delivered.
type Feed struct {
	Log     Log
	Name    string // the consumer's cursor
	Handler func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)
	Filter  func(events.DynamoDBEventRecord) bool // nil: every record
	Logger  *slog.Logger
}

// Run delivers the log until ctx ends, retrying a failed batch from its
// first failed record with a backoff of up to 30s.
func (f *Feed) Run(ctx context.Context) {
	cursor, err := f.Log.Cursor(ctx, f.Name)
	if err != nil {
		f.Logger.Error("feed: cannot read the cursor", "err", err)
		return
	}
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		changes, err := f.Log.Changes(ctx, cursor, 100)
		if err != nil || len(changes) == 0 {
			wait(ctx, f.Log.ChangesReady(), time.Second)
			continue
		}
		next, ok := f.deliver(ctx, cursor, changes)
		if ok {
			backoff = 0
		} else {
			backoff = min(max(backoff*2, time.Second), 30*time.Second)
		}
		if next > cursor {
			if err := f.Log.SetCursor(context.WithoutCancel(ctx), f.Name, next); err != nil {
				f.Logger.Error("feed: cannot save the cursor", "err", err)
			} else {
				cursor = next
			}
		}
		if backoff > 0 {
			wait(ctx, nil, backoff)
		}
	}
}

// deliver hands one batch to the handler and returns the seq the cursor may
// advance to, and whether the whole batch succeeded.
func (f *Feed) deliver(ctx context.Context, cursor int64, changes []Change) (int64, bool) {
	ev, err := f.event(changes)
	if err != nil { // an undecodable record can never succeed: skip it
		f.Logger.Error("feed: undecodable change skipped", "err", err)
	}
	last := changes[len(changes)-1].Seq
	if len(ev.Records) == 0 {
		return last, true
	}
	resp, herr := f.Handler(ctx, ev)
	switch {
	case herr != nil:
		return cursor, false
	case len(resp.BatchItemFailures) > 0:
		first, _ := strconv.ParseInt(resp.BatchItemFailures[0].ItemIdentifier, 10, 64)
		return first - 1, false
	}
	return last, true
}

// event turns changes into the event the DynamoDB Stream would send, less
// what the filter drops.
func (f *Feed) event(changes []Change) (events.DynamoDBEvent, error) {
	var ev events.DynamoDBEvent
	var errs []error
	for _, c := range changes {
		rec, err := Record(c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if f.Filter == nil || f.Filter(rec) {
			ev.Records = append(ev.Records, rec)
		}
	}
	return ev, errors.Join(errs...)
}

// Record is the stream record of a change.
func Record(c Change) (events.DynamoDBEventRecord, error) {
	seq := strconv.FormatInt(c.Seq, 10)
	rec := events.DynamoDBEventRecord{
		EventID: seq, EventSource: "longrun:local-changes", EventVersion: "1.1", EventName: "MODIFY",
		Change: events.DynamoDBStreamRecord{
			ApproximateCreationDateTime: events.SecondsEpochTime{Time: c.At},
			Keys:                        map[string]events.DynamoDBAttributeValue{"id": events.NewStringAttribute(c.ID)},
			SequenceNumber:              seq,
			StreamViewType:              "NEW_AND_OLD_IMAGES",
		},
	}
	var err error
	switch {
	case c.Old == nil:
		rec.EventName = "INSERT"
	case c.New == nil:
		rec.EventName = "REMOVE"
	}
	if c.Old != nil {
		rec.Change.OldImage, err = attr.Image(c.Old)
	}
	if c.New != nil && err == nil {
		rec.Change.NewImage, err = attr.Image(c.New)
	}
	if err != nil {
		return rec, fmt.Errorf("change %d: %w", c.Seq, err)
	}
	return rec, nil
}
