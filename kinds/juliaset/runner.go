package juliaset

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/julia"
	"github.com/longrun/longrun/worker"
)

// CountsKey is the store's key for the escape counts of counts hash h
// (Params.CountsHash), kept so another colormap needs no render.
func CountsKey(h string) string { return longrun.CountsPrefix + h + ".counts" }

// TileKey is the store's key of tile index (of side size) of the counts
// of counts hash h: tiles are shared, like counts, by every configuration
// of the same view.
func TileKey(h string, size, index int) string {
	return fmt.Sprintf("%s%s.t%d-%d.counts", longrun.TilesPrefix, h, size, index)
}

// minTile is the smallest side of a tile cut by work.
const minTile = 16

// Lease is the view's counts hash: parameters that differ only in
// colormap share one render.
func (k *Kind) Lease(spec longrun.Spec) string { return spec.(Params).CountsHash() }

// tileSize is the side of p's tiles: TileSize, or less for a deep view,
// so that no tile's work is over partWork.
func (k *Kind) tileSize(p Params, partWork int64) int {
	size := cmp.Or(k.TileSize, 512)
	for size > minTile && int64(size)*int64(size)*int64(p.Depth) > partWork {
		size = max(size-size/8, minTile)
	}
	return size
}

// Plan cuts a big image (over TileAbove), or one whose work is over
// partWork, into tiles, so that no part holds a worker for more than
// about a second while others wait.
func (k *Kind) Plan(spec longrun.Spec, partWork int64) *worker.Plan {
	p := spec.(Params)
	pixels := p.Width * p.Height
	size := k.tileSize(p, partWork)
	if pixels <= size*size || (pixels <= cmp.Or(k.TileAbove, 4<<20) && p.Work() <= partWork) {
		return nil
	}
	tiles := p.Julia().Tiles(size, size)
	plan := &worker.Plan{Parts: len(tiles), Size: size, Work: make([]int64, len(tiles)),
		AssembleWork: int64(p.Width) * int64(p.Height)} // one pass of colouring
	for i, t := range tiles {
		plan.Work[i] = int64(t.Rect.Dx()) * int64(t.Rect.Dy()) * int64(p.Depth)
	}
	return plan
}

// Run renders the view whole, or colours its counts kept from another
// colormap without rendering.
func (k *Kind) Run(ctx context.Context, t *worker.Task) (*worker.Output, error) {
	p := t.Spec.(Params)
	key := CountsKey(p.CountsHash())
	cs, st, recoloured := k.kept(ctx, t, key, p.Width, p.Height, p.Depth)
	if !recoloured {
		var err error
		progress := func(f float64) { t.Progress(f, nil) }
		cs, st, err = k.compute()(ctx, p.Julia(), image.Rect(0, 0, p.Width, p.Height),
			julia.Options{Workers: t.Workers, Progress: progress, ProgressEvery: t.ProgressEvery})
		if err != nil {
			return nil, refused(err)
		}
		// For other colormaps of the view; a failure costs only a later render.
		if err := keep(ctx, t, key, cs, st); err != nil {
			logger(t).WarnContext(ctx, "job: could not keep the counts", "err", err)
		}
	}
	img := cs.Image(p.Colormap)
	cs.Release() // kept, and coloured: the next render's
	thumb := func(w io.Writer) error {
		th := julia.NewThumbnail(p.Width, p.Height, longrun.ThumbnailSide, img.Palette)
		th.Add(img.Rect, img.Pix)
		return th.Encode(w)
	}
	return &worker.Output{Image: func(w io.Writer) error { return julia.Encode(w, img) }, Thumbnail: thumb, Reused: recoloured,
		Stats: longrun.Stats{Iterations: st.Iterations, Pixels: st.Pixels, RenderMs: st.Duration.Milliseconds()}}, nil
}

