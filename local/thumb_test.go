package local_test

import (
	"bytes"
	"image/png"
	"net/http"
	"testing"
	"time"

	"github.com/longrun/longrun/internal/testutil"
	"github.com/longrun/longrun/local"
)

// TestListsGetThumbnailsNotImages: a render's image asked for as a
// thumbnail is a PNG of at most 128 pixels a side with its proportions,
// a small part of the image's bytes; a tiled render's, made as its tiles
// stream into the image, is the same picture as the whole render's; an
// earlier version's is there too.
func TestListsGetThumbnailsNotImages(t *testing.T) {
	params := testutil.Params(-0.7, 0.27015, "width", 1024, "height", 512, "depth", 200)
	thumbOf := func(tiled bool) (thumb, image []byte, c *testutil.Client, id string) {
		_, url := start(t, nil, func(c *local.Config) {
			if tiled {
				juliaKind(c).TileAbove, juliaKind(c).TileSize = 1000, 128
			}
		})
		c = testutil.NewClient(t, url)
		v := c.Await(c.Create(map[string]any{"name": "thumbed", "params": params}).ID, 30*time.Second, "done", testutil.Done)
		if tiled && v.Tiles == nil {
			t.Fatalf("the render was not tiled")
		}
		th := c.Do("GET", v.ImageURL+"&thumb=1", nil)
		img := c.Do("GET", v.ImageURL, nil)
		if th.Status != http.StatusOK || th.Header.Get("Content-Type") != "image/png" || img.Status != http.StatusOK {
			t.Fatalf("thumbnail %d %s, image %d", th.Status, th.Header.Get("Content-Type"), img.Status)
		}
		return th.Body, img.Body, c, v.ID
	}
	whole, image, c, id := thumbOf(false)
	cfg, err := png.DecodeConfig(bytes.NewReader(whole))
	if err != nil || cfg.Width != 128 || cfg.Height != 64 {
		t.Fatalf("thumbnail of a 1024×512 render: %+v %v, want 128×64", cfg, err)
	}
	if len(whole)*5 > len(image) {
		t.Errorf("the thumbnail is %d bytes, the image %d: want a small part of it", len(whole), len(image))
	}
	tiled, _, _, _ := thumbOf(true)
	if !bytes.Equal(whole, tiled) {
		t.Errorf("the tiled render's thumbnail (%d bytes) differs from the whole render's (%d)", len(tiled), len(whole))
	}
	// An earlier version's, from its history entry.
	v := c.Get(id)
	if res := c.Do("PUT", "/api/configurations/"+id, map[string]any{"name": "thumbed", "params": testutil.Params(-0.4, 0.6, "width", 64, "height", 64)},
		"If-Match", v.ETag); res.Status != http.StatusOK {
		t.Fatalf("edit: %d %s", res.Status, res.Body)
	}
	v2 := c.Await(id, 30*time.Second, "done", testutil.Done)
	if len(v2.History) == 0 {
		t.Fatal("no history")
	}
	if res := c.Do("GET", v2.History[0].ImageURL+"&thumb=1", nil); !bytes.Equal(res.Body, whole) {
		t.Errorf("the earlier version's thumbnail: %d, %d bytes; want v1's", res.Status, len(res.Body))
	}
}

// TestATiledRenderHasAPreviewFirst: a view cut into tiles gets, before its
// tiles, its view at thumbnail size (the same framing), which the page
// shows while they fill in; a view too small for one gets none.
func TestATiledRenderHasAPreviewFirst(t *testing.T) {
	_, url := start(t, nil, func(c *local.Config) { juliaKind(c).TileAbove, juliaKind(c).TileSize = 1000, 256 })
	c := testutil.NewClient(t, url)
	v := c.Await(c.Create(map[string]any{"name": "poster", "params": testutil.Params(-0.7, 0.27015, "width", 1024, "height", 768, "depth", 100)}).ID,
		30*time.Second, "done", testutil.Done)
	res := c.Do("GET", "/api/configurations/"+v.ID+"/preview", nil)
	if res.Status != http.StatusOK || res.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("the tiled render's preview: %d %s", res.Status, res.Body)
	}
	if cfg, err := png.DecodeConfig(bytes.NewReader(res.Body)); err != nil || cfg.Width != 128 || cfg.Height != 96 {
		t.Errorf("the preview of a 1024×768 view: %+v %v, want 128×96", cfg, err)
	}
	small := c.Await(c.Create(map[string]any{"name": "small", "params": testutil.Params(-0.7, 0.27015, "width", 300, "height", 200, "depth", 100)}).ID,
		30*time.Second, "done", testutil.Done)
	if res := c.Do("GET", "/api/configurations/"+small.ID+"/preview", nil); res.Status != http.StatusNotFound {
		t.Errorf("a small tiled view's preview: %d, want 404 (none made)", res.Status)
	}
}
