package server

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names, for dashboards and alerts.
const (
	MetricEventsAccepted  = "firebreak_events_accepted_total"
	MetricEventsDuplicate = "firebreak_events_duplicate_total"
	MetricEventsRejected  = "firebreak_events_rejected_total"
	MetricRequestDuration = "firebreak_http_request_duration_seconds"
)

type metrics struct {
	accepted, duplicate, rejected prometheus.Counter
	duration                      *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	// The intake label leaves room for other intakes (SQS) to count under the same names.
	intake := prometheus.Labels{"intake": Via}
	m := &metrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: MetricEventsAccepted, ConstLabels: intake,
			Help: "Events stored for the first time.",
		}),
		duplicate: prometheus.NewCounter(prometheus.CounterOpts{
			Name: MetricEventsDuplicate, ConstLabels: intake,
			Help: "Events received again after being stored, and not stored twice.",
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: MetricEventsRejected, ConstLabels: intake,
			Help: "Values in a request body that were not an event Firebreak can read.",
		}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricRequestDuration,
			Help:    "Time to answer an HTTP request, by route and status code.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "code"}),
	}
	for _, c := range []prometheus.Collector{m.accepted, m.duplicate, m.rejected, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("server: registering metrics: %w; give each server a registry of its own", err)
		}
	}
	return m, nil
}
