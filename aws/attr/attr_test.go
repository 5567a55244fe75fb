package attr_test

import (
	"testing"
	"time"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/aws/attr"
)

func TestStreamImageRoundTrips(t *testing.T) {
	now := time.Now().UTC()
	c := longrun.NewConfiguration(longrun.NewID(), longrun.Draft{Name: "ünï", NotifyEmail: "a@example.com",
		Params: longrun.Params{C: longrun.Complex{Re: -0.123456789012345, Im: 1e-300}, Zoom: 1e12, Width: 16, Height: 17, Depth: 3, Colormap: "ocean"}}, nil, now)
	if err := c.StartRender(c.Version, now); err != nil {
		t.Fatal(err)
	}
	c.ReportProgress(c.Version, 0.25)
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
	if string(a) != string(b) {
		t.Errorf("round trip:\n got %s\nwant %s", b, a)
	}
}
