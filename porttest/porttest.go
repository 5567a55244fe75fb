// Package porttest holds conformance suites for longrun's ports. Every
// adapter of a port, the embedded one and the AWS one, must pass its suite,
// so the core behaves the same on either.
package porttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/kinds/juliaset"
)

// Store is every method the core asks of a configuration and result store.
type Store interface {
	longrun.Store
	Result(ctx context.Context, hash string) (*longrun.Result, error)
	DeleteResult(ctx context.Context, hash string) error
	PutResult(ctx context.Context, r *longrun.Result) error
	Claim(ctx context.Context, hash, token string, until time.Time) (bool, error)
	Release(ctx context.Context, hash, token string) error
	LeaseEnds(ctx context.Context, hash string) (time.Time, error)
	MarkSent(ctx context.Context, key string) (bool, error)
	UnmarkSent(ctx context.Context, key string) error
	longrun.TileLedger
}

func newConfiguration(owner string, created time.Time, re float64) *longrun.Configuration {
	return longrun.NewConfiguration(owner, longrun.Draft{Name: fmt.Sprint(re),
		Kind: juliaset.Name, Spec: juliaset.Params{C: juliaset.Complex{Re: re, Im: 0.3}, Zoom: 1, Width: 64, Height: 64, Depth: 100, Colormap: "magma"}}, nil, created)
}

// sameJSON reports whether two JSON documents are equal as values: a
// store may keep an object's keys in another order, or its numbers as
// other text.
func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// juliaOf decodes c's spec as a Julia set's.
func juliaOf(t *testing.T, raw json.RawMessage) juliaset.Params {
	t.Helper()
	var p juliaset.Params
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestStore runs the store suite; newStore returns an empty store.
func TestStore(t *testing.T, newStore func(t *testing.T) Store) {
	for _, c := range []struct {
		name string
		test func(*testing.T, Store)
	}{
		{"a created configuration reads back whole", storeACreatedConfigurationReadsBackWhole},
		{"a missing configuration is ENOTFOUND", storeAMissingConfigurationIsENOTFOUND},
		{"an update that returns an error writes nothing", storeAnUpdateThatReturnsAnErrorWritesNothing},
		{"concurrent updates are never lost", storeConcurrentUpdatesAreNeverLost},
		{"of tiles finishing at once, one completes the render", storeTilesFinishingAtOnceCompleteOnce},
		{"lists are per owner, newest first, paginated", storeListsArePerOwnerNewestFirstPaginated},
		{"delete removes", storeDeleteRemoves},
		{"results are put once, by hash", storeResultsArePutOnceByHash},
		{"a lease excludes others until it expires or is released", storeALeaseExcludesOthersUntilItExpiresOrIsReleased},
		{"sent marks are set once", storeSentMarksAreSetOnce},
		{"an owner's configurations are counted, all and active", storeCountsStoredAndActive},
		{"concurrent creates never pass the owner's quotas", storeConcurrentCreatesNeverPassTheQuotas},
		{"finishing, cancelling and deleting release the quotas", storeEndingReleasesTheQuotas},
		{"an owner who keeps the byte quota starts no render until some is deleted", storeBytesKeptBoundNewRenders},
	} {
		t.Run(c.name, func(t *testing.T) { c.test(t, newStore(t)) })
	}
}

// storeACreatedConfigurationReadsBackWhole checks that a created configuration reads back whole.
func storeACreatedConfigurationReadsBackWhole(t *testing.T, s Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	c := newConfiguration(longrun.NewID(), now, 0.1)
	c.NotifyEmail = "ada@example.com"
	// Two earlier versions, one rendered: the history reads back too.
	c.Finish(1, &longrun.Result{Hash: c.ParamsHash}, now)
	for _, depth := range []int{101, 102} {
		p := juliaOf(t, c.Params)
		p.Depth = depth
		c.Edit(longrun.Draft{Name: c.Name, Spec: p, NotifyEmail: c.NotifyEmail}, nil, now)
	}
	if err := s.CreateConfiguration(ctx, c, longrun.Admission{}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Configuration(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !sameFields(got, c) || got.Version != 3 || got.Status != longrun.StatusQueued {
		t.Errorf("got %+v, want %+v", got, c)
	}
	if !sameHistory(got.History, c.History) {
		t.Errorf("history read back %+v, want %+v", got.History, c.History)
	}
}

// sameFields reports whether got holds c's owner, kind, spec, hash,
// address and creation time.
func sameFields(got, c *longrun.Configuration) bool {
	return got.Owner == c.Owner && sameJSON(got.Params, c.Params) && got.Kind == c.Kind && got.ParamsHash == c.ParamsHash &&
		got.NotifyEmail == c.NotifyEmail && got.CreatedAt.Equal(c.CreatedAt)
}

// sameHistory reports whether a history read back is the one written.
func sameHistory(got, want []longrun.Earlier) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i].Version != want[i].Version || got[i].Rendered != want[i].Rendered || !got[i].At.Equal(want[i].At) ||
			!sameJSON(got[i].Params, want[i].Params) || got[i].Hash != want[i].Hash {
			return false
		}
	}
	return true
}

