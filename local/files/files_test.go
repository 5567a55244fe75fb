package files_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/kinds/juliaset"
	"github.com/longrun/longrun/local/files"
	"github.com/longrun/longrun/porttest"
)

func TestImagesConformance(t *testing.T) {
	porttest.TestImages(t, func(t *testing.T) porttest.Images {
		d, err := files.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

func TestKeysCannotLeaveTheFolder(t *testing.T) {
	d, _ := files.Open(t.TempDir())
	for _, key := range []string{"../x.png", "a/b.png", ".hidden", "", `..\x`, "counts/", "counts/../x", "tiles/a/b", "counts/.hidden", `tiles/..\x`} {
		if err := d.PutImage(context.Background(), key, []byte("x")); err == nil {
			t.Errorf("put %q: accepted", key)
		}
	}
}

// Counts and tiles keep to their own subfolders, which a cleanup can treat
// apart from images.
func TestCountsAndTilesHaveTheirOwnFolders(t *testing.T) {
	dir := t.TempDir()
	d, _ := files.Open(dir)
	ctx := context.Background()
	for _, key := range []string{juliaset.CountsKey("abc"), juliaset.TileKey("abc", 512, 3), longrun.ImageKey("abc")} {
		if err := d.PutImage(ctx, key, []byte("x")); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
		if ok, err := d.HasImage(ctx, key); !ok || err != nil {
			t.Errorf("has %s: %v %v", key, ok, err)
		}
	}
	for _, f := range []string{"counts/abc.counts", "tiles/abc.t512-3.counts", "abc.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// The kept counts and tiles are a cache bounded in bytes: past the bound
// the least recently used go, a tile read meanwhile stays, and images are
// never evicted.
func TestKeptCountsAndTilesAreBoundedLeastRecentlyUsedFirst(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d, err := files.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	d.CacheBytes = 1000
	clock := time.Unix(1e9, 0)
	d.Now = func() time.Time { clock = clock.Add(time.Second); return clock }
	part := make([]byte, 200)
	if err := d.PutImage(ctx, "big.png", make([]byte, 5000)); err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		if err := d.PutImage(ctx, fmt.Sprintf("tiles/t%02d", i), part); err != nil {
			t.Fatal(err)
		}
		// t00 is used after each write: the most recently used.
		r, err := d.OpenImage(ctx, "tiles/t00")
		if err != nil {
			t.Fatalf("after tile %d: the tile in use was evicted: %v", i, err)
		}
		r.Close()
	}
	if n := d.CachedBytes(); n > 1000 {
		t.Errorf("%d bytes cached, over the bound of 1000", n)
	}
	if ok, _ := d.HasImage(ctx, "tiles/t01"); ok {
		t.Errorf("the least recently used tile is still kept")
	}
	if ok, _ := d.HasImage(ctx, "tiles/t11"); !ok {
		t.Errorf("the newest tile was evicted")
	}
	if ok, _ := d.HasImage(ctx, "big.png"); !ok {
		t.Errorf("an image was evicted: only counts and tiles are a cache")
	}
	// Opened again, the folder counts what it holds.
	again, _ := files.Open(dir)
	if again.CachedBytes() != d.CachedBytes() {
		t.Errorf("reopened: %d bytes counted, want %d", again.CachedBytes(), d.CachedBytes())
	}
}
