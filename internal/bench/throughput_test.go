package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/action/catalog"
	"github.com/firebreak-sec/firebreak/internal/cloud"
	"github.com/firebreak-sec/firebreak/internal/cloud/pace"
	"github.com/firebreak-sec/firebreak/internal/cloud/sim"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/run"
	"github.com/firebreak-sec/firebreak/internal/world"
)

// throughputRegion is where every account's workload lives.
const throughputRegion = "us-east-1"

// workload is a response across many throttled accounts: in each account, Incidents of its
// Instances are snapshotted and isolated, Workers incidents at a time.
type workload struct {
	Accounts  int     `json:"accounts"`
	Instances int     `json:"instances"` // per account
	Incidents int     `json:"incidents"` // per account
	Workers   int     `json:"workers"`   // incidents in progress per account
	Rate      float64 `json:"rate"`      // the simulated accounts' limit, calls per second
	Burst     int     `json:"burst"`     // the simulated accounts' bucket size
	Paced     bool    `json:"paced"`     // pace calls per account at Rate
	// Attempts overrides the step retry policy's attempts (action.DefaultRetry's when 0).
	Attempts int `json:"attempts,omitempty"`
}

// outcome is what a run of a workload measured.
type outcome struct {
	Incidents int `json:"incidents"`
	Failed    int `json:"failed"` // incidents with a failed step
	// FailedSteps counts failed steps by action, and the class of their last failure.
	FailedSteps map[string]int `json:"failed_steps,omitempty"`
	// Calls are every call the organisation logged; Succeeded the ones it answered without
	// error, and Throttled the ones it refused for the rate.
	Calls     int `json:"calls"`
	Succeeded int `json:"succeeded"`
	Throttled int `json:"throttled"`
	// Wall is the time from the first incident's start to the last one's end. Bound is
	// the least time the rate allows for the calls that succeeded: the busiest account's
	// successful calls divided by Rate, since accounts proceed in parallel.
	Wall      time.Duration `json:"wall"`
	Bound     time.Duration `json:"bound"`
	PeakRSSMB float64       `json:"peak_rss_mb"` // 0 where the platform does not say
}

// Ratio is wall time over the throttling lower bound: 1 is as fast as the rate allows.
func (o outcome) Ratio() float64 { return o.Wall.Seconds() / o.Bound.Seconds() }

// accountID is the i-th account of a workload's organisation.
func accountID(i int) string { return fmt.Sprintf("%012d", 100000000000+i) }

// throughputWorld builds the organisation: per account one VPC, one subnet, one security
// group that lets HTTPS in, and the instances, each with a root and a data volume. Ids
// start "0f" so that they never meet those the simulation numbers from zero for what it
// creates.
func throughputWorld(wl workload) *world.World {
	w := &world.World{}
	for a := range wl.Accounts {
		id := accountID(a)
		vpc := fmt.Sprintf("vpc-0f%015x", a+1)
		subnet := fmt.Sprintf("subnet-0f%015x", a+1)
		sg := fmt.Sprintf("sg-0f%015x", a+1)
		r := &world.Region{
			VPCs:    []*world.VPC{{ID: vpc}},
			Subnets: []*world.Subnet{{ID: subnet, VPC: vpc}},
			SecurityGroups: []*world.SecurityGroup{{ID: sg, Name: "web", VPC: vpc,
				Ingress: []*world.Rule{{Protocol: "tcp", Port: 443, CIDR: "0.0.0.0/0"}}}},
		}
		for i := range wl.Instances {
			n := a*wl.Instances + i + 1
			r.Instances = append(r.Instances, &world.Instance{
				ID:             fmt.Sprintf("i-0f%015x", n),
				Subnet:         subnet,
				SecurityGroups: []string{sg},
				Volumes:        []string{fmt.Sprintf("vol-0f%015x", 2*n), fmt.Sprintf("vol-0f%015x", 2*n+1)},
				State:          "running",
				Type:           "m5.large",
				PrivateIP:      fmt.Sprintf("10.%d.%d.%d", a%250, i/250, i%250+1),
				Tags:           map[string]string{"Name": fmt.Sprintf("web-%d", i)},
			})
		}
		w.Accounts = append(w.Accounts, &world.Account{
			ID: id, Name: fmt.Sprintf("member-%d", a),
			Regions: map[string]*world.Region{throughputRegion: r},
		})
	}
	return w
}

