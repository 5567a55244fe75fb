package dynamo

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/longrun/longrun"
)

var _ longrun.Preferences = (*Store)(nil)

// An owner's default channels are "prefs#owner" in the results table.

// Preferences returns owner's default channels.
func (st *Store) Preferences(ctx context.Context, owner string) (longrun.Channels, error) {
	var c longrun.Channels
	out, err := st.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.ResultTable,
		Key: map[string]types.AttributeValue{"pk": s("prefs#" + owner)}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return c, unavailable(err)
	}
	body, ok := out.Item["body"].(*types.AttributeValueMemberS)
	if !ok {
		return c, nil
	}
	return c, json.Unmarshal([]byte(body.Value), &c)
}

// SetPreferences keeps owner's default channels.
func (st *Store) SetPreferences(ctx context.Context, owner string, c longrun.Channels) error {
	body, err := json.Marshal(c)
	if err != nil {
		return err
	}
	_, err = st.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.ResultTable,
		Item: map[string]types.AttributeValue{"pk": s("prefs#" + owner), "body": s(string(body))}})
	if err != nil {
		return unavailable(err)
	}
	return nil
}
