// Package wspush pushes messages to browsers connected to an API Gateway
// WebSocket API. Connections are kept in DynamoDB by owner, with a TTL; a
// connection API Gateway reports gone (410) is deleted.
package wspush

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	gwtypes "github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/longrun/longrun/notify"
)

// OwnerIndex is the connections table's GSI on owner; ClientIndex, its
// keys-only GSI on the client network a connection came from.
const (
	OwnerIndex  = "byOwner"
	ClientIndex = "byClient"
)

// Poster posts to one connection; apigatewaymanagementapi.Client is one.
type Poster interface {
	PostToConnection(ctx context.Context, in *apigatewaymanagementapi.PostToConnectionInput, opts ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error)
}

// Connections keeps the open connections and pushes to them.
type Connections struct {
	DB    *dynamodb.Client
	Table string
	API   Poster
	// TTL is how long a connection record lives (API Gateway closes
	// connections after 2 hours); 0 means 3 hours.
	TTL time.Duration
	// MaxPerOwner and MaxPerClient cap the live connections of an owner and
	// of a client network (however many owners it makes up); 0 means 8 and
	// 32, as locally. They are counted from the indexes, which trail the
	// writes by a moment: connections opened at the same instant may pass
	// a cap by a few; API Gateway's account quota bounds them in all.
	MaxPerOwner, MaxPerClient int
	Now                       func() time.Time
}

// ErrTooMany is the error of a connection past a cap; its message names it.
type ErrTooMany struct{ Message string }

func (e *ErrTooMany) Error() string { return e.Message }

// Connections implements this port.
var _ notify.Pusher = (*Connections)(nil)

func (c *Connections) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

// Connect records a connection of owner from client, unless the owner or
// the client is at its cap (an *ErrTooMany).
func (c *Connections) Connect(ctx context.Context, id, owner, client string) error {
	ttl := c.TTL
	if ttl == 0 {
		ttl = 3 * time.Hour
	}
	if max := cmp.Or(c.MaxPerClient, 32); client != "" {
		n, err := c.count(ctx, ClientIndex, "client", client)
		if err != nil {
			return err
		}
		if n >= max {
			return &ErrTooMany{fmt.Sprintf("at most %d live connections from one address; close some pages", max)}
		}
	}
	{
		max := cmp.Or(c.MaxPerOwner, 8)
		n, err := c.count(ctx, OwnerIndex, "owner", owner)
		if err != nil {
			return err
		}
		if n >= max {
			return &ErrTooMany{fmt.Sprintf("at most %d open pages get live updates; close one", max)}
		}
	}
	item := map[string]types.AttributeValue{
		"connectionId": &types.AttributeValueMemberS{Value: id},
		"owner":        &types.AttributeValueMemberS{Value: owner},
		"expiresAt":    &types.AttributeValueMemberN{Value: strconv.FormatInt(c.now().Add(ttl).Unix(), 10)},
	}
	if client != "" {
		item["client"] = &types.AttributeValueMemberS{Value: client}
	}
	_, err := c.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &c.Table, Item: item})
	return err
}

// count counts the live connections whose attribute name is value, from
// the index on it.
func (c *Connections) count(ctx context.Context, index, name, value string) (int, error) {
	n := 0
	p := dynamodb.NewQueryPaginator(c.DB, &dynamodb.QueryInput{
		TableName: &c.Table, IndexName: aws.String(index), Select: types.SelectCount,
		KeyConditionExpression:   aws.String("#k = :k"),
		FilterExpression:         aws.String("expiresAt > :now"),
		ExpressionAttributeNames: map[string]string{"#k": name},
		ExpressionAttributeValues: map[string]types.AttributeValue{":k": &types.AttributeValueMemberS{Value: value},
			":now": &types.AttributeValueMemberN{Value: strconv.FormatInt(c.now().Unix(), 10)}},
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return 0, err
		}
		n += int(out.Count)
	}
	return n, nil
}

// Disconnect forgets a connection.
func (c *Connections) Disconnect(ctx context.Context, id string) error {
	_, err := c.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &c.Table,
		Key: map[string]types.AttributeValue{"connectionId": &types.AttributeValueMemberS{Value: id}}})
	return err
}

// ConnectionIDs returns the ids of owner's live connections.
func (c *Connections) ConnectionIDs(ctx context.Context, owner string) ([]string, error) {
	var ids []string
	p := dynamodb.NewQueryPaginator(c.DB, &dynamodb.QueryInput{
		TableName: &c.Table, IndexName: aws.String(OwnerIndex),
		KeyConditionExpression:    aws.String("#o = :o"),
		FilterExpression:          aws.String("expiresAt > :now"),
		ExpressionAttributeNames:  map[string]string{"#o": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":o": &types.AttributeValueMemberS{Value: owner}, ":now": &types.AttributeValueMemberN{Value: strconv.FormatInt(c.now().Unix(), 10)}},
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, item := range out.Items {
			if id, ok := item["connectionId"].(*types.AttributeValueMemberS); ok {
				ids = append(ids, id.Value)
			}
		}
	}
	return ids, nil
}

// Push posts msg to every live connection of owner; gone ones are deleted.
func (c *Connections) Push(ctx context.Context, owner string, msg []byte) error {
	ids, err := c.ConnectionIDs(ctx, owner)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		_, err := c.API.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: msg})
		var gone *gwtypes.GoneException
		switch {
		case errors.As(err, &gone):
			if err := c.Disconnect(ctx, id); err != nil {
				errs = append(errs, err)
			}
		case err != nil:
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
