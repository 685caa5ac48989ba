package ec2

import (
	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// IsolateSpec declares ec2.isolate.
//
// Swapping security groups alone does not cut an attacker's live session. Security groups
// track connections, and a tracked connection outlives the removal of the rule that let it
// in until it idles out (after up to five days for TCP). A flow is untracked only while
// rules allow all traffic from and to 0.0.0.0/0 and ::/0 in both directions, and an
// untracked flow is cut the moment the rule that allowed it goes. So, as AWS's incident
// response guidance for EC2 does, isolation first moves every network interface into an
// "untracking" group that allows all traffic in and out, and then into the isolation group,
// which has no rules at all. Before the swap it also lowers each interface's idle timeouts
// for tracked connections to their minimum (60 s for established TCP), so that what stays
// tracked expires soon.
//
// Not everything can be untracked: a connection that carries no packet while the untracking
// group is on stays tracked until its idle timeout, ICMP is always tracked, and so are
// connections AWS tracks automatically (through NAT gateways, Network and Gateway Load
// Balancers, Global Accelerator, Network Firewall endpoints, interface VPC endpoints,
// transit gateways and egress-only internet gateways). The untracking group is applied for
// as short a moment as possible because, while it is on, the instance accepts traffic from
// anywhere its subnet's routes and network ACLs allow. When a connection must be cut
// immediately whatever its state, a network ACL on the subnet is the remaining tool.
func IsolateSpec() *action.Spec {
	return &action.Spec{
		Name: "ec2.isolate",
		Summary: "Move the instance into a no-rule quarantine security group, first through an all-open " +
			"untracking group so that tracked connections are cut, and detach it from its Auto Scaling " +
			"group and load balancer target groups.",
		Targets: []event.Kind{event.KindInstance},
		Params: []action.Param{
			{
				Name:    "security_group_name",
				Type:    action.String,
				Doc:     "Name of the isolation group in the instance's VPC, created with no rules if it does not exist; the untracking group is named after it with the suffix \"-untracking\".",
				Default: "firebreak-isolation",
			},
			{
				Name: "detach_from_asg",
				Type: action.Bool,
				Doc: "Detach the instance from its Auto Scaling group without lowering the desired capacity, " +
					"so the group launches a healthy replacement instead of terminating the isolated instance when its health checks fail.",
				Default: true,
			},
			{
				Name:    "deregister_from_target_groups",
				Type:    action.Bool,
				Doc:     "Deregister the instance from every load balancer target group it serves, so no client traffic reaches it.",
				Default: true,
			},
			{
				Name:    "enable_termination_protection",
				Type:    action.Bool,
				Doc:     "Turn on termination protection so the evidence is not lost to an accidental or automated termination.",
				Default: true,
			},
			{
				Name: "imds",
				Type: action.String,
				Doc: "What to do with the instance metadata service: \"disabled\" turns it off so the instance profile's " +
					"credentials can no longer be read from the instance; \"token-required\" enforces IMDSv2; \"keep\" leaves it.",
				Default: "disabled",
				Allowed: []string{"keep", "disabled", "token-required"},
			},
		},
		Reversible: true,
		Permissions: []string{
			"ec2:DescribeInstances",
			"ec2:DescribeNetworkInterfaces",
			"ec2:DescribeSecurityGroups",
			"ec2:CreateSecurityGroup",
			// The untracking group's all-traffic rules.
			"ec2:AuthorizeSecurityGroupIngress",
			"ec2:AuthorizeSecurityGroupEgress",
			// A new group allows all egress by default; the isolation group must not.
			"ec2:RevokeSecurityGroupEgress",
			"ec2:CreateTags",
			// Groups are changed per network interface: an instance may have several, and
			// ModifyInstanceAttribute only reaches the primary one. This also sets the
			// connection tracking timeouts.
			"ec2:ModifyNetworkInterfaceAttribute",
			// Termination protection, and restoring it on undo.
			"ec2:ModifyInstanceAttribute",
			"ec2:ModifyInstanceMetadataOptions",
			"autoscaling:DescribeAutoScalingInstances",
			"autoscaling:DetachInstances",
			"autoscaling:AttachInstances",
			"elasticloadbalancing:DescribeTargetGroups",
			"elasticloadbalancing:DescribeTargetHealth",
			"elasticloadbalancing:DeregisterTargets",
			"elasticloadbalancing:RegisterTargets",
		},
		Manual: `# Account {{.Account}}, region {{.Region}}: isolate {{.ID}}.
# Capture memory first (ec2.capture-memory): the SSM agent stops working once the instance is isolated.

# 1. Protect it from termination (enable_termination_protection = {{.Param "enable_termination_protection"}}).
aws ec2 modify-instance-attribute --region {{.Region}} --instance-id {{.ID}} --disable-api-termination

# 2. Detach it from its Auto Scaling group, if any (detach_from_asg = {{.Param "detach_from_asg"}}).
aws autoscaling describe-auto-scaling-instances --region {{.Region}} --instance-ids {{.ID}}
aws autoscaling detach-instances --region {{.Region}} --instance-ids {{.ID}} \
  --auto-scaling-group-name ASG_NAME --no-should-decrement-desired-capacity

# 3. Deregister it from every target group that lists it (deregister_from_target_groups = {{.Param "deregister_from_target_groups"}}).
aws elbv2 describe-target-groups --region {{.Region}} --query 'TargetGroups[].TargetGroupArn'
aws elbv2 describe-target-health --region {{.Region}} --target-group-arn TARGET_GROUP_ARN --targets Id={{.ID}}
aws elbv2 deregister-targets --region {{.Region}} --target-group-arn TARGET_GROUP_ARN --targets Id={{.ID}}

# 4. Record its network interfaces, VPC and current groups: undo needs them.
aws ec2 describe-network-interfaces --region {{.Region}} --filters Name=attachment.instance-id,Values={{.ID}} \
  --query 'NetworkInterfaces[].[NetworkInterfaceId,VpcId,Groups[].GroupId,ConnectionTrackingConfiguration]'

# 5. In that VPC, an untracking group that allows all traffic in and out (new groups already allow all IPv4 egress) ...
aws ec2 create-security-group --region {{.Region}} --vpc-id VPC_ID \
  --group-name '{{.Param "security_group_name"}}-untracking' --description "Firebreak: untracks connections before isolation"
aws ec2 authorize-security-group-ingress --region {{.Region}} --group-id UNTRACKING_GROUP_ID \
  --ip-permissions 'IpProtocol=-1,IpRanges=[{CidrIp=0.0.0.0/0}],Ipv6Ranges=[{CidrIpv6=::/0}]'
aws ec2 authorize-security-group-egress --region {{.Region}} --group-id UNTRACKING_GROUP_ID \
  --ip-permissions 'IpProtocol=-1,Ipv6Ranges=[{CidrIpv6=::/0}]'
# ... and an isolation group with no rules at all.
aws ec2 create-security-group --region {{.Region}} --vpc-id VPC_ID \
  --group-name '{{.Param "security_group_name"}}' --description "Firebreak: isolated instances, no traffic"
aws ec2 revoke-security-group-egress --region {{.Region}} --group-id ISOLATION_GROUP_ID \
  --ip-permissions 'IpProtocol=-1,IpRanges=[{CidrIp=0.0.0.0/0}]'

# 6. For each network interface: shorten idle tracking, untrack, then isolate a few seconds later.
aws ec2 modify-network-interface-attribute --region {{.Region}} --network-interface-id ENI_ID \
  --connection-tracking-specification TcpEstablishedTimeout=60,UdpStreamTimeout=60,UdpTimeout=30
aws ec2 modify-network-interface-attribute --region {{.Region}} --network-interface-id ENI_ID --groups UNTRACKING_GROUP_ID
aws ec2 modify-network-interface-attribute --region {{.Region}} --network-interface-id ENI_ID --groups ISOLATION_GROUP_ID

# 7. Instance metadata (imds = {{.Param "imds"}}): for "disabled" run the first line, for "token-required" the second, for "keep" neither.
aws ec2 modify-instance-metadata-options --region {{.Region}} --instance-id {{.ID}} --http-endpoint disabled
aws ec2 modify-instance-metadata-options --region {{.Region}} --instance-id {{.ID}} --http-tokens required --http-endpoint enabled

# 8. Mark it.
aws ec2 create-tags --region {{.Region}} --resources {{.ID}} --tags Key=firebreak:incident,Value=INCIDENT_ID Key=firebreak:status,Value=isolated`,
		ManualUndo: `# Account {{.Account}}, region {{.Region}}: release {{.ID}} from isolation, using what step 4 recorded.
# For each network interface, its original groups and tracking timeouts:
aws ec2 modify-network-interface-attribute --region {{.Region}} --network-interface-id ENI_ID --groups ORIGINAL_GROUP_IDS
aws ec2 modify-network-interface-attribute --region {{.Region}} --network-interface-id ENI_ID \
  --connection-tracking-specification TcpEstablishedTimeout=ORIGINAL,UdpStreamTimeout=ORIGINAL,UdpTimeout=ORIGINAL
# Instance metadata as it was (HTTP_TOKENS is optional or required):
aws ec2 modify-instance-metadata-options --region {{.Region}} --instance-id {{.ID}} --http-endpoint enabled --http-tokens HTTP_TOKENS
# Termination protection, only if it was off before:
aws ec2 modify-instance-attribute --region {{.Region}} --instance-id {{.ID}} --no-disable-api-termination
aws elbv2 register-targets --region {{.Region}} --target-group-arn TARGET_GROUP_ARN --targets Id={{.ID}}
# Re-attaching raises the group's desired capacity by one; lower it again if a replacement was launched.
aws autoscaling attach-instances --region {{.Region}} --instance-ids {{.ID}} --auto-scaling-group-name ASG_NAME
aws ec2 delete-tags --region {{.Region}} --resources {{.ID}} --tags Key=firebreak:status`,
	}
}