// storeAMissingConfigurationIsENOTFOUND checks that a missing configuration is ENOTFOUND.
func storeAMissingConfigurationIsENOTFOUND(t *testing.T, s Store) {
	ctx := context.Background()
	_, err := s.Configuration(ctx, longrun.NewID())
	if longrun.ErrorCode(err) != longrun.ENOTFOUND {
		t.Errorf("got %v, want ENOTFOUND", err)
	}
	_, err = s.UpdateConfiguration(ctx, longrun.NewID(), func(*longrun.Configuration) error { return nil })
	if longrun.ErrorCode(err) != longrun.ENOTFOUND {
		t.Errorf("update: got %v, want ENOTFOUND", err)
	}
	if err := s.DeleteConfiguration(ctx, longrun.NewID()); longrun.ErrorCode(err) != longrun.ENOTFOUND {
		t.Errorf("delete: got %v, want ENOTFOUND", err)
	}
}

// storeAnUpdateThatReturnsAnErrorWritesNothing checks that an update that returns an error writes nothing.
func storeAnUpdateThatReturnsAnErrorWritesNothing(t *testing.T, s Store) {
	ctx := context.Background()
	c := newConfiguration(longrun.NewID(), time.Now(), 0.2)
	s.CreateConfiguration(ctx, c, longrun.Admission{})
	stop := errors.New("stop")
	_, err := s.UpdateConfiguration(ctx, c.ID, func(c *longrun.Configuration) error {
		c.Name = "changed"
		return stop
	})
	if !errors.Is(err, stop) {
		t.Errorf("got %v, want fn's error", err)
	}
	if got, _ := s.Configuration(ctx, c.ID); got.Name != c.Name {
		t.Errorf("name %q, want %q", got.Name, c.Name)
	}
}

// storeConcurrentUpdatesAreNeverLost checks that concurrent updates are never lost.
func storeConcurrentUpdatesAreNeverLost(t *testing.T, s Store) {
	ctx := context.Background()
	c := newConfiguration(longrun.NewID(), time.Now(), 0.3)
	s.CreateConfiguration(ctx, c, longrun.Admission{})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := s.UpdateConfiguration(ctx, c.ID, func(c *longrun.Configuration) error {
				c.Rev++
				return nil
			}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got, _ := s.Configuration(ctx, c.ID); got.Rev != 21 {
		t.Errorf("rev %d after 20 increments, want 21", got.Rev)
	}
}

// storeTilesFinishingAtOnceCompleteOnce: a tiled render's tiles finish
// concurrently, the last ones together; exactly one of them finds the set
// complete (and sends the assembly), every tile is counted once, a tile
// delivered again changes nothing, and the configuration is written only
// when progress moves a whole percent: a poster's thousand tiles write it
// about a hundred times, not a thousand (on DynamoDB each would read and
// rewrite the whole item, retried against the others: a storm).
func storeTilesFinishingAtOnceCompleteOnce(t *testing.T, s Store) {
	for _, total := range []int{12, 1000} {
		t.Run(fmt.Sprint(total, " tiles"), func(t *testing.T) { tilesCompleteOnce(t, s, total) })
	}
}

// FinishTilesAtOnce finishes the job's tiles 0 to total−1 on that many
// workers at once, tile i with what result(i) found, and returns how many
// of them found the render complete (one, for the assembly to be sent once).
func FinishTilesAtOnce(t *testing.T, svc *longrun.Service, job longrun.Job, total, workers int, result func(i int) longrun.TileResult) int {
	t.Helper()
	var completes atomic.Int32
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				tj := job
				tj.Step, tj.Tile = longrun.JobPart, i
				complete, err := svc.FinishTile(context.Background(), tj, result(i))
				if err != nil {
					t.Error(err)
				}
				if complete {
					completes.Add(1)
				}
			}
		})
	}
	for i := range total {
		next <- i
	}
	close(next)
	wg.Wait()
	return int(completes.Load())
}

