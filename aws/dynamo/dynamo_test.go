package dynamo_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/aws/awscalls"
	"github.com/longrun/longrun/aws/awstest"
	"github.com/longrun/longrun/aws/dynamo"
	"github.com/longrun/longrun/kinds/juliaset"
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

// A poster's 1,024 tiles finishing on 32 workers at once cost DynamoDB one
// UpdateItem each (the ledger) and about a hundred writes of the
// configuration, not a read and a conditional rewrite of it per tile
// retried against the others (the storm of the record's sequence number).
func TestAPostersTilesWriteTheirLedgerNotTheConfiguration(t *testing.T) {
	awstest.DynamoDB(t)
	cfg := awstest.Config(t)
	var mu sync.Mutex
	ops := map[string]int{}
	awscalls.Record(&cfg, func(c awscalls.Call) {
		mu.Lock()
		defer mu.Unlock()
		key := c.Operation
		if c.Code != "" {
			key += " " + c.Code
		}
		ops[key]++
	})
	client := dynamodb.NewFromConfig(cfg)
	st := &dynamo.Store{Client: client, ConfigTable: awstest.Name("configurations"), ResultTable: awstest.Name("results")}
	ctx := context.Background()
	if err := dynamo.CreateTables(ctx, client, st.ConfigTable, st.ResultTable, ""); err != nil {
		t.Fatal(err)
	}
	c := longrun.NewConfiguration(longrun.NewID(), longrun.Draft{Name: "poster", Spec: juliaset.Params{C: juliaset.Complex{Re: -0.7, Im: 0.27},
		Zoom: 1, Width: 16384, Height: 16384, Depth: 100, Colormap: "magma"}}, nil, time.Now())
	if err := st.CreateConfiguration(ctx, c, longrun.Admission{}); err != nil {
		t.Fatal(err)
	}
	svc := &longrun.Service{Store: st, Tiles: st, Kinds: longrun.Kinds{juliaset.Name: juliaset.New(juliaset.Bounds{})}}
	const total = 1024
	if err := svc.StartTiles(ctx, c.Job(), total, 512); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	clear(ops)
	mu.Unlock()
	n := porttest.FinishTilesAtOnce(t, svc, c.Job(), total, 32, func(i int) longrun.TileResult {
		return longrun.TileResult{Lo: 1, Hi: 2 + i, Iterations: 5}
	})
	if n != 1 {
		t.Errorf("%d tiles found the poster complete, want exactly 1 (one assembly)", n)
	}
	t.Logf("DynamoDB calls for %d tiles on 32 workers: %v", total, ops)
	if ops["UpdateItem"] != total {
		t.Errorf("%d ledger updates, want one a tile (%d)", ops["UpdateItem"], total)
	}
	if w := ops["PutItem"] + ops["PutItem ConditionalCheckFailedException"]; w > 150 {
		t.Errorf("%d writes of the configuration (%d of them collided), want about one per whole percent", w, ops["PutItem ConditionalCheckFailedException"])
	}
	got, _ := st.Configuration(ctx, c.ID)
	if got.Tiling.Count != total || got.Progress != 1 || got.Tiling.Hi != 1+total {
		t.Errorf("after every tile: %d of %d, progress %v, range to %d", got.Tiling.Count, total, got.Progress, got.Tiling.Hi)
	}
}

func TestDevicesConformance(t *testing.T) {
	porttest.TestDevices(t, func(t *testing.T) longrun.Devices { return newStore(t) })
}

func TestReplayConformance(t *testing.T) {
	porttest.TestReplay(t, func(t *testing.T) (longrun.Replay, func(time.Duration)) {
		st := newStore(t)
		clock := time.Now()
		st.Now = func() time.Time { return clock }
		return st, func(d time.Duration) { clock = clock.Add(d) }
	})
}

func TestPreferencesConformance(t *testing.T) {
	porttest.TestPreferences(t, func(t *testing.T) longrun.Preferences { return newStore(t) })
}
