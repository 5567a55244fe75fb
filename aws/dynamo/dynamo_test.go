package dynamo_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/aws/awstest"
	"github.com/longrun/longrun/aws/dynamo"
	"github.com/longrun/longrun/porttest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// newStore makes fresh tables in DynamoDB Local.
func newStore(t *testing.T) *dynamo.Store {
	t.Helper()
	awstest.DynamoDB(t)
	client := dynamodb.NewFromConfig(awstest.Config(t))
	st := &dynamo.Store{Client: client, ConfigTable: awstest.Name("configurations"), ResultTable: awstest.Name("results")}
	if err := dynamo.CreateTables(context.Background(), client, st.ConfigTable, st.ResultTable, ""); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestStoreConformance(t *testing.T) {
	porttest.TestStore(t, func(t *testing.T) porttest.Store { return newStore(t) })
}

func TestExpiredResultsAreIgnored(t *testing.T) {
	st := newStore(t)
	st.ResultTTL = time.Hour
	ctx := context.Background()
	clock := time.Now()
	st.Now = func() time.Time { return clock }
	if err := st.PutResult(ctx, &longrun.Result{Hash: "h", Stats: longrun.Stats{Iterations: 1}}); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(2 * time.Hour) // past the TTL; DynamoDB has not deleted it yet
	if r, err := st.Result(ctx, "h"); r != nil || err != nil {
		t.Fatalf("expired result: %+v %v, want none", r, err)
	}
	if err := st.PutResult(ctx, &longrun.Result{Hash: "h", Stats: longrun.Stats{Iterations: 2}}); err != nil {
		t.Fatal(err)
	}
	if r, _ := st.Result(ctx, "h"); r == nil || r.Stats.Iterations != 2 {
		t.Errorf("a new result over an expired one: got %+v", r)
	}
}

func TestLimiterConformance(t *testing.T) {
	porttest.TestLimiter(t, func(t *testing.T) (longrun.Limiter, func(time.Duration)) {
		st := newStore(t)
		clock := time.Now()
		st.Now = func() time.Time { return clock }
		return st, func(d time.Duration) { clock = clock.Add(d) }
	})
}

func TestAddressesConformance(t *testing.T) {
	porttest.TestAddresses(t, func(t *testing.T) longrun.Addresses { return newStore(t) })
}