// plans returns each account's incidents: the first wl.Incidents instances, each
// snapshotted for evidence and then isolated, as a compromised-instance playbook does.
func plans(wl workload) [][]run.Plan {
	out := make([][]run.Plan, wl.Accounts)
	for a := range wl.Accounts {
		for i := range wl.Incidents {
			n := a*wl.Instances + i + 1
			out[a] = append(out[a], run.Plan{
				Playbook: "ec2-compromise",
				Incident: fmt.Sprintf("inc-%d-%d", a, i),
				Outcome:  run.OutcomePlanned,
				Target:   action.Target{Kind: event.KindInstance, ID: fmt.Sprintf("i-0f%015x", n), Account: accountID(a), Region: throughputRegion},
				Steps: []run.Step{
					{Action: "ec2.snapshot-volumes", Outcome: run.OutcomePlanned},
					{Action: "ec2.isolate", Outcome: run.OutcomePlanned},
				},
			})
		}
	}
	return out
}

// runWorkload executes every incident of wl and measures the run. Each account has its own
// workers: an account's incidents cannot go faster than its rate anyway, and workers of
// their own keep a slow account from holding up the others.
func runWorkload(wl workload) (outcome, []run.Report) {
	org := sim.New(throughputWorld(wl), sim.Options{RateLimit: wl.Rate, Burst: wl.Burst, Seed: 1})
	var provider cloud.Provider = org
	if wl.Paced {
		// Burst 1: calls leave evenly spaced, and the account's own bucket absorbs those
		// that arrive bunched up by scheduling. Retries resend a throttled call in its next
		// slot, as the AWS SDK's retryer does, instead of failing the whole step.
		provider = pace.New(org, pace.Options{Rate: wl.Rate, Burst: 1, Retries: 3})
	}
	// The product's defaults but for Poll: the simulation completes snapshots at once, and
	// waiting AWS's 5 s for them would measure nothing but the wait.
	env := &action.Env{Cloud: provider, Notify: &action.RecordingNotifier{}, Cache: &action.Cache{}, Poll: 10 * time.Millisecond,
		Retry: action.Retry{Attempts: wl.Attempts}}
	cat := catalog.Default()
	ctx := context.Background()

	var (
		mu      sync.Mutex
		reports []run.Report
		wg      sync.WaitGroup
	)
	start := time.Now()
	for _, ps := range plans(wl) {
		queue := make(chan run.Plan, len(ps))
		for _, p := range ps {
			queue <- p
		}
		close(queue)
		for range wl.Workers {
			wg.Go(func() {
				for p := range queue {
					r := run.Execute(ctx, env, cat, p)
					mu.Lock()
					reports = append(reports, r)
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	out := outcome{Wall: time.Since(start), Incidents: len(reports)}
	for _, r := range reports {
		if r.Failed() {
			out.Failed++
		}
		for _, st := range r.Steps {
			if st.Status == run.Failed {
				if out.FailedSteps == nil {
					out.FailedSteps = map[string]int{}
				}
				out.FailedSteps[st.Action+" "+st.Class]++
			}
		}
	}
	perAccount := map[string]int{}
	for _, c := range org.Calls() {
		out.Calls++
		switch {
		case c.Code == "":
			out.Succeeded++
			perAccount[c.Account]++
		case cloud.Classify(&smithy.GenericAPIError{Code: c.Code}) == cloud.Throttled:
			out.Throttled++
		}
	}
	busiest := 0
	for _, n := range perAccount {
		busiest = max(busiest, n)
	}
	out.Bound = time.Duration(float64(busiest) / wl.Rate * float64(time.Second))
	return out, reports
}

// peakRSSMB is the process's peak resident set (VmHWM) in MB, or 0 where /proc does not
// say.
func peakRSSMB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest) // "123456 kB"
			if kb, err := strconv.ParseFloat(f[0], 64); err == nil && len(f) == 2 && f[1] == "kB" {
				return kb / 1024
			}
		}
	}
	return 0
}

// throughputEnv carries a workload to the child process that runs it.
const throughputEnv = "FIREBREAK_THROUGHPUT_WORKLOAD"

// outcomePrefix marks the child's result line among the test framework's output.
const outcomePrefix = "THROUGHPUT-OUTCOME "

// TestThroughputWorkload is the child side of BenchmarkThroughputAcrossAccounts: run in a
// process of its own, so that the peak RSS it reports is the workload's and not what other
// benchmarks in the parent left behind. Without the environment variable it does nothing.
func TestThroughputWorkload(t *testing.T) {
	spec := os.Getenv(throughputEnv)
	if spec == "" {
		t.Skip("runs only as BenchmarkThroughputAcrossAccounts's child process")
	}
	var wl workload
	if err := json.Unmarshal([]byte(spec), &wl); err != nil {
		t.Fatal(err)
	}
	out, _ := runWorkload(wl)
	out.PeakRSSMB = peakRSSMB()
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("%s%s\n", outcomePrefix, b)
}

// runChild runs wl in a fresh copy of the test binary and returns what it measured.
func runChild(b *testing.B, wl workload) outcome {
	return runInChild[outcome](b, "TestThroughputWorkload", throughputEnv, outcomePrefix, wl)
}

// fullWorkload is the benchmark's organisation: 1,000 incidents across 50 accounts, each
// account limited to 10 calls a second with a bucket of 5.
var fullWorkload = workload{Accounts: 50, Instances: 20, Incidents: 20, Workers: 4, Rate: 10, Burst: 5}

// BenchmarkThroughputAcrossAccounts runs fullWorkload unpaced (calls sent as soon as an
// action makes them, throttled steps retried by run with the default backoff) and paced
// per account at the accounts' rate, each in a child process, and reports wall time
// against the throttling lower bound and the child's peak RSS. The goal is a ratio of at
// most 1.5 and a peak RSS under 150 MB with pacing. One iteration takes about 30 s.
func BenchmarkThroughputAcrossAccounts(b *testing.B) {
	if testing.Short() {
		b.Skip("takes about a minute")
	}
	if runtime.GOOS != "linux" {
		b.Log("peak RSS is read from /proc and will be reported as 0 here")
	}
	for _, paced := range []bool{false, true} {
		wl := fullWorkload
		wl.Paced = paced
		name := "pacing=off"
		if paced {
			name = "pacing=on"
		}
		b.Run(name, func(b *testing.B) {
			var out outcome
			for range b.N {
				out = runChild(b, wl)
			}
			// A ratio is only a measure of pacing when the work was done: a run whose steps
			// gave up has fewer successful calls to set its bound, and finishes early.
			if out.Failed == 0 {
				b.ReportMetric(out.Ratio(), "ratio")
			}
			b.ReportMetric(out.Wall.Seconds(), "wall-s")
			b.ReportMetric(out.Bound.Seconds(), "bound-s")
			b.ReportMetric(out.PeakRSSMB, "peak-rss-MB")
			b.ReportMetric(float64(out.Incidents-out.Failed)/out.Wall.Seconds(), "incidents/s")
			b.ReportMetric(float64(out.Failed), "failed")
			b.ReportMetric(float64(out.Throttled), "throttled")
			b.ReportMetric(float64(out.Succeeded)/float64(out.Incidents), "calls/incident")
			b.ReportMetric(0, "ns/op") // one iteration is the whole run; its time is wall-s
			b.Logf("%s: %+v", name, out)
		})
	}
}

// TestThroughputSmoke runs a small paced workload in process: every incident must be
// contained, and the bound must be computable. It checks the benchmark's machinery, not
// its speed.
func TestThroughputSmoke(t *testing.T) {
	wl := workload{Accounts: 5, Instances: 8, Incidents: 4, Workers: 2, Rate: 50, Burst: 5, Paced: true}
	out, reports := runWorkload(wl)
	if out.Incidents != wl.Accounts*wl.Incidents {
		t.Fatalf("%d incidents ran, want %d", out.Incidents, wl.Accounts*wl.Incidents)
	}
	for _, r := range reports {
		for _, s := range r.Steps {
			if s.Status != run.Done {
				t.Errorf("%s %s: %s %s", r.Incident, s.Action, s.Status, s.Reason)
			}
		}
	}
	if out.Bound <= 0 || out.Succeeded == 0 {
		t.Errorf("no bound from %+v", out)
	}
	t.Logf("%+v, ratio %.2f", out, out.Ratio())
}
