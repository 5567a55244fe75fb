package files_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/longrun/longrun"
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
	for _, key := range []string{longrun.CountsKey("abc"), longrun.TileKey("abc", 512, 3), longrun.ImageKey("abc")} {
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
