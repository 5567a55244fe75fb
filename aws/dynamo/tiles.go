package dynamo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/longrun/longrun"
)

var _ longrun.TileLedger = (*Store)(nil)

// TileTTL is how long a version's tile ledger is kept: past any render.
const TileTTL = 14 * 24 * time.Hour

func tilesKey(id string, version int64) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": s(fmt.Sprintf("tiles#%s#%d", id, version))}
}

// MarkTile records the tile done with one conditional UpdateItem of the
// version's ledger item (in the results table): the tile's index is added
// to the set done unless it is in it, the iterations and render time to
// their sums, the tile's least and greatest counts to sets whose least and
// greatest are the image's range. Each update is atomic and answers the
// set after it, so of the last tiles finishing together exactly one sees
// it whole; nothing is read first, so nothing is retried. The item stays
// small: a poster of 1,024 tiles holds about 4 KB of indices.
func (st *Store) MarkTile(ctx context.Context, id string, version int64, index int, r longrun.TileResult) (int, bool, error) {
	out, err := st.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &st.ResultTable, Key: tilesKey(id, version),
		UpdateExpression:    aws.String("ADD done :tile, los :lo, his :hi, iterations :it, renderMs :ms SET expiresAt = if_not_exists(expiresAt, :exp)"),
		ConditionExpression: aws.String("attribute_not_exists(done) OR NOT contains(done, :index)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":tile": &types.AttributeValueMemberNS{Value: []string{strconv.Itoa(index)}}, ":index": n(int64(index)),
			":lo": &types.AttributeValueMemberNS{Value: []string{strconv.Itoa(r.Lo)}}, ":hi": &types.AttributeValueMemberNS{Value: []string{strconv.Itoa(r.Hi)}},
			":it": n(r.Iterations), ":ms": decimal(r.RenderMs), ":exp": n(st.now().Add(TileTTL).Unix()),
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) { // done before: its job delivered again
		return len(numberSet(ccf.Item, "done")), false, nil
	}
	if err != nil {
		return 0, false, unavailable(err)
	}
	return len(numberSet(out.Attributes, "done")), true, nil
}

// TileTally reads the version's ledger item.
func (st *Store) TileTally(ctx context.Context, id string, version int64) (*longrun.TileTally, error) {
	out, err := st.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.ResultTable, Key: tilesKey(id, version), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, unavailable(err)
	}
	t := &longrun.TileTally{Tiles: numberSet(out.Item, "done")}
	slices.Sort(t.Tiles)
	if los, his := numberSet(out.Item, "los"), numberSet(out.Item, "his"); len(los) > 0 && len(his) > 0 {
		t.Lo, t.Hi = slices.Min(los), slices.Max(his)
	}
	t.Iterations, t.RenderMs = number(out.Item, "iterations"), fraction(out.Item, "renderMs")
	return t, nil
}

func numberSet(item map[string]types.AttributeValue, name string) []int {
	ns, _ := item[name].(*types.AttributeValueMemberNS)
	if ns == nil {
		return nil
	}
	out := make([]int, 0, len(ns.Value))
	for _, v := range ns.Value {
		if i, err := strconv.Atoi(v); err == nil {
			out = append(out, i)
		}
	}
	return out
}

// fraction reads a number attribute that may hold a fraction (0 if absent).
func fraction(item map[string]types.AttributeValue, name string) float64 {
	v, _ := item[name].(*types.AttributeValueMemberN)
	if v == nil {
		return 0
	}
	f, _ := strconv.ParseFloat(v.Value, 64)
	return f
}

func number(item map[string]types.AttributeValue, name string) int64 {
	v, _ := item[name].(*types.AttributeValueMemberN)
	if v == nil {
		return 0
	}
	i, _ := strconv.ParseInt(v.Value, 10, 64)
	return i
}
