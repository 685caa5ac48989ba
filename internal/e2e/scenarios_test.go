package e2e

import (
	"context"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/cloud"
	"github.com/firebreak-sec/firebreak/internal/cloud/moto"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/run"
)

// scenario is one containment run on both backends.
type scenario struct {
	name string
	// setup prepares each backend the same way before the plans run (through the
	// backend's own API, as an attacker or an operator would).
	setup func(ctx context.Context, c cloud.Provider, org *moto.Org) error
	plans func(org *moto.Org) []run.Plan
	// release undoes the plans after the comparison and expects the seeded state back,
	// apart from the leftovers a release documents.
	release   bool
	leftovers []leftover
	// unsupported lists the operations the scenario needs that moto does not implement; the
	// scenario is skipped by name while moto.Deviations lists any of them.
	unsupported []string
	// simGap, when set, is a known way the simulator departs from AWS that makes this
	// scenario disagree; the scenario must disagree until the simulator is fixed.
	simGap string
}

// plan is one decision of a playbook with one step per action, as the decision engine
// would produce it.
func plan(name string, target action.Target, steps ...run.Step) run.Plan {
	return run.Plan{Playbook: "e2e-" + name, Incident: "inc-" + name, Outcome: run.OutcomePlanned, Target: target, Steps: steps}
}

func step(name string, with map[string]any) run.Step {
	return run.Step{Action: name, With: with, Outcome: run.OutcomePlanned}
}

func target(kind event.Kind, id string, a moto.Account) action.Target {
	return action.Target{Kind: kind, ID: id, Account: a.ID, Region: moto.Region}
}

// prod and dev are the seed's first two accounts.
func prod(org *moto.Org) moto.Account { return org.Accounts[0] }
func dev(org *moto.Org) moto.Account  { return org.Accounts[1] }

func single(name, act string, with map[string]any, tg func(org *moto.Org) action.Target) func(org *moto.Org) []run.Plan {
	return func(org *moto.Org) []run.Plan { return []run.Plan{plan(name, tg(org), step(act, with))} }
}

func scenarios() []scenario {
	instance := func(org *moto.Org) action.Target { return target(event.KindInstance, prod(org).Instance, prod(org)) }
	bucket := func(org *moto.Org) action.Target { return target(event.KindS3Bucket, prod(org).Bucket, prod(org)) }
	// Owner exists on the tagged resources already, so release must put its value back.
	tagWith := map[string]any{"tags": map[string]string{"firebreak:status": "contained", "Owner": "security"}}
	return []scenario{
		{name: "isolate", plans: single("isolate", "ec2.isolate", nil, instance), release: true, leftovers: []leftover{isolationGroups}},
		{name: "snapshot-volumes", plans: single("snapshot", "ec2.snapshot-volumes", nil, instance)},
		{name: "stop", plans: single("stop", "ec2.stop", nil, instance), release: true},
		{name: "deactivate-user", plans: single("deactivate-user", "iam.deactivate-user", nil, func(org *moto.Org) action.Target {
			return target(event.KindIAMUser, prod(org).User, prod(org))
		}), release: true, leftovers: []leftover{newPassword}},
		{name: "deactivate-access-key", plans: single("deactivate-key", "iam.deactivate-access-key", map[string]any{"user": "alice"},
			func(org *moto.Org) action.Target { return target(event.KindAccessKey, prod(org).AccessKey, prod(org)) }), release: true},
		{name: "revoke-role-sessions", plans: single("revoke", "iam.revoke-role-sessions", nil, func(org *moto.Org) action.Target {
			return target(event.KindIAMRole, prod(org).Role, prod(org))
		}), release: true},
		{name: "restart-logging", setup: stopTrail, plans: single("restart-logging", "cloudtrail.restart-logging", nil,
			func(org *moto.Org) action.Target { return target(event.KindTrail, prod(org).Trail, prod(org)) }),
			release: true, leftovers: []leftover{startedTrail}},
		{name: "waf-block-ip", plans: single("block-ip", "waf.block-ip", nil, func(org *moto.Org) action.Target {
			return target(event.KindIP, "203.0.113.7", prod(org))
		}), release: true},
		{name: "block-public-access", plans: single("block-public-access", "s3.block-public-access", nil, bucket), release: true},
		{name: "enforce-encryption", plans: single("enforce-encryption", "s3.enforce-encryption", nil, bucket), release: true},
		{name: "confine-security-group", plans: single("confine", "ec2.confine-security-group",
			map[string]any{"allowed_cidrs": []string{"198.51.100.0/24"}},
			func(org *moto.Org) action.Target {
				return target(event.KindSecurityGroup, prod(org).SecurityGroup, prod(org))
			}),
			release: true},
		{name: "tag", plans: func(org *moto.Org) []run.Plan {
			a := prod(org)
			tags := step("tag", tagWith)
			return []run.Plan{
				plan("tag-instance", target(event.KindInstance, a.Instance, a), tags),
				plan("tag-group", target(event.KindSecurityGroup, a.SecurityGroup, a), tags),
				plan("tag-user", target(event.KindIAMUser, a.User, a), tags),
				plan("tag-role", target(event.KindIAMRole, a.Role, a), tags),
			}
		}, release: true},
		{name: "tag-bucket", plans: single("tag-bucket", "tag", tagWith, bucket), release: true},
		{name: "ec2-compromise-playbook", plans: func(org *moto.Org) []run.Plan {
			a := dev(org)
			return []run.Plan{plan("ec2-compromise", target(event.KindInstance, a.Instance, a),
				step("ec2.snapshot-volumes", nil), step("ec2.isolate", nil), step("ec2.stop", nil),
				step("tag", nil))}
		}, release: true, leftovers: []leftover{isolationGroups, evidenceSnapshots}},
		{name: "network-firewall-block-ip", unsupported: []string{"network-firewall:DescribeRuleGroup", "network-firewall:UpdateRuleGroup"}},
		{name: "guardduty-archive-finding", unsupported: []string{"guardduty:GetFindings", "guardduty:ArchiveFindings"}},
		{name: "securityhub-update-finding", unsupported: []string{"securityhub:BatchUpdateFindings"}},
		{name: "ssm-start-automation", unsupported: []string{"ssm:StartAutomationExecution", "ssm:GetAutomationExecution"}},
		{name: "capture-memory", unsupported: []string{"ssm:DescribeInstanceInformation", "ssm:ListCommandInvocations"}},
	}
}
