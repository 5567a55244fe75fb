package dynamo

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/longrun/longrun"
)

var _ longrun.Replay = (*Store)(nil)

// An owner's updates live in the results table: "updateseq#owner" counts
// them, "update#owner#N" holds the N-th until its TTL (an hour). Their
// numbers follow each other, so a catch-up reads them by key, at most
// MaxReplay in one BatchGetItem: no index, no query.

func updateKey(owner string, seq int64) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": s("update#" + owner + "#" + strconv.FormatInt(seq, 10))}
}

// Record keeps msg as owner's next update.
func (st *Store) Record(ctx context.Context, owner string, msg []byte) (int64, error) {
	out, err := st.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &st.ResultTable,
		Key:                       map[string]types.AttributeValue{"pk": s("updateseq#" + owner)},
		UpdateExpression:          aws.String("ADD seq :one"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1)},
		ReturnValues:              types.ReturnValueUpdatedNew})
	if err != nil {
		return 0, unavailable(err)
	}
	seq := number(out.Attributes, "seq")
	now := st.now()
	item := updateKey(owner, seq)
	item["msg"], item["atNs"] = &types.AttributeValueMemberB{Value: msg}, n(now.UnixNano())
	item["expiresAt"] = n(now.Add(longrun.UpdateRetention).Unix())
	if _, err := st.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.ResultTable, Item: item}); err != nil {
		return 0, unavailable(err) // a number with no update: a page that asks for it loads afresh
	}
	return seq, nil
}

// Seq returns owner's last update's number.
func (st *Store) Seq(ctx context.Context, owner string) (int64, error) {
	out, err := st.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.ResultTable,
		Key: map[string]types.AttributeValue{"pk": s("updateseq#" + owner)}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return 0, unavailable(err)
	}
	if out.Item == nil {
		return 0, nil
	}
	return number(out.Item, "seq"), nil
}

// Since returns owner's updates after seq, and whether they are all.
func (st *Store) Since(ctx context.Context, owner string, seq int64) ([]longrun.Update, bool, error) {
	last, err := st.Seq(ctx, owner)
	if err != nil || seq >= last {
		return nil, seq == last, err
	}
	if last-seq > longrun.MaxReplay {
		return nil, false, nil
	}
	var keys []map[string]types.AttributeValue
	for i := seq + 1; i <= last; i++ {
		keys = append(keys, updateKey(owner, i))
	}
	var out []longrun.Update
	oldest := st.now().Add(-longrun.UpdateRetention).UnixNano()
	req := map[string]types.KeysAndAttributes{st.ResultTable: {Keys: keys, ConsistentRead: aws.Bool(true)}}
	for tries := 0; len(req) > 0 && tries < 5; tries++ {
		got, err := st.Client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, false, unavailable(err)
		}
		for _, item := range got.Responses[st.ResultTable] {
			u, err := update(item)
			if err != nil {
				return nil, false, err
			}
			if u.At.UnixNano() >= oldest { // the TTL deletes late
				out = append(out, u)
			}
		}
		req = got.UnprocessedKeys
	}
	if len(req) > 0 {
		return nil, false, longrun.Unavailable("the database", nil)
	}
	slices.SortFunc(out, func(a, b longrun.Update) int { return int(a.Seq - b.Seq) })
	return out, longrun.Complete(out, seq, last), nil
}

func update(item map[string]types.AttributeValue) (longrun.Update, error) {
	var u longrun.Update
	pk, _ := item["pk"].(*types.AttributeValueMemberS)
	msg, _ := item["msg"].(*types.AttributeValueMemberB)
	if pk == nil || msg == nil {
		return u, longrun.Errorf(longrun.EINTERNAL, "an update item without its key or message")
	}
	seq, err := strconv.ParseInt(pk.Value[strings.LastIndexByte(pk.Value, '#')+1:], 10, 64)
	u.Seq, u.Message, u.At = seq, msg.Value, time.Unix(0, number(item, "atNs")).UTC()
	return u, err
}