// RunPart renders tile i, unless its counts are kept already.
func (k *Kind) RunPart(ctx context.Context, t *worker.Task, i int) (worker.Part, error) {
	p := t.Spec.(Params)
	tiles := p.Julia().Tiles(t.Size, t.Size)
	if i < 0 || i >= len(tiles) {
		return worker.Part{}, worker.Permanent(fmt.Errorf("tile %d of %d", i, len(tiles)))
	}
	key := TileKey(p.CountsHash(), t.Size, i)
	rect := tiles[i].Rect
	cs, st, kept := k.kept(ctx, t, key, rect.Dx(), rect.Dy(), p.Depth)
	if !kept {
		var err error
		if cs, st, err = k.compute()(ctx, p.Julia(), rect, julia.Options{Workers: t.Workers}); err != nil {
			return worker.Part{}, refused(err)
		}
		if err := keep(ctx, t, key, cs, st); err != nil {
			return worker.Part{}, fmt.Errorf("store tile: %w", err)
		}
	}
	lo, hi := cs.Range()
	cs.Release() // stored: the next tile's
	return worker.Part{Lo: int(lo), Hi: int(hi), Work: st.Iterations, Duration: st.Duration, Kept: kept}, nil
}

// Assemble streams the image of a tiled render from its kept tiles, row
// of tiles by row, coloured over the whole image's count range; a tile
// gone or damaged is rendered again here rather than failing the image.
func (k *Kind) Assemble(ctx context.Context, t *worker.Task) (*worker.Output, error) {
	p := t.Spec.(Params)
	jp := p.Julia()
	tiles := jp.Tiles(t.Size, t.Size)
	counts := p.CountsHash()
	start := time.Now()
	// The thumbnail is made of the tiles as they stream past, coloured
	// over the image's range as the image is.
	col := julia.NewColouring(p.Colormap, uint32(t.Lo), uint32(t.Hi))
	th := julia.NewThumbnail(p.Width, p.Height, longrun.ThumbnailSide, col.Palette)
	var mu sync.Mutex
	shrink := func(tile julia.Tile, cs *julia.Counts) {
		if lo, hi := cs.Range(); lo < uint32(t.Lo) || hi > uint32(t.Hi) || cs.Width != tile.Rect.Dx() || cs.Height != tile.Rect.Dy() {
			return // Assemble refuses it, with its reason
		}
		idx := make([]uint8, len(cs.Pix))
		col.Index(idx, cs.Pix)
		mu.Lock() // a row's tiles are fetched at once
		th.Add(tile.Rect, idx)
		mu.Unlock()
	}
	write := func(out io.Writer) error {
		err := julia.Assemble(out, jp, tiles, uint32(t.Lo), uint32(t.Hi), func(tile julia.Tile) (*julia.Counts, error) {
			key := TileKey(counts, t.Size, tile.Index)
			if cs, _, ok := k.kept(ctx, t, key, tile.Rect.Dx(), tile.Rect.Dy(), p.Depth); ok {
				shrink(tile, cs)
				return cs, nil
			}
			cs, st, err := k.compute()(ctx, jp, tile.Rect, julia.Options{Workers: t.Workers})
			if err != nil {
				return nil, fmt.Errorf("tile %d: %w", tile.Index, refused(err))
			}
			if err := keep(ctx, t, key, cs, st); err != nil {
				logger(t).WarnContext(ctx, "job: could not keep a tile rendered again", "tile", tile.Index, "err", err)
			}
			shrink(tile, cs)
			return cs, nil
		})
		logger(t).InfoContext(ctx, "job: assembled", "tiles", len(tiles), "assembleMs", time.Since(start).Milliseconds())
		return err
	}
	return &worker.Output{Image: write, Thumbnail: th.Encode, Stats: longrun.Stats{Pixels: p.Width * p.Height}}, nil
}

// previewWork is the most work a preview may cost: a part's.
const previewWork = 1_000_000_000

// errNoPreview says a view needs no preview.
var errNoPreview = worker.ErrNoPreview

