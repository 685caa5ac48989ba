package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/networkfirewall"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/cloud"
	"github.com/firebreak-sec/firebreak/internal/cloud/sim"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// findingYAML has what the evidence, finding and network actions act on: an instance
// the SSM agent manages, buckets with and without default encryption, a GuardDuty
// detector, Security Hub findings and a stateful Network Firewall rule group.
const findingYAML = `
accounts:
  - id: "111122223333"
    name: prod
    regions:
      us-east-1:
        vpcs: [{id: vpc-1}]
        subnets: [{id: subnet-1, vpc: vpc-1}]
        security_groups:
          - {id: sg-web, vpc: vpc-1, ingress: [{protocol: tcp, port: 443, cidr: 0.0.0.0/0}]}
        instances:
          - {id: i-0ssm, subnet: subnet-1, security_groups: [sg-web], volumes: [vol-1], state: running, ssm_managed: true}
          - {id: i-0dark, subnet: subnet-1, security_groups: [sg-web], volumes: [vol-2], state: running}
        snapshots: []
        trails: []
        waf_ip_sets: []
        buckets:
          - {name: data-plain, public_access_block: true}
          - name: data-sse
            public_access_block: true
            encryption: {algorithm: AES256}
          - name: data-kms
            public_access_block: true
            encryption: {algorithm: "aws:kms", kms_key: alias/data, bucket_key: true}
        ssm_documents: [Firebreak-CaptureMemory, Quarantine-Runbook]
        guardduty:
          detector_id: 12abc34d567e8fa901bc2d34e56789f0
          findings:
            - {id: 60baffd3f9042e38640f2300d5c5a631, type: "Backdoor:EC2/C&CActivity.B", severity: 8}
            - {id: 70baffd3f9042e38640f2300d5c5a632, type: "Recon:EC2/PortProbeUnprotectedPort", severity: 2, archived: true}
        securityhub_findings:
          - id: arn:aws:securityhub:us-east-1:111122223333:subscription/aws-foundational-security-best-practices/v/1.0.0/S3.8/finding/01234567
            product_arn: arn:aws:securityhub:us-east-1::product/aws/securityhub
            title: S3 general purpose buckets should block public access
            severity: HIGH
            workflow_status: NEW
        network_firewall_rule_groups:
          - name: firebreak-blocklist
            type: STATEFUL
            capacity: 100
            update_token: token-0
            rule_group:
              RulesSource:
                StatefulRules:
                  - Action: DROP
                    Header: {Protocol: IP, Source: 192.0.2.1/32, SourcePort: ANY, Direction: ANY, Destination: ANY, DestinationPort: ANY}
                    RuleOptions: [{Keyword: sid, Settings: ["7"]}]
    iam:
      users: []
      roles: []
`

const (
	shFindingID  = "arn:aws:securityhub:us-east-1:111122223333:subscription/aws-foundational-security-best-practices/v/1.0.0/S3.8/finding/01234567"
	shProductARN = "arn:aws:securityhub:us-east-1::product/aws/securityhub"
	gdFindingID  = "60baffd3f9042e38640f2300d5c5a631"
)

// findingWorld is findingYAML with the evidence, finding and network actions' cases.
var findingWorld = execWorld{name: "finding", yaml: findingYAML, cases: findingCases,
	cloud: func(o *sim.Org) cloud.Provider { return provider{o} }}

func newFindingOrg(t *testing.T, opts sim.Options) (*sim.Org, *action.Env) {
	t.Helper()
	return findingWorld.org(t, opts)
}

// securityHubEvent is a Security Hub finding event as the normaliser leaves it.
func securityHubEvent() *event.Event {
	raw, _ := json.Marshal(map[string]any{"Id": shFindingID, "ProductArn": shProductARN, "Workflow": map[string]any{"Status": "NEW"}})
	return &event.Event{ID: shFindingID, Source: event.SourceSecurityHub, FindingID: shFindingID, Account: prod, Region: region,
		Details: map[string]any{"product_arn": shProductARN, "workflow_status": "NEW"}, Raw: raw}
}

