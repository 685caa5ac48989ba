package catalog

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/cloud"
	"github.com/firebreak-sec/firebreak/internal/cloud/sim"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/world"
)

const (
	prod   = "111122223333"
	region = "us-east-1"
)

// testWorld is a small organisation with one of each resource the actions act on.
const testWorld = `
accounts:
  - id: "111122223333"
    name: prod
    tags: {Environment: prod}
    regions:
      us-east-1:
        vpcs: [{id: vpc-1}]
        subnets: [{id: subnet-1, vpc: vpc-1}]
        security_groups:
          - {id: sg-web, vpc: vpc-1, ingress: [{protocol: tcp, port: 443, cidr: 0.0.0.0/0}]}
          - {id: sg-app, vpc: vpc-1, ingress: [{protocol: tcp, port: 22, cidr: 10.0.0.0/8}]}
        instances:
          - id: i-0abc
            subnet: subnet-1
            security_groups: [sg-web]
            volumes: [vol-1, vol-2]
            instance_profile: web-profile
            state: running
            tags: {Environment: prod, Owner: team-web}
          - id: i-0app
            subnet: subnet-1
            security_groups: [sg-app]
            volumes: [vol-3]
            instance_profile: app-profile
            state: running
            tags: {Owner: team-app, "firebreak:status": old}
            primary_network_interface: eni-app0
            network_interfaces:
              - {id: eni-app1, subnet: subnet-1, security_groups: [sg-app, sg-web]}
            disable_api_termination: true
            metadata_options: {http_tokens: required, http_endpoint: enabled, http_put_response_hop_limit: 2}
        snapshots: []
        trails: []
        waf_ip_sets: []
        buckets: []
        auto_scaling_groups:
          - {name: app-asg, min_size: 1, max_size: 3, desired_capacity: 1, instances: [i-0app]}
        target_groups:
          - name: app-tg
            arn: arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/app-tg/0123456789abcdef
            vpc: vpc-1
            protocol: HTTP
            port: 8080
            targets: [{id: i-0app}]
    iam:
      users: []
      roles: []
`

// trackingFree stands in for the simulated EC2 API's ModifyNetworkInterfaceAttribute, which
// accepts only Groups: a call that sets connection tracking timeouts alone succeeds without
// effect. Everything else goes to the simulation.
type trackingFree struct{ cloud.EC2 }

func (t trackingFree) ModifyNetworkInterfaceAttribute(ctx context.Context, in *ec2.ModifyNetworkInterfaceAttributeInput, opts ...func(*ec2.Options)) (*ec2.ModifyNetworkInterfaceAttributeOutput, error) {
	if in.Groups == nil && in.ConnectionTrackingSpecification != nil {
		return &ec2.ModifyNetworkInterfaceAttributeOutput{}, nil
	}
	return t.EC2.ModifyNetworkInterfaceAttribute(ctx, in, opts...)
}

type provider struct{ *sim.Org }

func (p provider) EC2(ctx context.Context, account, region string) (cloud.EC2, error) {
	c, err := p.Org.EC2(ctx, account, region)
	if err != nil {
		return nil, err
	}
	return trackingFree{c}, nil
}

func newOrg(t *testing.T, opts sim.Options) (*sim.Org, *action.Env) {
	t.Helper()
	return instanceWorld.org(t, opts)
}

// keepGroupsAndCapacity forgets what isolation leaves behind by design: the shared
// isolation groups, and the desired capacity an Auto Scaling group grows by when the
// instance is attached again (it launched a replacement meanwhile).
func keepGroupsAndCapacity(v any) {
	walk(v, func(m map[string]any) {
		if sgs, ok := m["security_groups"].([]any); ok {
			kept := []any{}
			for _, g := range sgs {
				if gm, ok := g.(map[string]any); ok {
					if name, _ := gm["name"].(string); strings.HasPrefix(name, "firebreak-isolation") {
						continue
					}
				}
				kept = append(kept, g)
			}
			m["security_groups"] = kept
		}
		delete(m, "desired_capacity")
	})
}

func instance(id string) action.Target {
	return action.Target{Kind: event.KindInstance, ID: id, Account: prod, Region: region}
}

// instanceWorld is testWorld with the instance actions' cases.
var instanceWorld = execWorld{name: "instances", yaml: testWorld, cases: execCases,
	cloud: func(o *sim.Org) cloud.Provider { return provider{o} }}

var execCases = []execCase{
	{action: "ec2.isolate", target: instance("i-0abc"), ignore: keepGroupsAndCapacity},
	{action: "ec2.isolate", target: instance("i-0app"), ignore: keepGroupsAndCapacity},
	{action: "ec2.isolate", target: instance("i-0app"), with: map[string]any{"untrack_connections": false, "imds": "token-required"}, ignore: keepGroupsAndCapacity},
	{action: "ec2.stop", target: instance("i-0abc")},
	{action: "ec2.terminate", target: instance("i-0abc")},
	{action: "ec2.snapshot-volumes", target: instance("i-0app")},
}

