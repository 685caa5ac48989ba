package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/cloud"
	"github.com/firebreak-sec/firebreak/internal/cloud/sim"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/run"
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
	w, err := world.Parse("test.yaml", []byte(testWorld))
	if err != nil {
		t.Fatal(err)
	}
	org := sim.New(w, opts)
	env := &action.Env{Cloud: provider{org}, Notify: &action.RecordingNotifier{}, Cache: &action.Cache{},
		Poll: time.Millisecond, Retry: action.Retry{Attempts: 8, Base: time.Millisecond, Max: 5 * time.Millisecond}}
	return org, env
}

func dump(t *testing.T, org *sim.Org, ignore func(any)) string {
	t.Helper()
	var b bytes.Buffer
	if err := org.Dump(&b); err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	// An instance without metadata options has AWS's defaults; once set back to them the
	// simulation spells them out.
	walk(v, func(m map[string]any) {
		if md, ok := m["metadata_options"].(map[string]any); ok && len(md) == 2 &&
			md["http_endpoint"] == "enabled" && md["http_tokens"] == "optional" {
			delete(m, "metadata_options")
		}
	})
	if ignore != nil {
		ignore(v)
	}
	out, _ := json.MarshalIndent(v, "", "  ")
	return string(out)
}

// walk calls fn on every JSON object in v.
func walk(v any, fn func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		fn(x)
		for _, e := range x {
			walk(e, fn)
		}
	case []any:
		for _, e := range x {
			walk(e, fn)
		}
	}
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

type execCase struct {
	action string
	target action.Target
	with   map[string]any
	// ignore removes from dumps what undo deliberately leaves.
	ignore func(any)
}

func instance(id string) action.Target {
	return action.Target{Kind: event.KindInstance, ID: id, Account: prod, Region: region}
}

var execCases = []execCase{
	{action: "ec2.isolate", target: instance("i-0abc"), ignore: keepGroupsAndCapacity},
	{action: "ec2.isolate", target: instance("i-0app"), ignore: keepGroupsAndCapacity},
	{action: "ec2.isolate", target: instance("i-0app"), with: map[string]any{"untrack_connections": false, "imds": "token-required"}, ignore: keepGroupsAndCapacity},
	{action: "ec2.stop", target: instance("i-0abc")},
	{action: "ec2.terminate", target: instance("i-0abc")},
	{action: "ec2.snapshot-volumes", target: instance("i-0app")},
}

func request(t *testing.T, c execCase) (*action.Spec, *action.Request) {
	t.Helper()
	spec, ok := Default().Lookup(c.action)
	if !ok || spec.Exec == nil {
		t.Fatalf("%s has no executor", c.action)
	}
	return spec, &action.Request{Target: c.target, Params: spec.ParamsWithDefaults(c.with), Incident: "inc-1"}
}

func name(c execCase) string {
	return fmt.Sprintf("%s/%s/%v", c.action, c.target.ID, c.with)
}

// TestDoUndo checks, for every case, that Do changes the world, a second Do changes
// nothing and says already-done, and Undo restores the world as it was (reversible
// actions), leaves it as Do did (evidence), or refuses (destructive).
func TestDoUndo(t *testing.T) {
	ctx := context.Background()
	for _, c := range execCases {
		t.Run(name(c), func(t *testing.T) {
			org, env := newOrg(t, sim.Options{})
			spec, req := request(t, c)
			before := dump(t, org, c.ignore)
			res, err := spec.Exec.Do(ctx, env, req)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			if res.Status != action.Done {
				t.Fatalf("Do: status %s, want done", res.Status)
			}
			afterDo := dump(t, org, c.ignore)
			if afterDo == before {
				t.Fatal("Do changed nothing")
			}
			again, err := spec.Exec.Do(ctx, env, req)
			if err != nil {
				t.Fatalf("second Do: %v", err)
			}
			if again.Status != action.AlreadyDone {
				t.Errorf("second Do: status %s, want already-done; prior %s", again.Status, again.Prior)
			}
			if d := dump(t, org, c.ignore); d != afterDo {
				t.Errorf("second Do changed the world:\n%s", diff(afterDo, d))
			}
			_, err = spec.Exec.Undo(ctx, env, req, res.Prior)
			switch {
			case spec.Destructive:
				if err == nil || !strings.Contains(err.Error(), "cannot be undone") {
					t.Errorf("Undo of a destructive action: %v, want cannot be undone", err)
				}
			case !spec.Reversible:
				if err != nil {
					t.Errorf("Undo of an evidence action: %v", err)
				}
				if d := dump(t, org, c.ignore); d != afterDo {
					t.Errorf("Undo of an evidence action changed the world:\n%s", diff(afterDo, d))
				}
			default:
				if err != nil {
					t.Fatalf("Undo: %v", err)
				}
				if d := dump(t, org, c.ignore); d != before {
					t.Errorf("Undo did not restore the world:\n%s", diff(before, d))
				}
			}
		})
	}
}

