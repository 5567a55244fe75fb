// Package juliaset is the Julia-set kind of longrun: a configuration's
// spec (c, the view, size, depth, colormap), its normalization within a
// deployment's bounds, its content hash, presets and what /api/meta
// serves of it, and its runner, which renders with package julia —
// reusing kept escape counts for another colormap of a view, cutting big
// or deep views into tiles any worker renders, and assembling them into
// one PNG.
package juliaset

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/cmplx"
	"strconv"
	"strings"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/julia"
)

// Name is the kind's name.
const Name = "julia"

// Limits of every configuration. MaxSize, MaxDepth and MaxWork are the
// defaults of Bounds, which a deployment may set lower: a 16384² poster
// renders as tiles over many workers.
const (
	MinSize, MaxSize   = 16, 16384
	MinDepth, MaxDepth = 1, 100_000
	MaxWork            = 2_000_000_000_000 // width·height·depth
	MaxAbs             = 4                 // |c| and |center|
	MinZoom, MaxZoom   = 1e-6, 1e12
)

// Defaults, from the original demo.
const (
	DefaultSize  = 512
	DefaultDepth = 256
	DefaultZoom  = 1
)

// Complex is a complex number as JSON sees it.
type Complex struct {
	Re float64 `json:"re"`
	Im float64 `json:"im"`
}

func (z Complex) complex() complex128 { return complex(z.Re, z.Im) }

// Params are a configuration's normalized render parameters.
type Params struct {
	C        Complex `json:"c"`
	Center   Complex `json:"center"`
	Zoom     float64 `json:"zoom"`
	Width    int     `json:"width"`
	Height   int     `json:"height"`
	Depth    int     `json:"depth"`
	Colormap string  `json:"colormap"`
}

// ParamsInput are parameters as a client sends them: any may be omitted
// and takes its default, except C.
type ParamsInput struct {
	C        *Complex `json:"c"`
	Center   *Complex `json:"center"`
	Zoom     *float64 `json:"zoom"`
	Width    *int     `json:"width"`
	Height   *int     `json:"height"`
	Depth    *int     `json:"depth"`
	Colormap *string  `json:"colormap"`
}

// Bounds are the limits a deployment sets on size, depth and work (the
// rest are fixed); zero fields take the defaults (MaxSize, MaxDepth,
// MaxWork).
type Bounds struct {
	MaxSize  int
	MaxDepth int
	MaxWork  int64
}

// OrDefault fills b's zero fields with the defaults.
func (b Bounds) OrDefault() Bounds {
	if b.MaxSize == 0 {
		b.MaxSize = MaxSize
	}
	if b.MaxDepth == 0 {
		b.MaxDepth = MaxDepth
	}
	if b.MaxWork == 0 {
		b.MaxWork = MaxWork
	}
	return b
}

// Check reports a bound that cannot be: sizes below MinSize or above the
// default's 16384, depths beyond what a count holds, no work at all.
func (b Bounds) Check() error {
	switch b = b.OrDefault(); {
	case b.MaxSize < MinSize || b.MaxSize > MaxSize:
		return fmt.Errorf("the largest size must be between %d and %d", MinSize, MaxSize)
	case b.MaxDepth < MinDepth || b.MaxDepth > MaxDepth:
		return fmt.Errorf("the greatest depth must be between %d and %d", MinDepth, MaxDepth)
	case b.MaxWork < int64(MinSize*MinSize):
		return fmt.Errorf("the most work must be at least %d", MinSize*MinSize)
	}
	return nil
}

// Normalize fills in defaults and validates within the default bounds,
// reporting every broken rule with its field path under prefix (such as
// "params.").
func (in *ParamsInput) Normalize(prefix string) (Params, error) {
	return in.NormalizeWithin(prefix, Bounds{})
}

// NormalizeWithin is Normalize within bounds b.
func (in *ParamsInput) NormalizeWithin(prefix string, b Bounds) (Params, error) {
	var fe longrun.FieldErrors
	if in == nil {
		fe.Add(strings.TrimSuffix(prefix, "."), "required")
		return Params{}, fe.Err()
	}
	p := DefaultParams()
	if in.C == nil {
		fe.Add(prefix+"c", "required")
	} else {
		p.C = *in.C
	}
	if in.Center != nil {
		p.Center = *in.Center
	}
	if in.Zoom != nil {
		p.Zoom = *in.Zoom
	}
	if in.Width != nil {
		p.Width = *in.Width
	}
	if in.Height != nil {
		p.Height = *in.Height
	}
	if in.Depth != nil {
		p.Depth = *in.Depth
	}
	if in.Colormap != nil {
		p.Colormap = *in.Colormap
		for _, name := range julia.Colormaps() { // accept any case, store matplotlib's
			if strings.EqualFold(name, p.Colormap) {
				p.Colormap = name
			}
		}
	}
	p = p.canonical()
	checked := p.check(prefix, b.OrDefault())
	for _, e := range longrun.Fields(checked.Err()) {
		fe.Add(e.Field, e.Rule)
	}
	if err := fe.Err(); err != nil {
		return Params{}, err
	}
	return p, nil
}

