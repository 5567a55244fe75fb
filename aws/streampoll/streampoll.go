// Package streampoll reads a DynamoDB table's stream with GetRecords and
// hands the records to a handler as events.DynamoDBEvent batches, as
// Lambda's event source mapping does: filter criteria applied, batches
// retried from the first failed sequence number. Tests and local runs use it
// where no Lambda service delivers the stream.
package streampoll

import (
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

// Run delivers the stream from its oldest record until ctx ends.
func (p *Poller) Run(ctx context.Context) error {
	arn, err := p.StreamARN(ctx)
	if err != nil {
		return err
	}
	iters := map[string]*string{} // shard → iterator
	seen := map[string]bool{}
	every := p.Every
	if every == 0 {
		every = 100 * time.Millisecond
	}
	refresh := time.Time{}
	for ctx.Err() == nil {
		if time.Since(refresh) > 5*time.Second {
			if err := p.shards(ctx, arn, iters, seen); err != nil && ctx.Err() == nil {
				p.log().Warn("streampoll: describe stream failed", "err", err)
			}
			refresh = time.Now()
		}
		busy := false
		for shard, it := range iters {
			if it == nil {
				delete(iters, shard)
				continue
			}
			n, next, err := p.poll(ctx, arn, shard, it)
			if err != nil {
				if ctx.Err() == nil {
					p.log().Warn("streampoll: shard failed", "shard", shard, "err", err)
				}
				continue
			}
			iters[shard] = next
			busy = busy || n > 0
		}
		if !busy {
			select {
			case <-ctx.Done():
			case <-time.After(every):
			}
		}
	}
	return nil
}

func (p *Poller) shards(ctx context.Context, arn string, iters map[string]*string, seen map[string]bool) error {
	out, err := p.Client.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: &arn})
	if err != nil {
		return err
	}
	for _, s := range out.StreamDescription.Shards {
		id := *s.ShardId
		if seen[id] {
			continue
		}
		it, err := p.Client.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
			StreamArn: &arn, ShardId: &id, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			return err
		}
		seen[id] = true
		iters[id] = it.ShardIterator
	}
	return nil
}

// poll reads one batch of a shard and delivers it; on a failure the next
// iterator starts at the failed record.
func (p *Poller) poll(ctx context.Context, arn, shard string, it *string) (int, *string, error) {
	batch := p.Batch
	if batch == 0 {
		batch = 100
	}
	out, err := p.Client.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it, Limit: aws.Int32(batch)})
	if err != nil {
		return 0, nil, err
	}
	var ev events.DynamoDBEvent
	for _, r := range out.Records {
		rec, err := Record(r, arn)
		if err != nil { // it can never be delivered: skip it, loudly
			p.log().Error("streampoll: undecodable record skipped", "err", err)
			continue
		}
		if p.Filter == nil || p.Filter(rec) {
			ev.Records = append(ev.Records, rec)
		}
	}
	if len(ev.Records) == 0 {
		return len(out.Records), out.NextShardIterator, nil
	}
	resp, err := p.Handler(ctx, ev)
	failed := ""
	if err != nil {
		failed = ev.Records[0].Change.SequenceNumber
	} else if len(resp.BatchItemFailures) > 0 {
		failed = resp.BatchItemFailures[0].ItemIdentifier
	}
	if failed == "" {
		return len(out.Records), out.NextShardIterator, nil
	}
	p.log().Warn("streampoll: batch failed; retrying from its failed record", "sequenceNumber", failed, "err", err)
	again, gerr := p.Client.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: &arn, ShardId: &shard,
		ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber, SequenceNumber: &failed})
	if gerr != nil {
		return 0, it, gerr
	}
	select {
	case <-ctx.Done():
	case <-time.After(time.Second):
	}
	return len(out.Records), again.ShardIterator, nil
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
