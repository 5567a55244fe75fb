// Package dynamo keeps longrun's configurations, results, render leases and
// sent-notification marks in DynamoDB. The configurations table's stream
// (NEW_AND_OLD_IMAGES) is the change feed that drives notifications; its
// items carry the same attribute names as longrun's stream images.
package dynamo

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/notify"
	"github.com/longrun/longrun/worker"
)

// OwnerIndex is the configurations table's GSI: owner, then createdNs.
const OwnerIndex = "byOwner"

// OwnerStatusIndex is the configurations table's keys-only index by owner
// and status, which the quotas count from.
const OwnerStatusIndex = "byOwnerStatus"

// A Store is the DynamoDB adapter.
type Store struct {
	Client *dynamodb.Client
	// ConfigTable is the configurations table (key id).
	ConfigTable string
	// ResultTable is the table of results, leases and sent marks (key pk, TTL
	// attribute expiresAt).
	ResultTable string
	// ResultTTL is how long a result is kept: less than the image bucket's
	// lifecycle, so a deduplicated configuration never points at a deleted
	// image. 0 means forever.
	ResultTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Store implements these ports.
var (
	_ longrun.Store   = (*Store)(nil)
	_ longrun.Results = (*Store)(nil)
	_ longrun.Limiter = (*Store)(nil)
	_ worker.Leases   = (*Store)(nil)
	_ notify.Sent     = (*Store)(nil)
)

func (st *Store) now() time.Time {
	if st.Now == nil {
		return time.Now().UTC()
	}
	return st.Now()
}

func unavailable(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return longrun.Unavailable("the database", err)
}

func conditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

func notFound() error { return longrun.Errorf(longrun.ENOTFOUND, "configuration not found") }

func configurationItem(c *longrun.Configuration) (map[string]types.AttributeValue, error) {
	b, err := c.MarshalRecord()
	if err != nil {
		return nil, err
	}
	item, err := Item(b)
	if err != nil {
		return nil, err
	}
	item["createdNs"] = n(c.CreatedAt.UnixNano())
	return item, nil
}

func configurationFrom(item map[string]types.AttributeValue) (*longrun.Configuration, error) {
	b, err := Record(item)
	if err != nil {
		return nil, err
	}
	return longrun.UnmarshalRecord(b)
}

// CreateConfiguration stores a new configuration and counts it to its
// owner, in one transaction whose condition is a's limits.
func (st *Store) CreateConfiguration(ctx context.Context, c *longrun.Configuration, a longrun.Admission) error {
	c.Seq = 1
	item, err := configurationItem(c)
	if err != nil {
		return err
	}
	put := types.TransactWriteItem{Put: &types.Put{TableName: &st.ConfigTable, Item: item,
		ConditionExpression: aws.String("attribute_not_exists(id)")}}
	for range 3 {
		err = st.countedWrite(ctx, c.Owner, put, counts{1, activeness(c), c.KeptBytes()}, a)
		if !errors.Is(err, errCounted) {
			break
		}
	}
	if errors.Is(err, errWritten) {
		return longrun.Errorf(longrun.ECONFLICT, "configuration %s exists", c.ID)
	}
	if errors.Is(err, errCounted) {
		return longrun.Errorf(longrun.ECONFLICT, "your configurations are changing too fast; retry")
	}
	return err
}

// Configuration returns the configuration with the id.
func (st *Store) Configuration(ctx context.Context, id string) (*longrun.Configuration, error) {
	out, err := st.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &st.ConfigTable, Key: map[string]types.AttributeValue{"id": s(id)}, ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, unavailable(err)
	}
	if out.Item == nil {
		return nil, notFound()
	}
	return configurationFrom(out.Item)
}

type cursor struct {
	ID      string `json:"i"`
	Owner   string `json:"o"`
	Created int64  `json:"c"`
}

