package ec2

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/cloud"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// ConfineSecurityGroupSpec declares ec2.confine-security-group. Rules are revoked by rule
// id, not by re-describing their permissions, so that a rule open to the world on both
// IPv4 and IPv6 goes in full and rules that only share a port are untouched. The revoked
// rules are recorded for undo. A world-open CIDR (0.0.0.0/0 or ::/0) listed in
// allowed_cidrs is taken as a deliberate exception and its rules are kept.
func ConfineSecurityGroupSpec() *action.Spec {
	return &action.Spec{
		Name: "ec2.confine-security-group",
		Summary: "Remove the security group's inbound rules open to 0.0.0.0/0 or ::/0, keeping all others, " +
			"and optionally re-open the same ports to a list of trusted CIDRs.",
		Targets: []event.Kind{event.KindSecurityGroup},
		Params: []action.Param{
			{
				Name: "allowed_cidrs",
				Type: action.StringList,
				Doc: "CIDRs that keep access to each port that was open to the world; " +
					"empty closes those ports to everyone outside the group's other rules.",
				Default: []string{},
			},
		},
		Reversible: true,
		Exec:       confineSecurityGroup{},
		Permissions: []string{
			"ec2:DescribeSecurityGroups",
			"ec2:DescribeSecurityGroupRules",
			"ec2:RevokeSecurityGroupIngress",
			// For allowed_cidrs, and to restore the revoked rules on undo.
			"ec2:AuthorizeSecurityGroupIngress",
			"ec2:CreateTags",
			// Undo removes the status tag.
			"ec2:DeleteTags",
		},
		Manual: `# Account {{.Account}}, region {{.Region}}: close {{.ID}} to the internet.
# List its inbound rules open to the world and keep this output: undo needs it.
aws ec2 describe-security-group-rules --region {{.Region}} --filters Name=group-id,Values={{.ID}} \
  --query 'SecurityGroupRules[?!IsEgress && (CidrIpv4==` + "`0.0.0.0/0`" + ` || CidrIpv6==` + "`::/0`" + `)]'
aws ec2 revoke-security-group-ingress --region {{.Region}} --group-id {{.ID}} --security-group-rule-ids RULE_ID [RULE_ID ...]
# For each trusted CIDR, re-open each port that was open (PROTOCOL, FROM_PORT, TO_PORT from the listing):
aws ec2 authorize-security-group-ingress --region {{.Region}} --group-id {{.ID}} \
  --ip-permissions 'IpProtocol=PROTOCOL,FromPort=FROM_PORT,ToPort=TO_PORT,IpRanges=[{CidrIp=TRUSTED_CIDR,Description=firebreak}]'
aws ec2 create-tags --region {{.Region}} --resources {{.ID}} --tags Key=firebreak:incident,Value=INCIDENT_ID Key=firebreak:status,Value=confined`,
		ManualUndo: `# Account {{.Account}}, region {{.Region}}: restore each world-open rule of {{.ID}} from the listing kept before confinement.
aws ec2 authorize-security-group-ingress --region {{.Region}} --group-id {{.ID}} \
  --ip-permissions 'IpProtocol=PROTOCOL,FromPort=FROM_PORT,ToPort=TO_PORT,IpRanges=[{CidrIp=0.0.0.0/0}]'
aws ec2 authorize-security-group-ingress --region {{.Region}} --group-id {{.ID}} \
  --ip-permissions 'IpProtocol=PROTOCOL,FromPort=FROM_PORT,ToPort=TO_PORT,Ipv6Ranges=[{CidrIpv6=::/0}]'
# Remove the trusted-CIDR rules confinement added, then the status tag.
aws ec2 revoke-security-group-ingress --region {{.Region}} --group-id {{.ID}} --security-group-rule-ids ADDED_RULE_ID [ADDED_RULE_ID ...]
aws ec2 delete-tags --region {{.Region}} --resources {{.ID}} --tags Key=firebreak:status`,
	}
}

type confineSecurityGroup struct{}

// sgRule is one inbound rule as it was: enough to authorise it again.
type sgRule struct {
	Protocol    string `json:"protocol"`
	From        int32  `json:"from"`
	To          int32  `json:"to"`
	CIDR        string `json:"cidr,omitempty"`
	CIDRv6      string `json:"cidr_ipv6,omitempty"`
	Description string `json:"description,omitempty"`
}

