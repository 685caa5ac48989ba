package networkfirewall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/networkfirewall"
	"github.com/aws/aws-sdk-go-v2/service/networkfirewall/types"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/cloud"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// BlockIPSpec declares network-firewall.block-ip. The rule group is a stateful group of
// standard (5-tuple) rules that a firewall policy already references; for each address the
// step adds one DROP rule whose direction is ANY, which matches traffic from the address
// and traffic to it. UpdateRuleGroup
// replaces the whole group and needs the update token DescribeRuleGroup returned, so a
// concurrent change makes the step read and try again. The group's capacity, fixed when it
// was created, bounds how many addresses it can hold.
//
// Flows already established through the firewall keep the verdict they started with; a
// flow flush is what reapplies the new rules to them.
func BlockIPSpec() *action.Spec {
	return &action.Spec{
		Name:    "network-firewall.block-ip",
		Summary: "Add a stateful DROP rule for traffic from and to the address to a Network Firewall rule group.",
		Targets: []event.Kind{event.KindIP},
		Params: []action.Param{
			{
				Name:    "rule_group",
				Type:    action.String,
				Doc:     "Name of the stateful rule group (standard 5-tuple rules) that holds the blocks.",
				Default: "firebreak-blocklist",
			},
		},
		Reversible: true,
		Exec:       blockIP{},
		Permissions: []string{
			"network-firewall:DescribeRuleGroup",
			"network-firewall:UpdateRuleGroup",
		},
		Manual: `# Account {{.Account}}, region {{.Region}}: block {{.ID}} in rule group {{.Param "rule_group"}}.
aws network-firewall describe-rule-group --region {{.Region}} --type STATEFUL --rule-group-name '{{.Param "rule_group"}}' > rule-group.json
# Add this rule (/128 for an IPv6 address), with a sid unused in the group, to RuleGroup.RulesSource.StatefulRules and write the group back:
#   {"Action":"DROP","Header":{"Protocol":"IP","Source":"{{.ID}}/32","SourcePort":"ANY","Direction":"ANY","Destination":"ANY","DestinationPort":"ANY"},"RuleOptions":[{"Keyword":"sid","Settings":["SID"]}]}
aws network-firewall update-rule-group --region {{.Region}} --type STATEFUL --rule-group-name '{{.Param "rule_group"}}' \
  --update-token UPDATE_TOKEN --rule-group file://rule-group-edited.json`,
		ManualUndo: `# Account {{.Account}}, region {{.Region}}: remove the DROP rule for {{.ID}} and write the group back.
aws network-firewall describe-rule-group --region {{.Region}} --type STATEFUL --rule-group-name '{{.Param "rule_group"}}' > rule-group.json
aws network-firewall update-rule-group --region {{.Region}} --type STATEFUL --rule-group-name '{{.Param "rule_group"}}' \
  --update-token UPDATE_TOKEN --rule-group file://rule-group-edited.json`,
	}
}

type blockIP struct{}

// blockPrior names the rule the step added, by its sid, so that undo removes that rule
// and no other.
type blockPrior struct {
	RuleGroup string `json:"rule_group"`
	CIDR      string `json:"cidr"`
	SID       int    `json:"sid"`
}

// tokenAttempts bounds how often a write is retried after another writer changed the group
// between our read and our write.
const tokenAttempts = 5

// blockCIDR turns the target's address into the host prefix a rule's Source takes.
func blockCIDR(id string) (string, error) {
	if p, err := netip.ParsePrefix(id); err == nil {
		return p.Masked().String(), nil
	}
	addr, err := netip.ParseAddr(id)
	if err != nil {
		return "", fmt.Errorf("%q is not an IP address", id)
	}
	addr = addr.WithZone("").Unmap()
	return netip.PrefixFrom(addr, addr.BitLen()).String(), nil
}

func sameCIDR(a, b string) bool {
	pa, err1 := netip.ParsePrefix(a)
	pb, err2 := netip.ParsePrefix(b)
	return err1 == nil && err2 == nil && pa.Masked() == pb.Masked()
}

func ruleSID(r types.StatefulRule) (int, bool) {
	for _, o := range r.RuleOptions {
		if aws.ToString(o.Keyword) == "sid" && len(o.Settings) > 0 {
			if n, err := strconv.Atoi(o.Settings[0]); err == nil {
				return n, true
			}
		}
	}
	return 0, false
}

// isBlock reports whether r is a DROP rule for cidr in both directions, the rule this
// action writes.
func isBlock(r types.StatefulRule, cidr string) bool {
	h := r.Header
	return r.Action == types.StatefulActionDrop && h != nil && h.Protocol == types.StatefulRuleProtocolAny &&
		sameCIDR(aws.ToString(h.Source), cidr) && aws.ToString(h.SourcePort) == "ANY" &&
		h.Direction == types.StatefulRuleDirectionAny && aws.ToString(h.Destination) == "ANY" && aws.ToString(h.DestinationPort) == "ANY"
}

