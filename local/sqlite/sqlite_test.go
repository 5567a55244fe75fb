package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/kinds/juliaset"
	"github.com/longrun/longrun/local/sqlite"
	"github.com/longrun/longrun/porttest"
)

func open(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), t.TempDir()+"/db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestStoreConformance(t *testing.T) {
	porttest.TestStore(t, func(t *testing.T) porttest.Store { return open(t) })
}

func TestJobQueueConformance(t *testing.T) {
	porttest.TestJobQueue(t, func(t *testing.T) (porttest.JobQueue, func(time.Duration)) {
		db := open(t)
		clock := time.Now()
		db.Now = func() time.Time { return clock }
		return db, func(d time.Duration) { clock = clock.Add(d) }
	})
}

func TestChangeLogConformance(t *testing.T) {
	porttest.TestChangeLog(t, func(t *testing.T) porttest.ChangeLog { return open(t) })
}

func TestQueueConformance(t *testing.T) {
	porttest.TestQueue(t, func(t *testing.T) (porttest.Queue, func() []longrun.Job) {
		db := open(t)
		return db, func() []longrun.Job {
			msgs, err := db.Receive(context.Background(), 10, time.Minute, 5)
			if err != nil {
				t.Fatal(err)
			}
			var jobs []longrun.Job
			for _, m := range msgs {
				var j longrun.Job
				if err := json.Unmarshal([]byte(m.Body), &j); err != nil {
					t.Fatal(err)
				}
				jobs = append(jobs, j)
				db.DeleteJob(context.Background(), m.ID)
			}
			return jobs
		}
	})
}

// A database made before migrations were recorded opens, migrates, and
// keeps its configurations, results, queue and change log.
func TestADatabaseOfThePreviousSchemaMigratesWithItsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	// The first migration is the schema as it was before migrations
	// were recorded.
	schema, err := os.ReadFile("migrations/0001_initial.sql")
	if err != nil {
		t.Fatal(err)
	}
	c := longrun.NewConfiguration("owner", longrun.Draft{Name: "kept",
		Spec: juliaset.Params{C: juliaset.Complex{Re: 0.3}, Zoom: 1, Width: 16, Height: 16, Depth: 5, Colormap: "magma"}}, nil, time.Now().UTC())
	c.Seq = 1
	body, _ := c.MarshalRecord()
	job, _ := json.Marshal(c.Job())
	for _, stmt := range []string{string(schema),
		`INSERT INTO configurations (id, owner, created_at, seq, body) VALUES ('` + c.ID + `', 'owner', 1, 1, '` + string(body) + `')`,
		`INSERT INTO results (hash, body) VALUES ('h', '{"Hash":"h","Stats":{"iterations":7,"pixels":1,"renderMs":1}}')`,
		`INSERT INTO jobs (body, visible_at, sent_at) VALUES ('` + string(job) + `', 0, 0)`,
		`INSERT INTO changes (id, new, at) VALUES ('` + c.ID + `', '` + string(body) + `', 0)`,
	} {
		if _, err := old.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	for range 2 { // the second open finds nothing left to do
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := db.Configuration(ctx, c.ID)
		if err != nil || got.Name != "kept" || got.ParamsHash != c.ParamsHash {
			t.Fatalf("configuration after migrating: %+v %v", got, err)
		}
		// A queued configuration of the old schema counts as active (the
		// quotas' count reads the status column migration 0006 added).
		if stored, active, err := db.CountConfigurations(ctx, "owner"); stored != 1 || active != 1 || err != nil {
			t.Errorf("owner's configurations after migrating: %d stored, %d active (%v), want 1 and 1", stored, active, err)
		}
		if r, err := db.Result(ctx, "h"); err != nil || r == nil || r.Stats.Iterations != 7 {
			t.Errorf("result after migrating: %+v %v", r, err)
		}
		if msgs, err := db.Receive(ctx, 10, time.Minute, 5); err != nil || len(msgs) != 1 {
			t.Errorf("queue after migrating: %+v %v", msgs, err)
		} else {
			db.ChangeVisibility(ctx, msgs[0].ID, 0)
		}
		if changes, err := db.Changes(ctx, 0, 10); err != nil || len(changes) != 1 {
			t.Errorf("change log after migrating: %d %v", len(changes), err)
		}
		db.Close()
		raw, _ := sql.Open("sqlite", "file:"+path)
		var applied int
		raw.QueryRow(`SELECT count(*) FROM migrations`).Scan(&applied)
		raw.Close()
		if want, _ := fs.Glob(os.DirFS("."), "migrations/*.sql"); applied != len(want) || applied < 2 {
			t.Errorf("%d migrations recorded, want %d", applied, len(want))
		}
	}
}

func TestAddressesConformance(t *testing.T) {
	porttest.TestAddresses(t, func(t *testing.T) longrun.Addresses { return open(t) })
}