// permission is the rule in the shape Authorize takes.
func (r sgRule) permission() types.IpPermission {
	p := types.IpPermission{IpProtocol: aws.String(r.Protocol)}
	// All-protocol rules carry no ports; the API reports them as -1.
	if r.Protocol != "-1" {
		p.FromPort, p.ToPort = aws.Int32(r.From), aws.Int32(r.To)
	}
	desc := aws.String(r.Description)
	if r.Description == "" {
		desc = nil
	}
	if r.CIDR != "" {
		p.IpRanges = []types.IpRange{{CidrIp: aws.String(r.CIDR), Description: desc}}
	}
	if r.CIDRv6 != "" {
		p.Ipv6Ranges = []types.Ipv6Range{{CidrIpv6: aws.String(r.CIDRv6), Description: desc}}
	}
	return p
}

// confinePrior is what confinement changed: the world-open rules it revoked, the ids of the
// trusted-CIDR rules it added, and the group's tags.
type confinePrior struct {
	Revoked []sgRule           `json:"revoked,omitempty"`
	Added   []string           `json:"added,omitempty"`
	Tags    []action.TagChange `json:"tags,omitempty"`
}

const (
	anyIPv4 = "0.0.0.0/0"
	anyIPv6 = "::/0"
)

func (confineSecurityGroup) Do(ctx context.Context, env *action.Env, req *action.Request) (*action.Result, error) {
	t := req.Target
	fail := func(res *action.Result, err error) (*action.Result, error) {
		return res, fmt.Errorf("confine security group %s in %s: %w", t.ID, t.Account, err)
	}
	c, err := env.Cloud.EC2(ctx, t.Account, t.Region)
	if err != nil {
		return fail(nil, err)
	}
	trace := &action.Trace{}
	var (
		rules []types.SecurityGroupRule
		tags  map[string]string
	)
	err = action.Parallel(
		func() error {
			in := &ec2.DescribeSecurityGroupRulesInput{Filters: []types.Filter{{Name: aws.String("group-id"), Values: []string{t.ID}}}}
			for {
				out, err := c.DescribeSecurityGroupRules(ctx, in)
				if err != nil {
					return action.AWSError(err, t.Account, "ec2:DescribeSecurityGroupRules", "list the group's rules")
				}
				trace.Record(out.ResultMetadata)
				rules = append(rules, out.SecurityGroupRules...)
				if aws.ToString(out.NextToken) == "" {
					return nil
				}
				in.NextToken = out.NextToken
			}
		},
		func() error {
			out, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{t.ID}})
			if err != nil {
				return action.AWSError(err, t.Account, "ec2:DescribeSecurityGroups", "describe the group")
			}
			trace.Record(out.ResultMetadata)
			for _, g := range out.SecurityGroups {
				if aws.ToString(g.GroupId) == t.ID {
					tags = ec2Tags(g.Tags)
				}
			}
			return nil
		},
	)
	if err != nil {
		return fail(nil, err)
	}

	// A world-open CIDR listed among the trusted ones is an explicit exception: its rules stay.
	allowed := req.StringList("allowed_cidrs")
	keepOpen := func(cidr string) bool { return slices.Contains(allowed, cidr) }
	var (
		prior  confinePrior
		revoke []string
		ports  []sgRule // each distinct protocol and port range that was open, for allowed_cidrs
		have   = map[sgRule]bool{}
	)
	for _, r := range rules {
		if aws.ToBool(r.IsEgress) || aws.ToString(r.GroupId) != t.ID {
			continue
		}
		rule := sgRule{Protocol: aws.ToString(r.IpProtocol), From: aws.ToInt32(r.FromPort), To: aws.ToInt32(r.ToPort),
			CIDR: aws.ToString(r.CidrIpv4), CIDRv6: aws.ToString(r.CidrIpv6)}
		have[rule] = true
		open := (rule.CIDR == anyIPv4 && !keepOpen(anyIPv4)) || (rule.CIDRv6 == anyIPv6 && !keepOpen(anyIPv6))
		if !open {
			continue
		}
		rule.Description = aws.ToString(r.Description)
		prior.Revoked = append(prior.Revoked, rule)
		revoke = append(revoke, aws.ToString(r.SecurityGroupRuleId))
		port := sgRule{Protocol: rule.Protocol, From: rule.From, To: rule.To}
		if !slices.Contains(ports, port) {
			ports = append(ports, port)
		}
	}
	var grant []sgRule
	for _, p := range ports {
		for _, cidr := range allowed {
			if cidr == anyIPv4 || cidr == anyIPv6 {
				continue
			}
			g := p
			if pre, err := netip.ParsePrefix(cidr); err == nil && pre.Addr().Is6() {
				g.CIDRv6 = cidr
			} else {
				g.CIDR = cidr
			}
			// A trusted CIDR that already has the port keeps its rule; adding it again fails.
			if !have[g] {
				g.Description = "firebreak: trusted access kept by confinement"
				grant = append(grant, g)
			}
		}
	}
	setTagsWanted, tagPrior := action.TagChanges(tags, action.IncidentTags(req.Incident, "confined"))
	prior.Tags = tagPrior
	if len(revoke) == 0 && len(setTagsWanted) == 0 {
		return &action.Result{Status: action.AlreadyDone, Message: "no inbound rule is open to the world", RequestIDs: trace.IDs()}, nil
	}

	// Trusted CIDRs get their access before the world loses it, so they never lose it.
	var added []string
	if len(grant) > 0 {
		perms := make([]types.IpPermission, 0, len(grant))
		for _, g := range grant {
			perms = append(perms, g.permission())
		}
		out, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(t.ID), IpPermissions: perms})
		if err != nil {
			return fail(nil, action.AWSError(err, t.Account, "ec2:AuthorizeSecurityGroupIngress", "open the ports to the trusted CIDRs"))
		}
		trace.Record(out.ResultMetadata)
		for _, r := range out.SecurityGroupRules {
			added = append(added, aws.ToString(r.SecurityGroupRuleId))
		}
	}
	prior.Added = added
	raw, err := action.EncodePrior(prior)
	if err != nil {
		return fail(nil, err)
	}
	err = action.Parallel(
		when(len(revoke) > 0, func() error {
			out, err := c.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(t.ID), SecurityGroupRuleIds: revoke})
			if err != nil {
				return action.AWSError(err, t.Account, "ec2:RevokeSecurityGroupIngress", "revoke the world-open rules")
			}
			trace.Record(out.ResultMetadata)
			return nil
		}),
		func() error { return setTags(ctx, c, trace, t.Account, t.ID, setTagsWanted) },
	)
	if err != nil {
		return fail(&action.Result{Prior: raw, RequestIDs: trace.IDs()}, err)
	}
	msg := fmt.Sprintf("%d world-open inbound rule(s) revoked", len(revoke))
	if len(added) > 0 {
		msg += fmt.Sprintf(", %d trusted-CIDR rule(s) added", len(added))
	}
	return &action.Result{Status: action.Done, Message: msg, Prior: raw, RequestIDs: trace.IDs()}, nil
}