// editRules reads the rule group, lets edit change its standard rules, and writes it back
// with the update token it read, reading again when another writer got there first. edit
// returns false when there is nothing to write.
func editRules(ctx context.Context, c cloud.NetworkFirewall, trace *action.Trace, account, group string, edit func([]types.StatefulRule) ([]types.StatefulRule, bool, error)) (bool, error) {
	for attempt := 1; ; attempt++ {
		d, err := c.DescribeRuleGroup(ctx, &networkfirewall.DescribeRuleGroupInput{RuleGroupName: aws.String(group), Type: types.RuleGroupTypeStateful})
		if err != nil {
			return false, action.AWSError(err, account, "network-firewall:DescribeRuleGroup", "read rule group "+group)
		}
		trace.Record(d.ResultMetadata)
		rg := d.RuleGroup
		if rg == nil || rg.RulesSource == nil {
			rg = &types.RuleGroup{RulesSource: &types.RulesSource{}}
		}
		src := rg.RulesSource
		// Suricata rule strings and domain lists are left to their owners: rewriting them
		// to add a rule risks changing what they mean.
		if aws.ToString(src.RulesString) != "" || src.RulesSourceList != nil || src.StatelessRulesAndCustomActions != nil {
			return false, fmt.Errorf("rule group %s does not hold standard stateful rules; name a group of 5-tuple rules", group)
		}
		rules, changed, err := edit(slices.Clone(src.StatefulRules))
		if err != nil || !changed {
			return false, err
		}
		src.StatefulRules = rules
		in := &networkfirewall.UpdateRuleGroupInput{RuleGroupName: aws.String(group), Type: types.RuleGroupTypeStateful,
			UpdateToken: d.UpdateToken, RuleGroup: rg}
		// UpdateRuleGroup replaces what it is given: carry over what it would otherwise reset.
		if r := d.RuleGroupResponse; r != nil {
			in.Description, in.EncryptionConfiguration = r.Description, r.EncryptionConfiguration
		}
		out, err := c.UpdateRuleGroup(ctx, in)
		if err == nil {
			trace.Record(out.ResultMetadata)
			return true, nil
		}
		if cloud.Code(err) != "InvalidTokenException" || attempt >= tokenAttempts {
			return false, action.AWSError(err, account, "network-firewall:UpdateRuleGroup", "write rule group "+group)
		}
	}
}

func (blockIP) Do(ctx context.Context, env *action.Env, req *action.Request) (*action.Result, error) {
	t := req.Target
	group := req.String("rule_group")
	fail := func(err error) (*action.Result, error) {
		return nil, fmt.Errorf("block %s in rule group %s in %s/%s: %w", t.ID, group, t.Account, t.Region, err)
	}
	cidr, err := blockCIDR(t.ID)
	if err != nil {
		return fail(err)
	}
	c, err := env.Cloud.NetworkFirewall(ctx, t.Account, t.Region)
	if err != nil {
		return fail(err)
	}
	trace := &action.Trace{}
	var sid int
	changed, err := editRules(ctx, c, trace, t.Account, group, func(rules []types.StatefulRule) ([]types.StatefulRule, bool, error) {
		last := 0
		for _, r := range rules {
			if isBlock(r, cidr) {
				return nil, false, nil
			}
			if n, ok := ruleSID(r); ok && n > last {
				last = n
			}
		}
		// Suricata requires sids unique within the group.
		sid = last + 1
		return append(rules, types.StatefulRule{
			Action: types.StatefulActionDrop,
			Header: &types.Header{Protocol: types.StatefulRuleProtocolAny, Source: aws.String(cidr), SourcePort: aws.String("ANY"),
				Direction: types.StatefulRuleDirectionAny, Destination: aws.String("ANY"), DestinationPort: aws.String("ANY")},
			RuleOptions: []types.RuleOption{{Keyword: aws.String("sid"), Settings: []string{strconv.Itoa(sid)}}},
		}), true, nil
	})
	if err != nil {
		return fail(err)
	}
	if !changed {
		return &action.Result{Status: action.AlreadyDone, Message: "the group already drops traffic from and to " + cidr, RequestIDs: trace.IDs()}, nil
	}
	raw, err := action.EncodePrior(blockPrior{RuleGroup: group, CIDR: cidr, SID: sid})
	if err != nil {
		return fail(err)
	}
	return &action.Result{Status: action.Done, Message: fmt.Sprintf("DROP rule (sid %d) added for %s", sid, cidr), Prior: raw, RequestIDs: trace.IDs()}, nil
}

func (blockIP) Undo(ctx context.Context, env *action.Env, req *action.Request, raw json.RawMessage) (*action.Result, error) {
	t := req.Target
	var prior blockPrior
	if err := action.DecodePrior(raw, &prior); err != nil {
		return nil, fmt.Errorf("unblock %s in %s/%s: %w", t.ID, t.Account, t.Region, err)
	}
	fail := func(err error) (*action.Result, error) {
		return nil, fmt.Errorf("unblock %s in rule group %s in %s/%s: %w", prior.CIDR, prior.RuleGroup, t.Account, t.Region, err)
	}
	if prior.RuleGroup == "" || prior.CIDR == "" {
		return fail(errors.New("the prior state names no rule"))
	}
	c, err := env.Cloud.NetworkFirewall(ctx, t.Account, t.Region)
	if err != nil {
		return fail(err)
	}
	trace := &action.Trace{}
	changed, err := editRules(ctx, c, trace, t.Account, prior.RuleGroup, func(rules []types.StatefulRule) ([]types.StatefulRule, bool, error) {
		// Only the rule Firebreak added goes: same sid and still the block it wrote, so a
		// rule someone else has since put under that sid is left alone.
		i := slices.IndexFunc(rules, func(r types.StatefulRule) bool {
			n, ok := ruleSID(r)
			return ok && n == prior.SID && isBlock(r, prior.CIDR)
		})
		if i < 0 {
			return nil, false, nil
		}
		return slices.Delete(rules, i, i+1), true, nil
	})
	if err != nil {
		return fail(err)
	}
	if !changed {
		return &action.Result{Status: action.AlreadyDone, Message: "the rule Firebreak added is no longer in the group", RequestIDs: trace.IDs()}, nil
	}
	return &action.Result{Status: action.Done, Message: fmt.Sprintf("DROP rule (sid %d) for %s removed", prior.SID, prior.CIDR), RequestIDs: trace.IDs()}, nil
}
