package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/firebreak-sec/firebreak/internal/decide"

	"github.com/firebreak-sec/firebreak/internal/store"
)

// scrape gathers reg into name{labels} -> value, labels sorted by name as Prometheus
// writes them; a histogram gives its sample count.
func scrape(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			key := mf.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// expireStateCache makes the next scrape read the incident and queue counts again.
func (f *fixture) expireStateCache() {
	c := f.eng.metrics.state
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ok = false
}

// TestMetrics scrapes the registry after a contained incident.
func TestMetrics(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d store.Dialect) {
		reg := prometheus.NewRegistry()
		f := newFixture(t, d, options{configure: func(c *Config) { c.Registry = reg }})
		ctx := context.Background()
		if _, _, err := f.eng.Accept(ctx, readEvents(t, c2Prod), "http"); err != nil {
			t.Fatal(err)
		}
		// A duplicate is not decided again, and so not counted again.
		if _, _, err := f.eng.Accept(ctx, readEvents(t, c2Prod), "http"); err != nil {
			t.Fatal(err)
		}
		inc := f.waitFor(t, f.only(t).ID, store.StateContained)

		// A step's attempt is counted just after the transaction that records it commits,
		// and River marks a job completed a moment after it returns.
		var got map[string]float64
		deadline := time.Now().Add(5 * time.Second)
		for {
			f.expireStateCache()
			got = scrape(t, reg)
			n := 0.0
			for k, v := range got {
				if strings.HasPrefix(k, "firebreak_steps_total{") {
					n += v
				}
			}
			if int(n) == len(inc.Steps) && got["firebreak_queue_depth{}"] == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		want := map[string]float64{
			"firebreak_incidents{state=contained}":                1,
			"firebreak_incidents{state=awaiting-approval}":        0,
			"firebreak_queue_depth{}":                             0,
			"firebreak_breaker_tripped_total{limit=overall}":      0,
			"firebreak_approval_timeouts_total{decision=deny}":    0,
			"firebreak_approval_timeouts_total{decision=approve}": 0,
		}
		for _, st := range inc.Steps {
			want["firebreak_steps_total{action="+st.Action+",result="+st.Status+"}"]++
			want["firebreak_step_duration_seconds{action="+st.Action+"}"]++
		}
		// Every decision on the event, whatever its outcome, once.
		ev := readEvents(t, c2Prod)[0]
		decide.Enrich(ev, f.eng.cfg.Inventory)
		for _, dec := range f.eng.decider.Load().Decide(ctx, ev, f.eng.cfg.Inventory) {
			want["firebreak_decisions_total{outcome="+string(dec.Outcome)+"}"]++
		}
		if want["firebreak_decisions_total{outcome=planned}"] != 1 {
			t.Fatalf("the event is not planned by one playbook: %v", want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %v, want %v", k, got[k], v)
			}
		}
		for k := range got {
			if strings.HasPrefix(k, "firebreak_decisions_total{") && want[k] == 0 {
				t.Errorf("unexpected decision counted: %s = %v", k, got[k])
			}
		}
	})
}

// TestMetricsBreakerAndQueue checks the breaker's count, and that incidents and queued
// steps show up in the gauges.
func TestMetricsBreakerAndQueue(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d store.Dialect) {
		reg := prometheus.NewRegistry()
		// Stopped, so that the step job the first incident enqueues stays queued.
		f := newFixture(t, d, options{stopped: true, breaker: Breaker{Total: 1},
			configure: func(c *Config) { c.Registry = reg }})
		ctx := context.Background()
		if _, _, err := f.eng.Accept(ctx, readEvents(t, c2Prod), "http"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.eng.Accept(ctx, readEvents(t, cryptoDev), "http"); err != nil {
			t.Fatal(err)
		}
		got := scrape(t, reg)
		for k, v := range map[string]float64{
			"firebreak_breaker_tripped_total{limit=overall}":      1,
			"firebreak_breaker_tripped_total{limit=per_playbook}": 0,
			"firebreak_incidents{state=containing}":               1,
			"firebreak_incidents{state=awaiting-approval}":        1,
			"firebreak_queue_depth{}":                             1,
		} {
			if got[k] != v {
				t.Errorf("%s = %v, want %v", k, got[k], v)
			}
		}
	})
}

// TestMetricsRegistry checks that no registry means no metrics, and that a registry already
// holding the engine's metrics is refused rather than silently shared.
func TestMetricsRegistry(t *testing.T) {
	var m *metrics
	m.accepted(nil, nil)
	m.stepTimer()("ec2.isolate", "done")
	m.approvalTimedOut(OnApprovalTimeoutDeny)

	reg := prometheus.NewRegistry()
	f := newFixture(t, store.SQLite, options{stopped: true, configure: func(c *Config) { c.Registry = reg }})
	cfg := f.eng.cfg
	if _, err := New(f.store, cfg); err == nil || !strings.Contains(err.Error(), "register metrics") {
		t.Errorf("second engine on the same registry: %v, want a registration error", err)
	}
}
