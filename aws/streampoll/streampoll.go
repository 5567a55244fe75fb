// Package streampoll reads a DynamoDB table's stream with GetRecords and
// hands the records to a handler as events.DynamoDBEvent batches, as
// Lambda's event source mapping does: filter criteria applied, batches
// retried from the first failed sequence number. Tests and local runs use it
// where no Lambda service delivers the stream.
package streampoll

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/longrun/longrun/aws/attr"
	"github.com/longrun/longrun/aws/dynamo"
)

// Handler is the notify function's signature.
type Handler func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// A Poller delivers one table's stream to a handler.
type Poller struct {
	Client  *dynamodbstreams.Client
	Table   string
	Handler Handler
	Filter  func(events.DynamoDBEventRecord) bool // nil: every record; notify.Wants for the notifier
	Batch   int32                                 // records per GetRecords; 0 means 100
	Every   time.Duration                         // idle poll interval; 0 means 100ms
	Logger  *slog.Logger
	// Status, if set, hears when the poller cannot read the stream (reading
	// false, with the error) and when it reads it again: a local runner
	// says so on its terminal, where the log file is not read.
	Status func(reading bool, err error)
}

// StreamARN returns the table's latest stream.
func (p *Poller) StreamARN(ctx context.Context) (string, error) {
	out, err := p.Client.ListStreams(ctx, &dynamodbstreams.ListStreamsInput{TableName: &p.Table})
	if err != nil {
		return "", err
	}
	if len(out.Streams) == 0 {
		return "", fmt.Errorf("table %s has no stream", p.Table)
	}
	return *out.Streams[len(out.Streams)-1].StreamArn, nil
}

// shard is where the poller is in one shard: its iterator, the last
// record it delivered (or passed over), and the failure it last reported.
type shard struct {
	iter    *string
	last    string // sequence number; "" before the first record
	failing bool   // in a streak of failures, logged when it began
	closed  bool   // a closed shard read to its end
}

// Run delivers the stream from its oldest record until ctx ends. An
// iterator that fails (expired after 15 minutes, trimmed, or taken on a
// shard that was empty — DynamoDB Local then answers
// TrimmedDataAccessException once records exist) is never retried: the
// next round takes a new one from the shard, after the last record
// delivered. A streak of failures is logged once, at warning level, and
// its end once, at info level; Status hears both.
func (p *Poller) Run(ctx context.Context) error {
	arn, err := p.StreamARN(ctx)
	if err != nil {
		return err
	}
	shards := map[string]*shard{}
	every := cmp.Or(p.Every, 100*time.Millisecond)
	refresh := time.Time{}
	t := &troubles{p: p, ctx: ctx}
	describing := false
	for ctx.Err() == nil {
		if time.Since(refresh) > 5*time.Second {
			if err := p.shards(ctx, arn, shards); err != nil {
				t.fail(&describing, "streampoll: cannot describe the stream; notifications wait until it can", err)
			} else {
				t.mend(&describing, "streampoll: the stream is described again")
			}
			refresh = time.Now()
		}
		if !p.readShards(ctx, arn, shards, t) {
			select {
			case <-ctx.Done():
			case <-time.After(every):
			}
		}
	}
	return nil
}

// readShards reads a batch of each open shard, and reports whether any
// had records.
func (p *Poller) readShards(ctx context.Context, arn string, shards map[string]*shard, t *troubles) (busy bool) {
	for id, s := range shards {
		if s.closed {
			continue
		}
		n, err := p.read(ctx, arn, id, s)
		if err != nil {
			t.fail(&s.failing, "streampoll: cannot read the stream; retrying with a new iterator", err, "shard", id)
			continue
		}
		t.mend(&s.failing, "streampoll: reading the stream again", "shard", id)
		busy = busy || n > 0
	}
	return busy
}

// troubles follows the streaks of failures, of the description or of a
// shard: each is logged when it begins and when it ends, and Status hears
// when the first begins and the last ends.
type troubles struct {
	p   *Poller
	ctx context.Context
	n   int
}

func (t *troubles) fail(failing *bool, msg string, err error, attrs ...any) {
	if *failing || t.ctx.Err() != nil {
		return
	}
	*failing = true
	t.p.log().Warn(msg, append(attrs, "table", t.p.Table, "err", err)...)
	if t.n++; t.n == 1 && t.p.Status != nil {
		t.p.Status(false, err)
	}
}

func (t *troubles) mend(failing *bool, msg string, attrs ...any) {
	if !*failing {
		return
	}
	*failing = false
	t.p.log().Info(msg, append(attrs, "table", t.p.Table)...)
	if t.n--; t.n == 0 && t.p.Status != nil {
		t.p.Status(true, nil)
	}
}

// shards adds the stream's shards the poller does not know yet.
func (p *Poller) shards(ctx context.Context, arn string, shards map[string]*shard) error {
	out, err := p.Client.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: &arn})
	if err != nil {
		return err
	}
	for _, s := range out.StreamDescription.Shards {
		if _, ok := shards[*s.ShardId]; !ok {
			shards[*s.ShardId] = &shard{}
		}
	}
	return nil
}

