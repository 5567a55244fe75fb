// Package files keeps images in a folder, one file per key, written
// atomically so a reader never sees half an image.
package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/internal/atomicfile"
	"github.com/longrun/longrun/web"
	"github.com/longrun/longrun/worker"
)

// A Dir is a folder of images.
type Dir struct{ path string }

// Dir implements these ports.
var (
	_ worker.Images  = (*Dir)(nil)
	_ web.Images     = (*Dir)(nil)
	_ longrun.Images = (*Dir)(nil)
)

// Open returns the image folder at path, creating it.
func Open(path string) (*Dir, error) {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, err
	}
	return &Dir{path}, nil
}

// file is the path of key: a file in the folder, or, for a key with one
// of longrun.KeyPrefixes (counts/, tiles/), in that subfolder.
func (d *Dir) file(key string) (string, error) {
	dir, name := "", key
	for _, p := range longrun.KeyPrefixes {
		if rest, ok := strings.CutPrefix(key, p); ok {
			dir, name = strings.TrimSuffix(p, "/"), rest
		}
	}
	if name == "" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return "", longrun.Errorf(longrun.EINVALID, "invalid image key %q", key)
	}
	return filepath.Join(d.path, dir, name), nil
}

// writable is file, with its subfolder made.
func (d *Dir) writable(key string) (string, error) {
	name, err := d.file(key)
	if err != nil {
		return "", err
	}
	return name, os.MkdirAll(filepath.Dir(name), 0o755)
}

// PutImage stores png under key, replacing any image there.
func (d *Dir) PutImage(ctx context.Context, key string, png []byte) error {
	name, err := d.writable(key)
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(name, 0o644, png)
}

// WriteImage stores under key what write writes, streamed to the file:
// whole or not at all.
func (d *Dir) WriteImage(ctx context.Context, key string, write func(io.Writer) error) error {
	name, err := d.writable(key)
	if err != nil {
		return err
	}
	return atomicfile.Write(name, 0o644, write)
}

// HasImage reports whether an image is stored under key.
func (d *Dir) HasImage(ctx context.Context, key string) (bool, error) {
	name, err := d.file(key)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// OpenImage opens the image under key.
func (d *Dir) OpenImage(ctx context.Context, key string) (io.ReadCloser, error) {
	name, err := d.file(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, longrun.Errorf(longrun.ENOTFOUND, "image not found")
	}
	if err != nil {
		return nil, fmt.Errorf("open image: %w", err)
	}
	return f, nil
}
