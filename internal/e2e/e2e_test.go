package e2e

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/action/catalog"
	"github.com/firebreak-sec/firebreak/internal/cloud"
	awscloud "github.com/firebreak-sec/firebreak/internal/cloud/aws"
	"github.com/firebreak-sec/firebreak/internal/cloud/moto"
	"github.com/firebreak-sec/firebreak/internal/cloud/sim"
	"github.com/firebreak-sec/firebreak/internal/run"
	"github.com/firebreak-sec/firebreak/internal/world"
)

// backend is one implementation of the AWS API the scenarios run against.
type backend struct {
	name  string
	cloud cloud.Provider
	read  func(ctx context.Context) (*world.World, error)
}

// TestSimAgreesWithMoto runs every scenario against the simulator and against moto, from
// the same seeded organisation and with the same plans, and fails on any difference
// between the two final states. One moto serves the whole suite; it is reset and seeded
// again before each scenario.
func TestSimAgreesWithMoto(t *testing.T) {
	url, _ := moto.Start(t)
	started := time.Now()
	for i, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			if len(sc.unsupported) > 0 {
				moto.Skip(t, sc.unsupported...)
				t.Fatalf("moto no longer deviates in %v: run this scenario", sc.unsupported)
			}
			runScenario(t, url, sc, i == 0)
		})
	}
	t.Logf("%d scenarios in %v", len(scenarios()), time.Since(started).Round(time.Millisecond))
}

