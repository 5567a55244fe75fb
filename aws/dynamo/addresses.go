package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/longrun/longrun"
)

var _ longrun.Addresses = (*Store)(nil)

// Addresses live in the results table: "address#owner#addr" holds the
// record, "addrtoken#token" names it for links, "suppressed#addr" marks a
// suppressed address.

func addressKey(owner, addr string) string { return "address#" + owner + "#" + strings.ToLower(addr) }

// Address returns owner's record of addr.
func (st *Store) Address(ctx context.Context, owner, addr string) (longrun.Address, error) {
	return st.getAddress(ctx, addressKey(owner, addr))
}

func (st *Store) getAddress(ctx context.Context, pk string) (longrun.Address, error) {
	var a longrun.Address
	out, err := st.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.ResultTable,
		Key: map[string]types.AttributeValue{"pk": s(pk)}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return a, unavailable(err)
	}
	body, ok := out.Item["body"].(*types.AttributeValueMemberS)
	if !ok {
		return a, longrun.Errorf(longrun.ENOTFOUND, "no such address")
	}
	return a, json.Unmarshal([]byte(body.Value), &a)
}

// AddressByToken returns the record a link's token names.
func (st *Store) AddressByToken(ctx context.Context, token string) (longrun.Address, error) {
	out, err := st.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.ResultTable,
		Key: map[string]types.AttributeValue{"pk": s("addrtoken#" + token)}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return longrun.Address{}, unavailable(err)
	}
	ref, ok := out.Item["ref"].(*types.AttributeValueMemberS)
	if !ok {
		return longrun.Address{}, longrun.Errorf(longrun.ENOTFOUND, "no such address")
	}
	return st.getAddress(ctx, ref.Value)
}

// PutAddress stores a record; with create, only if owner has none of addr.
func (st *Store) PutAddress(ctx context.Context, a longrun.Address, create bool) (bool, error) {
	a.Addr = strings.ToLower(a.Addr)
	body, err := json.Marshal(a)
	if err != nil {
		return false, err
	}
	pk := addressKey(a.Owner, a.Addr)
	put := &types.Put{TableName: &st.ResultTable, Item: map[string]types.AttributeValue{"pk": s(pk), "body": s(string(body))}}
	if create {
		put.ConditionExpression = aws.String("attribute_not_exists(pk)")
	}
	items := []types.TransactWriteItem{
		{Put: put},
		{Put: &types.Put{TableName: &st.ResultTable, Item: map[string]types.AttributeValue{"pk": s("addrtoken#" + a.Token), "ref": s(pk)}}},
	}
	if a.UnsubscribeToken != "" {
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &st.ResultTable,
			Item: map[string]types.AttributeValue{"pk": s("addrtoken#" + a.UnsubscribeToken), "ref": s(pk)}}})
	}
	_, err = st.Client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var canceled *types.TransactionCanceledException
	if create && errors.As(err, &canceled) {
		return false, nil
	}
	if err != nil {
		return false, unavailable(err)
	}
	return true, nil
}

// Suppress puts addr on the suppression list.
func (st *Store) Suppress(ctx context.Context, addr, reason string) error {
	_, err := st.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.ResultTable,
		Item: map[string]types.AttributeValue{"pk": s("suppressed#" + strings.ToLower(addr)), "reason": s(reason)}})
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// Suppressed reports whether addr is on the suppression list.
func (st *Store) Suppressed(ctx context.Context, addr string) (bool, error) {
	out, err := st.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.ResultTable,
		Key: map[string]types.AttributeValue{"pk": s("suppressed#" + strings.ToLower(addr))}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return false, unavailable(err)
	}
	return out.Item != nil, nil
}
