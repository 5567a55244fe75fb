package files_test

import (
	"context"
	"testing"

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
	for _, key := range []string{"../x.png", "a/b.png", ".hidden", "", `..\x`} {
		if err := d.PutImage(context.Background(), key, []byte("x")); err == nil {
			t.Errorf("put %q: accepted", key)
		}
	}
}