// TestIsolateRoundTrips counts the serial round trips ec2.isolate makes, from the call
// log with latency injected so that concurrent calls overlap.
func TestIsolateRoundTrips(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		with       map[string]any
		cold, warm int
	}{
		// i-0abc first (no target groups), in a VPC that has never seen Firebreak: find,
		// create, complete the groups' rules while untracking, isolate. Then i-0app in the
		// same VPC, its target group known from the first: describe and read its
		// registration, untrack and deregister, isolate.
		{"untracking", nil, 4, 3},
		// Cold, the isolation group must be empty before any interface enters it: find,
		// create, revoke its default egress, isolate. Warm: describe and read the
		// registration, then isolate and deregister.
		{"direct", map[string]any{"untrack_connections": false}, 4, 2},
		{"direct without load balancers", map[string]any{"untrack_connections": false, "deregister_from_target_groups": false}, 4, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			org, env := newOrg(t, sim.Options{Faults: []sim.Fault{{Latency: 20 * time.Millisecond}}})
			spec, _ := Default().Lookup("ec2.isolate")
			measure := func(id string) int {
				from := time.Now()
				req := &action.Request{Target: instance(id), Params: spec.ParamsWithDefaults(tt.with), Incident: "inc-1"}
				if _, err := spec.Exec.Do(ctx, env, req); err != nil {
					t.Fatalf("isolate %s: %v", id, err)
				}
				n := org.RoundTrips(from, time.Now())
				t.Logf("%s: %d serial round trips", id, n)
				return n
			}
			if got := measure("i-0abc"); got > tt.cold {
				t.Errorf("cold: %d serial round trips, want at most %d", got, tt.cold)
			}
			if got := measure("i-0app"); got > tt.warm {
				t.Errorf("warm: %d serial round trips, want at most %d", got, tt.warm)
			}
		})
	}
}

// TestIsolateStaleTargetGroups checks that the cached list of target groups is never
// trusted alone: a group created after it was cached is still found and left, a cached group
// deleted since is passed over, and undo registers the instance again in both it was in.
func TestIsolateStaleTargetGroups(t *testing.T) {
	ctx := context.Background()
	org, env := newOrg(t, sim.Options{})
	spec, _ := Default().Lookup("ec2.isolate")
	isolate := func(id string) *action.Result {
		t.Helper()
		req := &action.Request{Target: instance(id), Params: spec.ParamsWithDefaults(nil), Incident: "inc-1"}
		res, err := spec.Exec.Do(ctx, env, req)
		if err != nil || res.Status != action.Done {
			t.Fatalf("isolate %s: %v, %+v", id, err, res)
		}
		return res
	}
	isolate("i-0abc") // caches the region's one target group
	r := org.World().Accounts[0].Regions[region]
	oldARN := r.TargetGroups[0].ARN
	newARN := "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/new-tg/fedcba9876543210"
	r.TargetGroups = append(r.TargetGroups, &world.TargetGroup{Name: "new-tg", ARN: newARN, VPC: "vpc-1", Protocol: "HTTP", Port: 9090,
		Targets: []*world.Target{{ID: "i-0app"}}})
	before := dump(t, org, keepGroupsAndCapacity)
	req := &action.Request{Target: instance("i-0app"), Params: spec.ParamsWithDefaults(nil), Incident: "inc-1"}
	res, err := spec.Exec.Do(ctx, env, req)
	if err != nil || res.Status != action.Done {
		t.Fatalf("isolate i-0app: %v, %+v", err, res)
	}
	for _, tg := range r.TargetGroups {
		for _, x := range tg.Targets {
			if x != nil && x.ID == "i-0app" {
				t.Errorf("i-0app is still registered in %s", tg.Name)
			}
		}
	}
	if !strings.Contains(string(res.Prior), oldARN) || !strings.Contains(string(res.Prior), newARN) {
		t.Errorf("prior %s does not record both target groups", res.Prior)
	}
	if _, err := spec.Exec.Undo(ctx, env, req, res.Prior); err != nil {
		t.Fatalf("Undo: %v", err)
	}
	if d := dump(t, org, keepGroupsAndCapacity); d != before {
		t.Errorf("Undo did not restore the world:\n%s", diff(before, d))
	}

	// The cache now names both groups; delete one and isolate again.
	r.TargetGroups = r.TargetGroups[1:]
	isolate("i-0app")
	for _, x := range r.TargetGroups[0].Targets {
		if x != nil && x.ID == "i-0app" {
			t.Errorf("i-0app is still registered in %s", r.TargetGroups[0].Name)
		}
	}
}