// iterator takes a new iterator for the shard: after its last record, or
// from its oldest.
func (p *Poller) iterator(ctx context.Context, arn, id string, s *shard) error {
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: &arn, ShardId: &id, ShardIteratorType: types.ShardIteratorTypeTrimHorizon}
	if s.last != "" {
		in.ShardIteratorType, in.SequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, aws.String(s.last)
	}
	it, err := p.Client.GetShardIterator(ctx, in)
	if err != nil {
		return err
	}
	s.iter = it.ShardIterator
	return nil
}

// event is the Lambda event of a batch's records that pass the filter;
// a record that cannot be decoded can never be delivered: it is skipped,
// loudly.
func (p *Poller) event(records []types.Record, arn string) events.DynamoDBEvent {
	var ev events.DynamoDBEvent
	for _, r := range records {
		rec, err := Record(r, arn)
		if err != nil {
			p.log().Error("streampoll: undecodable record skipped", "err", err)
			continue
		}
		if p.Filter == nil || p.Filter(rec) {
			ev.Records = append(ev.Records, rec)
		}
	}
	return ev
}

// deliver hands ev to the handler and returns the sequence number of the
// first record it failed ("" for none).
func (p *Poller) deliver(ctx context.Context, ev events.DynamoDBEvent) (string, error) {
	resp, err := p.Handler(ctx, ev)
	switch {
	case err != nil:
		return ev.Records[0].Change.SequenceNumber, err
	case len(resp.BatchItemFailures) > 0:
		return resp.BatchItemFailures[0].ItemIdentifier, nil
	}
	return "", nil
}

// read reads one batch of a shard and delivers it. Any failure drops the
// iterator, so the next read takes a new one; a failed delivery leaves the
// shard's last record before the failed one, so it is delivered again.
func (p *Poller) read(ctx context.Context, arn, id string, s *shard) (int, error) {
	if s.iter == nil {
		if err := p.iterator(ctx, arn, id, s); err != nil {
			return 0, err
		}
	}
	out, err := p.Client.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: s.iter, Limit: aws.Int32(cmp.Or(p.Batch, 100))})
	if err != nil {
		s.iter = nil
		return 0, err
	}
	ev := p.event(out.Records, arn)
	advance := func() {
		if n := len(out.Records); n > 0 {
			s.last = aws.ToString(out.Records[n-1].Dynamodb.SequenceNumber)
		}
		s.iter = out.NextShardIterator
		s.closed = out.NextShardIterator == nil
	}
	if len(ev.Records) == 0 {
		advance()
		return len(out.Records), nil
	}
	failed, err := p.deliver(ctx, ev)
	if failed == "" {
		advance()
		return len(out.Records), nil
	}
	p.log().Warn("streampoll: batch failed; retrying from its failed record", "sequenceNumber", failed, "err", err)
	again, gerr := p.Client.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: &arn, ShardId: &id,
		ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber, SequenceNumber: &failed})
	if gerr != nil {
		s.iter = nil // the next read starts after the last record delivered
		return 0, gerr
	}
	s.iter = again.ShardIterator
	select {
	case <-ctx.Done():
	case <-time.After(time.Second):
	}
	return len(out.Records), nil
}

func (p *Poller) log() *slog.Logger {
	if p.Logger == nil {
		return slog.Default()
	}
	return p.Logger
}

// Record converts a stream record to the Lambda event's shape.
func Record(r types.Record, arn string) (events.DynamoDBEventRecord, error) {
	d := r.Dynamodb
	rec := events.DynamoDBEventRecord{
		AWSRegion: aws.ToString(r.AwsRegion), EventID: aws.ToString(r.EventID), EventName: string(r.EventName),
		EventSource: aws.ToString(r.EventSource), EventVersion: aws.ToString(r.EventVersion), EventSourceArn: arn,
	}
	if d == nil {
		return rec, nil
	}
	rec.Change = events.DynamoDBStreamRecord{
		SequenceNumber: aws.ToString(d.SequenceNumber), SizeBytes: aws.ToInt64(d.SizeBytes),
		StreamViewType: string(d.StreamViewType),
	}
	if d.ApproximateCreationDateTime != nil {
		rec.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: *d.ApproximateCreationDateTime}
	}
	var err error
	for _, im := range []struct {
		from map[string]types.AttributeValue
		to   *map[string]events.DynamoDBAttributeValue
	}{{d.Keys, &rec.Change.Keys}, {d.NewImage, &rec.Change.NewImage}, {d.OldImage, &rec.Change.OldImage}} {
		if *im.to, err = image(im.from); err != nil {
			return rec, fmt.Errorf("record %s: %w", rec.Change.SequenceNumber, err)
		}
	}
	return rec, nil
}

// image converts a stream image through the SDK's DynamoDB item and the
// JSON record the codecs share.
func image(m map[string]types.AttributeValue) (map[string]events.DynamoDBAttributeValue, error) {
	if m == nil {
		return nil, nil
	}
	item, err := attributevalue.FromDynamoDBStreamsMap(m)
	if err != nil {
		return nil, err
	}
	b, err := dynamo.Record(item)
	if err != nil {
		return nil, err
	}
	return attr.Image(b)
}