// A configuration and its job are one transaction: what the service
// created is queued on disk when the store returns, before any later step
// (a process killed right after the write leaves nothing queued without
// its job), and each newly queued version has exactly one job.
func TestACreatedConfigurationIsQueuedInTheSameTransaction(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/db"
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	// Each write's context ends as the write returns: the process is gone
	// before any step after it.
	svc := &longrun.Service{Store: diesAfterWrites{db}, Results: db, Queue: db, Kinds: longrun.Kinds{juliaset.Name: juliaset.New(juliaset.Bounds{})}}
	caller := longrun.Caller{Owner: "o"}
	in := func(name string, re float64) *longrun.Input {
		return &longrun.Input{Name: &name, Params: juliaset.ParamsInput{C: &juliaset.Complex{Re: re, Im: 0.3}}.JSON()}
	}
	c, err := svc.Create(dying(ctx), caller, in("first", 0.1))
	if err != nil {
		t.Fatal(err)
	}
	c, err = svc.Edit(dying(ctx), caller, c.ID, c.ETag(), in("renamed", 0.1))
	if err != nil {
		t.Fatal(err)
	}
	c, err = svc.Edit(dying(ctx), caller, c.ID, c.ETag(), in("renamed", 0.2))
	if err != nil {
		t.Fatal(err)
	}
	db.Close() // as if killed: nothing after the writes ran

	db, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	msgs, err := db.Receive(ctx, 10, time.Minute, 5)
	if err != nil {
		t.Fatal(err)
	}
	var versions []int64
	for _, m := range msgs {
		var j longrun.Job
		json.Unmarshal([]byte(m.Body), &j)
		if j.ID != c.ID {
			t.Errorf("a job of %s, want only %s's", j.ID, c.ID)
		}
		versions = append(versions, j.Version)
	}
	if !slices.Equal(versions, []int64{1, 2}) {
		t.Errorf("jobs of versions %v queued, want [1 2]: one per new version, none for the rename", versions)
	}
}

type cancelKey struct{}

// dying returns a context that diesAfterWrites ends after its write.
func dying(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	return context.WithValue(ctx, cancelKey{}, cancel)
}

// diesAfterWrites is the database whose admitted writes end their context
// once committed.
type diesAfterWrites struct{ *sqlite.DB }

func (d diesAfterWrites) CreateConfiguration(ctx context.Context, c *longrun.Configuration, a longrun.Admission) error {
	defer ctx.Value(cancelKey{}).(context.CancelFunc)()
	return d.DB.CreateConfiguration(ctx, c, a)
}

func (d diesAfterWrites) AdmitUpdate(ctx context.Context, id string, a longrun.Admission, fn func(*longrun.Configuration) error) (*longrun.Configuration, error) {
	defer ctx.Value(cancelKey{}).(context.CancelFunc)()
	return d.DB.AdmitUpdate(ctx, id, a, fn)
}

// TestTheBytesKeptInAllBoundEveryOwnersRenders: owners each under their own
// quota keep, together, the server's quota in all; then a new owner's
// render is refused with a message naming it, an edit that starts no
// render still passes, and a delete frees what it kept for the next.
func TestTheBytesKeptInAllBoundEveryOwnersRenders(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	now := time.Now().UTC()
	a := longrun.Admission{MaxStored: 100, MaxActive: 100, MaxBytes: 1 << 20, MaxTotalBytes: 1000}
	conf := func(re float64) *longrun.Configuration {
		return longrun.NewConfiguration(longrun.NewID(), longrun.Draft{Name: "c", Kind: juliaset.Name,
			Spec: juliaset.Params{C: juliaset.Complex{Re: re}, Zoom: 1, Width: 16, Height: 16, Depth: 5, Colormap: "magma"}}, nil, now)
	}
	var kept []*longrun.Configuration
	for _, re := range []float64{0.1, 0.2} { // 600 bytes each, a different owner each
		c := conf(re)
		if err := db.CreateConfiguration(ctx, c, a); err != nil {
			t.Fatal(err)
		}
		if _, err := db.AdmitUpdate(ctx, c.ID, a, func(c *longrun.Configuration) error {
			c.Finish(c.Version, &longrun.Result{Hash: c.ParamsHash, Stats: longrun.Stats{Pixels: 256, Bytes: 600}}, now)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		kept = append(kept, c)
	}
	err := db.CreateConfiguration(ctx, conf(0.3), a)
	if longrun.ErrorCode(err) != longrun.ECONFLICT || !strings.Contains(err.Error(), "1.2 KB") && !strings.Contains(err.Error(), "2 KB") ||
		!strings.Contains(err.Error(), "in all") {
		t.Fatalf("a new owner's render while 1,200 bytes are kept in all: %v; want ECONFLICT naming the limit in all", err)
	}
	if _, err := db.AdmitUpdate(ctx, kept[0].ID, a, func(c *longrun.Configuration) error { c.Name = "renamed"; return nil }); err != nil {
		t.Errorf("a rename, which starts no render, over the limit in all: %v", err)
	}
	if err := db.DeleteConfiguration(ctx, kept[1].ID); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateConfiguration(ctx, conf(0.3), a); err != nil {
		t.Errorf("a render once a delete freed 600 bytes: %v", err)
	}
}

func TestDevicesConformance(t *testing.T) {
	porttest.TestDevices(t, func(t *testing.T) longrun.Devices { return open(t) })
}

func TestReplayConformance(t *testing.T) {
	porttest.TestReplay(t, func(t *testing.T) (longrun.Replay, func(time.Duration)) {
		db := open(t)
		clock := time.Now()
		db.Now = func() time.Time { return clock }
		return db, func(d time.Duration) { clock = clock.Add(d) }
	})
}

func TestPreferencesConformance(t *testing.T) {
	porttest.TestPreferences(t, func(t *testing.T) longrun.Preferences { return open(t) })
}
