package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/action/catalog"
	"github.com/firebreak-sec/firebreak/internal/cloud/sim"
	"github.com/firebreak-sec/firebreak/internal/decide"
	durable "github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/playbook"
	"github.com/firebreak-sec/firebreak/internal/store"
	"github.com/firebreak-sec/firebreak/internal/store/storetest"
)

// containPlaybook snapshots and isolates an instance GuardDuty says talks to a
// command-and-control server: two steps, each a few calls to the simulated organisation.
const containPlaybook = `apiVersion: firebreak/v1
kind: Playbook
metadata:
  name: ec2-contain
  description: Preserve an instance's disks and isolate it when GuardDuty reports a backdoor.
spec:
  on:
    source: [aws.guardduty]
    detail-type: [GuardDuty Finding]
    detail:
      type: [{prefix: "Backdoor:EC2/"}]
  target: instance
  mode: enforce
  steps:
    - action: ec2.snapshot-volumes
    - action: ec2.isolate
`

// endToEnd is a run of the end-to-end benchmark: Accounts × Instances simulated instances,
// one backdoor finding for each of the first Incidents of them.
type endToEnd struct {
	Dialect   store.Dialect `json:"dialect"`
	Accounts  int           `json:"accounts"`
	Instances int           `json:"instances"` // per account
	Incidents int           `json:"incidents"` // in all, spread over the accounts
	// Poll is the engine's PollInterval: how often idle workers look for step jobs, the
	// only way SQLite's workers learn of them.
	Poll time.Duration `json:"poll"`
}

// endToEndOutcome is what an end-to-end run measured.
type endToEndOutcome struct {
	Intake    time.Duration `json:"intake"`    // posting every event
	Wall      time.Duration `json:"wall"`      // from the first post until every incident is contained
	Contained int           `json:"contained"` // incidents contained when the run ended
	Failed    int           `json:"failed"`    // incidents a step failed in
	Opened    int           `json:"opened"`
	PeakRSSMB float64       `json:"peak_rss_mb"`
}

// fullEndToEnd is the benchmark's run: 1,000 incidents across 10 accounts of 100
// instances each.
var fullEndToEnd = endToEnd{Accounts: 10, Instances: 100, Incidents: 1000, Poll: 100 * time.Millisecond}

// findingBodies returns one GuardDuty backdoor finding for each of the first n instances of
// the organisation throughputWorld builds, taken round robin over its accounts: each a
// request body with its own event id and finding id.
func findingBodies(tb testing.TB, e endToEnd) [][]byte {
	tb.Helper()
	tmpl, err := os.ReadFile(filepath.Join(examplesDir, "guardduty-backdoor-c2-prod.json"))
	if err != nil {
		tb.Fatal(err)
	}
	if e.Incidents > e.Accounts*e.Instances {
		tb.Fatalf("%d incidents for %d instances", e.Incidents, e.Accounts*e.Instances)
	}
	bodies := make([][]byte, e.Incidents)
	for k := range e.Incidents {
		a, i := k%e.Accounts, k/e.Accounts
		var m map[string]any
		if err := json.Unmarshal(tmpl, &m); err != nil {
			tb.Fatal(err)
		}
		account, instance := accountID(a), fmt.Sprintf("i-0f%015x", a*e.Instances+i+1)
		finding := fmt.Sprintf("%032x", k+1)
		m["id"] = fmt.Sprintf("00000000-0000-4000-8000-%012x", k+1)
		m["account"], m["region"] = account, throughputRegion
		d := m["detail"].(map[string]any)
		d["accountId"], d["region"], d["id"] = account, throughputRegion, finding
		d["arn"] = fmt.Sprintf("arn:aws:guardduty:%s:%s:detector/12abc34d567e8fa901bc2d34e56789f0/finding/%s", throughputRegion, account, finding)
		dig(m, "detail", "resource", "instanceDetails").(map[string]any)["instanceId"] = instance
		if bodies[k], err = json.Marshal(m); err != nil {
			tb.Fatal(err)
		}
	}
	return bodies
}

