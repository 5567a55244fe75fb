package local_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/internal/testutil"
	"github.com/longrun/longrun/local"
	"github.com/longrun/longrun/notify"
	"github.com/longrun/longrun/tracing/setup"
	"github.com/longrun/longrun/web"
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
				saturate(b, sys, url)
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
			report(b, lat)
		})
	}
}

// BenchmarkAPICreate measures POST /api/configurations of parameters already
// rendered (done at once, so the pool stays as it is), idle and saturated.
func BenchmarkAPICreate(b *testing.B) {
	for _, mode := range []string{"idle", "saturated"} {
		b.Run(mode, func(b *testing.B) {
			sys, url := startBench(b)
			c := testutil.NewClient(b, url)
			body := map[string]any{"name": "again", "params": small(0.21, 0.61)}
			first := c.Create(body)
			c.Await(first.ID, 30*time.Second, "done", testutil.Done)
			if mode == "saturated" {
				saturate(b, sys, url)
			}
			var lat []time.Duration
			for b.Loop() {
				start := time.Now()
				res, err := c.Try("POST", "/api/configurations", body)
				if err != nil || res.Status != 201 {
					b.Fatalf("create: %v %v", res, err)
				}
				lat = append(lat, time.Since(start))
			}
			if mode == "saturated" {
				if q, _ := sys.DB.QueueStats(context.Background()); q.InFlight == 0 {
					b.Errorf("the render pool went idle during the measurement")
				}
			}
			report(b, lat)
		})
	}
}

