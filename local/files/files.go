// Package files keeps images in a folder, one file per key, written
// atomically so a reader never sees half an image. The kept counts and
// tiles (longrun.KeyPrefixes) are a cache bounded in bytes: past the bound
// the least recently used are deleted, which costs only their render
// again.
package files

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/internal/atomicfile"
	"github.com/longrun/longrun/tracing"
	"github.com/longrun/longrun/web"
	"github.com/longrun/longrun/worker"
)

// A Dir is a folder of images.
type Dir struct {
	path string
	// CacheBytes bounds the counts and tiles kept; 0 means DefaultCacheBytes.
	CacheBytes int64
	// Now is the clock that marks a cache file used; nil means time.Now.
	Now func() time.Time

	mu     sync.Mutex
	cached int64 // bytes of counts and tiles, as last counted and written
}

// DefaultCacheBytes is the default bound of the counts and tiles kept.
const DefaultCacheBytes = 4 << 30

// Dir implements these ports.
var (
	_ worker.Images  = (*Dir)(nil)
	_ web.Images     = (*Dir)(nil)
	_ longrun.Images = (*Dir)(nil)
)

// Open returns the image folder at path, creating it, and counts the
// bytes of its cache.
func Open(path string) (*Dir, error) {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, err
	}
	d := &Dir{path: path}
	files, err := d.cacheFiles()
	for _, f := range files {
		d.cached += f.size
	}
	return d, err
}

type cacheFile struct {
	name string
	size int64
	used time.Time
}

// cacheFiles lists the counts and tiles kept.
func (d *Dir) cacheFiles() ([]cacheFile, error) {
	var out []cacheFile
	for _, p := range longrun.KeyPrefixes {
		dir := filepath.Join(d.path, strings.TrimSuffix(p, "/"))
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			info, err := e.Info()
			if err != nil || !info.Mode().IsRegular() || strings.HasPrefix(e.Name(), ".") {
				continue // gone meanwhile, or a temporary file being written
			}
			out = append(out, cacheFile{filepath.Join(dir, e.Name()), info.Size(), info.ModTime()})
		}
	}
	return out, nil
}

func isCache(key string) bool {
	for _, p := range longrun.KeyPrefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// used marks a cache file used now: its modification time is its place in
// the least-recently-used order.
func (d *Dir) used(name string) {
	now := time.Now()
	if d.Now != nil {
		now = d.Now()
	}
	os.Chtimes(name, now, now)
}

// CachedBytes is the bytes of counts and tiles kept.
func (d *Dir) CachedBytes() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cached
}

// wrote counts a cache file written and, past the bound, deletes the least
// recently used (read or written) until the cache is at 90% of it.
func (d *Dir) wrote(name string) error {
	d.used(name)
	info, err := os.Stat(name)
	if err != nil {
		return nil // replaced or evicted meanwhile
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cached += info.Size()
	bound := cmp.Or(d.CacheBytes, DefaultCacheBytes)
	if d.cached <= bound {
		return nil
	}
	files, err := d.cacheFiles()
	if err != nil {
		return fmt.Errorf("list the cache: %w", err)
	}
	slices.SortFunc(files, func(a, b cacheFile) int { return a.used.Compare(b.used) })
	d.cached = 0
	for _, f := range files {
		d.cached += f.size
	}
	for _, f := range files {
		if d.cached <= bound*9/10 {
			break
		}
		if f.name == name {
			continue // the newest, being used
		}
		if err := os.Remove(f.name); err == nil || errors.Is(err, fs.ErrNotExist) {
			d.cached -= f.size
		}
	}
	return nil
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
func (d *Dir) PutImage(ctx context.Context, key string, png []byte) (err error) {
	done := tracing.Call(ctx, "files PutImage", attribute.String("key", key))
	defer func() { done(err) }()
	name, err := d.writable(key)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(name, 0o644, png); err != nil || !isCache(key) {
		return err
	}
	return d.wrote(name)
}

// WriteImage stores under key what write writes, streamed to the file:
// whole or not at all.
func (d *Dir) WriteImage(ctx context.Context, key string, write func(io.Writer) error) (err error) {
	done := tracing.Call(ctx, "files WriteImage", attribute.String("key", key))
	defer func() { done(err) }()
	name, err := d.writable(key)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(name, 0o644, write); err != nil || !isCache(key) {
		return err
	}
	return d.wrote(name)
}

// HasImage reports whether an image is stored under key.
func (d *Dir) HasImage(ctx context.Context, key string) (_ bool, err error) {
	done := tracing.Call(ctx, "files HasImage", attribute.String("key", key))
	defer func() { done(err) }()
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

// DeleteImage deletes the image under key; a missing one is no error.
func (d *Dir) DeleteImage(ctx context.Context, key string) (err error) {
	done := tracing.Call(ctx, "files DeleteImage", attribute.String("key", key))
	defer func() { done(err) }()
	name, err := d.file(key)
	if err != nil {
		return err
	}
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// OpenImage opens the image under key.
func (d *Dir) OpenImage(ctx context.Context, key string) (_ io.ReadCloser, err error) {
	done := tracing.Call(ctx, "files OpenImage", attribute.String("key", key))
	defer func() {
		failed := err
		if longrun.ErrorCode(err) == longrun.ENOTFOUND {
			failed = nil // a miss is the lookup's answer (counts or a tile not kept yet), not a failure
		}
		done(failed)
	}()
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
	if isCache(key) {
		d.used(name) // the last to be evicted
	}
	return f, nil
}
