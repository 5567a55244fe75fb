package juliaset

import (
	"math"
	"strings"
	"testing"

	"github.com/longrun/longrun"
)

func ptr[T any](v T) *T { return &v }

func TestNormalizeFillsTheOriginalDefaults(t *testing.T) {
	p, err := (&ParamsInput{C: &Complex{Re: -0.7, Im: 0.27015}}).Normalize("params.")
	if err != nil {
		t.Fatal(err)
	}
	want := Params{C: Complex{Re: -0.7, Im: 0.27015}, Zoom: 1, Width: 512, Height: 512, Depth: 256, Colormap: "nipy_spectral"}
	if p != want {
		t.Errorf("got %+v, want %+v", p, want)
	}
}

func TestHashIsOfTheNormalizedParameters(t *testing.T) {
	base := ParamsInput{C: &Complex{Re: 0.285, Im: 0.01}}
	same := []ParamsInput{
		{C: &Complex{Re: 0.285, Im: 0.01}, Zoom: ptr(1.0), Width: ptr(512), Colormap: ptr("NIPY_Spectral")},
		{C: &Complex{Re: 0.285, Im: 0.01}, Center: &Complex{Re: math.Copysign(0, -1), Im: 0}},
	}
	h := mustHash(t, base)
	for i, in := range same {
		if got := mustHash(t, in); got != h {
			t.Errorf("variant %d hashes %s, want %s", i, got, h)
		}
	}
	different := []ParamsInput{
		{C: &Complex{Re: 0.285, Im: 0.0100000001}},
		{C: &Complex{Re: 0.285, Im: 0.01}, Depth: ptr(257)},
		{C: &Complex{Re: 0.285, Im: 0.01}, Colormap: ptr("magma")},
		{C: &Complex{Re: 0.285, Im: 0.01}, Width: ptr(512), Height: ptr(511)},
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

func mustHash(t *testing.T, in ParamsInput) string {
	t.Helper()
	p, err := in.Normalize("params.")
	if err != nil {
		t.Fatal(err)
	}
	return p.Hash()
}

func TestValidationNamesEveryBrokenField(t *testing.T) {
	in := ParamsInput{Width: ptr(8), Height: ptr(MaxSize + 1), Depth: ptr(0), Zoom: ptr(-1.0),
		Center: &Complex{Re: 5}, Colormap: ptr("jet")}
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
	ok := []ParamsInput{
		{Width: ptr(16), Height: ptr(16), Depth: ptr(1), Zoom: ptr(1e-6)},
		{Width: ptr(16384), Height: ptr(16384), Depth: ptr(7450), Zoom: ptr(1e12)}, // 1,999,975,546,880 ≤ 2·10¹²
		{Width: ptr(100), Height: ptr(100), Depth: ptr(100_000), Center: &Complex{Re: 4}},
	}
	for i, in := range ok {
		in.C = &Complex{Re: 0, Im: 4}
		if _, err := in.Normalize(""); err != nil {
			t.Errorf("case %d: %v", i, err)
		}
	}
	over := ParamsInput{C: &Complex{}, Width: ptr(16384), Height: ptr(16384), Depth: ptr(7451)}
	if _, err := over.Normalize(""); err == nil {
		t.Error("16384×16384×7451 > 2·10¹² accepted")
	}
	// A deployment's own bounds.
	b := Bounds{MaxSize: 4096, MaxWork: 2_000_000_000}
	small := ParamsInput{C: &Complex{}, Width: ptr(4096), Height: ptr(4096), Depth: ptr(119)}
	if _, err := small.NormalizeWithin("", b); err != nil {
		t.Errorf("4096×4096×119 within 4096 and 2·10⁹: %v", err)
	}
	for _, in := range []ParamsInput{
		{C: &Complex{}, Width: ptr(4097), Height: ptr(16), Depth: ptr(1)},
		{C: &Complex{}, Width: ptr(4096), Height: ptr(4096), Depth: ptr(120)},
	} {
		if _, err := in.NormalizeWithin("", b); err == nil {
			t.Errorf("%d×%d×%d accepted within %+v", *in.Width, *in.Height, *in.Depth, b)
		}
	}
	if err := (Bounds{MaxSize: 20000}).Check(); err == nil {
		t.Error("a largest size of 20000 (over 16384) passed")
	}
	if got := New(b).Describe().Limits.(Limits); got.MaxSize != 4096 || got.MaxWork != 2_000_000_000 || got.MaxDepth != MaxDepth {
		t.Errorf("meta limits %+v, want the bounds with the default depth", got)
	}
}

// The content hash is what every stored result, kept count and tile is
// found by: these digests are the ones results were stored under before
// Julia became a kind, and must never change (a change of the encoding is
// a new "julia/N" prefix, which renders everything again).
func TestHashesAreThoseResultsWereStoredUnder(t *testing.T) {
	for _, c := range []struct {
		p            Params
		hash, counts string
	}{
		{DefaultParams(), "723924d993d52bcbef4f443f571801681dc16f7334534e923ecbfb180cbc2086",
			"09d459f6c5a1f250049ffd2e5a7b0691e10ec0ca9222289f99cfa9a577c8379f"},
		{Params{C: Complex{Re: -0.8, Im: 0.156}, Center: Complex{Re: 0.1, Im: -0.2}, Zoom: 3.5, Width: 1024, Height: 768, Depth: 1000, Colormap: "magma"},
			"7f171985f1c292035f89786cf8e7a89d7da183d0c8cc03e7d761552af1ec4c97",
			"90a982ce16135d3baa0b61541a63c53ab4dccda182ffd976696390ac1fe79d0a"},
	} {
		if got := c.p.Hash(); got != c.hash {
			t.Errorf("Hash of %+v = %s, want %s", c.p, got, c.hash)
		}
		if got := c.p.CountsHash(); got != c.counts {
			t.Errorf("CountsHash of %+v = %s, want %s", c.p, got, c.counts)
		}
	}
}

// A record kept before kinds existed has no kind and Julia's parameters:
// it reads as a Julia set, with the same hash.
func TestARecordWithoutAKindReadsAsAJuliaSet(t *testing.T) {
	old := `{"id":"0123456789abcdef0123456789abcdef","owner":"o","name":"x","params":{"c":{"re":-0.7,"im":0.27015},` +
		`"center":{"re":0,"im":0},"zoom":1,"width":512,"height":512,"depth":256,"colormap":"nipy_spectral"},` +
		`"paramsHash":"723924d993d52bcbef4f443f571801681dc16f7334534e923ecbfb180cbc2086","version":1,"rev":1,"seq":1,` +
		`"status":"done","progress":1,"createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z"}`
	c, err := longrun.UnmarshalRecord([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	kinds := longrun.Kinds{Name: New(Bounds{})}
	spec, err := kinds.Spec(c)
	if err != nil {
		t.Fatal(err)
	}
	if c.KindName() != Name || spec.Hash() != c.ParamsHash || spec.(Params) != DefaultParams() {
		t.Errorf("kind %q, spec %+v hash %s; want julia, the defaults, %s", c.KindName(), spec, spec.Hash(), c.ParamsHash)
	}
}
