// Package prom exports longrun's metrics in the Prometheus text format, with
// github.com/prometheus/client_golang.
package prom

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/longrun/longrun"
)

// A Registry holds the metrics; it is a longrun.Metrics.
type Registry struct {
	reg        *prometheus.Registry
	counters   map[string]*prometheus.CounterVec
	histograms map[string]*prometheus.HistogramVec
}

var _ longrun.Metrics = (*Registry)(nil)

type def struct {
	name, help string
	labels     []string
	buckets    []float64 // nil: a counter
}

var defs = []def{
	{longrun.MetricJobsEnqueued, "Render jobs sent to the queue.", nil, nil},
	{longrun.MetricJobsRendered, "Renders finished.", nil, nil},
	{longrun.MetricJobsDeduplicated, "Configurations done from an existing result, without rendering.", nil, nil},
	{longrun.MetricJobsSuperseded, "Jobs dropped or stopped because a newer version exists.", nil, nil},
	{longrun.MetricJobsFailed, "Job deliveries that failed.", nil, nil},
	{longrun.MetricJobsDeadLettered, "Jobs that failed their last delivery and were dead-lettered.", nil, nil},
	{longrun.MetricNotifications, "Notifications by channel and outcome.", []string{"channel", "outcome"}, nil},
	{longrun.MetricAPIRequests, "API requests by route and status.", []string{"route", "status"}, nil},
	{longrun.MetricRenderSeconds, "Render wall time.", nil, prometheus.ExponentialBuckets(0.005, 2, 14)},
	{longrun.MetricRenderIterations, "Iterations per render.", nil, prometheus.ExponentialBuckets(1e5, 4, 12)},
	{longrun.MetricQueueOldestAge, "Age of the oldest queued job when sampled.", nil, prometheus.ExponentialBuckets(0.1, 2, 14)},
	{longrun.MetricAPISeconds, "API request latency.", []string{"route"}, prometheus.ExponentialBuckets(0.0001, 2, 16)},
}

// New returns a registry with every longrun metric and the Go runtime's.
func New() *Registry {
	r := &Registry{reg: prometheus.NewRegistry(), counters: map[string]*prometheus.CounterVec{}, histograms: map[string]*prometheus.HistogramVec{}}
	r.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, d := range defs {
		name := "longrun_" + d.name
		if d.buckets == nil {
			v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: d.help}, d.labels)
			r.reg.MustRegister(v)
			r.counters[d.name] = v
			if len(d.labels) == 0 {
				v.WithLabelValues() // show the zero before the first event
			}
		} else {
			v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: d.help, Buckets: d.buckets}, d.labels)
			r.reg.MustRegister(v)
			r.histograms[d.name] = v
		}
	}
	return r
}

// Register adds another collector, such as a gauge of the queue.
func (r *Registry) Register(c prometheus.Collector) { r.reg.MustRegister(c) }

func values(names []string, labels []string) []string {
	out := make([]string, len(names))
	for i := 0; i+1 < len(labels); i += 2 {
		for j, n := range names {
			if n == labels[i] {
				out[j] = labels[i+1]
			}
		}
	}
	return out
}

func labelNames(name string) []string {
	for _, d := range defs {
		if d.name == name {
			return d.labels
		}
	}
	return nil
}

// Add adds to a counter; unknown names are ignored.
func (r *Registry) Add(name string, n float64, labels ...string) {
	if c, ok := r.counters[name]; ok {
		c.WithLabelValues(values(labelNames(name), labels)...).Add(n)
	}
}

// Observe records a value of a histogram; unknown names are ignored.
func (r *Registry) Observe(name string, v float64, labels ...string) {
	if h, ok := r.histograms[name]; ok {
		h.WithLabelValues(values(labelNames(name), labels)...).Observe(v)
	}
}

// Handler serves the metrics in the Prometheus text format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{})
}
