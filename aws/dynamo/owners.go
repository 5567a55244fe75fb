package dynamo

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/longrun/longrun"
)

// An owner's configurations are counted in an item of the results table,
// "owner#<owner>" with numbers stored, active and bytes (what the owner's
// configurations keep, Configuration.KeptBytes), changed in the same
// TransactWriteItems as every write that changes them, with the quota as
// the counter's condition: concurrent creates of one owner cannot pass it
// between them, as counting and then writing would. The item is made on
// an owner's first counted write, from the byOwnerStatus index (owners
// from before the counter was kept are counted once, then followed).

func ownerKey(owner string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": s("owner#" + owner)}
}

func activeness(c *longrun.Configuration) int {
	if c.Status.Active() {
		return 1
	}
	return 0
}

// A change of an owner's counts.
type counts struct {
	stored, active int
	bytes          int64
}

// countUpdate changes owner's counts by d; growing past a's limits fails
// its condition, as does a render started while the owner keeps MaxBytes.
func (st *Store) countUpdate(owner string, d counts, a longrun.Admission) types.TransactWriteItem {
	ds, da := d.stored, d.active
	vals := map[string]types.AttributeValue{":ds": n(int64(ds)), ":da": n(int64(da)), ":db": n(d.bytes)}
	cond := []string{"attribute_exists(pk)"}
	if ds > 0 && a.MaxStored > 0 {
		cond = append(cond, "#s < :ms")
		vals[":ms"] = n(int64(a.MaxStored))
	}
	if da > 0 && a.MaxActive > 0 {
		cond = append(cond, "#a < :ma")
		vals[":ma"] = n(int64(a.MaxActive))
	}
	if (ds > 0 || da > 0) && a.MaxBytes > 0 {
		cond = append(cond, "(attribute_not_exists(#b) OR #b < :mb)")
		vals[":mb"] = n(a.MaxBytes)
	}
	return types.TransactWriteItem{Update: &types.Update{TableName: &st.ResultTable, Key: ownerKey(owner),
		UpdateExpression:          aws.String("ADD #s :ds, #a :da, #b :db"),
		ConditionExpression:       aws.String(strings.Join(cond, " AND ")),
		ExpressionAttributeNames:  map[string]string{"#s": "stored", "#a": "active", "#b": "bytes"},
		ExpressionAttributeValues: vals}}
}

// errWritten means the configuration's own condition failed in a counted
// write: it exists (a create) or was written in between (an update).
var errWritten = errors.New("configuration written in between")

// errCounted means the owner's counter was missing and has been made: the
// write is to be tried again.
var errCounted = errors.New("owner's counts made")

// countedWrite writes item (index 0, the configuration) and the owner's
// count change d within a (index 1) in one transaction. A failed counter condition is
// either a missing counter, made here (errCounted), or a quota passed
// (the Admission's error).
func (st *Store) countedWrite(ctx context.Context, owner string, write types.TransactWriteItem, d counts, a longrun.Admission) error {
	count := st.countUpdate(owner, d, a)
	_, err := st.Client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{write, count}})
	var canceled *types.TransactionCanceledException
	if !errors.As(err, &canceled) {
		if err != nil {
			return unavailable(err)
		}
		return nil
	}
	failed := func(i int) bool {
		return len(canceled.CancellationReasons) > i && aws.ToString(canceled.CancellationReasons[i].Code) == "ConditionalCheckFailed"
	}
	switch {
	case failed(0):
		return errWritten
	case !failed(1):
		return unavailable(err) // a conflict with another transaction: retried by the caller's caller
	}
	out, err := st.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.ResultTable, Key: ownerKey(owner), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return unavailable(err)
	}
	if out.Item == nil {
		return st.makeCounter(ctx, owner)
	}
	num := func(name string) int64 {
		v, _ := out.Item[name].(*types.AttributeValueMemberN)
		if v == nil {
			return 0
		}
		i, _ := strconv.ParseInt(v.Value, 10, 64)
		return i
	}
	stored, bytes := 0, int64(0)
	if d.stored > 0 {
		stored = int(num("stored")) + d.stored
	}
	if d.stored > 0 || d.active > 0 {
		bytes = num("bytes")
	}
	if err := a.Check(stored, int(num("active"))+d.active, bytes); err != nil {
		return err
	}
	return errCounted // the counts moved since: try again
}

// makeCounter counts owner's configurations from the index and stores the
// counter, unless one was made meanwhile.
func (st *Store) makeCounter(ctx context.Context, owner string) error {
	stored, active, err := st.CountConfigurations(ctx, owner)
	if err != nil {
		return err
	}
	item := ownerKey(owner)
	item["stored"], item["active"] = n(int64(stored)), n(int64(active))
	_, err = st.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.ResultTable, Item: item,
		ConditionExpression: aws.String("attribute_not_exists(pk)")})
	if err != nil && !conditionFailed(err) {
		return unavailable(err)
	}
	return errCounted
}
