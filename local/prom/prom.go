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
	labels     map[string][]string // by metric
}

var _ longrun.Metrics = (*Registry)(nil)

// buckets are the histograms' bucket bounds, by metric.
var buckets = map[string][]float64{
	longrun.MetricRenderSeconds:    prometheus.ExponentialBuckets(0.005, 2, 14),
	longrun.MetricTileSeconds:      prometheus.ExponentialBuckets(0.005, 2, 14),
	longrun.MetricRenderIterations: prometheus.ExponentialBuckets(1e5, 4, 12),
	longrun.MetricQueueOldestAge:   prometheus.ExponentialBuckets(0.1, 2, 14),
	longrun.MetricAPISeconds:       prometheus.ExponentialBuckets(0.0001, 2, 16),
}

// New returns a registry with every metric of longrun.MetricList and the
// Go runtime's.
func New() *Registry {
	r := &Registry{reg: prometheus.NewRegistry(), counters: map[string]*prometheus.CounterVec{},
		histograms: map[string]*prometheus.HistogramVec{}, labels: map[string][]string{}}
	r.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, m := range longrun.MetricList {
		name := "longrun_" + m.Name
		r.labels[m.Name] = m.Labels
		switch m.Kind {
		case longrun.Counter:
			v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: m.Help}, m.Labels)
			r.reg.MustRegister(v)
			r.counters[m.Name] = v
			if len(m.Labels) == 0 {
				v.WithLabelValues() // show the zero before the first event
			}
		case longrun.Histogram:
			b, ok := buckets[m.Name]
			if !ok {
				panic("prom: no buckets for the histogram " + m.Name)
			}
			v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: m.Help, Buckets: b}, m.Labels)
			r.reg.MustRegister(v)
			r.histograms[m.Name] = v
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

// Add adds to a counter; unknown names are ignored.
func (r *Registry) Add(name string, n float64, labels ...string) {
	if c, ok := r.counters[name]; ok {
		c.WithLabelValues(values(r.labels[name], labels)...).Add(n)
	}
}

// Observe records a value of a histogram; unknown names are ignored.
func (r *Registry) Observe(name string, v float64, labels ...string) {
	if h, ok := r.histograms[name]; ok {
		h.WithLabelValues(values(r.labels[name], labels)...).Observe(v)
	}
}

// Handler serves the metrics in the Prometheus text format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{})
}
