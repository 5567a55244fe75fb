package memlimit_test

import (
	"testing"
	"time"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/local/memlimit"
	"github.com/longrun/longrun/porttest"
)

func TestLimiterConformance(t *testing.T) {
	porttest.TestLimiter(t, func(t *testing.T) (longrun.Limiter, func(time.Duration)) {
		clock := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
		return &memlimit.Limiter{Now: func() time.Time { return clock }}, func(d time.Duration) { clock = clock.Add(d) }
	})
}