// Configurations lists an owner's configurations, newest first.
func (st *Store) Configurations(ctx context.Context, owner, after string, limit int) ([]*longrun.Configuration, string, error) {
	in := &dynamodb.QueryInput{
		TableName: &st.ConfigTable, IndexName: aws.String(OwnerIndex),
		KeyConditionExpression:    aws.String("#o = :o"),
		ExpressionAttributeNames:  map[string]string{"#o": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":o": s(owner)},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(int32(limit + 1)),
	}
	if after != "" {
		var c cursor
		b, err := base64.RawURLEncoding.DecodeString(after)
		if err != nil || json.Unmarshal(b, &c) != nil || c.Owner != owner {
			return nil, "", &longrun.Error{Code: longrun.EINVALID, Message: "invalid cursor",
				Fields: []longrun.FieldError{{Field: "cursor", Rule: "must be a nextCursor from a previous page"}}}
		}
		in.ExclusiveStartKey = map[string]types.AttributeValue{"id": s(c.ID), "owner": s(c.Owner), "createdNs": n(c.Created)}
	}
	out, err := st.Client.Query(ctx, in)
	if err != nil {
		return nil, "", unavailable(err)
	}
	var list []*longrun.Configuration
	for _, item := range out.Items {
		c, err := configurationFrom(item)
		if err != nil {
			return nil, "", err
		}
		list = append(list, c)
	}
	next := ""
	if len(list) > limit {
		list = list[:limit]
		last := list[limit-1]
		b, _ := json.Marshal(cursor{ID: last.ID, Owner: owner, Created: last.CreatedAt.UnixNano()})
		next = base64.RawURLEncoding.EncodeToString(b)
	}
	return list, next, nil
}

// UpdateConfiguration reads the configuration, applies fn and writes it back
// on condition that nobody wrote in between, retrying if somebody did. A
// write that starts or ends a render changes the owner's active count in
// the same transaction.
func (st *Store) UpdateConfiguration(ctx context.Context, id string, fn func(*longrun.Configuration) error) (*longrun.Configuration, error) {
	return st.update(ctx, id, longrun.Admission{}, fn)
}

// AdmitUpdate is UpdateConfiguration within a's active limit: a write
// that makes the configuration active is refused when the owner's active
// count is at it.
func (st *Store) AdmitUpdate(ctx context.Context, id string, a longrun.Admission, fn func(*longrun.Configuration) error) (*longrun.Configuration, error) {
	return st.update(ctx, id, longrun.Admission{MaxActive: a.MaxActive, MaxBytes: a.MaxBytes}, fn)
}

func (st *Store) update(ctx context.Context, id string, a longrun.Admission, fn func(*longrun.Configuration) error) (*longrun.Configuration, error) {
	for attempt := 0; ; attempt++ {
		c, err := st.Configuration(ctx, id)
		if err != nil {
			return nil, err
		}
		was, wasBytes := activeness(c), c.KeptBytes()
		if err := fn(c); err != nil {
			return nil, err
		}
		seq := c.Seq
		c.Seq++
		item, err := configurationItem(c)
		if err != nil {
			return nil, err
		}
		cond, vals := aws.String("seq = :seq"), map[string]types.AttributeValue{":seq": n(seq)}
		if d := (counts{0, activeness(c) - was, c.KeptBytes() - wasBytes}); d != (counts{}) {
			put := types.TransactWriteItem{Put: &types.Put{TableName: &st.ConfigTable, Item: item,
				ConditionExpression: cond, ExpressionAttributeValues: vals}}
			err = st.countedWrite(ctx, c.Owner, put, d, a)
			switch {
			case err == nil:
				return c, nil
			case !errors.Is(err, errWritten) && !errors.Is(err, errCounted):
				return nil, err
			}
		} else {
			_, err = st.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.ConfigTable, Item: item,
				ConditionExpression: cond, ExpressionAttributeValues: vals})
			if err == nil {
				return c, nil
			}
			if !conditionFailed(err) {
				return nil, unavailable(err)
			}
		}
		if attempt == 50 {
			return nil, longrun.Errorf(longrun.ECONFLICT, "configuration %s is changing too fast; retry", id)
		}
		// Writers that collided wait a random while, up to 1, 2, 4 … 64 ms,
		// so they do not collide again at once (each attempt bills writes).
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(rand.N(time.Millisecond << min(attempt, 6))):
		}
	}
}