func tilesCompleteOnce(t *testing.T, s Store, total int) {
	ctx := context.Background()
	c := newConfiguration(longrun.NewID(), time.Now(), 0.35)
	s.CreateConfiguration(ctx, c, longrun.Admission{})
	svc := &longrun.Service{Store: s, Tiles: s, Kinds: longrun.Kinds{juliaset.Name: juliaset.New(juliaset.Bounds{})}}
	job := c.Job()
	if err := svc.StartTiles(ctx, job, total, 16); err != nil {
		t.Fatal(err)
	}
	started, _ := s.Configuration(ctx, c.ID)
	n := FinishTilesAtOnce(t, svc, job, total, 16, func(i int) longrun.TileResult {
		return longrun.TileResult{Lo: i, Hi: 100 + i, Iterations: 10, RenderMs: 0.25}
	})
	got, _ := s.Configuration(ctx, c.ID)
	if n != 1 {
		t.Errorf("%d tiles found the render complete, want 1", n)
	}
	checkTally(t, got, total)
	if writes := got.Seq - started.Seq; writes > int64(min(total, 100)) {
		t.Errorf("%d tiles wrote the configuration %d times, want at most one per whole percent (%d)", total, writes, min(total, 100))
	}
	again := job
	again.Step, again.Tile = longrun.JobPart, 3
	if complete, err := svc.FinishTile(ctx, again, longrun.TileResult{Iterations: 10}); err != nil || !complete {
		t.Errorf("a tile delivered again: complete %v, %v; want true (the assembly is sent again, harmlessly)", complete, err)
	}
	if after, _ := s.Configuration(ctx, c.ID); after.Tiling.Iterations != int64(10*total) || after.Seq != got.Seq {
		t.Errorf("a tile delivered again counted again, or wrote: iterations %d, seq %d → %d", after.Tiling.Iterations, got.Seq, after.Seq)
	}
	// A tile of another version is refused, and marks nothing.
	stale := job
	stale.Version, stale.Step, stale.Tile = job.Version+1, longrun.JobPart, 0
	if _, err := svc.FinishTile(ctx, stale, longrun.TileResult{}); err == nil {
		t.Errorf("a tile of a version that is not the configuration's was accepted")
	}
}

// checkTally checks what the configuration holds of total tiles, each
// finished with FinishTilesAtOnce's results of tilesCompleteOnce: every
// tile counted once, their range and iterations, and their render times
// of a quarter of a millisecond each adding up (their sum is not 0).
func checkTally(t *testing.T, got *longrun.Configuration, total int) {
	t.Helper()
	tl := got.Tiling
	if tl == nil || tl.Count != total || tl.Iterations != int64(10*total) || tl.Lo != 0 || tl.Hi != 100+total-1 || got.Progress != 1 {
		t.Errorf("tiling %+v, progress %v: want %d tiles counted once, range 0–%d", got.Tiling, got.Progress, total, 100+total-1)
		return
	}
	if want := int64(math.Round(0.25 * float64(total))); tl.RenderMs != want {
		t.Errorf("tiles of 0.25 ms: render time %d ms, want %d", tl.RenderMs, want)
	}
}

