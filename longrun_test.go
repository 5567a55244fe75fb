package longrun_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/longrun/longrun"
)

func ptr[T any](v T) *T { return &v }

func TestNormalizeFillsTheOriginalDefaults(t *testing.T) {
	p, err := (&longrun.ParamsInput{C: &longrun.Complex{Re: -0.7, Im: 0.27015}}).Normalize("params.")
	if err != nil {
		t.Fatal(err)
	}
	want := longrun.Params{C: longrun.Complex{Re: -0.7, Im: 0.27015}, Zoom: 1, Width: 512, Height: 512, Depth: 256, Colormap: "nipy_spectral"}
	if p != want {
		t.Errorf("got %+v, want %+v", p, want)
	}
}

func TestHashIsOfTheNormalizedParameters(t *testing.T) {
	base := longrun.ParamsInput{C: &longrun.Complex{Re: 0.285, Im: 0.01}}
	same := []longrun.ParamsInput{
		{C: &longrun.Complex{Re: 0.285, Im: 0.01}, Zoom: ptr(1.0), Width: ptr(512), Colormap: ptr("NIPY_Spectral")},
		{C: &longrun.Complex{Re: 0.285, Im: 0.01}, Center: &longrun.Complex{Re: math.Copysign(0, -1), Im: 0}},
	}
	h := mustHash(t, base)
	for i, in := range same {
		if got := mustHash(t, in); got != h {
			t.Errorf("variant %d hashes %s, want %s", i, got, h)
		}
	}
	different := []longrun.ParamsInput{
		{C: &longrun.Complex{Re: 0.285, Im: 0.0100000001}},
		{C: &longrun.Complex{Re: 0.285, Im: 0.01}, Depth: ptr(257)},
		{C: &longrun.Complex{Re: 0.285, Im: 0.01}, Colormap: ptr("magma")},
		{C: &longrun.Complex{Re: 0.285, Im: 0.01}, Width: ptr(512), Height: ptr(511)},
	}
	for i, in := range different {
		if got := mustHash(t, in); got == h {
			t.Errorf("different variant %d hashes the same", i)
		}
	}
	if len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		t.Errorf("hash %q is not 64 hex digits", h)
	}
}

func mustHash(t *testing.T, in longrun.ParamsInput) string {
	t.Helper()
	p, err := in.Normalize("params.")
	if err != nil {
		t.Fatal(err)
	}
	return p.Hash()
}

func TestValidationNamesEveryBrokenField(t *testing.T) {
	in := longrun.ParamsInput{Width: ptr(8), Height: ptr(5000), Depth: ptr(0), Zoom: ptr(-1.0),
		Center: &longrun.Complex{Re: 5}, Colormap: ptr("jet")}
	_, err := in.Normalize("params.")
	got := map[string]bool{}
	for _, f := range longrun.Fields(err) {
		got[f.Field] = f.Rule != ""
	}
	for _, field := range []string{"params.c", "params.width", "params.height", "params.depth", "params.zoom", "params.center", "params.colormap"} {
		if !got[field] {
			t.Errorf("no rule for %s in %v", field, err)
		}
	}
	if longrun.ErrorCode(err) != longrun.EINVALID {
		t.Errorf("code %q, want %q", longrun.ErrorCode(err), longrun.EINVALID)
	}
}

func TestLimitsAreInclusive(t *testing.T) {
	ok := []longrun.ParamsInput{
		{Width: ptr(16), Height: ptr(16), Depth: ptr(1), Zoom: ptr(1e-6)},
		{Width: ptr(4096), Height: ptr(4096), Depth: ptr(119), Zoom: ptr(1e12)}, // 1,996,488,704 ≤ 2·10⁹
		{Width: ptr(100), Height: ptr(100), Depth: ptr(10000), Center: &longrun.Complex{Re: 4}},
	}
	for i, in := range ok {
		in.C = &longrun.Complex{Re: 0, Im: 4}
		if _, err := in.Normalize(""); err != nil {
			t.Errorf("case %d: %v", i, err)
		}
	}
	over := longrun.ParamsInput{C: &longrun.Complex{}, Width: ptr(4096), Height: ptr(4096), Depth: ptr(120)}
	if _, err := over.Normalize(""); err == nil {
		t.Error("4096×4096×120 > 2·10⁹ accepted")
	}
}

