package wspush_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	gwtypes "github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/longrun/longrun/aws/awstest"
	"github.com/longrun/longrun/aws/dynamo"
	"github.com/longrun/longrun/aws/wspush"
	"github.com/longrun/longrun/porttest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

type poster struct {
	mu   sync.Mutex
	got  []string
	gone map[string]bool
}

func (p *poster) PostToConnection(ctx context.Context, in *apigatewaymanagementapi.PostToConnectionInput, _ ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gone[*in.ConnectionId] {
		return nil, &gwtypes.GoneException{}
	}
	p.got = append(p.got, *in.ConnectionId)
	return &apigatewaymanagementapi.PostToConnectionOutput{}, nil
}

func TestPushReachesOnlyTheOwnerAndForgetsGoneConnections(t *testing.T) {
	db, table := connectionsTable(t)
	p := &poster{gone: map[string]bool{"a-gone": true}}
	c := &wspush.Connections{DB: db, Table: table, API: p}
	ctx := context.Background()
	for id, owner := range map[string]string{"a1": "alice", "a2": "alice", "a-gone": "alice", "b1": "bob"} {
		if err := c.Connect(ctx, id, owner, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Push(ctx, "alice", []byte(`{"type":"configuration"}`)); err != nil {
		t.Fatal(err)
	}
	slices.Sort(p.got)
	if !slices.Equal(p.got, []string{"a1", "a2"}) {
		t.Errorf("pushed to %v, want alice's live connections a1 a2", p.got)
	}
	left, _ := c.ConnectionIDs(ctx, "alice")
	slices.Sort(left)
	if !slices.Equal(left, []string{"a1", "a2"}) {
		t.Errorf("alice's connections after the push: %v, want the gone one deleted", left)
	}
}

func TestPusherConformance(t *testing.T) {
	porttest.TestPusher(t, func(t *testing.T) (porttest.Pusher, func(string) func() [][]byte) {
		db, table := connectionsTable(t)
		p := &recorder{got: map[string][][]byte{}}
		c := &wspush.Connections{DB: db, Table: table, API: p}
		n := 0
		return c, func(owner string) func() [][]byte {
			n++
			id := fmt.Sprintf("conn-%d", n)
			if err := c.Connect(context.Background(), id, owner, ""); err != nil {
				t.Fatal(err)
			}
			return func() [][]byte {
				p.mu.Lock()
				defer p.mu.Unlock()
				return p.got[id]
			}
		}
	})
}

// recorder is API Gateway's management API as far as a push needs it.
type recorder struct {
	mu  sync.Mutex
	got map[string][][]byte
}

func (r *recorder) PostToConnection(ctx context.Context, in *apigatewaymanagementapi.PostToConnectionInput, _ ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got[*in.ConnectionId] = append(r.got[*in.ConnectionId], in.Data)
	return &apigatewaymanagementapi.PostToConnectionOutput{}, nil
}

// A connection past its owner's cap, or past its client network's
// (however many owners the client makes up), is refused with a message
// naming the cap; a connection of another client is not.
func TestConnectionsAreCappedPerOwnerAndPerClient(t *testing.T) {
	db, table := connectionsTable(t)
	c := &wspush.Connections{DB: db, Table: table, API: &poster{}, MaxPerOwner: 2, MaxPerClient: 3}
	ctx := context.Background()
	connect := func(id, owner, client string) error { return c.Connect(ctx, id, owner, client) }
	var tooMany *wspush.ErrTooMany
	connect("a1", "alice", "203.0.113.0/24")
	connect("a2", "alice", "203.0.113.0/24")
	if err := connect("a3", "alice", "198.51.100.0/24"); !errors.As(err, &tooMany) || !strings.Contains(err.Error(), "at most 2 open pages") {
		t.Errorf("alice's third connection: %v, want refused by the owner's cap", err)
	}
	connect("b1", "bob", "203.0.113.0/24")
	if err := connect("m1", "mallory", "203.0.113.0/24"); !errors.As(err, &tooMany) || !strings.Contains(err.Error(), "at most 3 live connections from one address") {
		t.Errorf("a fourth connection of one client by a new owner: %v, want refused by the client's cap", err)
	}
	if err := connect("c1", "carol", "198.51.100.0/24"); err != nil {
		t.Errorf("another client's connection: %v", err)
	}
}

// connectionsTable makes an empty connections table on the local DynamoDB.
func connectionsTable(t *testing.T) (*dynamodb.Client, string) {
	t.Helper()
	awstest.DynamoDB(t)
	db := dynamodb.NewFromConfig(awstest.Config(t))
	table := awstest.Name("connections")
	if err := dynamo.CreateTables(context.Background(), db, awstest.Name("c"), awstest.Name("r"), table); err != nil {
		t.Fatal(err)
	}
	return db, table
}