// canonical turns −0 into 0, so equal parameters hash equally.
func (p Params) canonical() Params {
	for _, v := range []*float64{&p.C.Re, &p.C.Im, &p.Center.Re, &p.Center.Im} {
		if *v == 0 {
			*v = 0
		}
	}
	return p
}

// Validate reports every rule p breaks within the default bounds, with
// field paths under prefix.
func (p Params) Validate(prefix string) error {
	fe := p.check(prefix, Bounds{}.OrDefault())
	return fe.Err()
}

func (p Params) check(prefix string, b Bounds) longrun.FieldErrors {
	var fe longrun.FieldErrors
	for _, z := range []struct {
		name string
		v    Complex
	}{{"c", p.C}, {"center", p.Center}} {
		if c := z.v.complex(); cmplx.IsNaN(c) || cmplx.IsInf(c) || cmplx.Abs(c) > MaxAbs {
			fe.Add(prefix+z.name, fmt.Sprintf("|%s| must be at most %d", z.name, MaxAbs))
		}
	}
	if math.IsNaN(p.Zoom) || p.Zoom < MinZoom || p.Zoom > MaxZoom {
		fe.Add(prefix+"zoom", fmt.Sprintf("must be between %g and %g", MinZoom, MaxZoom))
	}
	p.checkWork(prefix, b, &fe)
	if _, ok := julia.Colormap(p.Colormap); !ok {
		fe.Add(prefix+"colormap", "must be one of "+strings.Join(julia.Colormaps(), ", "))
	}
	return fe
}

// Work is the most iterations the parameters may cost: width × height ×
// depth, the estimate the quotas, the part sizes and the queue's fair
// shares are measured in.
func (p Params) Work() int64 { return int64(p.Width) * int64(p.Height) * int64(p.Depth) }

// checkWork checks the size and depth, and the work they make together.
func (p Params) checkWork(prefix string, b Bounds, fe *longrun.FieldErrors) {
	sizeOK := true
	for _, s := range []struct {
		name string
		v    int
	}{{"width", p.Width}, {"height", p.Height}} {
		if s.v < MinSize || s.v > b.MaxSize {
			fe.Add(prefix+s.name, fmt.Sprintf("must be between %d and %d", MinSize, b.MaxSize))
			sizeOK = false
		}
	}
	if p.Depth < MinDepth || p.Depth > b.MaxDepth {
		fe.Add(prefix+"depth", fmt.Sprintf("must be between %d and %d", MinDepth, b.MaxDepth))
	} else if sizeOK && int64(p.Width)*int64(p.Height)*int64(p.Depth) > b.MaxWork {
		fe.Add(prefix+"depth", fmt.Sprintf("width × height × depth must be at most %d", b.MaxWork))
	}
}

// Hash is the SHA-256 of the canonical encoding of the normalized parameters,
// in hex: configurations with equal parameters share one result.
func (p Params) Hash() string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	p = p.canonical()
	s := fmt.Sprintf("julia/1 c=%s,%s center=%s,%s zoom=%s size=%dx%d depth=%d colormap=%s",
		f(p.C.Re), f(p.C.Im), f(p.Center.Re), f(p.Center.Im), f(p.Zoom), p.Width, p.Height, p.Depth, p.Colormap)
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// CountsHash identifies the escape counts of p: its hash without the
// colormap, which only colours them. Parameters that differ only in
// colormap share one render (CountsKey).
func (p Params) CountsHash() string {
	p.Colormap = ""
	return p.Hash()
}

// Julia returns the renderer's parameters.
func (p Params) Julia() julia.Params {
	return julia.Params{C: p.C.complex(), Center: p.Center.complex(), Zoom: p.Zoom,
		Width: p.Width, Height: p.Height, Depth: p.Depth, Colormap: p.Colormap}
}