// DeleteConfiguration deletes the configuration and uncounts it from its
// owner, in one transaction.
func (st *Store) DeleteConfiguration(ctx context.Context, id string) error {
	for range 50 {
		c, err := st.Configuration(ctx, id)
		if err != nil {
			return err
		}
		del := types.TransactWriteItem{Delete: &types.Delete{TableName: &st.ConfigTable,
			Key: map[string]types.AttributeValue{"id": s(id)}, ConditionExpression: aws.String("seq = :seq"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":seq": n(c.Seq)}}}
		err = st.countedWrite(ctx, c.Owner, del, counts{-1, -activeness(c), -c.KeptBytes()}, longrun.Admission{})
		if !errors.Is(err, errWritten) && !errors.Is(err, errCounted) {
			return err
		}
	}
	return longrun.Errorf(longrun.ECONFLICT, "configuration %s is changing too fast; retry", id)
}

// Results, leases and sent marks share one table, by key prefix.

func (st *Store) live(item map[string]types.AttributeValue) bool {
	e, ok := item["expiresAt"].(*types.AttributeValueMemberN)
	if !ok {
		return true
	}
	t, _ := strconv.ParseInt(e.Value, 10, 64)
	return t > st.now().Unix() // TTL deletion lags: expired items are ignored
}

// Result returns the live result for hash, or nil.
func (st *Store) Result(ctx context.Context, hash string) (*longrun.Result, error) {
	out, err := st.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &st.ResultTable, Key: map[string]types.AttributeValue{"pk": s("result#" + hash)}, ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, unavailable(err)
	}
	if out.Item == nil || !st.live(out.Item) {
		return nil, nil
	}
	body, ok := out.Item["body"].(*types.AttributeValueMemberS)
	if !ok {
		return nil, fmt.Errorf("result %s has no body", hash)
	}
	var r longrun.Result
	return &r, json.Unmarshal([]byte(body.Value), &r)
}

// PutResult stores r unless a live result for its hash exists.
func (st *Store) PutResult(ctx context.Context, r *longrun.Result) error {
	body, err := json.Marshal(r)
	if err != nil {
		return err
	}
	item := map[string]types.AttributeValue{"pk": s("result#" + r.Hash), "body": s(string(body))}
	if st.ResultTTL > 0 {
		item["expiresAt"] = n(st.now().Add(st.ResultTTL).Unix())
	}
	_, err = st.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &st.ResultTable, Item: item,
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR expiresAt <= :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": n(st.now().Unix())},
	})
	if err != nil && !conditionFailed(err) {
		return unavailable(err)
	}
	return nil
}

// Claim takes a lease on rendering hash until the given time.
func (st *Store) Claim(ctx context.Context, hash, token string, until time.Time) (bool, error) {
	_, err := st.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &st.ResultTable,
		Item: map[string]types.AttributeValue{"pk": s("lease#" + hash), "token": s(token),
			"untilNs": n(until.UnixNano()), "expiresAt": n(until.Add(time.Hour).Unix())},
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR untilNs < :now OR #t = :token"),
		ExpressionAttributeNames:  map[string]string{"#t": "token"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": n(st.now().UnixNano()), ":token": s(token)},
	})
	if conditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, unavailable(err)
	}
	return true, nil
}

