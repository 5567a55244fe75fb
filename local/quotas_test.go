package local_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/internal/testutil"
	"github.com/longrun/longrun/local"
	"github.com/longrun/longrun/web"
)

// An owner who floods the queue is stopped at the quota of active
// configurations, with a 429 that names it and says when to retry; another
// owner is not affected; nothing refused is stored.
func TestAFloodStopsAtTheActiveQuota(t *testing.T) {
	r := newRenderer()
	release := r.holdRender(0.5)
	defer release()
	_, url := start(t, r, func(c *local.Config) { c.Quotas.MaxActive = 3 })
	a := testutil.NewClient(t, url)
	for i := range 3 {
		a.Create(map[string]any{"name": fmt.Sprint(i), "params": small(0.5+0.001*float64(i), 0.1)})
	}
	res := a.Do("POST", "/api/configurations", map[string]any{"name": "one too many", "params": small(0.6, 0.1)})
	e := res.Err(t).Error
	if res.Status != http.StatusTooManyRequests || e.Code != longrun.ETOOMANY || !strings.Contains(e.Message, "at most 3") {
		t.Fatalf("the 4th active create: %d %s, want 429 naming the quota", res.Status, res.Body)
	}
	if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("Retry-After %q, want seconds", res.Header.Get("Retry-After"))
	}
	var page struct{ Configurations []any }
	a.Do("GET", "/api/configurations", nil).JSON(t, &page)
	if len(page.Configurations) != 3 {
		t.Errorf("%d configurations stored, want the 3 accepted", len(page.Configurations))
	}
	b := testutil.NewClient(t, url)
	b.Create(map[string]any{"name": "quiet", "params": small(0.7, 0.1)}) // another owner is not affected
}

// Fifty creates of one owner at once are admitted up to the active quota
// and no further: the count and the insert are one transaction.
func TestConcurrentCreatesNeverPassTheActiveQuota(t *testing.T) {
	r := newRenderer()
	release := r.holdRender(0.5)
	defer release()
	_, url := start(t, r, func(c *local.Config) {
		c.Quotas.MaxActive = 20
		c.Quotas.OwnerWrites, c.Quotas.AddressWrites = 1000, 1000
	})
	a := testutil.NewClient(t, url)
	a.Session()
	for round := range 3 {
		statuses := make([]int, 50)
		var wg sync.WaitGroup
		for i := range statuses {
			wg.Go(func() {
				res, err := a.Try("POST", "/api/configurations", map[string]any{"params": small(0.5, 0.1+0.0001*float64(round*50+i))})
				if err == nil {
					statuses[i] = res.Status
				}
			})
		}
		wg.Wait()
		counts := map[int]int{}
		for _, s := range statuses {
			counts[s]++
		}
		want := map[int]int{http.StatusCreated: 20, http.StatusTooManyRequests: 30}
		if round > 0 {
			want = map[int]int{http.StatusTooManyRequests: 50}
		}
		if !maps.Equal(counts, want) {
			t.Fatalf("round %d of 50 concurrent creates: statuses %v, want %v", round, counts, want)
		}
	}
	var page struct{ Configurations []any }
	a.Do("GET", "/api/configurations?limit=100", nil).JSON(t, &page)
	if len(page.Configurations) != 20 {
		t.Errorf("%d configurations stored, want the 20 admitted", len(page.Configurations))
	}
}

func TestStoredConfigurationsAreCapped(t *testing.T) {
	_, url := start(t, newRenderer(), func(c *local.Config) { c.Quotas.MaxStored = 2 })
	c := testutil.NewClient(t, url)
	for i := range 2 {
		v := c.Create(map[string]any{"name": fmt.Sprint(i), "params": small(0.1*float64(i+1), 0.1)})
		c.Await(v.ID, 10*time.Second, "done", testutil.Done)
	}
	res := c.Do("POST", "/api/configurations", map[string]any{"params": small(0.35, 0.1)})
	if res.Status != http.StatusTooManyRequests || !strings.Contains(res.Err(t).Error.Message, "at most 2 configurations") {
		t.Errorf("the 3rd stored: %d %s, want 429 naming the quota", res.Status, res.Body)
	}
}