// storeListsArePerOwnerNewestFirstPaginated checks that lists are per owner, newest first, paginated.
func storeListsArePerOwnerNewestFirstPaginated(t *testing.T, s Store) {
	ctx := context.Background()
	owner, other := longrun.NewID(), longrun.NewID()
	base := time.Now().UTC()
	var want []string
	for i := range 7 {
		c := newConfiguration(owner, base.Add(time.Duration(i)*time.Millisecond), float64(i)/10)
		s.CreateConfiguration(ctx, c, longrun.Admission{})
		want = append([]string{c.ID}, want...)
	}
	s.CreateConfiguration(ctx, newConfiguration(other, base, 0.9), longrun.Admission{})
	var got []string
	cursor := ""
	for range 10 {
		page, next, err := s.Configurations(ctx, owner, cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page {
			got = append(got, c.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// storeDeleteRemoves checks that delete removes.
func storeDeleteRemoves(t *testing.T, s Store) {
	ctx := context.Background()
	c := newConfiguration(longrun.NewID(), time.Now(), 0.4)
	s.CreateConfiguration(ctx, c, longrun.Admission{})
	if err := s.DeleteConfiguration(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Configuration(ctx, c.ID); longrun.ErrorCode(err) != longrun.ENOTFOUND {
		t.Errorf("after delete: %v", err)
	}
}

// storeResultsArePutOnceByHash checks that results are put once, by hash.
func storeResultsArePutOnceByHash(t *testing.T, s Store) {
	ctx := context.Background()
	if r, err := s.Result(ctx, "h1"); r != nil || err != nil {
		t.Fatalf("missing result: %v %v, want nil, nil", r, err)
	}
	first := &longrun.Result{Hash: "h1", Stats: longrun.Stats{Iterations: 1}, CreatedAt: time.Now().UTC()}
	second := &longrun.Result{Hash: "h1", Stats: longrun.Stats{Iterations: 2}, CreatedAt: time.Now().UTC()}
	if err := s.PutResult(ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := s.PutResult(ctx, second); err != nil {
		t.Fatalf("a second put of one hash must succeed quietly: %v", err)
	}
	if r, _ := s.Result(ctx, "h1"); r == nil || r.Stats.Iterations != 1 {
		t.Errorf("got %+v, want the first result kept", r)
	}
	if err := s.DeleteResult(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Result(ctx, "h1"); r != nil || err != nil {
		t.Errorf("after delete: %+v %v, want none", r, err)
	}
	if err := s.PutResult(ctx, second); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Result(ctx, "h1"); r == nil || r.Stats.Iterations != 2 {
		t.Errorf("after delete and put: %+v, want the new result", r)
	}
}

// storeALeaseExcludesOthersUntilItExpiresOrIsReleased checks that a lease excludes others until it expires or is released.
func storeALeaseExcludesOthersUntilItExpiresOrIsReleased(t *testing.T, s Store) {
	ctx := context.Background()
	now := time.Now()
	if ok, err := s.Claim(ctx, "h", "a", now.Add(time.Minute)); !ok || err != nil {
		t.Fatalf("first claim: %v %v", ok, err)
	}
	if ok, _ := s.Claim(ctx, "h", "b", now.Add(time.Minute)); ok {
		t.Error("a second token took a live lease")
	}
	if ok, _ := s.Claim(ctx, "h", "a", now.Add(2*time.Minute)); !ok {
		t.Error("the holder could not renew")
	}
	if ends, err := s.LeaseEnds(ctx, "h"); err != nil || ends.Sub(now.Add(2*time.Minute)).Abs() > time.Millisecond {
		t.Errorf("lease ends %v %v, want when the renewal said", ends, err)
	}
	if ends, err := s.LeaseEnds(ctx, "never-leased"); err != nil || !ends.IsZero() {
		t.Errorf("no lease: ends %v %v, want zero", ends, err)
	}
	s.Release(ctx, "h", "b") // not the holder: no effect
	if ok, _ := s.Claim(ctx, "h", "b", now.Add(time.Minute)); ok {
		t.Error("another token's release freed the lease")
	}
	s.Release(ctx, "h", "a")
	if ok, _ := s.Claim(ctx, "h", "b", now.Add(time.Minute)); !ok {
		t.Error("a released lease could not be taken")
	}
	if ok, _ := s.Claim(ctx, "expired", "a", now.Add(-time.Second)); !ok {
		t.Fatal("claim")
	}
	if ends, _ := s.LeaseEnds(ctx, "expired"); !ends.IsZero() {
		t.Errorf("an expired lease ends %v, want zero", ends)
	}
	if ok, _ := s.Claim(ctx, "expired", "b", now.Add(time.Minute)); !ok {
		t.Error("an expired lease could not be taken")
	}
}

// storeSentMarksAreSetOnce checks that sent marks are set once.
func storeSentMarksAreSetOnce(t *testing.T, s Store) {
	ctx := context.Background()
	if first, err := s.MarkSent(ctx, "k"); !first || err != nil {
		t.Fatalf("first mark: %v %v", first, err)
	}
	if first, _ := s.MarkSent(ctx, "k"); first {
		t.Error("a second mark reported new")
	}
	s.UnmarkSent(ctx, "k")
	if first, _ := s.MarkSent(ctx, "k"); !first {
		t.Error("a mark after unmark was not new")
	}
}

// Images is the image store port.
type Images interface {
	PutImage(ctx context.Context, key string, png []byte) error
	OpenImage(ctx context.Context, key string) (io.ReadCloser, error)
	HasImage(ctx context.Context, key string) (bool, error)
}

// TestImages runs the image store suite.
func TestImages(t *testing.T, newImages func(t *testing.T) Images) {
	ctx := context.Background()
	t.Run("an image reads back, and a put replaces", func(t *testing.T) {
		s := newImages(t)
		for _, body := range []string{"first", "second"} {
			if got := putAndRead(t, s, "abc.png", body); got != body {
				t.Errorf("got %q, want %q", got, body)
			}
			if ok, err := s.HasImage(ctx, "abc.png"); !ok || err != nil {
				t.Errorf("HasImage of a stored image: %v %v", ok, err)
			}
		}
	})
	t.Run("counts and tiles keep under their prefixes", func(t *testing.T) {
		s := newImages(t)
		for _, key := range []string{juliaset.CountsKey("abc"), juliaset.TileKey("abc", 512, 7)} {
			if got := putAndRead(t, s, key, key); got != key {
				t.Errorf("%s: got %q", key, got)
			}
		}
		if ok, err := s.HasImage(ctx, juliaset.CountsKey("other")); ok || err != nil {
			t.Errorf("HasImage of missing counts: %v %v, want false", ok, err)
		}
	})
	t.Run("a missing image is ENOTFOUND", func(t *testing.T) {
		s := newImages(t)
		if _, err := s.OpenImage(ctx, "missing.png"); longrun.ErrorCode(err) != longrun.ENOTFOUND {
			t.Errorf("got %v, want ENOTFOUND", err)
		}
		if ok, err := s.HasImage(ctx, "missing.png"); ok || err != nil {
			t.Errorf("HasImage of a missing image: %v %v, want false", ok, err)
		}
	})
}

// putAndRead stores body under key and returns what reads back.
func putAndRead(t *testing.T, s Images, key, body string) string {
	t.Helper()
	ctx := context.Background()
	if err := s.PutImage(ctx, key, []byte(body)); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	r, err := s.OpenImage(ctx, key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	defer r.Close()
	got, _ := io.ReadAll(r)
	return string(got)
}

// TestLimiter runs the rate limiter suite. newLimiter returns a limiter
// and a function that moves its clock forward.
func TestLimiter(t *testing.T, newLimiter func(t *testing.T) (longrun.Limiter, func(time.Duration))) {
	ctx := context.Background()
	t.Run("a key gets its limit a window, then waits for the next", func(t *testing.T) {
		l, advance := newLimiter(t)
		key := "k/" + longrun.NewID()
		for i := range 3 {
			if retry, err := l.Allow(ctx, key, 3, time.Hour); retry != 0 || err != nil {
				t.Fatalf("event %d: retry %v %v, want allowed", i+1, retry, err)
			}
		}
		retry, err := l.Allow(ctx, key, 3, time.Hour)
		if err != nil || retry <= 0 || retry > time.Hour {
			t.Fatalf("the 4th event: retry %v %v, want a wait within the hour", retry, err)
		}
		if other, _ := l.Allow(ctx, key+"-other", 3, time.Hour); other != 0 {
			t.Errorf("another key was refused")
		}
		advance(retry + time.Second)
		if again, _ := l.Allow(ctx, key, 3, time.Hour); again != 0 {
			t.Errorf("after the window: retry %v, want allowed", again)
		}
	})
}

// storeCountsStoredAndActive checks that an owner's configurations are
// counted, all and those queued or rendering (one of each, and one done).
func storeCountsStoredAndActive(t *testing.T, s Store) {
	ctx := context.Background()
	owner := longrun.NewID()
	now := time.Now().UTC()
	for i := range 3 {
		c := newConfiguration(owner, now.Add(time.Duration(i)*time.Millisecond), 0.01*float64(i))
		switch i {
		case 0:
			c.Finish(c.Version, &longrun.Result{Hash: c.ParamsHash}, now)
		case 1:
			if err := c.StartRender(c.Version, now); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.CreateConfiguration(ctx, c, longrun.Admission{}); err != nil {
			t.Fatal(err)
		}
	}
	s.CreateConfiguration(ctx, newConfiguration(longrun.NewID(), now, 0.5), longrun.Admission{}) // someone else's
	if stored, active, err := s.CountConfigurations(ctx, owner); stored != 3 || active != 2 || err != nil {
		t.Errorf("counted %d stored, %d active, %v; want 3 and 2", stored, active, err)
	}
}

// storeConcurrentCreatesNeverPassTheQuotas creates 40 configurations of
// one owner at once, within 7 active and 12 stored: exactly 7 are admitted
// (each refused one with ETOOMANY), then with the active ones finished up to
// 12 stored.
func storeConcurrentCreatesNeverPassTheQuotas(t *testing.T, s Store) {
	ctx := context.Background()
	owner, now := longrun.NewID(), time.Now().UTC()
	a := longrun.Admission{MaxStored: 12, MaxActive: 7}
	create := func(n int) (ok []*longrun.Configuration) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				c := newConfiguration(owner, now, 0.001*float64(i))
				err := s.CreateConfiguration(ctx, c, a)
				mu.Lock()
				defer mu.Unlock()
				switch longrun.ErrorCode(err) {
				case "":
					ok = append(ok, c)
				case longrun.ETOOMANY:
				default:
					t.Errorf("create: %v", err)
				}
			})
		}
		wg.Wait()
		return ok
	}
	first := create(40)
	if len(first) != 7 {
		t.Fatalf("%d of 40 concurrent creates admitted; want the active limit, 7", len(first))
	}
	for _, c := range first {
		if _, err := s.UpdateConfiguration(ctx, c.ID, func(c *longrun.Configuration) error {
			return c.Finish(c.Version, &longrun.Result{Hash: c.ParamsHash}, now)
		}); err != nil {
			t.Fatal(err)
		}
	}
	if second := create(40); len(second) != 5 {
		t.Errorf("%d of 40 more admitted with 7 stored; want 5, to the stored limit of 12", len(second))
	}
	if stored, active, err := s.CountConfigurations(ctx, owner); stored != 12 || active != 5 || err != nil {
		t.Errorf("counted %d stored, %d active, %v; want 12 and 5", stored, active, err)
	}
}

// storeEndingReleasesTheQuotas fills an owner's active quota of 2, then
// frees one place each by cancelling, by a failure and by a delete: each
// time one more render is admitted, by a create or by AdmitUpdate, and a
// further one is refused.
func storeEndingReleasesTheQuotas(t *testing.T, s Store) {
	ctx := context.Background()
	owner, now := longrun.NewID(), time.Now().UTC()
	a := longrun.Admission{MaxStored: 100, MaxActive: 2}
	mk := func(re float64) (*longrun.Configuration, error) {
		c := newConfiguration(owner, now, re)
		return c, s.CreateConfiguration(ctx, c, a)
	}
	x, _ := mk(0.1)
	y, _ := mk(0.2)
	if _, err := mk(0.3); longrun.ErrorCode(err) != longrun.ETOOMANY {
		t.Fatalf("a third active create: %v; want ETOOMANY", err)
	}
	if _, err := s.UpdateConfiguration(ctx, x.ID, func(c *longrun.Configuration) error { return c.Cancel(now) }); err != nil {
		t.Fatal(err)
	}
	if _, err := mk(0.4); err != nil {
		t.Fatalf("a create after a cancel: %v", err)
	}
	// Requeueing the cancelled one is a render too: refused while full.
	requeue := func(c *longrun.Configuration) error { return c.Requeue(nil, now) }
	if _, err := s.AdmitUpdate(ctx, x.ID, a, requeue); longrun.ErrorCode(err) != longrun.ETOOMANY {
		t.Fatalf("requeueing past the active limit: %v; want ETOOMANY", err)
	}
	if _, err := s.UpdateConfiguration(ctx, y.ID, func(c *longrun.Configuration) error {
		return c.Fail(c.Version, "broken", now)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AdmitUpdate(ctx, x.ID, a, requeue); err != nil {
		t.Fatalf("requeueing after a failure: %v", err)
	}
	if err := s.DeleteConfiguration(ctx, x.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := mk(0.5); err != nil {
		t.Fatalf("a create after a delete: %v", err)
	}
	if _, err := mk(0.6); longrun.ErrorCode(err) != longrun.ETOOMANY {
		t.Errorf("a create past the limit again: %v; want ETOOMANY", err)
	}
	if stored, active, err := s.CountConfigurations(ctx, owner); stored != 3 || active != 2 || err != nil {
		t.Errorf("counted %d stored, %d active, %v; want 3 and 2", stored, active, err)
	}
}

// storeBytesKeptBoundNewRenders: an owner's done configurations keep 600
// and 600 bytes of images against a quota of 1,000; the first was created
// under it, the second too (the quota is on what was kept before), then a
// new render is refused with a message naming the bytes, until a delete
// frees them.
func storeBytesKeptBoundNewRenders(t *testing.T, s Store) {
	ctx := context.Background()
	owner, now := longrun.NewID(), time.Now().UTC()
	a := longrun.Admission{MaxStored: 100, MaxActive: 100, MaxBytes: 1000}
	done := func(re float64) (*longrun.Configuration, error) {
		c := newConfiguration(owner, now, re)
		c.Finish(c.Version, &longrun.Result{Hash: c.ParamsHash, Stats: longrun.Stats{Pixels: 64 * 64, Bytes: 600}}, now)
		return c, s.CreateConfiguration(ctx, c, a)
	}
	if _, err := done(0.1); err != nil {
		t.Fatal(err)
	}
	y, err := done(0.2)
	if err != nil {
		t.Fatalf("a second image while 600 bytes are kept: %v", err)
	}
	err = s.CreateConfiguration(ctx, newConfiguration(owner, now, 0.3), a)
	if longrun.ErrorCode(err) != longrun.ECONFLICT || !strings.Contains(err.Error(), "1 KB") || !strings.Contains(err.Error(), "delete some") {
		t.Fatalf("a render while 1,200 bytes are kept: %v; want ECONFLICT naming the limit", err)
	}
	if err := s.DeleteConfiguration(ctx, y.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateConfiguration(ctx, newConfiguration(owner, now, 0.3), a); err != nil {
		t.Errorf("a render after the delete: %v", err)
	}
}

// TestAddresses runs the e-mail address suite; newAddresses returns an
// empty store.
func TestAddresses(t *testing.T, newAddresses func(t *testing.T) longrun.Addresses) {
	t.Run("a record is created once, found by owner and by token, and updated", func(t *testing.T) {
		addressRecords(t, newAddresses(t))
	})
	t.Run("a suppressed address stays suppressed", func(t *testing.T) {
		addressSuppression(t, newAddresses(t))
	})
}

// addressRecords checks that a record is created once, found by owner and
// by token, and updated.
func addressRecords(t *testing.T, as longrun.Addresses) {
	ctx := context.Background()
	owner := longrun.NewID()
	a := longrun.Address{Owner: owner, Addr: "Ada@Example.com", Token: longrun.NewID(), UnsubscribeToken: longrun.NewID(),
		RequestedAt: time.Now().UTC().Truncate(time.Millisecond)}
	if _, err := as.Address(ctx, owner, "ada@example.com"); longrun.ErrorCode(err) != longrun.ENOTFOUND {
		t.Fatalf("before: %v, want ENOTFOUND", err)
	}
	if ok, err := as.PutAddress(ctx, a, true); !ok || err != nil {
		t.Fatalf("create: %v %v", ok, err)
	}
	again := a
	again.Token = longrun.NewID()
	if ok, err := as.PutAddress(ctx, again, true); ok || err != nil {
		t.Errorf("a second create: %v %v, want refused", ok, err)
	}
	got, err := as.Address(ctx, owner, "ADA@example.com")
	if err != nil || got.Token != a.Token || got.UnsubscribeToken != a.UnsubscribeToken || got.Confirmed || !got.RequestedAt.Equal(a.RequestedAt) {
		t.Fatalf("by owner: %+v %v", got, err)
	}
	if _, err := as.Address(ctx, longrun.NewID(), "ada@example.com"); longrun.ErrorCode(err) != longrun.ENOTFOUND {
		t.Errorf("another owner's record was found")
	}
	addressByToken(t, as, got)
}

// addressByToken checks that an updated record is found by its token.
func addressByToken(t *testing.T, as longrun.Addresses, a longrun.Address) {
	ctx := context.Background()
	a.Confirmed = true
	if _, err := as.PutAddress(ctx, a, false); err != nil {
		t.Fatal(err)
	}
	for _, token := range []string{a.Token, a.UnsubscribeToken} {
		if byToken, err := as.AddressByToken(ctx, token); err != nil || !byToken.Confirmed || byToken.Owner != a.Owner {
			t.Errorf("by token %s: %+v %v, want the confirmed record", token, byToken, err)
		}
	}
	if _, err := as.AddressByToken(ctx, longrun.NewID()); longrun.ErrorCode(err) != longrun.ENOTFOUND {
		t.Errorf("an unknown token: %v, want ENOTFOUND", err)
	}
}

// addressSuppression checks that a suppressed address stays suppressed.
func addressSuppression(t *testing.T, as longrun.Addresses) {
	ctx := context.Background()
	if s, err := as.Suppressed(ctx, "bounce@example.com"); s || err != nil {
		t.Fatalf("before: %v %v", s, err)
	}
	if err := as.Suppress(ctx, "Bounce@example.com", "bounce"); err != nil {
		t.Fatal(err)
	}
	if s, err := as.Suppressed(ctx, "bounce@EXAMPLE.com"); !s || err != nil {
		t.Errorf("after: %v %v, want suppressed", s, err)
	}
}

// TestDevices runs the push devices suite; newDevices returns an empty
// store.
func TestDevices(t *testing.T, newDevices func(t *testing.T) longrun.Devices) {
	t.Run("devices are kept per owner, replaced by endpoint, bounded, removed", func(t *testing.T) {
		devicesKeptBoundedRemoved(t, newDevices(t))
	})
}

func device(i int, at time.Time) longrun.Device {
	return longrun.Device{Endpoint: fmt.Sprintf("https://fcm.googleapis.com/fcm/send/device-%d", i),
		Keys: longrun.DeviceKeys{P256dh: fmt.Sprintf("key-%d", i), Auth: "auth"}, AddedAt: at.Add(time.Duration(i) * time.Second)}
}

func endpoints(t *testing.T, ds longrun.Devices, owner string) []string {
	t.Helper()
	got, err := ds.Devices(context.Background(), owner)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range got {
		out = append(out, d.Endpoint+" "+d.Keys.P256dh)
	}
	return out
}

func devicesKeptBoundedRemoved(t *testing.T, ds longrun.Devices) {
	ctx := context.Background()
	owner, other := longrun.NewID(), longrun.NewID()
	now := time.Now().UTC().Truncate(time.Millisecond)
	if got := endpoints(t, ds, owner); len(got) != 0 {
		t.Fatalf("a new owner has devices %v", got)
	}
	for i := range longrun.MaxDevices + 2 {
		if err := ds.AddDevice(ctx, owner, device(i, now)); err != nil {
			t.Fatal(err)
		}
	}
	ds.AddDevice(ctx, other, device(0, now))
	got := endpoints(t, ds, owner)
	if len(got) != longrun.MaxDevices || got[0] != device(2, now).Endpoint+" key-2" {
		t.Fatalf("after %d adds: %v; want the %d added last, the oldest first", longrun.MaxDevices+2, got, longrun.MaxDevices)
	}
	// The same endpoint again (the browser renewed its keys) replaces it.
	renewed := device(5, now.Add(time.Hour))
	renewed.Keys.P256dh = "renewed"
	if err := ds.AddDevice(ctx, owner, renewed); err != nil {
		t.Fatal(err)
	}
	got = endpoints(t, ds, owner)
	if len(got) != longrun.MaxDevices || !slices.Contains(got, renewed.Endpoint+" renewed") || slices.Contains(got, renewed.Endpoint+" key-5") {
		t.Errorf("after a renewal: %v", got)
	}
	if err := ds.RemoveDevice(ctx, owner, device(3, now).Endpoint); err != nil {
		t.Fatal(err)
	}
	if err := ds.RemoveDevice(ctx, owner, "https://fcm.googleapis.com/fcm/send/never-added"); err != nil {
		t.Errorf("removing a device never added: %v", err)
	}
	if got := endpoints(t, ds, owner); len(got) != longrun.MaxDevices-1 || slices.Contains(got, device(3, now).Endpoint+" key-3") {
		t.Errorf("after a removal: %v", got)
	}
	if got := endpoints(t, ds, other); len(got) != 1 {
		t.Errorf("another owner's devices: %v", got)
	}
}

// TestReplay runs the owners' updates suite; newReplay returns an empty
// store and a way to move its clock on.
func TestReplay(t *testing.T, newReplay func(t *testing.T) (longrun.Replay, func(time.Duration))) {
	t.Run("updates are numbered per owner and read back after a number", func(t *testing.T) {
		r, _ := newReplay(t)
		replayNumbersAndReads(t, r)
	})
	t.Run("a page too far behind is told to load afresh", func(t *testing.T) {
		replayTooFarBehind(t, newReplay)
	})
}

func record(t *testing.T, r longrun.Replay, owner string, n int) []int64 {
	t.Helper()
	var seqs []int64
	for i := range n {
		seq, err := r.Record(context.Background(), owner, fmt.Appendf(nil, `{"type":"configuration","n":%d}`, i))
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

func since(t *testing.T, r longrun.Replay, owner string, seq int64) ([]int64, bool) {
	t.Helper()
	us, complete, err := r.Since(context.Background(), owner, seq)
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, u := range us {
		out = append(out, u.Seq)
	}
	return out, complete
}

func replayNumbersAndReads(t *testing.T, r longrun.Replay) {
	ctx := context.Background()
	owner, other := longrun.NewID(), longrun.NewID()
	if seq, err := r.Seq(ctx, owner); seq != 0 || err != nil {
		t.Fatalf("a new owner's number: %d %v", seq, err)
	}
	if got, complete := since(t, r, owner, 0); len(got) != 0 || !complete {
		t.Errorf("a new owner's updates: %v %v", got, complete)
	}
	if seqs := record(t, r, owner, 3); !slices.Equal(seqs, []int64{1, 2, 3}) {
		t.Fatalf("numbers %v, want 1 2 3", seqs)
	}
	if seqs := record(t, r, other, 1); seqs[0] != 1 {
		t.Errorf("another owner's first number: %d", seqs[0])
	}
	us, complete, _ := r.Since(ctx, owner, 0)
	if len(us) != 3 || !complete || string(us[2].Message) != `{"type":"configuration","n":2}` {
		t.Fatalf("after 0: %+v %v", us, complete)
	}
	for _, c := range []struct {
		after    int64
		want     []int64
		complete bool
	}{{1, []int64{2, 3}, true}, {3, nil, true}, {9, nil, false}} {
		if got, complete := since(t, r, owner, c.after); !slices.Equal(got, c.want) || complete != c.complete {
			t.Errorf("after %d: %v %v, want %v %v", c.after, got, complete, c.want, c.complete)
		}
	}
	if seq, _ := r.Seq(ctx, owner); seq != 3 {
		t.Errorf("the owner's number: %d, want 3", seq)
	}
}

func replayTooFarBehind(t *testing.T, newReplay func(t *testing.T) (longrun.Replay, func(time.Duration))) {
	r, advance := newReplay(t)
	owner := longrun.NewID()
	record(t, r, owner, longrun.MaxReplay+5)
	if got, complete := since(t, r, owner, 0); complete {
		t.Errorf("%d missed: complete (%d returned), want a fresh load", longrun.MaxReplay+5, len(got))
	}
	last := int64(longrun.MaxReplay + 5)
	if got, complete := since(t, r, owner, last-2); !complete || !slices.Equal(got, []int64{last - 1, last}) {
		t.Errorf("two missed: %v %v", got, complete)
	}
	advance(longrun.UpdateRetention + time.Minute)
	if got, complete := since(t, r, owner, last-2); complete || len(got) != 0 {
		t.Errorf("after the retention: %v %v, want none kept and a fresh load", got, complete)
	}
	if seq := record(t, r, owner, 1); seq[0] != last+1 {
		t.Errorf("the number after the retention: %d, want %d", seq[0], last+1)
	}
}

// TestPreferences runs the owners' default channels suite.
func TestPreferences(t *testing.T, newPreferences func(t *testing.T) longrun.Preferences) {
	t.Run("an owner's defaults are every channel until set, then as set", func(t *testing.T) {
		ps := newPreferences(t)
		ctx := context.Background()
		owner, other := longrun.NewID(), longrun.NewID()
		got, err := ps.Preferences(ctx, owner)
		if err != nil || got.Page != nil || got.Device != nil || got.Email != nil {
			t.Fatalf("a new owner's: %+v %v", got, err)
		}
		no := false
		if err := ps.SetPreferences(ctx, owner, longrun.Channels{Email: &no}); err != nil {
			t.Fatal(err)
		}
		got, _ = ps.Preferences(ctx, owner)
		if got.Email == nil || *got.Email || got.Page != nil {
			t.Errorf("after set: %+v", got)
		}
		var c *longrun.Channels
		if c.Wants(longrun.ChannelEmail, got) || !c.Wants(longrun.ChannelDevice, got) {
			t.Errorf("wants: email %v device %v", c.Wants(longrun.ChannelEmail, got), c.Wants(longrun.ChannelDevice, got))
		}
		if o, _ := ps.Preferences(ctx, other); o.Email != nil {
			t.Errorf("another owner's: %+v", o)
		}
	})
}
