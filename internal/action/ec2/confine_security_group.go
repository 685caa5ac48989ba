package ec2

import (
	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// ConfineSecurityGroupSpec declares ec2.confine-security-group. Rules are revoked by rule
// id, not by re-describing their permissions, so that a rule open to the world on both
// IPv4 and IPv6 goes in full and rules that only share a port are untouched. The revoked
// rules are recorded for undo.
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
		Permissions: []string{
			"ec2:DescribeSecurityGroups",
			"ec2:DescribeSecurityGroupRules",
			"ec2:RevokeSecurityGroupIngress",
			// For allowed_cidrs, and to restore the revoked rules on undo.
			"ec2:AuthorizeSecurityGroupIngress",
			"ec2:CreateTags",
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