// runEndToEnd starts an engine with workers over s, posts e's findings over HTTP from 16
// clients, and waits until every incident they open is contained.
func runEndToEnd(tb testing.TB, s *store.Store, e endToEnd) endToEndOutcome {
	tb.Helper()
	ctx := context.Background()
	bodies := findingBodies(tb, e)
	cat := catalog.Default()
	set, err := playbook.Load("ec2-contain.yaml", []byte(containPlaybook), cat)
	if err != nil {
		tb.Fatal(err)
	}
	org := sim.New(throughputWorld(workload{Accounts: e.Accounts, Instances: e.Instances}), sim.Options{Seed: 1})
	// Poll is the snapshot waiter's: the simulation completes snapshots at once, and
	// waiting AWS's 5 s for them would measure nothing but the wait.
	env := &action.Env{Cloud: org, Notify: &action.RecordingNotifier{}, Cache: &action.Cache{}, Settle: -1, Poll: 10 * time.Millisecond}
	eng, err := durable.New(s, durable.Config{Decider: decide.New(set, decide.Options{}), Catalogue: cat, Env: env, PollInterval: e.Poll})
	if err != nil {
		tb.Fatal(err)
	}
	if err := eng.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	// Registered after the store's close, so that it runs before it.
	tb.Cleanup(func() {
		stop, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := eng.Stop(stop); err != nil {
			tb.Errorf("stop: %v", err)
		}
	})
	url := intakeServer(tb, eng)

	start := time.Now()
	posted, err := post(url, bodies, intakeClients, 1)
	if err != nil {
		tb.Fatal(err)
	}
	out := endToEndOutcome{Intake: posted.Wall}
	deadline := start.Add(10 * time.Minute)
	for {
		if out.Contained, err = countIncidents(ctx, s, store.StateContained); err != nil {
			tb.Fatal(err)
		}
		if out.Failed, err = countIncidents(ctx, s, store.StateFailed); err != nil {
			tb.Fatal(err)
		}
		if out.Contained+out.Failed >= e.Incidents || time.Now().After(deadline) {
			break
		}
		// Polled at a tenth of a second: finer would take the store's one SQLite
		// connection from the workers more often, for a few milliseconds of precision.
		time.Sleep(100 * time.Millisecond)
	}
	out.Wall = time.Since(start)
	if out.Opened, err = countIncidents(ctx, s, ""); err != nil {
		tb.Fatal(err)
	}
	// A failed incident is reported, not fatal: the run measured the pipeline all the same,
	// and the count says what went wrong in the organisation.
	if out.Contained+out.Failed != e.Incidents || out.Opened != e.Incidents {
		tb.Fatalf("%d of %d incidents opened, %d contained and %d failed after %v", out.Opened, e.Incidents, out.Contained, out.Failed, out.Wall)
	}
	return out
}

// endToEndEnv carries a run to the child process that does it.
const endToEndEnv = "FIREBREAK_ENDTOEND_RUN"

// endToEndPrefix marks the child's result line among the test framework's output.
const endToEndPrefix = "ENDTOEND-OUTCOME "

// TestEndToEndRun is the child side of BenchmarkEndToEnd: run in a process of its own, so
// that the peak RSS it reports is the run's and not what other benchmarks in the parent
// left behind. Without the environment variable it does nothing.
func TestEndToEndRun(t *testing.T) {
	spec := os.Getenv(endToEndEnv)
	if spec == "" {
		t.Skip("runs only as BenchmarkEndToEnd's child process")
	}
	var e endToEnd
	if err := json.Unmarshal([]byte(spec), &e); err != nil {
		t.Fatal(err)
	}
	out := runEndToEnd(t, storetest.Open(t, e.Dialect), e)
	out.PeakRSSMB = peakRSSMB()
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("%s%s\n", endToEndPrefix, b)
}

// runEndToEndChild runs e in a fresh copy of the test binary and returns what it measured.
func runEndToEndChild(b *testing.B, e endToEnd) endToEndOutcome {
	return runInChild[endToEndOutcome](b, "TestEndToEndRun", endToEndEnv, endToEndPrefix, e)
}

// BenchmarkEndToEnd takes 1,000 backdoor findings on 1,000 instances of a simulated
// organisation (10 accounts × 100 instances) through the HTTP intake and the engine's
// workers (8, the default) to 1,000 contained incidents, each snapshotted and isolated, on
// each database in a child process. It reports the wall time from the first post to the
// last containment, the intake's share of it, and the child's peak RSS (goal: under
// 150 MB). One iteration is the whole run.
func BenchmarkEndToEnd(b *testing.B) {
	if testing.Short() {
		b.Skip("contains 1,000 incidents per database")
	}
	if runtime.GOOS != "linux" {
		b.Log("peak RSS is read from /proc and will be reported as 0 here")
	}
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		b.Run(string(d), func(b *testing.B) {
			e := fullEndToEnd
			e.Dialect = d
			var out endToEndOutcome
			for range b.N {
				out = runEndToEndChild(b, e)
			}
			b.ReportMetric(out.Wall.Seconds(), "wall-s")
			b.ReportMetric(out.Intake.Seconds(), "intake-s")
			b.ReportMetric(float64(out.Contained)/out.Wall.Seconds(), "incidents/s")
			b.ReportMetric(out.PeakRSSMB, "peak-rss-MB")
			b.ReportMetric(float64(out.Failed), "failed")
			b.ReportMetric(0, "ns/op") // one iteration is the whole run; its time is wall-s
			b.Logf("%s: %+v", d, out)
		})
	}
}

// TestEndToEndSmoke contains 20 incidents on each database, in process: every finding
// opens one incident and every incident is contained. It checks the benchmark's
// machinery, not its speed. Each incident has an account (and so a VPC) of its own:
// isolations that are the first in a VPC and run at once can race to create its
// isolation group, which the full benchmark counts as failed incidents.
func TestEndToEndSmoke(t *testing.T) {
	e := endToEnd{Accounts: 20, Instances: 1, Incidents: 20, Poll: 20 * time.Millisecond}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		out := runEndToEnd(t, s, e)
		if out.Contained != e.Incidents {
			t.Errorf("%d of %d incidents contained", out.Contained, e.Incidents)
		}
		t.Logf("%+v", out)
	})
}