// saturate queues 200 heavy renders and waits until the pool is busy.
func saturate(b *testing.B, sys *local.System, url string) {
	heavy := testutil.NewClient(b, url)
	for i := range 200 {
		heavy.Create(map[string]any{"name": "heavy", "params": testutil.Params(-0.7+0.0001*float64(i), 0.27015,
			"center", map[string]float64{"re": 0.01, "im": 0}, "width", 1024, "height", 1024, "depth", 1900)})
	}
	for {
		q, _ := sys.DB.QueueStats(context.Background())
		if q.InFlight > 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func report(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkEndToEnd measures from POST to the "done" push on the page's
// WebSocket for the default configuration (512×512, depth 256), each with a
// new c so every one renders.
func BenchmarkEndToEnd(b *testing.B) {
	_, url := startBench(b)
	c := testutil.NewClient(b, url)
	c.Session()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ws := c.Live(ctx)
	i := 0
	var lat []time.Duration
	for b.Loop() {
		i++
		start := time.Now()
		v := c.Create(map[string]any{"params": map[string]any{"c": map[string]float64{"re": -0.7 + 1e-6*float64(i), "im": 0.27015}}})
		for {
			_, data, err := ws.Read(ctx)
			if err != nil {
				b.Fatal(err)
			}
			var m notify.Message
			json.Unmarshal(data, &m)
			if m.ID == v.ID && m.Configuration != nil && m.Configuration.Status == longrun.StatusDone {
				break
			}
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}

// BenchmarkDrain measures how fast a backlog of 60 jobs drains: all
// distinct, and with only 6 distinct parameter sets among them (dedup).
func BenchmarkDrain(b *testing.B) {
	for _, mode := range []string{"distinct", "repeated"} {
		b.Run(mode, func(b *testing.B) {
			var rates []float64
			for b.Loop() {
				sys, url := startBench(b)
				c := testutil.NewClient(b, url)
				var ids []string
				start := time.Now()
				for i := range 60 {
					k := i
					if mode == "repeated" {
						k = i % 6
					}
					ids = append(ids, c.Create(map[string]any{"params": testutil.Params(-0.7+1e-4*float64(k), 0.27015)}).ID)
				}
				for _, id := range ids {
					c.Await(id, 5*time.Minute, "done", testutil.Done)
				}
				rates = append(rates, float64(len(ids))/time.Since(start).Seconds())
				_ = sys
			}
			b.ReportMetric(rates[len(rates)-1], "configs/s")
		})
	}
}

func startBench(b *testing.B, edit ...func(*local.Config)) (*local.System, string) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	// The benchmarks flood on purpose: lift the quotas.
	cfg := local.Config{Addr: "127.0.0.1:0", DataDir: b.TempDir(), Kinds: kinds(),
		Quotas: longrun.Quotas{MaxActive: 1 << 20, MaxStored: 1 << 20, OwnerWrites: 1 << 20, AddressWrites: 1 << 20, AddressSessions: 1 << 20}}
	// Traced as longrun serve is: the runs the pages show are kept from the
	// spans, and OTEL_TRACES_EXPORTER (none unless set) says where else
	// they go.
	// LONGRUN_BENCH_UNTRACED=1 measures without any tracer provider, for
	// the comparison.
	if os.Getenv("LONGRUN_BENCH_UNTRACED") == "" {
		cfg.Timeline = local.NewTimeline(1000)
		prev := otel.GetTracerProvider()
		traces, err := setup.Tracing(ctx, os.Getenv, "longrun", setup.WithProcessor(cfg.Timeline))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { traces.Shutdown(context.Background()); otel.SetTracerProvider(prev) })
	}
	for _, e := range edit {
		e(&cfg)
	}
	sys, err := local.Start(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sys.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	return sys, sys.URL
}

// BenchmarkFairness: owner A has 200 big jobs queued (4096², 2·10⁹
// iterations each, rendered as tiles); owner B then asks for a 64×64 render. B's job waits
// for at most the render in flight: it must be done within that render's
// time plus 1 s. It reports B's wait and the in-flight render's time.
func BenchmarkFairness(b *testing.B) {
	for b.Loop() {
		sys, url := startBench(b)
		a := testutil.NewClient(b, url)
		var first web.View
		for i := range 200 {
			v := a.Create(map[string]any{"name": fmt.Sprint("flood ", i), "params": testutil.Params(0.0001*float64(i), 0,
				"width", 4096, "height", 4096, "depth", 119)})
			if i == 0 {
				first = v
			}
		}
		a.Await(first.ID, time.Minute, "rendering", func(v web.View) bool { return v.Status == longrun.StatusRendering })
		bee := testutil.NewClient(b, url)
		start := time.Now()
		v := bee.Create(map[string]any{"name": "quiet", "params": testutil.Params(-0.4, 0.6, "width", 64, "height", 64)})
		bee.Await(v.ID, 2*time.Minute, "done", testutil.Done)
		wait := time.Since(start)
		inFlight := a.Await(first.ID, 2*time.Minute, "done", testutil.Done)
		render := time.Duration(inFlight.Stats.RenderMs) * time.Millisecond
		b.ReportMetric(wait.Seconds(), "B-wait-s")
		b.ReportMetric(render.Seconds(), "A-render-s")
		if q, _ := sys.DB.QueueStats(context.Background()); q.Visible < 150 {
			b.Errorf("only %d of A's jobs still queued: the backlog is not a backlog", q.Visible)
		}
		if wait > render+time.Second {
			b.Errorf("B waited %v, more than A's render in flight (%v) plus 1 s", wait.Round(time.Millisecond), render)
		}
		fmt.Printf("fairness: B's 64×64 waited %v behind A's backlog of 200; A's render in flight took %v\n",
			wait.Round(time.Millisecond), render.Round(time.Millisecond))
	}
}

// BenchmarkTiles renders a 4096² image (depth 119: the most work one
// configuration may ask) as one job, then as tiles of 512² spread over the
// worker pool, each from a new configuration: the tiles' overhead is
// their time over the single job's.
func BenchmarkTiles(b *testing.B) {
	for _, mode := range []struct {
		name  string
		above int
	}{{"one-job", 1 << 30}, {"tiles", 4 << 20}} {
		b.Run(mode.name, func(b *testing.B) {
			_, url := startBench(b, func(c *local.Config) { juliaKind(c).TileAbove, c.Jobs = mode.above, 2 })
			c := testutil.NewClient(b, url)
			i := 0
			for b.Loop() {
				i++
				v := c.Create(map[string]any{"params": testutil.Params(-0.7+1e-6*float64(i), 0.27015, "width", 4096, "height", 4096, "depth", 119)})
				c.Await(v.ID, 5*time.Minute, "done", testutil.Done)
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/render")
		})
	}
}

// BenchmarkFloods: a quiet client (another network) asks for a 64×64
// render behind each shape of flood from one address: one owner with 20
// of the deepest 512² views, 40 owners with one each, 200 owners with one
// each, one poster at the work limit (16384², depth 7,450: 2·10¹² iterations).
// Every pixel of each runs to the depth. Each is cut into parts of at most
// worker.DefaultPartWork; the
// quiet job must be done within one part (the flood's mean, from its tile
// ledger) plus 1 s. It reports the wait and the part.
func BenchmarkFloods(b *testing.B) {
	// Views inside the filled Julia set of c ≈ 0: every pixel runs to the
	// depth, the most a view of its size may cost.
	deep := func(i int) map[string]any {
		return testutil.Params(0.0001*float64(i), 0, "zoom", 4, "width", 512, "height", 512, "depth", 100_000)
	}
	poster := testutil.Params(0, 0, "zoom", 4, "width", 16384, "height", 16384, "depth", 7450)
	for _, shape := range []struct {
		name         string
		owners, each int
		params       func(i int) map[string]any
	}{
		{"one-owner", 1, 20, deep},
		{"40-owners", 40, 1, deep},
		{"200-owners", 200, 1, deep},
		{"poster", 1, 1, func(int) map[string]any { return poster }},
	} {
		b.Run(shape.name, func(b *testing.B) {
			for b.Loop() {
				sys, url := startBench(b)
				var flood []web.View
				for o := range shape.owners {
					a := testutil.NewClient(b, url)
					for j := range shape.each {
						flood = append(flood, a.Create(map[string]any{"name": "flood", "params": shape.params(o*shape.each + j)}))
					}
				}
				// The flood is under way: a part of it has been rendered.
				ctx := context.Background()
				deadline := time.Now().Add(2 * time.Minute)
				for partMs(ctx, b, sys, flood) == 0 {
					if time.Now().After(deadline) {
						b.Fatal("no part of the flood rendered in 2 min")
					}
					time.Sleep(20 * time.Millisecond)
				}
				quiet := testutil.NewClientFrom(b, url, "127.0.1.1")
				start := time.Now()
				v := quiet.Create(map[string]any{"name": "quiet", "params": testutil.Params(-0.4, 0.6, "width", 64, "height", 64)})
				quiet.Await(v.ID, 2*time.Minute, "done", testutil.Done)
				wait := time.Since(start)
				part := time.Duration(partMs(ctx, b, sys, flood) * float64(time.Millisecond))
				q, _ := sys.DB.QueueStats(ctx)
				b.ReportMetric(wait.Seconds(), "quiet-wait-s")
				b.ReportMetric(part.Seconds(), "part-s")
				fmt.Printf("floods: %-10s the quiet client's 64×64 waited %v behind %d jobs queued; one part of the flood takes %v\n",
					shape.name, wait.Round(time.Millisecond), q.Visible, part.Round(time.Millisecond))
				if wait > part+time.Second {
					b.Errorf("%s: the quiet client waited %v, more than one part (%v) plus 1 s", shape.name, wait.Round(time.Millisecond), part)
				}
			}
		})
	}
}

// partMs is the mean render time of the parts of flood done so far, in
// milliseconds; 0 before any.
func partMs(ctx context.Context, b *testing.B, sys *local.System, flood []web.View) float64 {
	var ms float64
	var n int
	for _, v := range flood {
		c, err := sys.DB.Configuration(ctx, v.ID)
		if err != nil {
			b.Fatal(err)
		}
		t, err := sys.DB.TileTally(ctx, c.ID, c.Version)
		if err != nil {
			b.Fatal(err)
		}
		ms += float64(t.RenderMs)
		n += len(t.Tiles)
	}
	if n == 0 {
		return 0
	}
	return ms / float64(n)
}
