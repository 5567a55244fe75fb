package longrun

// Metrics records what the system does. The core reports through it; the
// local runner exports Prometheus metrics, the Lambdas CloudWatch Embedded
// Metric Format lines. Labels are name, value pairs.
type Metrics interface {
	// Add adds n to a counter.
	Add(name string, n float64, labels ...string)
	// Observe records one value of a distribution (a histogram).
	Observe(name string, v float64, labels ...string)
}

// The metrics the core reports; MetricList describes each.
const (
	MetricJobsEnqueued     = "jobs_enqueued_total"
	MetricJobsRendered     = "jobs_rendered_total"
	MetricJobsDeduplicated = "jobs_deduplicated_total"
	MetricJobsRecoloured   = "jobs_recoloured_total"
	MetricTilesRendered    = "tiles_rendered_total"
	MetricTileSeconds      = "tile_duration_seconds"
	MetricJobsSuperseded   = "jobs_superseded_total"
	MetricJobsFailed       = "jobs_failed_total"
	MetricJobsDeadLettered = "jobs_dead_lettered_total"
	MetricRenderSeconds    = "render_duration_seconds"
	MetricRenderIterations = "render_iterations"
	MetricQueueOldestAge   = "queue_oldest_age_seconds"
	MetricNotifications    = "notifications_total"
	MetricAPIRequests      = "api_requests_total"
	MetricAPISeconds       = "api_request_duration_seconds"
)

// A MetricKind says how a metric is recorded.
type MetricKind int

const (
	Counter   MetricKind = iota // Metrics.Add
	Histogram                   // Metrics.Observe
)

// A Metric describes one of the core's metrics.
type Metric struct {
	Name   string
	Kind   MetricKind
	Help   string
	Labels []string
	// Seconds is true when values are durations in seconds; else counts.
	Seconds bool
}

// MetricList is every metric the core reports: each metrics adapter
// iterates it, and their tests fail if one is missing.
var MetricList = []Metric{
	{Name: MetricJobsEnqueued, Kind: Counter, Help: "Render jobs sent to the queue."},
	{Name: MetricJobsRendered, Kind: Counter, Help: "Computations finished, by kind (julia, classifier).", Labels: []string{"kind"}},
	{Name: MetricTilesRendered, Kind: Counter, Help: "Tiles of tiled renders rendered (a tile kept from before is not)."},
	{Name: MetricTileSeconds, Kind: Histogram, Help: "Time to render one tile.", Seconds: true},
	{Name: MetricJobsRecoloured, Kind: Counter, Help: "Images coloured from counts rendered before in another colormap, without rendering."},
	{Name: MetricJobsDeduplicated, Kind: Counter, Help: "Configurations done from an existing result, at create or in the worker, without rendering."},
	{Name: MetricJobsSuperseded, Kind: Counter, Help: "Jobs dropped or stopped because a newer version exists, or the configuration was deleted or cancelled."},
	{Name: MetricJobsFailed, Kind: Counter, Help: "Job deliveries that failed."},
	{Name: MetricJobsDeadLettered, Kind: Counter, Help: "Jobs that failed their last delivery and were dead-lettered."},
	{Name: MetricRenderSeconds, Kind: Histogram, Help: "Computation wall time, by kind.", Labels: []string{"kind"}, Seconds: true},
	{Name: MetricRenderIterations, Kind: Histogram, Help: "Iterations per render."},
	{Name: MetricQueueOldestAge, Kind: Histogram, Help: "Age of the oldest queued job when sampled.", Seconds: true},
	{Name: MetricNotifications, Kind: Counter, Help: "Notifications by channel (email, push) and outcome (sent, failed).", Labels: []string{"channel", "outcome"}},
	{Name: MetricAPIRequests, Kind: Counter, Help: "API requests by route and status.", Labels: []string{"route", "status"}},
	{Name: MetricAPISeconds, Kind: Histogram, Help: "API request latency.", Labels: []string{"route"}, Seconds: true},
}

// NopMetrics records nothing.
type NopMetrics struct{}

// Add does nothing.
func (NopMetrics) Add(string, float64, ...string) {}

// Observe does nothing.
func (NopMetrics) Observe(string, float64, ...string) {}
