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

// The metrics the core reports, with their labels.
const (
	MetricJobsEnqueued     = "jobs_enqueued_total"      // jobs sent to the queue
	MetricJobsRendered     = "jobs_rendered_total"      // renders finished
	MetricJobsDeduplicated = "jobs_deduplicated_total"  // done from an existing result, at create or in the worker
	MetricJobsSuperseded   = "jobs_superseded_total"    // dropped or stopped for a newer version
	MetricJobsFailed       = "jobs_failed_total"        // deliveries that failed
	MetricJobsDeadLettered = "jobs_dead_lettered_total" // last deliveries that failed: the job goes to the dead-letter queue
	MetricRenderSeconds    = "render_duration_seconds"  // histogram
	MetricRenderIterations = "render_iterations"        // histogram
	MetricQueueOldestAge   = "queue_oldest_age_seconds" // observed when the queue is sampled
	MetricNotifications    = "notifications_total"      // labels channel (email, push), outcome (sent, failed)
	MetricAPIRequests      = "api_requests_total"       // labels route, status
	MetricAPISeconds       = "api_request_duration_seconds"
)

// NopMetrics records nothing.
type NopMetrics struct{}

// Add does nothing.
func (NopMetrics) Add(string, float64, ...string) {}

// Observe does nothing.
func (NopMetrics) Observe(string, float64, ...string) {}
