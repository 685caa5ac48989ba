package reliability

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/action/catalog"
	"github.com/firebreak-sec/firebreak/internal/cloud/sim"
	"github.com/firebreak-sec/firebreak/internal/decide"
	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/playbook"
	"github.com/firebreak-sec/firebreak/internal/run"
	"github.com/firebreak-sec/firebreak/internal/store"
	"github.com/firebreak-sec/firebreak/internal/store/storetest"
	"github.com/firebreak-sec/firebreak/internal/world"
)

// simAccounts are the simulated organisation's accounts; the last one denies everything.
var simAccounts = []string{"210000000001", "210000000002", "210000000003", "210000000004"}

// simWorld writes an organisation of len(simAccounts) accounts with perAccount running
// instances each, two volumes apiece, all in one VPC per account, and the findings about
// them.
func simWorld(t *testing.T, perAccount int) (*world.World, []finding) {
	t.Helper()
	var b strings.Builder
	var fs []finding
	b.WriteString("accounts:\n")
	for a, acct := range simAccounts {
		vpc, subnet, sg := fmt.Sprintf("vpc-%017d", a+1), fmt.Sprintf("subnet-%014d", a+1), fmt.Sprintf("sg-%017d", a+1)
		fmt.Fprintf(&b, "  - id: %q\n    name: acct%d\n    tags: {Environment: prod}\n    regions:\n      us-east-1:\n", acct, a)
		fmt.Fprintf(&b, "        vpcs: [{id: %s}]\n        subnets: [{id: %s, vpc: %s}]\n", vpc, subnet, vpc)
		fmt.Fprintf(&b, "        security_groups:\n          - {id: %s, name: web, vpc: %s, ingress: [{protocol: tcp, port: 443, cidr: 0.0.0.0/0}]}\n", sg, vpc)
		b.WriteString("        instances:\n")
		for i := range perAccount {
			id := fmt.Sprintf("i-%02d%015d", a, i)
			fmt.Fprintf(&b, "          - {id: %s, subnet: %s, security_groups: [%s], volumes: [vol-%02d%015d, vol-%02d%015d], state: running, tags: {Environment: prod, Owner: team-reliability}}\n",
				id, subnet, sg, a, 2*i, a, 2*i+1)
			fs = append(fs, finding{
				EventID: fmt.Sprintf("ev-%s-%d", acct, i), FindingID: fmt.Sprintf("f%s%06d", acct, i),
				Account: acct, Instance: id, VPC: vpc, Subnet: subnet,
			})
		}
		b.WriteString("        snapshots: []\n        trails: []\n        waf_ip_sets: []\n        buckets: []\n")
		b.WriteString("    iam: {users: [], roles: [{name: FirebreakResponder}]}\n")
	}
	w, err := world.Parse("reliability.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return w, fs
}

// deniedReason matches a failure that names the IAM permission the denied account lacks.
var deniedReason = regexp.MustCompile(`denied [a-z0-9-]+:[A-Z][A-Za-z]+`)

// TestFaults contains incidents in an organisation where 30% of all AWS calls are throttled,
// 5% fail with a server error and one account denies everything: retries must carry every
// incident in the other accounts to contained, with no snapshot or isolation group made
// twice, and every incident in the denied account must fail saying which permission it
// lacked.
func TestFaults(t *testing.T) {
	perAccount := size(15, 100)
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		denied := simAccounts[len(simAccounts)-1]
		w, fs := simWorld(t, perAccount)
		org := sim.New(w, sim.Options{Seed: seed(t), Faults: []sim.Fault{
			{ThrottleRate: 0.30, ServerErrorRate: 0.05},
			{Account: denied, AccessDenied: true},
		}})
		cat := catalog.Default()
		set, err := playbook.LoadDir(playbookDir(t), cat)
		if err != nil {
			t.Fatal(err)
		}
		// Many attempts with short backoffs: at a 35% fault rate per call, a step of several
		// calls often fails, and each failure is River's to retry.
		env := &action.Env{Cloud: org, Notify: &action.RecordingNotifier{}, Cache: &action.Cache{}, Settle: -1,
			Poll: 5 * time.Millisecond, Retry: action.Retry{Attempts: 200, Base: 5 * time.Millisecond, Max: 50 * time.Millisecond}}
		eng, err := engine.New(s, engine.Config{Decider: decide.New(set, decide.Options{}), Catalogue: cat, Env: env,
			PollInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			stop, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := eng.Stop(stop); err != nil {
				t.Errorf("stop: %v", err)
			}
		})
		if err := eng.Start(ctx); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for _, f := range fs {
			evs, err := event.FromJSON(eventJSON(f))
			if err != nil {
				t.Fatal(err)
			}
			if acc, _, err := eng.Accept(ctx, evs, "http"); err != nil || acc != 1 {
				t.Fatalf("accept %s: %d accepted, %v", f.EventID, acc, err)
			}
		}
		incs := waitSettled(t, eng, len(fs), 10*time.Minute)
		elapsed := time.Since(start)

		byTarget := map[string]*store.Incident{}
		for _, inc := range incs {
			if prev := byTarget[inc.Target.ID]; prev != nil {
				t.Errorf("two incidents for %s: %s and %s", inc.Target.ID, prev.ID, inc.ID)
			}
			byTarget[inc.Target.ID] = inc
		}
		var contained, failed, attempts, steps int
		var deniedExample string
		for _, f := range fs {
			inc := byTarget[f.Instance]
			if inc == nil {
				t.Errorf("no incident for %s in %s", f.Instance, f.Account)
				continue
			}
			full, err := eng.Get(ctx, inc.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range full.Steps {
				attempts += st.Attempts
				steps++
			}
			if f.Account == denied {
				if full.State != store.StateFailed {
					t.Errorf("incident %s in the denied account is %s, want failed", full.ID, full.State)
					continue
				}
				failed++
				deniedExample = full.Steps[0].Reason
				if st := full.Steps[0]; st.Status != string(run.Failed) || !deniedReason.MatchString(st.Reason) {
					t.Errorf("incident %s: first step %s (%q), want failed naming the permission", full.ID, st.Status, st.Reason)
				}
				continue
			}
			if full.State != store.StateContained {
				t.Errorf("incident %s in %s is %s, want contained; steps %+v", full.ID, f.Account, full.State, full.Steps)
				continue
			}
			contained++
		}
		checkSimState(t, org.World(), fs, denied)
		sum, err := s.VerifyAudit(ctx)
		if err != nil {
			t.Fatalf("audit chain: %v", err)
		}
		calls := org.Calls()
		var faulted int
		for _, c := range calls {
			if c.Code != "" {
				faulted++
			}
		}
		t.Logf("%d incidents in %d accounts in %v: %d contained, %d failed in the denied account; %d steps took %d attempts (%.2f each); %d AWS calls, %d of them faulted; audit: %s",
			len(fs), len(simAccounts), elapsed.Round(time.Millisecond), contained, failed, steps, attempts, float64(attempts)/float64(steps), len(calls), faulted, sum)
		t.Logf("the denied account's incidents fail with: %s", deniedExample)
	})
}

