package longrun

import "github.com/longrun/longrun/julia"

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

// Limits are the bounds every configuration keeps.
type Limits struct {
	MinSize     int     `json:"minSize"`
	MaxSize     int     `json:"maxSize"`
	MinDepth    int     `json:"minDepth"`
	MaxDepth    int     `json:"maxDepth"`
	MaxWork     int64   `json:"maxWork"` // width × height × depth
	MaxAbs      float64 `json:"maxAbs"`  // |c| and |center|
	MinZoom     float64 `json:"minZoom"`
	MaxZoom     float64 `json:"maxZoom"`
	MaxNameLen  int     `json:"maxNameLength"`
	MaxEmailLen int     `json:"maxEmailLength"`
}

// Meta is what a client needs to build a form: limits, defaults,
// colormaps, presets and statuses. GET /api/meta serves it, so no client
// repeats these.
type Meta struct {
	Limits      Limits   `json:"limits"`
	Defaults    Params   `json:"defaults"`
	Colormaps   []string `json:"colormaps"`
	Presets     []Preset `json:"presets"`
	SizePresets []int    `json:"sizePresets"`
	Statuses    []Status `json:"statuses"`
}

// Describe returns the meta of this build, with the default bounds.
func Describe() Meta { return Bounds{}.Describe() }

// Describe returns the meta of this build within bounds b.
func (b Bounds) Describe() Meta {
	b = b.OrDefault()
	return Meta{
		Limits: Limits{MinSize: MinSize, MaxSize: b.MaxSize, MinDepth: MinDepth, MaxDepth: b.MaxDepth, MaxWork: b.MaxWork,
			MaxAbs: MaxAbs, MinZoom: MinZoom, MaxZoom: MaxZoom, MaxNameLen: MaxNameLen, MaxEmailLen: MaxEmailLen},
		Defaults:    DefaultParams(),
		Colormaps:   julia.Colormaps(),
		Presets:     Presets,
		SizePresets: SizePresets,
		Statuses:    Statuses,
	}
}

// DefaultParams are a new configuration's parameters: the defaults, with
// the first preset's c.
func DefaultParams() Params {
	return Params{C: Presets[0].C, Zoom: DefaultZoom, Width: DefaultSize, Height: DefaultSize, Depth: DefaultDepth,
		Colormap: julia.DefaultColormap}
}
