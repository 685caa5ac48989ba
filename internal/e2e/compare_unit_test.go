package e2e

import (
	"strings"
	"testing"

	"github.com/firebreak-sec/firebreak/internal/cloud/moto"
	"github.com/firebreak-sec/firebreak/internal/world"
)

func sampleWorld() *world.World {
	return &world.World{Accounts: []*world.Account{{ID: "111122223333", Regions: map[string]*world.Region{moto.Region: {
		SecurityGroups: []*world.SecurityGroup{
			{ID: "sg-1", Name: "web", Ingress: []*world.Rule{{Protocol: "tcp", Port: 443, CIDR: "0.0.0.0/0"}}},
			{ID: "sg-2", Name: "firebreak-isolation"},
		},
		Instances: []*world.Instance{{ID: "i-1", SecurityGroups: []string{"sg-2"}, Volumes: []string{"vol-2", "vol-1"}}},
		Snapshots: []*world.Snapshot{{ID: "snap-1", Volume: "vol-1", Tags: map[string]string{"firebreak:incident": "inc"}}},
		WAFIPSets: []*world.IPSet{{Name: "blocklist", Scope: "REGIONAL", Addresses: []string{"203.0.113.7/32"}, LockToken: "a"}},
	}}}}}
}

// TestNormaliseKeepsWhatMatters checks that normalising forgives only what may differ
// between backends: a comparer that forgave everything would let the suite pass blind.
func TestNormaliseKeepsWhatMatters(t *testing.T) {
	same := sampleWorld()
	r := same.Accounts[0].Regions[moto.Region]
	r.SecurityGroups[1].ID, r.Instances[0].SecurityGroups = "sg-9", []string{"sg-9"}
	r.Snapshots[0].ID, r.WAFIPSets[0].LockToken = "snap-9", "b"
	r.Instances[0].Volumes = []string{"vol-1", "vol-2"}
	r.SecurityGroups[0].Ingress[0] = &world.Rule{Protocol: "tcp", FromPort: 443, ToPort: 443, CIDR: "0.0.0.0/0"}
	if d := diff("a", normalise(sampleWorld()), "b", normalise(same)); d != "" {
		t.Errorf("generated ids, lock tokens, order and port spelling should not count:\n%s", d)
	}

	for name, change := range map[string]func(r *world.Region){
		"instance groups": func(r *world.Region) { r.Instances[0].SecurityGroups = []string{"sg-1"} },
		"rule":            func(r *world.Region) { r.SecurityGroups[0].Ingress[0].CIDR = "10.0.0.0/8" },
		"snapshot tags":   func(r *world.Region) { r.Snapshots[0].Tags = nil },
		"snapshot volume": func(r *world.Region) { r.Snapshots[0].Volume = "vol-2" },
		"addresses":       func(r *world.Region) { r.WAFIPSets[0].Addresses = nil },
		"state":           func(r *world.Region) { r.Instances[0].State = "stopped" },
		"metadata": func(r *world.Region) {
			r.Instances[0].Metadata = &world.MetadataOptions{HTTPEndpoint: "disabled"}
		},
	} {
		w := sampleWorld()
		change(w.Accounts[0].Regions[moto.Region])
		d := diff("a", normalise(sampleWorld()), "b", normalise(w))
		if d == "" {
			t.Errorf("%s: a change is not seen", name)
		} else if !strings.HasPrefix(d, "--- a\n+++ b\n") {
			t.Errorf("%s: diff has no header:\n%s", name, d)
		}
	}
}