// waitSettled waits until want incidents exist and none is still open or containing, and
// returns them.
func waitSettled(t *testing.T, eng *engine.Engine, want int, limit time.Duration) []*store.Incident {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		list, err := eng.List(context.Background(), store.Filter{Limit: want + 1})
		if err != nil {
			t.Fatal(err)
		}
		busy := 0
		for _, inc := range list {
			if inc.State == store.StateOpen || inc.State == store.StateContaining {
				busy++
			}
		}
		if len(list) >= want && busy == 0 {
			return list
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %d incidents, %d still open or containing; want %d settled", limit, len(list), busy, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkSimState counts what the incidents left in the simulated organisation: one snapshot
// per volume of every contained instance, one isolation group per VPC, and nothing at all
// in the denied account.
func checkSimState(t *testing.T, w *world.World, fs []finding, denied string) {
	t.Helper()
	for _, a := range w.Accounts {
		r := a.Regions["us-east-1"]
		snaps := map[string]int{}
		for _, sn := range r.Snapshots {
			snaps[sn.Volume]++
		}
		// The isolation action may make more than one group per VPC (one for tracked and
		// one for untracked connections), each under its own name: one of each name.
		groups := map[string]map[string]int{}
		for _, sg := range r.SecurityGroups {
			if sg.Tags["firebreak:managed"] == "true" {
				if groups[sg.VPC] == nil {
					groups[sg.VPC] = map[string]int{}
				}
				groups[sg.VPC][sg.Name]++
			}
		}
		want := 1
		if a.ID == denied {
			want = 0
		}
		for _, in := range r.Instances {
			for _, v := range in.Volumes {
				if snaps[v] != want {
					t.Errorf("account %s: volume %s has %d snapshots, want %d", a.ID, v, snaps[v], want)
				}
			}
		}
		for _, vpc := range r.VPCs {
			if want == 0 && len(groups[vpc.ID]) != 0 || want == 1 && len(groups[vpc.ID]) == 0 {
				t.Errorf("account %s: VPC %s has isolation groups %v, want %d", a.ID, vpc.ID, groups[vpc.ID], want)
			}
			for name, n := range groups[vpc.ID] {
				if n != 1 {
					t.Errorf("account %s: VPC %s has %d isolation groups named %s, want 1", a.ID, vpc.ID, n, name)
				}
			}
		}
	}
}