// guardDutyEvent is a GuardDuty finding event for finding id.
func guardDutyEvent(id string) *event.Event {
	raw, _ := json.Marshal(map[string]any{"id": id, "type": "Backdoor:EC2/C&CActivity.B", "accountId": prod, "region": region})
	return &event.Event{ID: id, Source: event.SourceGuardDuty, FindingID: id, Account: prod, Region: region, Raw: raw,
		Details: map[string]any{"finding_arn": "arn:aws:guardduty:us-east-1:111122223333:detector/12abc34d567e8fa901bc2d34e56789f0/finding/" + id}}
}

// cloudTrailEvent carries no finding any finding action can act on.
func cloudTrailEvent() *event.Event {
	return &event.Event{ID: "ct-1", Source: event.SourceCloudTrail, FindingID: "ct-1", Account: prod, Region: region}
}

func bucketTarget(name string) action.Target {
	return action.Target{Kind: event.KindS3Bucket, ID: name, Account: prod, Region: region}
}

func ipTarget(addr string) action.Target {
	return action.Target{Kind: event.KindIP, ID: addr, Account: prod, Region: region}
}

// withoutUpdateTokens forgets the rule groups' update tokens: every write changes the
// token, so a group put back as it was still has a new one.
func withoutUpdateTokens(v any) {
	walk(v, func(m map[string]any) { delete(m, "update_token") })
}

// withoutNotes forgets Security Hub notes, which can be replaced but never removed.
func withoutNotes(v any) {
	walk(v, func(m map[string]any) { delete(m, "note") })
}

var findingCases = []execCase{
	{action: "ec2.capture-memory", target: instance("i-0ssm")},
	{action: "ec2.capture-memory", target: instance("i-0ssm"), with: map[string]any{"bucket": "evidence-prod"},
		opts: sim.Options{PendingPolls: 3}},
	{action: "s3.enforce-encryption", target: bucketTarget("data-plain")},
	{action: "s3.enforce-encryption", target: bucketTarget("data-sse")},
	{action: "s3.enforce-encryption", target: bucketTarget("data-kms")},
	{action: "s3.enforce-encryption", target: bucketTarget("data-kms"), with: map[string]any{"algorithm": "AES256"}},
	{action: "s3.enforce-encryption", target: bucketTarget("data-plain"), with: map[string]any{"kms_key_id": "alias/incident"}},
	{action: "securityhub.update-finding", target: bucketTarget("data-plain"), ignore: withoutNotes, event: securityHubEvent()},
	{action: "securityhub.update-finding", target: bucketTarget("data-plain"), with: map[string]any{"workflow_status": "RESOLVED", "note": "contained"}, ignore: withoutNotes, event: securityHubEvent()},
	{action: "securityhub.update-finding", target: bucketTarget("data-plain"), event: guardDutyEvent(gdFindingID), skipped: true},
	{action: "guardduty.archive-finding", target: instance("i-0ssm"), event: guardDutyEvent(gdFindingID)},
	{action: "guardduty.archive-finding", target: instance("i-0ssm"), event: cloudTrailEvent(), skipped: true},
	{action: "network-firewall.block-ip", target: ipTarget("203.0.113.45"), ignore: withoutUpdateTokens},
	{action: "network-firewall.block-ip", target: ipTarget("2001:db8::45"), ignore: withoutUpdateTokens},
	{action: "ssm.start-automation", target: instance("i-0ssm"), with: map[string]any{"document": "Quarantine-Runbook", "target_parameter": "InstanceId"},
		opts: sim.Options{PendingPolls: 2}},
}

// TestCaptureMemoryNeedsAgent checks that a capture on an instance without an online SSM
// agent fails, naming the cause, before any command is sent.
func TestCaptureMemoryNeedsAgent(t *testing.T) {
	org, env := newFindingOrg(t, sim.Options{})
	spec, req := request(t, execCase{action: "ec2.capture-memory", target: instance("i-0dark")})
	_, err := spec.Exec.Do(context.Background(), env, req)
	if err == nil || !strings.Contains(err.Error(), "SSM agent") {
		t.Fatalf("Do: %v, want an error naming the SSM agent", err)
	}
	if n := org.CountCalls(prod, "ssm", "SendCommand"); n != 0 {
		t.Errorf("%d SendCommand calls, want none", n)
	}
}