// diff shows the first lines where two dumps differ.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)) && b.Len() < 2000; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %s\n  got  %s\n", i+1, wl, gl)
		}
	}
	return b.String()
}

// iamAction maps a logged operation to the IAM action that authorises it, where the two
// differ (Service Authorization Reference).
var authorisedAs = map[string]string{
	"s3:GetPublicAccessBlock":    "s3:GetBucketPublicAccessBlock",
	"s3:PutPublicAccessBlock":    "s3:PutBucketPublicAccessBlock",
	"s3:DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
	"s3:GetBucketEncryption":     "s3:GetEncryptionConfiguration",
	"s3:PutBucketEncryption":     "s3:PutEncryptionConfiguration",
	"s3:DeleteBucketEncryption":  "s3:PutEncryptionConfiguration",
	"s3:DeleteBucketTagging":     "s3:PutBucketTagging",
}

func permissionFor(c sim.Call) string {
	op := c.Service + ":" + c.Operation
	if p, ok := authorisedAs[op]; ok {
		return p
	}
	return op
}

// TestPermissionsCoverCalls checks that every AWS operation an action calls, in Do and
// Undo, is among the permissions it declares, so the generated policy is enough.
func TestPermissionsCoverCalls(t *testing.T) {
	ctx := context.Background()
	for _, c := range execCases {
		t.Run(name(c), func(t *testing.T) {
			org, env := newOrg(t, sim.Options{})
			spec, req := request(t, c)
			res, err := spec.Exec.Do(ctx, env, req)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			if spec.Reversible {
				if _, err := spec.Exec.Undo(ctx, env, req, res.Prior); err != nil {
					t.Fatalf("Undo: %v", err)
				}
			}
			declared := map[string]bool{}
			for _, p := range spec.Permissions {
				declared[p] = true
			}
			for _, call := range org.Calls() {
				if p := permissionFor(call); !declared[p] {
					t.Errorf("calls %s:%s, which needs %s, not among its permissions", call.Service, call.Operation, p)
				}
			}
		})
	}
}

// TestFaults runs each case through run.Execute with throttling, server errors and denied
// access injected: the first two are retried until the step succeeds, the last fails
// naming the permission.
func TestFaults(t *testing.T) {
	ctx := context.Background()
	for _, c := range execCases {
		for _, f := range []struct {
			name  string
			fault sim.Fault
		}{
			{"throttled", sim.Fault{ThrottleRate: 0.1}},
			{"5xx", sim.Fault{ServerErrorRate: 0.1}},
			{"denied", sim.Fault{AccessDenied: true}},
		} {
			t.Run(name(c)+"/"+f.name, func(t *testing.T) {
				org, env := newOrg(t, sim.Options{Seed: 7, Faults: []sim.Fault{f.fault}})
				env.Retry.Attempts = 30
				plan := run.Plan{Incident: "inc-1", Outcome: run.OutcomePlanned, Target: c.target,
					Steps: []run.Step{{Action: c.action, With: c.with, Outcome: run.OutcomePlanned}}}
				rep := run.Execute(ctx, env, Default(), plan)
				st := rep.Steps[0]
				if f.fault.AccessDenied {
					calls := org.Calls()
					if st.Status != run.Failed || len(calls) == 0 {
						t.Fatalf("status %s (%s), want failed", st.Status, st.Reason)
					}
					if perm := calls[0].Service + ":" + calls[0].Operation; !strings.Contains(st.Reason, "denied") || !strings.Contains(st.Reason, ":") {
						t.Errorf("reason %q does not name the denied permission (first call %s)", st.Reason, perm)
					}
					if st.Retryable {
						t.Error("a denied step is marked retryable")
					}
					return
				}
				if st.Status != run.Done {
					t.Fatalf("status %s after %d attempts (%s), want done", st.Status, st.Attempts, st.Reason)
				}
			})
		}
	}
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
		// create, configure, untrack, isolate. Then i-0app in the same VPC: describe,
		// untrack, isolate and deregister.
		{"untracking", nil, 5, 3},
		{"direct", map[string]any{"untrack_connections": false}, 4, 3},
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