// Allow counts one event of key in its fixed window, a conditional ADD on
// an item that expires after the window, and returns 0 if it is within
// limit, else how long until the window ends.
func (st *Store) Allow(ctx context.Context, key string, limit int, window time.Duration) (time.Duration, error) {
	now := st.now()
	start := now.Truncate(window)
	end := start.Add(window)
	_, err := st.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &st.ResultTable,
		Key:                       map[string]types.AttributeValue{"pk": s("rate#" + key + "#" + strconv.FormatInt(start.Unix(), 10))},
		UpdateExpression:          aws.String("ADD #n :one SET expiresAt = :exp"),
		ConditionExpression:       aws.String("attribute_not_exists(#n) OR #n < :limit"),
		ExpressionAttributeNames:  map[string]string{"#n": "n"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1), ":limit": n(int64(limit)), ":exp": n(end.Add(time.Hour).Unix())},
	})
	if conditionFailed(err) {
		return end.Sub(now), nil
	}
	if err != nil {
		return 0, unavailable(err)
	}
	return 0, nil
}

// CountConfigurations counts an owner's configurations: all, and those
// queued or rendering. It reads the keys-only byOwnerStatus index once,
// about a hundred bytes an item, not the records.
func (st *Store) CountConfigurations(ctx context.Context, owner string) (stored, active int, err error) {
	in := &dynamodb.QueryInput{TableName: &st.ConfigTable, IndexName: aws.String(OwnerStatusIndex),
		KeyConditionExpression:    aws.String("#o = :o"),
		ProjectionExpression:      aws.String("#s"),
		ExpressionAttributeNames:  map[string]string{"#o": "owner", "#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":o": s(owner)}}
	for p := dynamodb.NewQueryPaginator(st.Client, in); p.HasMorePages(); {
		out, err := p.NextPage(ctx)
		if err != nil {
			return 0, 0, unavailable(err)
		}
		for _, item := range out.Items {
			stored++
			if v, ok := item["status"].(*types.AttributeValueMemberS); ok && longrun.Status(v.Value).Active() {
				active++
			}
		}
	}
	return stored, active, nil
}

// DeleteResult forgets the result for hash.
func (st *Store) DeleteResult(ctx context.Context, hash string) error {
	_, err := st.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &st.ResultTable,
		Key: map[string]types.AttributeValue{"pk": s("result#" + hash)}})
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// LeaseEnds returns when the lease on hash ends; zero if none is held.
func (st *Store) LeaseEnds(ctx context.Context, hash string) (time.Time, error) {
	out, err := st.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.ResultTable,
		Key: map[string]types.AttributeValue{"pk": s("lease#" + hash)}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return time.Time{}, unavailable(err)
	}
	v, ok := out.Item["untilNs"].(*types.AttributeValueMemberN)
	if !ok {
		return time.Time{}, nil
	}
	ns, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil || ns < st.now().UnixNano() {
		return time.Time{}, err
	}
	return time.Unix(0, ns).UTC(), nil
}

// Release ends token's lease on hash, if it still holds it.
func (st *Store) Release(ctx context.Context, hash, token string) error {
	_, err := st.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &st.ResultTable, Key: map[string]types.AttributeValue{"pk": s("lease#" + hash)},
		ConditionExpression:       aws.String("#t = :token"),
		ExpressionAttributeNames:  map[string]string{"#t": "token"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":token": s(token)},
	})
	if err != nil && !conditionFailed(err) {
		return unavailable(err)
	}
	return nil
}

// MarkSent records key (kept 30 days) and reports whether it was new.
func (st *Store) MarkSent(ctx context.Context, key string) (bool, error) {
	_, err := st.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &st.ResultTable,
		Item: map[string]types.AttributeValue{"pk": s("sent#" + key),
			"expiresAt": n(st.now().Add(30 * 24 * time.Hour).Unix())},
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if conditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, unavailable(err)
	}
	return true, nil
}

// UnmarkSent forgets key.
func (st *Store) UnmarkSent(ctx context.Context, key string) error {
	_, err := st.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &st.ResultTable, Key: map[string]types.AttributeValue{"pk": s("sent#" + key)},
	})
	if err != nil {
		return unavailable(err)
	}
	return nil
}