// racingFirewall changes the rule group behind the caller's back before its first write,
// as another writer would, so that the caller's update token is stale.
type racingFirewall struct {
	cloud.NetworkFirewall
	raced *bool
}

func (r racingFirewall) UpdateRuleGroup(ctx context.Context, in *networkfirewall.UpdateRuleGroupInput, opts ...func(*networkfirewall.Options)) (*networkfirewall.UpdateRuleGroupOutput, error) {
	if !*r.raced {
		*r.raced = true
		d, err := r.NetworkFirewall.DescribeRuleGroup(ctx, &networkfirewall.DescribeRuleGroupInput{RuleGroupName: in.RuleGroupName, Type: in.Type})
		if err != nil {
			return nil, err
		}
		if _, err := r.NetworkFirewall.UpdateRuleGroup(ctx, &networkfirewall.UpdateRuleGroupInput{RuleGroupName: in.RuleGroupName, Type: in.Type,
			UpdateToken: d.UpdateToken, RuleGroup: d.RuleGroup}); err != nil {
			return nil, err
		}
	}
	return r.NetworkFirewall.UpdateRuleGroup(ctx, in, opts...)
}

type racingProvider struct {
	provider
	raced *bool
}

func (p racingProvider) NetworkFirewall(ctx context.Context, account, region string) (cloud.NetworkFirewall, error) {
	c, err := p.provider.NetworkFirewall(ctx, account, region)
	if err != nil {
		return nil, err
	}
	return racingFirewall{c, p.raced}, nil
}

// TestFirewallBlockRetriesStaleToken checks that a write refused for a stale update token
// is read and tried again, and that the block is still added exactly once.
func TestFirewallBlockRetriesStaleToken(t *testing.T) {
	org, env := newFindingOrg(t, sim.Options{})
	raced := false
	env.Cloud = racingProvider{provider{org}, &raced}
	spec, req := request(t, execCase{action: "network-firewall.block-ip", target: ipTarget("203.0.113.9")})
	res, err := spec.Exec.Do(context.Background(), env, req)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if !raced || res.Status != action.Done {
		t.Fatalf("raced %v, status %s", raced, res.Status)
	}
	// Ours, the racing writer's and ours again.
	if n := org.CountCalls(prod, "network-firewall", "UpdateRuleGroup"); n != 3 {
		t.Errorf("%d UpdateRuleGroup calls, want 3", n)
	}
	if d := dump(t, org, nil); strings.Count(d, "203.0.113.9/32") != 1 {
		t.Errorf("the block is not in the group exactly once:\n%s", d)
	}
}

// TestAutomationStoppedWhenStepEnds checks that a runbook still running when the step's
// context ends is stopped rather than left acting unobserved, and that undo says it
// cannot reverse a runbook.
func TestAutomationStoppedWhenStepEnds(t *testing.T) {
	org, env := newFindingOrg(t, sim.Options{PendingPolls: 1 << 20})
	spec, req := request(t, execCase{action: "ssm.start-automation", target: instance("i-0ssm"),
		with: map[string]any{"document": "Quarantine-Runbook", "target_parameter": "InstanceId"}})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	res, err := spec.Exec.Do(ctx, env, req)
	if err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Fatalf("Do: %v, want an error saying the execution was stopped", err)
	}
	if res == nil || len(res.Evidence) != 1 {
		t.Fatalf("Do reported no execution: %+v", res)
	}
	if n := org.CountCalls(prod, "ssm", "StopAutomationExecution"); n != 1 {
		t.Errorf("%d StopAutomationExecution calls, want 1", n)
	}
	if d := dump(t, org, nil); !strings.Contains(d, `"Cancelled"`) {
		t.Errorf("the execution is not cancelled:\n%s", d)
	}
	if _, err := spec.Exec.Undo(context.Background(), env, req, res.Prior); !errors.Is(err, action.ErrIrreversible) {
		t.Errorf("Undo: %v, want ErrIrreversible", err)
	}
}
