package networkfirewall

import (
	"github.com/firebreak-sec/firebreak/internal/action"
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
