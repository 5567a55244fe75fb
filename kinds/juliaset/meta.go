package juliaset

import (
	"encoding/json"
	"fmt"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/julia"
)

// A Preset is a well-known value of c, with its popular name.
type Preset struct {
	Name string  `json:"name"`
	C    Complex `json:"c"`
}

// Presets are the well-known values of c a page offers; the first is the
// default of a new configuration.
var Presets = []Preset{
	{"Spirals", Complex{-0.7, 0.27015}},
	{"Dragon", Complex{-0.8, 0.156}},
	{"Seahorse", Complex{0.285, 0.01}},
	{"Rabbit ears", Complex{-0.4, 0.6}},
	{"Lace", Complex{-0.835, -0.2321}},
	{"Douady rabbit", Complex{-0.123, 0.745}},
	{"Dendrite", Complex{0, 1}},
	{"Galaxy", Complex{-0.7269, 0.1889}},
}

// SizePresets are the square sizes a page offers.
var SizePresets = []int{256, 512, 1024, 2048}

// Limits are the bounds a Julia set's parameters keep.
type Limits struct {
	MinSize  int     `json:"minSize"`
	MaxSize  int     `json:"maxSize"`
	MinDepth int     `json:"minDepth"`
	MaxDepth int     `json:"maxDepth"`
	MaxWork  int64   `json:"maxWork"` // width × height × depth
	MaxAbs   float64 `json:"maxAbs"`  // |c| and |center|
	MinZoom  float64 `json:"minZoom"`
	MaxZoom  float64 `json:"maxZoom"`
}

// Describe is what /api/meta serves of the kind within its bounds.
func (k *Kind) Describe() longrun.KindMeta {
	b := k.Bounds.OrDefault()
	lim := Limits{MinSize: MinSize, MaxSize: b.MaxSize, MinDepth: MinDepth, MaxDepth: b.MaxDepth, MaxWork: b.MaxWork,
		MaxAbs: MaxAbs, MinZoom: MinZoom, MaxZoom: MaxZoom}
	return longrun.KindMeta{
		Title:       "Julia set",
		Description: "A Julia set's image: the escape counts of a view of the plane, coloured by a colormap.",
		Result:      "image",
		Schema:      schema(lim),
		Defaults:    DefaultParams(),
		Limits:      lim,
		Presets:     Presets,
		Choices:     map[string]any{"colormaps": julia.Colormaps(), "sizes": SizePresets},
	}
}

// schema is the JSON Schema of the parameters a client sends.
func schema(l Limits) json.RawMessage {
	complexOf := func(desc string) map[string]any {
		return map[string]any{"type": "object", "description": desc, "required": []string{"re", "im"}, "additionalProperties": false,
			"properties": map[string]any{"re": map[string]any{"type": "number"}, "im": map[string]any{"type": "number"}}}
	}
	d := DefaultParams()
	s := map[string]any{
		"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "additionalProperties": false,
		"required": []string{"c"},
		"properties": map[string]any{
			"c":      complexOf(fmt.Sprintf("the constant of z² + c; |c| at most %g", l.MaxAbs)),
			"center": complexOf("the view's centre (default 0)"),
			"zoom":   map[string]any{"type": "number", "minimum": l.MinZoom, "maximum": l.MaxZoom, "default": d.Zoom},
			"width":  map[string]any{"type": "integer", "minimum": l.MinSize, "maximum": l.MaxSize, "default": d.Width},
			"height": map[string]any{"type": "integer", "minimum": l.MinSize, "maximum": l.MaxSize, "default": d.Height},
			"depth": map[string]any{"type": "integer", "minimum": l.MinDepth, "maximum": l.MaxDepth, "default": d.Depth,
				"description": fmt.Sprintf("iterations at most per pixel; width × height × depth at most %d", l.MaxWork)},
			"colormap": map[string]any{"type": "string", "enum": julia.Colormaps(), "default": d.Colormap},
		},
	}
	b, _ := json.Marshal(s)
	return b
}

// DefaultParams are a new configuration's parameters: the defaults, with
// the first preset's c.
func DefaultParams() Params {
	return Params{C: Presets[0].C, Zoom: DefaultZoom, Width: DefaultSize, Height: DefaultSize, Depth: DefaultDepth,
		Colormap: julia.DefaultColormap}
}