func TestNameAndEmailRules(t *testing.T) {
	for _, name := range []string{"", "  ", strings.Repeat("é", 201), "a\xffb"} {
		if longrun.CheckName(name) == nil {
			t.Errorf("name %q accepted", name)
		}
	}
	if err := longrun.CheckName(strings.Repeat("é", 200)); err != nil {
		t.Errorf("200 characters rejected: %v", err)
	}
	for _, addr := range []string{"ada", "ada@", "@example.com", "Ada <ada@example.com>", "ada@localhost", "a b@example.com"} {
		if longrun.CheckEmail(addr) == nil {
			t.Errorf("address %q accepted", addr)
		}
	}
	for _, addr := range []string{"", "ada@example.com", "a.b+c@mail.example.org"} {
		if err := longrun.CheckEmail(addr); err != nil {
			t.Errorf("address %q rejected: %v", addr, err)
		}
	}
}

func TestSetParamsStateMachine(t *testing.T) {
	now := time.Now()
	p := longrun.Params{C: longrun.Complex{Re: 0.1}, Zoom: 1, Width: 32, Height: 32, Depth: 10, Colormap: "magma"}
	c := &longrun.Configuration{ID: longrun.NewID()}
	if !c.SetParams(p, nil, now) || c.Version != 1 || c.Status != longrun.StatusQueued {
		t.Fatalf("first params: version %d status %s, want 1 queued", c.Version, c.Status)
	}
	if c.SetParams(p, nil, now) || c.Version != 1 {
		t.Errorf("unchanged params bumped the version to %d", c.Version)
	}
	c.Finish(&longrun.Result{Hash: c.ParamsHash})
	if c.Status != longrun.StatusDone || c.Outdated() {
		t.Fatalf("after finish: %s outdated=%v", c.Status, c.Outdated())
	}
	q := p
	q.Depth = 11
	c.SetParams(q, nil, now)
	if c.Version != 2 || c.Status != longrun.StatusQueued || !c.Outdated() || c.RenderedHash != p.Hash() {
		t.Errorf("after an edit: version %d status %s outdated %v; want 2, queued, the old image outdated", c.Version, c.Status, c.Outdated())
	}
	r := q
	r.Depth = 12
	c.SetParams(r, &longrun.Result{Hash: r.Hash()}, now)
	if c.Version != 3 || c.Status != longrun.StatusDone || c.Outdated() {
		t.Errorf("edit to rendered params: version %d status %s outdated %v; want 3 done fresh", c.Version, c.Status, c.Outdated())
	}
}

func TestStreamImageRoundTrips(t *testing.T) {
	c := &longrun.Configuration{ID: longrun.NewID(), Owner: longrun.NewID(), Name: "ünï", Version: 3, Rev: 5, Seq: 9,
		Status: longrun.StatusRendering, Progress: 0.25, NotifyEmail: "a@example.com",
		Stats: &longrun.Stats{Iterations: 1 << 40, Pixels: 7, RenderMs: 3}, CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC()}
	c.SetParams(longrun.Params{C: longrun.Complex{Re: -0.123456789012345, Im: 1e-300}, Zoom: 1e12, Width: 16, Height: 17, Depth: 3, Colormap: "ocean"}, nil, c.UpdatedAt)
	img, err := longrun.StreamImage(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := longrun.FromStreamImage(img)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := c.MarshalRecord()
	b, _ := got.MarshalRecord()
	if string(a) != string(b) {
		t.Errorf("round trip:\n got %s\nwant %s", b, a)
	}
}
