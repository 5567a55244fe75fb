package attr_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/aws/attr"
	"github.com/longrun/longrun/kinds/juliaset"
)

func TestStreamImageRoundTrips(t *testing.T) {
	now := time.Now().UTC()
	no := false
	c := longrun.NewConfiguration(longrun.NewID(), longrun.Draft{Name: "ünï", NotifyEmail: "a@example.com", Notify: &longrun.Channels{Email: &no},
		Spec: juliaset.Params{C: juliaset.Complex{Re: -0.123456789012345, Im: 1e-300}, Zoom: 1e12, Width: 16, Height: 17, Depth: 3, Colormap: "ocean"}}, nil, now)
	if err := c.StartRender(c.Version, now); err != nil {
		t.Fatal(err)
	}
	c.ReportProgress(c.Version, 0.25, nil)
	c.Stats = &longrun.Stats{Iterations: 1 << 40, Pixels: 7, RenderMs: 3}
	c.Seq = 9
	img, err := attr.StreamImage(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := attr.Configuration(img)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := c.MarshalRecord()
	b, _ := got.MarshalRecord()
	// Equal as JSON values, numbers exact: the spec is an object whose
	// keys a map keeps in its own order.
	ta, _ := attr.Tree(a)
	tb, _ := attr.Tree(b)
	if !reflect.DeepEqual(ta, tb) {
		t.Errorf("round trip:\n got %s\nwant %s", b, a)
	}
}
