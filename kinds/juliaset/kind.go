package juliaset

import (
	"context"
	"encoding/json"
	"fmt"
	"image"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/julia"
)

// Kind is the Julia-set kind within a deployment's bounds, and its runner
// (worker.Runner).
type Kind struct {
	// Bounds limit one configuration's size, depth and work; zero fields
	// take the defaults.
	Bounds Bounds
	// TileAbove is the image size, in pixels, above which a render is
	// split into tiles, each a job of its own that any worker renders,
	// then assembled; 0 means 4 Mpx.
	TileAbove int
	// TileSize is a tile's side, in pixels; 0 means 512. A deep view's
	// tiles are smaller, so that none is over the worker's part work.
	TileSize int
	// Compute computes the escape counts of a view's pixels in a
	// rectangle (the whole image, or a tile); nil means
	// julia.ComputeRect. Tests replace it.
	Compute func(context.Context, julia.Params, image.Rectangle, julia.Options) (*julia.Counts, julia.Stats, error)
}

// New returns the kind within bounds b.
func New(b Bounds) *Kind { return &Kind{Bounds: b} }

// Name is "julia".
func (k *Kind) Name() string { return Name }

// Normalize reads and validates a spec as a client sends it.
func (k *Kind) Normalize(raw json.RawMessage, prefix string) (longrun.Spec, error) {
	var in *ParamsInput
	if longrun.Given(raw) {
		in = new(ParamsInput)
		if err := longrun.DecodeParams(raw, prefix, in); err != nil {
			return nil, err
		}
	}
	p, err := in.NormalizeWithin(prefix, k.Bounds)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Decode reads a kept spec.
func (k *Kind) Decode(raw json.RawMessage) (longrun.Spec, error) {
	return longrun.DecodeSpec[Params](Name, raw)
}

// JSON is the spec as stores keep it.
func (p Params) JSON() json.RawMessage {
	b, err := json.Marshal(p)
	if err != nil {
		panic(err) // numbers only, checked finite
	}
	return b
}

// Summary is the spec in one line.
func (p Params) Summary() string {
	return fmt.Sprintf("c = %g%+gi, %d×%d, depth %d, zoom %g, %s", p.C.Re, p.C.Im, p.Width, p.Height, p.Depth, p.Zoom, p.Colormap)
}

// Name is a configuration's default name, made from c.
func (p Params) Name() string { return fmt.Sprintf("c = %g%+gi", p.C.Re, p.C.Im) }

// JSON is the input as a client sends it.
func (in ParamsInput) JSON() json.RawMessage {
	b, _ := json.Marshal(in)
	return b
}