// Preview renders the view at thumbnail size (at most 128 pixels a side,
// the same framing), before a tiled render's tiles: about a
// hundred-thousandth of a poster's work. A view under four times that
// side gets none (its tiles come nearly as soon), nor one whose first
// tile is kept (another colormap of a view rendered before: it assembles
// at once), nor one so deep that even the preview would cost a part.
func (k *Kind) Preview(ctx context.Context, t *worker.Task, w io.Writer) error {
	sp := t.Spec.(Params)
	p := sp.Julia()
	if max(p.Width, p.Height) < 4*longrun.ThumbnailSide {
		return errNoPreview
	}
	if tiles := p.Tiles(t.Size, t.Size); len(tiles) > 0 {
		if _, _, ok := k.kept(ctx, t, TileKey(sp.CountsHash(), t.Size, 0), tiles[0].Rect.Dx(), tiles[0].Rect.Dy(), p.Depth); ok {
			return errNoPreview
		}
	}
	scale := float64(longrun.ThumbnailSide) / float64(max(p.Width, p.Height))
	p.Width, p.Height = max(1, int(float64(p.Width)*scale+0.5)), max(1, int(float64(p.Height)*scale+0.5))
	if int64(p.Width)*int64(p.Height)*int64(p.Depth) > previewWork {
		return errNoPreview
	}
	cs, _, err := k.compute()(ctx, p, image.Rect(0, 0, p.Width, p.Height), julia.Options{Workers: t.Workers})
	if err != nil {
		return err
	}
	defer cs.Release()
	return julia.Encode(w, cs.Image(p.Colormap))
}

// refused marks the renderer's refusal of parameters permanent.
func refused(err error) error {
	var pe *julia.ParamError
	if errors.As(err, &pe) {
		return worker.Permanent(err)
	}
	return err
}

func (k *Kind) compute() func(context.Context, julia.Params, image.Rectangle, julia.Options) (*julia.Counts, julia.Stats, error) {
	if k.Compute == nil {
		return julia.ComputeRect
	}
	return k.Compute
}

// kept reads the counts kept under key (a view rendered before in another
// colormap, a tile) of width × height at depth; false when there are none,
// or they cannot be read, fail their checksum or are of another shape, and
// they are computed again: kept data is a cache, never trusted.
func (k *Kind) kept(ctx context.Context, t *worker.Task, key string, width, height, depth int) (*julia.Counts, julia.Stats, bool) {
	cs, st, err := readCounts(ctx, t, key)
	if err == nil && (cs.Width != width || cs.Height != height || cs.Depth != depth) {
		err = fmt.Errorf("counts of %d×%d at depth %d, want %d×%d at %d", cs.Width, cs.Height, cs.Depth, width, height, depth)
	}
	if err != nil {
		if longrun.ErrorCode(err) != longrun.ENOTFOUND {
			logger(t).WarnContext(ctx, "job: kept counts unreadable or damaged; computing them again", "key", key, "err", err)
		}
		return nil, julia.Stats{}, false
	}
	return cs, st, true
}

func readCounts(ctx context.Context, t *worker.Task, key string) (*julia.Counts, julia.Stats, error) {
	rc, err := t.Store.OpenImage(ctx, key)
	if err != nil {
		return nil, julia.Stats{}, err
	}
	defer rc.Close()
	return julia.ReadCounts(rc)
}

// keep stores counts, and the stats of their render, under key.
func keep(ctx context.Context, t *worker.Task, key string, cs *julia.Counts, st julia.Stats) error {
	var buf bytes.Buffer
	if err := julia.WriteCounts(&buf, cs, st); err != nil {
		return err
	}
	return t.Store.PutImage(ctx, key, buf.Bytes())
}

func logger(t *worker.Task) *slog.Logger {
	if t.Log == nil {
		return slog.Default()
	}
	return t.Log
}
