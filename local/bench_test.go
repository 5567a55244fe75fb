package local_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/longrun/longrun/internal/testutil"
	"github.com/longrun/longrun/local"
)

// BenchmarkAPIList measures GET /api/configurations (20 configurations) with
// the render pool idle and with it saturated by a backlog of 200 heavy jobs.
// It reports p50 and p99 latency; the saturated p99 should stay within 3× of
// the idle one, because renders use at most cores − 1 goroutines.
func BenchmarkAPIList(b *testing.B) {
	for _, mode := range []string{"idle", "saturated"} {
		b.Run(mode, func(b *testing.B) {
			sys, url := startBench(b)
			c := testutil.NewClient(b, url)
			for i := range 20 {
				v := c.Create(map[string]any{"name": fmt.Sprint(i), "params": small(0.001*float64(i), 0.6)})
				c.Await(v.ID, 30*time.Second, "done", testutil.Done)
			}
			if mode == "saturated" {
				heavy := testutil.NewClient(b, url)
				for i := range 200 {
					heavy.Create(map[string]any{"name": "heavy", "params": testutil.Params(-0.7+0.0001*float64(i), 0.27015,
						"center", map[string]float64{"re": 0.01, "im": 0}, "width", 1024, "height", 1024, "depth", 1900)})
				}
				// Wait until the pool is busy.
				for {
					q, _ := sys.DB.QueueStats(context.Background())
					if q.InFlight > 0 {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			var lat []time.Duration
			b.ResetTimer()
			for b.Loop() {
				req, _ := http.NewRequest("GET", url+"/api/configurations", nil)
				start := time.Now()
				res, err := c.HTTP.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			if mode == "saturated" {
				q, _ := sys.DB.QueueStats(context.Background())
				if q.InFlight == 0 {
					b.Errorf("the render pool went idle during the measurement: make the backlog heavier")
				}
			}
			slices.Sort(lat)
			pct := func(p float64) float64 {
				return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
			}
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "req/s")
		})
	}
}

func startBench(b *testing.B) (*local.System, string) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sys, err := local.Start(ctx, local.Config{Addr: "127.0.0.1:0", DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sys.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	return sys, sys.URL
}
