package waf

import (
	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// BlockIPSpec declares waf.block-ip. UpdateIPSet replaces the whole address list, so the
// set is read with GetIPSet and written back with the lock token it returned; a
// WAFOptimisticLockException means another writer got in between, and the step reads and
// tries again. Firebreak does not create the IP set: a set no web ACL rule references blocks
// nothing, so a missing set is an error that says so.
//
// An IP set holds addresses of one version only, hence a second set for IPv6.
func BlockIPSpec() *action.Spec {
	return &action.Spec{
		Name: "waf.block-ip",
		Summary: "Add the address (as a /32 or /128) to a WAFv2 IP set that a blocking rule in your web ACLs " +
			"references.",
		Targets: []event.Kind{event.KindIP},
		Params: []action.Param{
			{
				Name:    "ip_set",
				Type:    action.String,
				Doc:     "Name of the IPv4 IP set.",
				Default: "firebreak-blocklist",
			},
			{
				Name:    "ip_set_ipv6",
				Type:    action.String,
				Doc:     "Name of the IPv6 IP set, used when the address is IPv6.",
				Default: "firebreak-blocklist-ipv6",
			},
			{
				Name:    "scope",
				Type:    action.String,
				Doc:     "REGIONAL for web ACLs on regional resources, CLOUDFRONT for distributions (managed in us-east-1).",
				Default: "REGIONAL",
				Allowed: []string{"REGIONAL", "CLOUDFRONT"},
			},
		},
		Reversible: true,
		Permissions: []string{
			// Finds the set's id from its name.
			"wafv2:ListIPSets",
			"wafv2:GetIPSet",
			"wafv2:UpdateIPSet",
		},
		Manual: `# Account {{.Account}}: block {{.ID}} in IP set {{.Param "ip_set"}} (IPv6: {{.Param "ip_set_ipv6"}}), scope {{.Param "scope"}}.
# Use --region us-east-1 when the scope is CLOUDFRONT. An IPv6 address goes into the IPv6 set as /128.
aws wafv2 list-ip-sets --region {{.Region}} --scope {{.Param "scope"}} --query "IPSets[?Name=='{{.Param "ip_set"}}'].Id"
aws wafv2 get-ip-set --region {{.Region}} --scope {{.Param "scope"}} --name '{{.Param "ip_set"}}' --id IP_SET_ID
# Write back every address already there plus this one, with the LockToken get-ip-set returned.
aws wafv2 update-ip-set --region {{.Region}} --scope {{.Param "scope"}} --name '{{.Param "ip_set"}}' --id IP_SET_ID \
  --addresses EXISTING_ADDRESSES... {{.ID}}/32 --lock-token LOCK_TOKEN`,
		ManualUndo: `# Account {{.Account}}: unblock {{.ID}}: write the set back without it, with a fresh lock token.
aws wafv2 get-ip-set --region {{.Region}} --scope {{.Param "scope"}} --name '{{.Param "ip_set"}}' --id IP_SET_ID
aws wafv2 update-ip-set --region {{.Region}} --scope {{.Param "scope"}} --name '{{.Param "ip_set"}}' --id IP_SET_ID \
  --addresses REMAINING_ADDRESSES... --lock-token LOCK_TOKEN`,
	}
}