// Writes are rate limited per owner and per address; a client that drops
// its cookie to get a new owner each time meets the address's limit on
// new sessions.
func TestWritesAreRateLimitedPerOwnerAndAddress(t *testing.T) {
	_, url := start(t, newRenderer(), func(c *local.Config) {
		c.Quotas = longrun.Quotas{OwnerWrites: 3, AddressWrites: 5, AddressSessions: 4}
	})
	c := testutil.NewClient(t, url)
	v := c.Create(map[string]any{"name": "x", "params": small(0.2, 0.2)})
	for i := range 2 {
		c.Do("PUT", "/api/configurations/"+v.ID, map[string]any{"name": fmt.Sprint(i), "params": small(0.2, 0.2)}, "If-Match", c.Get(v.ID).ETag)
	}
	res := c.Do("PUT", "/api/configurations/"+v.ID, map[string]any{"name": "4th", "params": small(0.2, 0.2)}, "If-Match", c.Get(v.ID).ETag)
	if res.Status != http.StatusTooManyRequests || !strings.Contains(res.Err(t).Error.Message, "at most 3 times a minute") || res.Header.Get("Retry-After") == "" {
		t.Errorf("the owner's 4th write this minute: %d %s, want 429 naming the limit", res.Status, res.Body)
	}
	// Without a cookie every request is a new owner: the address's limits hold.
	var statuses []int
	for i := range 6 {
		res, err := http.Post(url+"api/configurations", "application/json",
			strings.NewReader(fmt.Sprintf(`{"params": {"c": {"re": 0.%d, "im": 0.3}, "width": 16, "height": 16, "depth": 5}}`, i+1)))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		statuses = append(statuses, res.StatusCode)
	}
	if statuses[0] != 201 || statuses[len(statuses)-1] != http.StatusTooManyRequests {
		t.Errorf("cookie-less creates from one address: %v, want the first accepted and the last refused", statuses)
	}
}

// An owner whose configurations keep their byte quota of images starts no
// new render: 409 naming the bytes, nothing stored; a delete frees them.
func TestTheBytesAnOwnerKeepsAreBounded(t *testing.T) {
	_, url := start(t, newRenderer(), func(c *local.Config) { c.Quotas.MaxBytes = 1 })
	c := testutil.NewClient(t, url)
	first := c.Create(map[string]any{"name": "first", "params": small(0.21, 0.1)})
	first = c.Await(first.ID, 10*time.Second, "done", testutil.Done)
	if first.Stats == nil || first.Stats.Bytes == 0 {
		t.Fatalf("a done configuration's stats %+v, want its image's bytes", first.Stats)
	}
	res := c.Do("POST", "/api/configurations", map[string]any{"name": "second", "params": small(0.22, 0.1)})
	if res.Status != http.StatusConflict || !strings.Contains(res.Err(t).Error.Message, "of images, your limit is") {
		t.Fatalf("a render over the byte quota: %d %s, want 409 naming it", res.Status, res.Body)
	}
	if res := c.Do("DELETE", "/api/configurations/"+first.ID, nil); res.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", res.Status, res.Body)
	}
	c.Create(map[string]any{"name": "after the delete", "params": small(0.22, 0.1)})
}

// Deleting a configuration frees what only it held: once past the grace,
// the image no configuration keeps is deleted and its result forgotten,
// while an image another owner's configuration keeps stays.
func TestDeletingFreesTheImagesOnlyItKept(t *testing.T) {
	sys, url := start(t, newRenderer(), func(c *local.Config) { c.ImageGrace = 50 * time.Millisecond })
	ctx := context.Background()
	a, b := testutil.NewClient(t, url), testutil.NewClient(t, url)
	shared := a.Await(a.Create(map[string]any{"name": "shared", "params": small(0.23, 0.1)}).ID, 10*time.Second, "done", testutil.Done)
	b.Await(b.Create(map[string]any{"name": "shared too", "params": small(0.23, 0.1)}).ID, 10*time.Second, "done", testutil.Done)
	own := a.Await(a.Create(map[string]any{"name": "own", "params": small(0.24, 0.1)}).ID, 10*time.Second, "done", testutil.Done)
	for _, v := range []web.View{shared, own} {
		if res := a.Do("DELETE", "/api/configurations/"+v.ID, nil); res.Status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", res.Status, res.Body)
		}
	}
	kept := func(hash string) bool {
		ok, err := sys.Service.Images.HasImage(ctx, longrun.ImageKey(hash))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	deadline := time.Now().Add(10 * time.Second)
	for kept(own.ParamsHash) {
		if time.Now().After(deadline) {
			t.Fatal("the image only the deleted configuration kept is still there")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r, _ := sys.DB.Result(ctx, own.ParamsHash); r != nil {
		t.Errorf("the freed image's result is still known: %+v", r)
	}
	if ok, _ := sys.Service.Images.HasImage(ctx, longrun.ThumbnailKey(own.ParamsHash)); ok {
		t.Errorf("the freed image's thumbnail is still there")
	}
	if ok, _ := sys.Service.Images.HasImage(ctx, longrun.ThumbnailKey(shared.ParamsHash)); !ok {
		t.Errorf("the kept image has no thumbnail")
	}
	if !kept(shared.ParamsHash) {
		t.Errorf("the image another owner's configuration keeps was deleted")
	}
}