// Undo authorises each revoked rule again, one call per rule so that a rule someone has
// already restored does not fail the others, then removes the trusted-CIDR rules Do added.
func (confineSecurityGroup) Undo(ctx context.Context, env *action.Env, req *action.Request, raw json.RawMessage) (*action.Result, error) {
	t := req.Target
	fail := func(err error) (*action.Result, error) {
		return nil, fmt.Errorf("restore security group %s in %s: %w", t.ID, t.Account, err)
	}
	var prior confinePrior
	if err := action.DecodePrior(raw, &prior); err != nil {
		return fail(err)
	}
	c, err := env.Cloud.EC2(ctx, t.Account, t.Region)
	if err != nil {
		return fail(err)
	}
	trace := &action.Trace{}
	fns := []func() error{
		func() error { return undoTags(ctx, c, trace, t.Account, t.ID, prior.Tags) },
	}
	for _, r := range prior.Revoked {
		fns = append(fns, func() error {
			out, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(t.ID), IpPermissions: []types.IpPermission{r.permission()}})
			if err != nil && cloud.Code(err) != "InvalidPermission.Duplicate" {
				return action.AWSError(err, t.Account, "ec2:AuthorizeSecurityGroupIngress", "restore a world-open rule")
			}
			if err == nil {
				trace.Record(out.ResultMetadata)
			}
			return nil
		})
	}
	for _, id := range prior.Added {
		fns = append(fns, func() error {
			out, err := c.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(t.ID), SecurityGroupRuleIds: []string{id}})
			if err != nil && cloud.Code(err) != "InvalidSecurityGroupRuleId.NotFound" {
				return action.AWSError(err, t.Account, "ec2:RevokeSecurityGroupIngress", "remove trusted-CIDR rule "+id)
			}
			if err == nil {
				trace.Record(out.ResultMetadata)
			}
			return nil
		})
	}
	if err := action.Parallel(fns...); err != nil {
		return fail(err)
	}
	return &action.Result{Status: action.Done, Message: fmt.Sprintf("%d world-open rule(s) restored", len(prior.Revoked)), RequestIDs: trace.IDs()}, nil
}

// when returns fn if cond holds and nil otherwise; action.Parallel skips nil functions.
func when(cond bool, fn func() error) func() error {
	if !cond {
		return nil
	}
	return fn
}
