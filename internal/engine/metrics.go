package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/firebreak-sec/firebreak/internal/store"
)

// metrics are the engine's Prometheus metrics, registered on Config.Registry. A nil
// *metrics (no registry) records nothing, so that the engine calls it unconditionally.
//
// Counters count what committed: decisions and breaker trips once the transaction that
// records them has committed, step attempts once their outcome is recorded. A rolled-back
// request, which its sender delivers again, is then counted once.
type metrics struct {
	decisions        *prometheus.CounterVec
	steps            *prometheus.CounterVec
	stepDuration     *prometheus.HistogramVec
	breakerTripped   *prometheus.CounterVec
	approvalTimeouts *prometheus.CounterVec
	state            *stateCollector
}

// Labels of firebreak_breaker_tripped_total, named as the configuration names the limits.
const (
	limitPerPlaybook = "per_playbook"
	limitOverall     = "overall"
	limitAccounts    = "accounts"
)

// newMetrics registers the engine's metrics on reg; nil reg gives nil metrics.
func newMetrics(e *Engine, reg *prometheus.Registry) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_decisions_total",
			Help: "Decisions made on accepted events, by outcome (planned, needs-approval, skipped, ...).",
		}, []string{"outcome"}),
		steps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_steps_total",
			Help: "Attempts at incident steps, by action and result: the step's status, or retry for a failed attempt that will be tried again.",
		}, []string{"action", "result"}),
		stepDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "firebreak_step_duration_seconds",
			Help: "How long one attempt at a step took, by action, from the start of its action to the commit of its outcome.",
			// From a tag change (a fraction of a second) to a snapshot or memory capture
			// that runs to the step time limit (15 minutes).
			Buckets: prometheus.ExponentialBucketsRange(0.05, 900, 12),
		}, []string{"action"}),
		breakerTripped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_breaker_tripped_total",
			Help: "Incidents held for approval by the blast-radius breaker, by the limit passed (per_playbook, overall, accounts).",
		}, []string{"limit"}),
		approvalTimeouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_approval_timeouts_total",
			Help: "Steps decided by the engine because nobody answered their approval in time, by the decision taken.",
		}, []string{"decision"}),
	}
	// Known label values start at zero, so that rate() and alerts see the first one.
	for _, l := range []string{limitPerPlaybook, limitOverall, limitAccounts} {
		m.breakerTripped.WithLabelValues(l)
	}
	for _, d := range []string{OnApprovalTimeoutDeny, OnApprovalTimeoutApprove} {
		m.approvalTimeouts.WithLabelValues(d)
	}
	m.state = newStateCollector(e)
	var errs []error
	for _, c := range []prometheus.Collector{m.decisions, m.steps, m.stepDuration, m.breakerTripped,
		m.approvalTimeouts, m.state} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("engine: register metrics: %w", errors.Join(errs...))
	}
	return m, nil
}

// accepted counts the decisions on the events an Accept call stored (not its duplicates,
// which are not decided again) and the breaker trips of the incidents it opened, once the
// call has committed.
func (m *metrics) accepted(preps []prepared, b *breakerCount) {
	if m == nil {
		return
	}
	for _, p := range preps {
		if p.duplicate || p.err != nil {
			continue
		}
		for _, d := range p.decisions {
			m.decisions.WithLabelValues(string(d.Outcome)).Inc()
		}
	}
	if b != nil {
		for _, l := range b.trips {
			m.breakerTripped.WithLabelValues(l).Inc()
		}
	}
}

// stepTimer starts timing an attempt at a step; call what it returns with the action and
// the result once the outcome is recorded.
func (m *metrics) stepTimer() func(action, result string) {
	if m == nil {
		return func(string, string) {}
	}
	began := time.Now()
	return func(action, result string) {
		m.steps.WithLabelValues(action, result).Inc()
		m.stepDuration.WithLabelValues(action).Observe(time.Since(began).Seconds())
	}
}

// approvalTimedOut counts a step decided on its approval's timeout.
func (m *metrics) approvalTimedOut(decision string) {
	if m == nil {
		return
	}
	m.approvalTimeouts.WithLabelValues(decision).Inc()
}

// incidentStates are the states firebreak_incidents always reports, at zero when no
// incident is in them, so that a dashboard's series do not come and go.
var incidentStates = []string{store.StateOpen, store.StateAwaitingApproval, store.StateContaining,
	store.StateContained, store.StateFailed, store.StateReleasing, store.StateReleased, store.StateClosed}

// stateCacheFor is how long the incident and queue counts are reused: several scrapers
// (replicas scraped by more than one Prometheus) must not each cost queries.
const stateCacheFor = 5 * time.Second

// stateCollector reports gauges read from the database at scrape time: incidents by state
// (one GROUP BY over the index on state) and the step jobs available or running (River's
// table, over its index on state and queue). What it read is reused for stateCacheFor.
type stateCollector struct {
	e          *Engine
	incidents  *prometheus.Desc
	queueDepth *prometheus.Desc

	mu     sync.Mutex
	read   time.Time
	states map[string]float64
	queue  float64
	ok     bool
}

func newStateCollector(e *Engine) *stateCollector {
	return &stateCollector{e: e,
		incidents: prometheus.NewDesc("firebreak_incidents",
			"Incidents by state, as stored (shared by all replicas).", []string{"state"}, nil),
		queueDepth: prometheus.NewDesc("firebreak_queue_depth",
			"Step jobs available or running in the engine's queue (shared by all replicas).", nil, nil),
	}
}

// Describe sends the collector's descriptions.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.incidents
	ch <- c.queueDepth
}

// Collect sends the counts, reading them again when the cached ones are stale. When the
// database cannot be read the gauges are left out rather than reported as zero: an empty
// queue and a broken database must not look alike.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ok || time.Since(c.read) >= stateCacheFor {
		if err := c.refresh(); err != nil {
			c.ok = false
			c.e.cfg.Logger.Warn("reading incident and queue counts for metrics failed", "err", err)
			return
		}
	}
	for _, s := range incidentStates {
		ch <- prometheus.MustNewConstMetric(c.incidents, prometheus.GaugeValue, c.states[s], s)
	}
	for s, n := range c.states {
		if !slices.Contains(incidentStates, s) {
			ch <- prometheus.MustNewConstMetric(c.incidents, prometheus.GaugeValue, n, s)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.queueDepth, prometheus.GaugeValue, c.queue)
}

func (c *stateCollector) refresh() error {
	// A scrape must not hang on a busy database; Prometheus's own timeout is 10s by default.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	states := map[string]float64{}
	var queue float64
	err := c.e.store.Read(ctx, func(tx *store.Tx) error {
		err := tx.Query(ctx, `SELECT state, COUNT(*) FROM incidents GROUP BY state`, func(r store.Row) error {
			var s string
			var n int64
			if err := r.Scan(&s, &n); err != nil {
				return err
			}
			states[s] = float64(n)
			return nil
		})
		if err != nil {
			return fmt.Errorf("count incidents by state: %w", err)
		}
		var n int64
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM river_job WHERE state IN ('available', 'running') AND queue = ? AND kind = ?`,
			c.e.cfg.Queue, StepArgs{}.Kind()).Scan(&n); err != nil {
			return fmt.Errorf("count queued step jobs: %w", err)
		}
		queue = float64(n)
		return nil
	})
	if err != nil {
		return err
	}
	c.states, c.queue, c.read, c.ok = states, queue, time.Now(), true
	return nil
}
