package catalog

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/cloud/sim"
	"github.com/firebreak-sec/firebreak/internal/world"
)

// TestIsolateConcurrentFirstInVPC runs two isolations at once as the first in a VPC, each
// with a cache of its own as two processes would have, so that both create or find the
// isolation and untracking groups and set their rules at the same moment. Setup must
// converge: both succeed, the VPC ends with one group of each name with exactly the rules
// its role needs, and each instance sits in the isolation group.
func TestIsolateConcurrentFirstInVPC(t *testing.T) {
	ctx := context.Background()
	spec, _ := Default().Lookup("ec2.isolate")
	for _, tt := range []struct {
		name  string
		with  map[string]any
		runs  int
		names []string
	}{
		{"untracking", nil, 50, []string{"firebreak-isolation", "firebreak-isolation-untracking"}},
		{"direct", map[string]any{"untrack_connections": false}, 25, []string{"firebreak-isolation"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for n := range tt.runs {
				org, env := newOrg(t, sim.Options{Faults: []sim.Fault{{Latency: 5 * time.Millisecond}}})
				var wg sync.WaitGroup
				errs := make([]error, 2)
				for k, id := range []string{"i-0abc", "i-0app"} {
					own := *env
					own.Cache = &action.Cache{}
					wg.Go(func() {
						req := &action.Request{Target: instance(id), Params: spec.ParamsWithDefaults(tt.with), Incident: fmt.Sprintf("inc-%d", k)}
						res, err := spec.Exec.Do(ctx, &own, req)
						if err == nil && res.Status != action.Done {
							err = fmt.Errorf("status %v: %s", res.Status, res.Message)
						}
						errs[k] = err
					})
				}
				wg.Wait()
				for _, err := range errs {
					if err != nil {
						t.Fatalf("run %d: %v", n, err)
					}
				}
				checkIsolationGroups(t, org, n, tt.names)
			}
		})
	}
}

// checkIsolationGroups checks that vpc-1 holds exactly one group of each name, each with
// the rules of its role, and that both instances are in the isolation group alone.
func checkIsolationGroups(t *testing.T, org *sim.Org, run int, names []string) {
	t.Helper()
	r := org.World().Accounts[0].Regions[region]
	groups := map[string][]*world.SecurityGroup{}
	for _, g := range r.SecurityGroups {
		if g != nil && g.VPC == "vpc-1" {
			groups[g.Name] = append(groups[g.Name], g)
		}
	}
	for _, name := range names {
		if len(groups[name]) != 1 {
			t.Fatalf("run %d: %d groups named %s in vpc-1, want 1", run, len(groups[name]), name)
		}
	}
	iso := groups["firebreak-isolation"][0]
	if len(iso.Ingress) != 0 || len(iso.Egress) != 0 {
		t.Fatalf("run %d: isolation group has rules: in %v, out %v", run, iso.Ingress, iso.Egress)
	}
	if len(names) > 1 {
		un := groups["firebreak-isolation-untracking"][0]
		for _, rules := range [][]*world.Rule{un.Ingress, un.Egress} {
			cidrs := map[string]bool{}
			for _, rl := range rules {
				if rl.Protocol == "-1" || rl.Protocol == "all" {
					cidrs[rl.CIDR+rl.CIDRv6] = true
				}
			}
			if len(rules) != 2 || !cidrs["0.0.0.0/0"] || !cidrs["::/0"] {
				t.Fatalf("run %d: untracking group's rules are not all traffic both ways: in %v, out %v", run, un.Ingress, un.Egress)
			}
		}
	}
	for _, i := range r.Instances {
		if i.ID != "i-0abc" && i.ID != "i-0app" {
			continue
		}
		sets := map[string][]string{"primary": i.SecurityGroups}
		for _, ni := range i.NetworkInterfaces {
			sets[ni.ID] = ni.SecurityGroups
		}
		for eni, sgs := range sets {
			if len(sgs) != 1 || sgs[0] != iso.ID {
				t.Fatalf("run %d: %s's interface %s is in %v, want only %s", run, i.ID, eni, sgs, iso.ID)
			}
		}
	}
}