func runScenario(t *testing.T, url string, sc scenario, checkSeed bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := moto.Reset(url); err != nil {
		t.Fatal(err)
	}
	org, err := moto.Seed(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	w, err := seedWorld(ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	seeded := normalise(w)
	simOrg := sim.New(w, sim.Options{Hub: moto.HubAccount})
	hub, err := moto.Config(ctx, url, moto.HubAccount)
	if err != nil {
		t.Fatal(err)
	}
	prov, err := awscloud.NewFromConfig(hub, awscloud.Options{Endpoint: url})
	if err != nil {
		t.Fatal(err)
	}
	fixes := &corrections{}
	backends := []*backend{
		{name: "sim", cloud: simOrg, read: func(context.Context) (*world.World, error) { return dumpSim(simOrg) }},
		{name: "moto", cloud: motoCloud{Provider: prov, corrections: fixes}, read: func(ctx context.Context) (*world.World, error) {
			return readMoto(ctx, org)
		}},
	}

	if checkSeed {
		// The description of the seed and the reader check each other before anything
		// runs; once is enough, as every scenario starts from the same seed.
		states := compareStates(ctx, t, t.Errorf, "seeded", backends)
		if d := diff("world built from the seed", seeded, "moto as seeded", states[1]); d != "" {
			t.Fatalf("the world built from the seed does not describe moto's organisation:\n%s", d)
		}
	}

	// A known gap of the simulator is expected to show as a disagreement: it is logged, and
	// the test fails once the two agree, so that the note is removed with the gap.
	errorf := t.Errorf
	if sc.simGap != "" {
		disagreed := false
		errorf = func(format string, args ...any) {
			disagreed = true
			t.Logf("known simulator gap: "+format, args...)
		}
		defer func() {
			if !disagreed && !t.Failed() {
				t.Errorf("the simulator and moto now agree; remove the known gap from the scenario: %s", sc.simGap)
			}
		}()
		t.Logf("known simulator gap, expected to disagree: %s", sc.simGap)
	}
	if sc.setup != nil {
		for _, b := range backends {
			if err := sc.setup(ctx, b.cloud, org); err != nil {
				t.Fatalf("%s: setup: %v", b.name, err)
			}
		}
	}
	plans := sc.plans(org)
	cat := catalog.Default()
	reports := make([][]run.Report, len(backends))
	envs := make([]*action.Env, len(backends))
	for i, b := range backends {
		envs[i] = &action.Env{Cloud: b.cloud, Notify: &action.RecordingNotifier{}, Cache: &action.Cache{},
			Poll: 10 * time.Millisecond, Retry: action.Retry{Attempts: 2, Base: 10 * time.Millisecond}}
		for _, p := range plans {
			reports[i] = append(reports[i], run.Execute(ctx, envs[i], cat, p))
		}
	}
	checkReports(t, errorf, "execute", backends, reports, run.Done)
	defer func() {
		for what, n := range fixes.used() {
			t.Logf("%s%s (%d call(s))", correctionsPrefixNote, what, n)
		}
	}()
	executed := compareStates(ctx, t, errorf, "after execution", backends)
	for i, b := range backends {
		if sc.setup == nil && diff("seeded", seeded, "executed", executed[i]) == "" {
			// Agreeing that nothing happened would prove nothing.
			errorf("the scenario changed nothing on %s", b.name)
		}
	}
	if !sc.release {
		return
	}

	released := make([][]run.Report, len(backends))
	for i := range backends {
		for k := len(reports[i]) - 1; k >= 0; k-- {
			released[i] = append(released[i], run.Release(ctx, envs[i], cat, reports[i][k]))
		}
	}
	checkReports(t, errorf, "release", backends, released, run.Released)
	after := compareStates(ctx, t, errorf, "after release", backends)
	want := leftovers(seeded, sc.leftovers)
	for i, b := range backends {
		if d := diff("seeded", want, b.name+" after release", leftovers(after[i], sc.leftovers)); d != "" {
			errorf("%s did not return to the seeded state after release:\n%s", b.name, d)
		}
	}
}

// dumpSim reads the simulator's state the way `run --state-out` writes it.
func dumpSim(o *sim.Org) (*world.World, error) {
	var b bytes.Buffer
	if err := o.Dump(&b); err != nil {
		return nil, err
	}
	return world.Parse("sim.json", b.Bytes())
}

// compareStates reads every backend's state, fails the test on any difference, and
// returns the normalised states in backend order.
func compareStates(ctx context.Context, t *testing.T, errorf func(string, ...any), when string, backends []*backend) []*world.World {
	t.Helper()
	states := make([]*world.World, len(backends))
	for i, b := range backends {
		w, err := b.read(ctx)
		if err != nil {
			t.Fatalf("%s: read the state %s: %v", b.name, when, err)
		}
		states[i] = normalise(w)
	}
	for i := 1; i < len(states); i++ {
		if d := diff(backends[0].name, states[0], backends[i].name, states[i]); d != "" {
			errorf("%s and %s disagree %s:\n%s", backends[0].name, backends[i].name, when, d)
		}
	}
	return states
}

// checkReports fails on a failed step and on steps whose statuses differ between the
// backends; a step that applies must end in want on every backend.
func checkReports(t *testing.T, errorf func(string, ...any), what string, backends []*backend, reports [][]run.Report, want run.Status) {
	t.Helper()
	for i, b := range backends {
		for k, r := range reports[i] {
			for s, st := range r.Steps {
				if st.Status == run.Failed || st.Status == run.NotRun {
					errorf("%s: %s of %s on %s: %s (%s)", b.name, what, st.Action, r.Target, st.Status, st.Reason)
				}
				ref := reports[0][k].Steps[s]
				if i > 0 && (st.Status != ref.Status || len(st.Evidence) != len(ref.Evidence)) {
					errorf("%s of %s on %s: %s reports %s with %d evidence, %s reports %s with %d",
						what, st.Action, r.Target, backends[0].name, ref.Status, len(ref.Evidence), b.name, st.Status, len(st.Evidence))
				}
				if st.Status != want && st.Status != run.Skipped {
					t.Logf("%s: %s of %s: %s %s", b.name, what, st.Action, st.Status, st.Reason)
				}
			}
		}
	}
}

// leftover is something a release documents it keeps.
type leftover int

const (
	// isolationGroups: the isolation and untracking groups are shared by every isolated
	// instance in the VPC and are kept.
	isolationGroups leftover = iota + 1
	// evidenceSnapshots: snapshots are evidence and are kept.
	evidenceSnapshots
	// newPassword: IAM never reveals a password, so a deleted console password comes back
	// as a new one that must be changed at the next sign-in.
	newPassword
	// startedTrail: restarting logging is the remedy and is not undone.
	startedTrail
)

// leftovers returns a copy of a normalised state with the documented leftovers of a
// release taken out, so that what remains must equal the seeded state.
func leftovers(w *world.World, kinds []leftover) *world.World {
	c := normalise(w)
	for _, a := range c.Accounts {
		for _, r := range a.Regions {
			for _, k := range kinds {
				switch k {
				case isolationGroups:
					var keep []*world.SecurityGroup
					for _, g := range r.SecurityGroups {
						if !strings.HasPrefix(g.Name, "firebreak-isolation") {
							keep = append(keep, g)
						}
					}
					r.SecurityGroups = keep
				case evidenceSnapshots:
					r.Snapshots = []*world.Snapshot{}
				case startedTrail:
					for _, tr := range r.Trails {
						tr.Logging = true
					}
				}
			}
		}
		for _, k := range kinds {
			if k == newPassword {
				for _, u := range a.IAM.Users {
					u.PasswordResetRequired = false
				}
			}
		}
	}
	return c
}

// stopTrail stops a trail's logging through the backend's own CloudTrail client, by name
// (moto fails StopLogging given the trail's ARN; see moto.Deviations).
func stopTrail(ctx context.Context, c cloud.Provider, org *moto.Org) error {
	a := org.Accounts[0]
	ct, err := c.CloudTrail(ctx, a.ID, moto.Region)
	if err != nil {
		return err
	}
	_, err = ct.StopLogging(ctx, &cloudtrail.StopLoggingInput{Name: aws.String(a.Trail)})
	return err
}
