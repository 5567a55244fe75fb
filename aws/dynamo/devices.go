package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/longrun/longrun"
)

var _ longrun.Devices = (*Store)(nil)

// An owner's push devices are one item of the results table,
// "devices#owner": at most longrun.MaxDevices, so the notifier reads them
// in one GetItem. It is rewritten under its revision, so two devices added
// at once are both kept.

func devicesKey(owner string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": s("devices#" + owner)}
}

// Devices returns owner's devices, the oldest first.
func (st *Store) Devices(ctx context.Context, owner string) ([]longrun.Device, error) {
	ds, _, err := st.devices(ctx, owner)
	return ds, err
}

func (st *Store) devices(ctx context.Context, owner string) ([]longrun.Device, int64, error) {
	out, err := st.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.ResultTable, Key: devicesKey(owner), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, 0, unavailable(err)
	}
	body, ok := out.Item["body"].(*types.AttributeValueMemberS)
	if !ok {
		return nil, 0, nil
	}
	var ds []longrun.Device
	if err := json.Unmarshal([]byte(body.Value), &ds); err != nil {
		return nil, 0, err
	}
	rev, _ := out.Item["rev"].(*types.AttributeValueMemberN)
	if rev == nil {
		return ds, 0, nil
	}
	r, err := strconv.ParseInt(rev.Value, 10, 64)
	return ds, r, err
}

// AddDevice keeps d for owner, in place of the one of its endpoint, and
// forgets the oldest beyond longrun.MaxDevices.
func (st *Store) AddDevice(ctx context.Context, owner string, d longrun.Device) error {
	return st.editDevices(ctx, owner, func(ds []longrun.Device) []longrun.Device {
		ds = slices.DeleteFunc(ds, func(o longrun.Device) bool { return o.Endpoint == d.Endpoint })
		ds = append(ds, d)
		slices.SortStableFunc(ds, func(a, b longrun.Device) int { return a.AddedAt.Compare(b.AddedAt) })
		return ds[max(0, len(ds)-longrun.MaxDevices):]
	})
}

// RemoveDevice forgets owner's device of endpoint.
func (st *Store) RemoveDevice(ctx context.Context, owner, endpoint string) error {
	return st.editDevices(ctx, owner, func(ds []longrun.Device) []longrun.Device {
		return slices.DeleteFunc(ds, func(o longrun.Device) bool { return o.Endpoint == endpoint })
	})
}

// editDevices rewrites owner's devices as edit makes them, again on a lost
// race.
func (st *Store) editDevices(ctx context.Context, owner string, edit func([]longrun.Device) []longrun.Device) error {
	for range 10 {
		ds, rev, err := st.devices(ctx, owner)
		if err != nil {
			return err
		}
		ds = edit(ds)
		if ds == nil {
			ds = []longrun.Device{}
		}
		body, err := json.Marshal(ds)
		if err != nil {
			return err
		}
		item := devicesKey(owner)
		item["body"], item["rev"] = s(string(body)), n(rev+1)
		_, err = st.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.ResultTable, Item: item,
			ConditionExpression:       aws.String("attribute_not_exists(pk) OR rev = :rev"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":rev": n(rev)}})
		var cond *types.ConditionalCheckFailedException
		switch {
		case err == nil:
			return nil
		case !errors.As(err, &cond):
			return unavailable(err)
		}
	}
	return longrun.Errorf(longrun.ECONFLICT, "the devices were changed by another request: try again")
}
