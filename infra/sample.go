package infra

import (
	"time"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/kinds/juliaset"
)

// The sample configuration make run-aws-local keeps, queued and never
// enqueued, so that `sam local invoke RenderFunction -e
// infra/events/render-sqs.json` renders something: the event names its id,
// version and params hash (a test holds them equal).
const (
	SampleID    = "0123456789abcdef0123456789abcdef"
	SampleOwner = "fedcba9876543210fedcba9876543210"
)

// Sample returns the sample configuration, as made at now.
func Sample(now time.Time) *longrun.Configuration {
	c := longrun.NewConfiguration(SampleOwner, longrun.Draft{Name: "Spirals (the sam local sample)", Kind: juliaset.Name, Spec: juliaset.Params{
		C: juliaset.Complex{Re: -0.7, Im: 0.27015}, Zoom: 1, Width: 256, Height: 256, Depth: 256, Colormap: "nipy_spectral"}}, nil, now)
	c.ID = SampleID
	return c
}
