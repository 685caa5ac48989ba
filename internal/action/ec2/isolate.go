package ec2

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/cloud"
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
//
// Execution is laid out for as few serial round trips to AWS as the data allow, because
// every round trip is time the attacker keeps. Round one asks, all at once, for the
// instance (DescribeInstances returns its network interfaces, their groups and tracking
// timeouts, its VPC, tags and metadata options), its termination protection, its Auto
// Scaling group, the region's target groups, the instance's registrations in the target
// groups this process listed before, and, unless this process has looked before, the
// isolation and untracking groups by name in every VPC of the region. Round two moves every
// interface into the untracking group and lowers its timeouts, concurrently, and alongside
// them turns on termination protection, locks the metadata service, detaches the instance
// from its Auto Scaling group, deregisters it from the target groups round one found it in,
// reads its registrations in any target group new to this process and tags the instance.
// Round three moves every interface into the isolation group and deregisters the instance
// from the target groups round two found it in.
//
// Nothing is changed before round one has recorded it, so undo stays exact, and that sets
// the floor: one read, then two interface swaps that cannot overlap, since the untracking
// group must be in place before the isolation group replaces it. One call cannot set both
// the groups and the tracking timeouts (ModifyNetworkInterfaceAttribute takes one attribute
// at a time), so the timeouts go in a call of their own alongside the first swap.
//
// The group ids are cached per (account, region, VPC) in Env.Cache, and the target group
// list per (account, region), so a second incident in the same VPC costs three round trips.
// A first one in a VPC that has never seen Firebreak costs four: the groups are created
// after round one, and their rules are completed alongside the untracking swap (see
// ensureGroups for why that is safe). With untrack_connections off, round two isolates
// directly and the step costs one round trip fewer when the groups are cached; cold, the
// isolation group's rules must be gone before any interface enters it, so the step still
// costs four. A cached id that AWS no longer knows is forgotten, and the next attempt looks
// again. Isolations that are the first in a VPC at once, in several processes, converge on
// one pair of groups: the one whose creation finds the group already there uses it, and
// each completes whatever rules the other has not yet set (see configure).
//
// Everything changed is recorded for undo: each interface's groups and tracking timeouts,
// whether termination protection was off, the metadata options, the Auto Scaling group and
// each target group registration (with its port), and the tags' previous values. The groups
// themselves are kept on undo: they are shared by every isolated instance in the VPC.
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
				Name: "untrack_connections",
				Type: action.Bool,
				Doc: "Pass every network interface through the all-open untracking group before the isolation group, " +
					"so that connections already established are cut rather than left to idle out.",
				Default: true,
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
		Exec:       isolate{},
		Permissions: []string{
			"ec2:DescribeInstances",
			"ec2:DescribeInstanceAttribute",
			"ec2:DescribeNetworkInterfaces",
			"ec2:DescribeSecurityGroups",
			"ec2:CreateSecurityGroup",
			// The untracking group's all-traffic rules.
			"ec2:AuthorizeSecurityGroupIngress",
			"ec2:AuthorizeSecurityGroupEgress",
			// A new group allows all egress by default; the isolation group must not.
			"ec2:RevokeSecurityGroupEgress",
			"ec2:CreateTags",
			// Undo removes the status tag, or any tag the instance did not have before.
			"ec2:DeleteTags",
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

// Connection tracking idle timeouts, in seconds: the minimums isolation sets, and AWS's
// defaults, which undo puts back on an interface that had none configured (EC2 User Guide,
// "Idle connection tracking timeout").
const (
	minTCPEstablished     = 60
	minUDPStream          = 60
	minUDP                = 30
	defaultTCPEstablished = 432000
	defaultUDPStream      = 180
	defaultUDP            = 30
)

// isolatePrior is what ec2.isolate changed.
type isolatePrior struct {
	VPC            string             `json:"vpc"`
	IsolationGroup string             `json:"isolation_group"`
	Interfaces     []eniPrior         `json:"network_interfaces,omitempty"`
	Protection     bool               `json:"termination_protection_enabled,omitempty"` // Do turned it on
	Metadata       *imdsPrior         `json:"metadata_options,omitempty"`
	AutoScaling    string             `json:"auto_scaling_group,omitempty"`
	TargetGroups   []tgPrior          `json:"target_groups,omitempty"`
	Tags           []action.TagChange `json:"tags,omitempty"`
}

type eniPrior struct {
	ID       string    `json:"id"`
	Groups   []string  `json:"groups"`
	Tracking *tracking `json:"tracking,omitempty"` // nil: AWS's defaults
}

type tracking struct {
	TCPEstablished int32 `json:"tcp_established"`
	UDPStream      int32 `json:"udp_stream"`
	UDP            int32 `json:"udp"`
}

type imdsPrior struct {
	HTTPTokens   string `json:"http_tokens"`
	HTTPEndpoint string `json:"http_endpoint"`
}

type tgPrior struct {
	ARN  string `json:"arn"`
	Port int32  `json:"port,omitempty"`
}

type isolate struct{}

func groupCacheKey(account, region, vpc, name string) string {
	return "ec2.isolate/group/" + account + "/" + region + "/" + vpc + "/" + name
}

func lookedUpKey(account, region, name string) string {
	return "ec2.isolate/looked-up/" + account + "/" + region + "/" + name
}

// targetGroupsKey caches the ARNs of a region's instance target groups, space-separated, so
// that the next isolation reads their registrations in its first round. The list is read
// again in that round, so a group created since costs a round more and is never missed.
func targetGroupsKey(account, region string) string {
	return "ec2.isolate/target-groups/" + account + "/" + region
}

// isolateRun is one execution's state, shared by the goroutines of its rounds.
type isolateRun struct {
	env       *action.Env
	req       *action.Request
	c         cloud.EC2
	trace     *action.Trace
	account   string
	region    string
	id        string
	name      string // isolation group name
	untrackNm string
	untrack   bool
	vpc       string // the instance's, once round one has read it
	lookedUp  bool

	mu    sync.Mutex            // guards found: both groups' creations may look them up at once
	found []types.SecurityGroup // groups by name from round one, every VPC
}

func (isolate) Do(ctx context.Context, env *action.Env, req *action.Request) (*action.Result, error) {
	t := req.Target
	c, err := env.Cloud.EC2(ctx, t.Account, t.Region)
	if err != nil {
		return nil, fmt.Errorf("isolate %s in %s: %w", t.ID, t.Account, err)
	}
	r := &isolateRun{env: env, req: req, c: c, trace: &action.Trace{}, account: t.Account, region: t.Region, id: t.ID,
		name: req.String("security_group_name"), untrack: req.Bool("untrack_connections", true)}
	if r.name == "" {
		r.name = "firebreak-isolation"
	}
	r.untrackNm = r.name + "-untracking"
	res, err := r.do(ctx)
	if res != nil {
		res.RequestIDs = r.trace.IDs()
	}
	if err != nil {
		return res, fmt.Errorf("isolate %s in %s: %w", t.ID, t.Account, err)
	}
	return res, nil
}

func (r *isolateRun) do(ctx context.Context) (*action.Result, error) {
	var (
		inst       *types.Instance
		protected  bool
		asg        string
		tgs        []string
		wantProt   = r.req.Bool("enable_termination_protection", true)
		wantDetach = r.req.Bool("detach_from_asg", true)
		wantDereg  = r.req.Bool("deregister_from_target_groups", true)
		imds       = r.req.String("imds")
		// Registrations found in round one (in target groups this process knew) and in
		// round two (in target groups it did not): each is deregistered in the round after.
		early, late []tgPrior
		regMu       sync.Mutex
	)
	_, r.lookedUp = r.env.Cache.Get(lookedUpKey(r.account, r.region, r.name))
	var known []string // the region's target groups as this process last listed them
	tgKnown := false
	if wantDereg {
		var v string
		if v, tgKnown = r.env.Cache.Get(targetGroupsKey(r.account, r.region)); tgKnown {
			known = strings.Fields(v)
		}
	}
	health := func(arn string, into *[]tgPrior) func() error {
		return func() error {
			ports, err := r.registrations(ctx, arn)
			if err != nil {
				// The next isolation lists the region's groups before trusting any again.
				r.env.Cache.Forget(targetGroupsKey(r.account, r.region))
				return err
			}
			regMu.Lock()
			defer regMu.Unlock()
			for _, port := range ports {
				*into = append(*into, tgPrior{ARN: arn, Port: port})
			}
			return nil
		}
	}

	// Round one: everything that can be read without knowing anything else. The target
	// groups this process listed before are read for the instance's registrations now, and
	// the list is read again alongside to find any group created since.
	fns := []func() error{
		func() (err error) { inst, err = describeInstance(ctx, r.c, r.trace, r.account, r.id); return err },
		func() error {
			if !wantProt {
				return nil
			}
			out, err := r.c.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{
				InstanceId: aws.String(r.id), Attribute: types.InstanceAttributeNameDisableApiTermination})
			if err != nil {
				return action.AWSError(err, r.account, "ec2:DescribeInstanceAttribute", "read termination protection")
			}
			r.trace.Record(out.ResultMetadata)
			protected = out.DisableApiTermination != nil && aws.ToBool(out.DisableApiTermination.Value)
			return nil
		},
		func() (err error) {
			if !wantDetach {
				return nil
			}
			asg, err = r.autoScalingGroup(ctx)
			return err
		},
		func() (err error) {
			if !wantDereg {
				return nil
			}
			if tgs, err = r.targetGroups(ctx); err != nil {
				r.env.Cache.Forget(targetGroupsKey(r.account, r.region))
				return err
			}
			r.env.Cache.Put(targetGroupsKey(r.account, r.region), strings.Join(tgs, " "))
			return nil
		},
		func() error {
			if r.lookedUp {
				return nil
			}
			return r.findGroups(ctx, "")
		},
	}
	for _, arn := range known {
		fns = append(fns, health(arn, &early))
	}
	if err := action.Parallel(fns...); err != nil {
		return nil, err
	}
	// Target groups the fresh list has and the cache did not are read in round two.
	var fresh []string
	for _, arn := range tgs {
		if !tgKnown || !slices.Contains(known, arn) {
			fresh = append(fresh, arn)
		}
	}
	r.vpc = aws.ToString(inst.VpcId)
	vpc := r.vpc
	if inst.State != nil && inst.State.Name == types.InstanceStateNameTerminated {
		return &action.Result{Status: action.Skipped, Message: "the instance is terminated; nothing to isolate"}, nil
	}
	prior := &isolatePrior{VPC: vpc}
	for _, ni := range inst.NetworkInterfaces {
		p := eniPrior{ID: aws.ToString(ni.NetworkInterfaceId), Groups: []string{}}
		for _, g := range ni.Groups {
			p.Groups = append(p.Groups, aws.ToString(g.GroupId))
		}
		if ct := ni.ConnectionTrackingConfiguration; ct != nil && (ct.TcpEstablishedTimeout != nil || ct.UdpStreamTimeout != nil || ct.UdpTimeout != nil) {
			p.Tracking = &tracking{
				TCPEstablished: aws.ToInt32(ct.TcpEstablishedTimeout),
				UDPStream:      aws.ToInt32(ct.UdpStreamTimeout),
				UDP:            aws.ToInt32(ct.UdpTimeout),
			}
		}
		prior.Interfaces = append(prior.Interfaces, p)
	}
	sort.Slice(prior.Interfaces, func(i, j int) bool { return prior.Interfaces[i].ID < prior.Interfaces[j].ID })

	isoID, _ := r.env.Cache.Get(groupCacheKey(r.account, r.region, vpc, r.name))
	untrackID, _ := r.env.Cache.Get(groupCacheKey(r.account, r.region, vpc, r.untrackNm))

	// What is already as isolation wants it is left alone, so a repeated step changes nothing.
	var swap []eniPrior
	for _, p := range prior.Interfaces {
		if isoID == "" || len(p.Groups) != 1 || p.Groups[0] != isoID {
			swap = append(swap, p)
		}
	}
	prior.Interfaces = swap
	prior.Protection = wantProt && !protected
	if md := inst.MetadataOptions; imds == "disabled" || imds == "token-required" {
		cur := imdsPrior{HTTPTokens: "optional", HTTPEndpoint: "enabled"}
		if md != nil {
			if md.HttpTokens != "" {
				cur.HTTPTokens = string(md.HttpTokens)
			}
			if md.HttpEndpoint != "" {
				cur.HTTPEndpoint = string(md.HttpEndpoint)
			}
		}
		if (imds == "disabled" && cur.HTTPEndpoint != "disabled") ||
			(imds == "token-required" && (cur.HTTPTokens != "required" || cur.HTTPEndpoint != "enabled")) {
			prior.Metadata = &cur
		}
	}
	prior.AutoScaling = asg
	setTags, tagPrior := action.TagChanges(ec2Tags(inst.Tags), action.IncidentTags("", "isolated"))
	if len(setTags) > 0 && r.req.Incident != "" {
		// The incident is recorded with the status, never on its own: a repeated step by a
		// later incident leaves the first incident's mark.
		setTags, tagPrior = action.TagChanges(ec2Tags(inst.Tags), action.IncidentTags(r.req.Incident, "isolated"))
	}
	prior.Tags = tagPrior

	// Groups: cold, find (round one did) or create them in this VPC. Their rules are
	// completed alongside round two when that round moves the interfaces into the
	// untracking group (see configureLater), and before it otherwise.
	var configure []func() error
	if len(swap) > 0 && (isoID == "" || (r.untrack && untrackID == "")) {
		if r.lookedUp {
			// The cache knew the region but not this VPC.
			if err := r.findGroups(ctx, vpc); err != nil {
				return nil, err
			}
		}
		var err error
		isoID, untrackID, configure, err = r.ensureGroups(ctx, vpc)
		if err != nil {
			return nil, err
		}
		if !r.untrack {
			if err := action.Parallel(configure...); err != nil {
				return nil, err
			}
			configure = nil
		}
		// The interfaces already in the isolation group need no swap after all.
		swap = swap[:0]
		for _, p := range prior.Interfaces {
			if len(p.Groups) != 1 || p.Groups[0] != isoID {
				swap = append(swap, p)
			}
		}
		prior.Interfaces = swap
	}
	prior.IsolationGroup = isoID

	// Round two: untrack (or isolate), and everything else that does not wait on the swap.
	first := isoID
	if r.untrack {
		first = untrackID
	}
	fns = append(fns[:0], configure...)
	for _, p := range swap {
		fns = append(fns,
			func() error { return r.setGroups(ctx, p.ID, first) },
			func() error {
				if p.Tracking != nil && p.Tracking.TCPEstablished == minTCPEstablished &&
					p.Tracking.UDPStream == minUDPStream && p.Tracking.UDP == minUDP {
					return nil
				}
				return r.setTracking(ctx, p.ID, tracking{minTCPEstablished, minUDPStream, minUDP})
			})
	}
	if prior.Protection {
		fns = append(fns, func() error { return r.setProtection(ctx, true) })
	}
	if prior.Metadata != nil {
		fns = append(fns, func() error { return r.setMetadata(ctx, imds, nil) })
	}
	if asg != "" {
		fns = append(fns, func() error { return r.detach(ctx, asg) })
	}
	for _, tg := range early {
		fns = append(fns, func() error { return r.deregister(ctx, tg) })
	}
	for _, arn := range fresh {
		fns = append(fns, health(arn, &late))
	}
	if len(setTags) > 0 {
		fns = append(fns, func() error { return setTags2(ctx, r, setTags) })
	}
	encode := func() *action.Result {
		registered := append(append([]tgPrior{}, early...), late...)
		sort.Slice(registered, func(i, j int) bool {
			if registered[i].ARN != registered[j].ARN {
				return registered[i].ARN < registered[j].ARN
			}
			return registered[i].Port < registered[j].Port
		})
		prior.TargetGroups = registered
		raw, _ := action.EncodePrior(prior)
		return &action.Result{Status: action.Done, Prior: raw}
	}
	if err := action.Parallel(fns...); err != nil {
		return encode(), err
	}

	// Round three: isolate after untracking, and take the instance out of the target groups
	// round two found it in.
	fns = fns[:0]
	if r.untrack {
		for _, p := range swap {
			fns = append(fns, func() error { return r.setGroups(ctx, p.ID, isoID) })
		}
	}
	for _, tg := range late {
		fns = append(fns, func() error { return r.deregister(ctx, tg) })
	}
	changed := len(swap) > 0 || prior.Protection || prior.Metadata != nil || asg != "" || len(setTags) > 0 || len(early)+len(late) > 0
	res := encode()
	if err := action.Parallel(fns...); err != nil {
		return res, err
	}
	if !changed {
		return &action.Result{Status: action.AlreadyDone, Message: "the instance is already isolated in " + isoID}, nil
	}
	res.Message = fmt.Sprintf("%d network interface(s) moved into %s", len(swap), isoID)
	return res, nil
}

func setTags2(ctx context.Context, r *isolateRun, set map[string]string) error {
	return setTags(ctx, r.c, r.trace, r.account, r.id, set)
}

// findGroups looks the isolation and untracking groups up by name, in one VPC or (vpc "")
// in every VPC of the region, and caches what it finds.
func (r *isolateRun) findGroups(ctx context.Context, vpc string) error {
	filters := []types.Filter{{Name: aws.String("group-name"), Values: []string{r.name, r.untrackNm}}}
	if vpc != "" {
		filters = append(filters, types.Filter{Name: aws.String("vpc-id"), Values: []string{vpc}})
	}
	in := &ec2.DescribeSecurityGroupsInput{Filters: filters}
	var found []types.SecurityGroup
	for {
		out, err := r.c.DescribeSecurityGroups(ctx, in)
		if err != nil {
			return action.AWSError(err, r.account, "ec2:DescribeSecurityGroups", "look up the isolation groups")
		}
		r.trace.Record(out.ResultMetadata)
		found = append(found, out.SecurityGroups...)
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	r.mu.Lock()
	r.found = append(r.found, found...)
	r.mu.Unlock()
	for _, g := range found {
		if ready(g, g.GroupName != nil && *g.GroupName == r.untrackNm) {
			r.env.Cache.Put(groupCacheKey(r.account, r.region, aws.ToString(g.VpcId), aws.ToString(g.GroupName)), aws.ToString(g.GroupId))
		}
	}
	if vpc == "" {
		r.env.Cache.Put(lookedUpKey(r.account, r.region, r.name), "yes")
	}
	return nil
}

// allOpen reports whether perms allow all traffic from or to anywhere, IPv4 and IPv6.
func allOpen(perms []types.IpPermission) (v4, v6 bool) {
	for _, p := range perms {
		if aws.ToString(p.IpProtocol) != "-1" {
			continue
		}
		for _, rg := range p.IpRanges {
			v4 = v4 || aws.ToString(rg.CidrIp) == "0.0.0.0/0"
		}
		for _, rg := range p.Ipv6Ranges {
			v6 = v6 || aws.ToString(rg.CidrIpv6) == "::/0"
		}
	}
	return v4, v6
}

// ready reports whether a group has the rules its role needs: none at all for isolation,
// all traffic both ways for untracking.
func ready(g types.SecurityGroup, untracking bool) bool {
	if !untracking {
		return len(g.IpPermissions) == 0 && len(g.IpPermissionsEgress) == 0
	}
	in4, in6 := allOpen(g.IpPermissions)
	out4, out6 := allOpen(g.IpPermissionsEgress)
	return in4 && in6 && out4 && out6
}

// foundGroup returns a copy of the group called name in vpc among those looked up, or nil.
func (r *isolateRun) foundGroup(vpc, name string) *types.SecurityGroup {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, g := range r.found {
		if aws.ToString(g.GroupName) == name && aws.ToString(g.VpcId) == vpc {
			return &g
		}
	}
	return nil
}

// ensureGroups returns the isolation and untracking groups of vpc, creating those round one
// did not find (one round trip), and the calls that complete their rules, which the caller
// runs (one more round trip at most, none when the groups were found ready). Each of those
// calls caches its group once it is ready.
//
// With untracking, the caller runs them alongside the move into the untracking group rather
// than before it. That is sound: until the rules land, the interface is in a group that
// allows a subset of what the untracking group will (a new group allows only IPv4 egress),
// so nothing is opened beyond the untracking state, and the interfaces move into the
// isolation group only in the round after, once every rule is in place. The all-open window
// that untracks connections is the same: from the later of the swap and the rules to the
// next swap.
func (r *isolateRun) ensureGroups(ctx context.Context, vpc string) (iso, untrack string, configure []func() error, err error) {
	var isoG, untrackG *types.SecurityGroup
	err = action.Parallel(
		func() (err error) { isoG, err = r.createGroup(ctx, vpc, r.name, r.foundGroup(vpc, r.name)); return err },
		func() (err error) {
			if !r.untrack {
				return nil
			}
			untrackG, err = r.createGroup(ctx, vpc, r.untrackNm, r.foundGroup(vpc, r.untrackNm))
			return err
		},
	)
	if err != nil {
		return "", "", nil, err
	}
	ready := func(g *types.SecurityGroup, untracking bool) func() error {
		return func() error {
			if err := r.configure(ctx, g, untracking); err != nil {
				return err
			}
			r.env.Cache.Put(groupCacheKey(r.account, r.region, vpc, aws.ToString(g.GroupName)), aws.ToString(g.GroupId))
			return nil
		}
	}
	configure = append(configure, ready(isoG, false))
	if untrackG != nil {
		untrack = aws.ToString(untrackG.GroupId)
		configure = append(configure, ready(untrackG, true))
	}
	return aws.ToString(isoG.GroupId), untrack, configure, nil
}

// createGroup returns g, or creates the group when g is nil. A new group has AWS's default
// egress rule (all IPv4 traffic), which configure accounts for.
func (r *isolateRun) createGroup(ctx context.Context, vpc, name string, g *types.SecurityGroup) (*types.SecurityGroup, error) {
	if g != nil {
		return g, nil
	}
	desc := "Firebreak: isolated instances, no traffic"
	if name == r.untrackNm {
		desc = "Firebreak: untracks connections before isolation"
	}
	out, err := r.c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName: aws.String(name), Description: aws.String(desc), VpcId: aws.String(vpc),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSecurityGroup,
			Tags: []types.Tag{{Key: aws.String("firebreak:managed"), Value: aws.String("true")}}}},
	})
	if cloud.Code(err) == "InvalidGroup.Duplicate" {
		// Another isolation, in this process or another, created it since round one
		// looked: use that one. Its rules may still be in the making; configure converges
		// on them either way.
		return r.lookUpCreated(ctx, vpc, name, err)
	}
	if err != nil {
		return nil, action.AWSError(err, r.account, "ec2:CreateSecurityGroup", "create security group "+name+" in "+vpc)
	}
	r.trace.Record(out.ResultMetadata)
	return &types.SecurityGroup{GroupId: out.GroupId, GroupName: aws.String(name), VpcId: aws.String(vpc),
		IpPermissionsEgress: []types.IpPermission{{IpProtocol: aws.String("-1"), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}, nil
}

// lookUpCreated finds the group called name in vpc after CreateSecurityGroup said it
// already exists. EC2's reads are eventually consistent, so a group created a moment ago
// may not be listed yet: the lookup is repeated with the step's backoff before dup, the
// creation's error, is returned.
func (r *isolateRun) lookUpCreated(ctx context.Context, vpc, name string, dup error) (*types.SecurityGroup, error) {
	for n := 1; ; n++ {
		if err := r.findGroups(ctx, vpc); err != nil {
			return nil, err
		}
		if g := r.foundGroup(vpc, name); g != nil {
			return g, nil
		}
		if n >= r.env.Retry.MaxAttempts() {
			return nil, action.AWSError(dup, r.account, "ec2:CreateSecurityGroup", "create security group "+name+" in "+vpc)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(r.env.Retry.Backoff(n)):
		}
	}
}

// configure gives a group the rules its role needs, with one call per direction at most.
//
// Two isolations that are the first in a VPC at once (two processes, or two workers with
// caches of their own) set the same new group up together, so each may find the other's
// work done under it: a rule it adds already there (InvalidPermission.Duplicate) or a rule
// it removes already gone (InvalidPermission.NotFound). Only here are those answers taken
// for a race rather than a failure, since the group is Firebreak's own and the rules are the
// ones its role fixes. A call that fails that way may have changed nothing at all (EC2
// applies a call's rules all or none), so configure reads the group again and completes
// what is still missing, until the group is ready; the common path costs nothing more.
func (r *isolateRun) configure(ctx context.Context, g *types.SecurityGroup, untracking bool) error {
	const attempts = 3
	for n := 1; ; n++ {
		raced, err := r.applyRules(ctx, g, untracking)
		if err != nil || !raced {
			return err
		}
		if g, err = r.readGroup(ctx, aws.ToString(g.GroupId)); err != nil {
			return err
		}
		if ready(*g, untracking) {
			return nil
		}
		if n == attempts {
			role := "isolation"
			if untracking {
				role = "untracking"
			}
			return fmt.Errorf("%s group %s: its rules keep changing while they are set", role, aws.ToString(g.GroupId))
		}
	}
}

// applyRules makes the calls that give g, as last read, the rules of its role. raced reports
// that a call found its work already done by someone else (see configure); such a call
// returns no error.
func (r *isolateRun) applyRules(ctx context.Context, g *types.SecurityGroup, untracking bool) (raced bool, err error) {
	id := aws.ToString(g.GroupId)
	var mu sync.Mutex
	// race reports whether err is code, and notes the race if so.
	race := func(err error, code string) bool {
		if cloud.Code(err) != code {
			return false
		}
		mu.Lock()
		raced = true
		mu.Unlock()
		return true
	}
	if !untracking {
		if len(g.IpPermissionsEgress) == 0 && len(g.IpPermissions) == 0 {
			return false, nil
		}
		err = action.Parallel(
			func() error {
				if len(g.IpPermissionsEgress) == 0 {
					return nil
				}
				out, err := r.c.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: g.GroupId, IpPermissions: g.IpPermissionsEgress})
				if race(err, "InvalidPermission.NotFound") {
					return nil
				}
				if err != nil {
					return action.AWSError(err, r.account, "ec2:RevokeSecurityGroupEgress", "empty isolation group "+id)
				}
				r.trace.Record(out.ResultMetadata)
				return nil
			},
			func() error {
				if len(g.IpPermissions) == 0 {
					return nil
				}
				out, err := r.c.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: g.GroupId, IpPermissions: g.IpPermissions})
				if race(err, "InvalidPermission.NotFound") {
					return nil
				}
				if err != nil {
					return action.AWSError(err, r.account, "ec2:RevokeSecurityGroupIngress", "empty isolation group "+id)
				}
				r.trace.Record(out.ResultMetadata)
				return nil
			})
		return raced, err
	}
	missing := func(perms []types.IpPermission) []types.IpPermission {
		v4, v6 := allOpen(perms)
		p := types.IpPermission{IpProtocol: aws.String("-1")}
		if !v4 {
			p.IpRanges = []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}
		}
		if !v6 {
			p.Ipv6Ranges = []types.Ipv6Range{{CidrIpv6: aws.String("::/0")}}
		}
		if v4 && v6 {
			return nil
		}
		return []types.IpPermission{p}
	}
	err = action.Parallel(
		func() error {
			perms := missing(g.IpPermissions)
			if perms == nil {
				return nil
			}
			out, err := r.c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: g.GroupId, IpPermissions: perms})
			if race(err, "InvalidPermission.Duplicate") {
				return nil
			}
			if err != nil {
				return action.AWSError(err, r.account, "ec2:AuthorizeSecurityGroupIngress", "open untracking group "+id)
			}
			r.trace.Record(out.ResultMetadata)
			return nil
		},
		func() error {
			perms := missing(g.IpPermissionsEgress)
			if perms == nil {
				return nil
			}
			out, err := r.c.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: g.GroupId, IpPermissions: perms})
			if race(err, "InvalidPermission.Duplicate") {
				return nil
			}
			if err != nil {
				return action.AWSError(err, r.account, "ec2:AuthorizeSecurityGroupEgress", "open untracking group "+id)
			}
			r.trace.Record(out.ResultMetadata)
			return nil
		})
	return raced, err
}

// readGroup reads one of Firebreak's groups again, as it is now.
func (r *isolateRun) readGroup(ctx context.Context, id string) (*types.SecurityGroup, error) {
	out, err := r.c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{id}})
	if err != nil {
		return nil, action.AWSError(err, r.account, "ec2:DescribeSecurityGroups", "read security group "+id)
	}
	r.trace.Record(out.ResultMetadata)
	for _, g := range out.SecurityGroups {
		if aws.ToString(g.GroupId) == id {
			return &g, nil
		}
	}
	return nil, fmt.Errorf("security group %s: not found", id)
}

func (r *isolateRun) autoScalingGroup(ctx context.Context) (string, error) {
	c, err := r.env.Cloud.AutoScaling(ctx, r.account, r.region)
	if err != nil {
		return "", err
	}
	out, err := c.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: []string{r.id}})
	if err != nil {
		return "", action.AWSError(err, r.account, "autoscaling:DescribeAutoScalingInstances", "find the Auto Scaling group")
	}
	r.trace.Record(out.ResultMetadata)
	for _, i := range out.AutoScalingInstances {
		if aws.ToString(i.InstanceId) == r.id {
			return aws.ToString(i.AutoScalingGroupName), nil
		}
	}
	return "", nil
}

func (r *isolateRun) targetGroups(ctx context.Context) ([]string, error) {
	c, err := r.env.Cloud.ELBv2(ctx, r.account, r.region)
	if err != nil {
		return nil, err
	}
	var arns []string
	in := &elbv2.DescribeTargetGroupsInput{}
	for {
		out, err := c.DescribeTargetGroups(ctx, in)
		if err != nil {
			return nil, action.AWSError(err, r.account, "elasticloadbalancing:DescribeTargetGroups", "list target groups")
		}
		r.trace.Record(out.ResultMetadata)
		for _, tg := range out.TargetGroups {
			if tg.TargetType == "" || tg.TargetType == elbtypes.TargetTypeEnumInstance {
				arns = append(arns, aws.ToString(tg.TargetGroupArn))
			}
		}
		if aws.ToString(out.NextMarker) == "" {
			return arns, nil
		}
		in.Marker = out.NextMarker
	}
}

// registrations returns the ports the instance is registered on in a target group.
func (r *isolateRun) registrations(ctx context.Context, arn string) ([]int32, error) {
	c, err := r.env.Cloud.ELBv2(ctx, r.account, r.region)
	if err != nil {
		return nil, err
	}
	out, err := c.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(arn)})
	if cloud.Code(err) == "TargetGroupNotFound" {
		// Deleted since it was listed: the instance is in it no more.
		return nil, nil
	}
	if err != nil {
		return nil, action.AWSError(err, r.account, "elasticloadbalancing:DescribeTargetHealth", "read target group "+arn)
	}
	r.trace.Record(out.ResultMetadata)
	var ports []int32
	for _, d := range out.TargetHealthDescriptions {
		if d.Target != nil && aws.ToString(d.Target.Id) == r.id {
			if d.TargetHealth != nil && d.TargetHealth.State == elbtypes.TargetHealthStateEnumDraining {
				continue
			}
			ports = append(ports, aws.ToInt32(d.Target.Port))
		}
	}
	return ports, nil
}

func (r *isolateRun) setGroups(ctx context.Context, eni string, groups ...string) error {
	out, err := r.c.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{
		NetworkInterfaceId: aws.String(eni), Groups: groups})
	if code := cloud.Code(err); r.vpc != "" && (code == "InvalidGroup.NotFound" || code == "InvalidGroupId.NotFound") {
		// A cached group was deleted: the next attempt looks the groups up again.
		r.env.Cache.Forget(groupCacheKey(r.account, r.region, r.vpc, r.name))
		r.env.Cache.Forget(groupCacheKey(r.account, r.region, r.vpc, r.untrackNm))
		r.env.Cache.Forget(lookedUpKey(r.account, r.region, r.name))
	}
	if err != nil {
		return action.AWSError(err, r.account, "ec2:ModifyNetworkInterfaceAttribute", "set the groups of "+eni)
	}
	r.trace.Record(out.ResultMetadata)
	return nil
}

func (r *isolateRun) setTracking(ctx context.Context, eni string, t tracking) error {
	out, err := r.c.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{
		NetworkInterfaceId: aws.String(eni),
		ConnectionTrackingSpecification: &types.ConnectionTrackingSpecificationRequest{
			TcpEstablishedTimeout: aws.Int32(t.TCPEstablished), UdpStreamTimeout: aws.Int32(t.UDPStream), UdpTimeout: aws.Int32(t.UDP)},
	})
	if err != nil {
		return action.AWSError(err, r.account, "ec2:ModifyNetworkInterfaceAttribute", "set the connection tracking timeouts of "+eni)
	}
	r.trace.Record(out.ResultMetadata)
	return nil
}

func (r *isolateRun) setProtection(ctx context.Context, on bool) error {
	out, err := r.c.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{
		InstanceId: aws.String(r.id), DisableApiTermination: &types.AttributeBooleanValue{Value: aws.Bool(on)}})
	if err != nil {
		return action.AWSError(err, r.account, "ec2:ModifyInstanceAttribute", "set termination protection")
	}
	r.trace.Record(out.ResultMetadata)
	return nil
}

// setMetadata applies the imds parameter, or with back non-nil, puts back prior options.
func (r *isolateRun) setMetadata(ctx context.Context, imds string, back *imdsPrior) error {
	in := &ec2.ModifyInstanceMetadataOptionsInput{InstanceId: aws.String(r.id)}
	switch {
	case back != nil:
		in.HttpTokens = types.HttpTokensState(back.HTTPTokens)
		in.HttpEndpoint = types.InstanceMetadataEndpointState(back.HTTPEndpoint)
	case imds == "disabled":
		in.HttpEndpoint = types.InstanceMetadataEndpointStateDisabled
	default:
		in.HttpTokens = types.HttpTokensStateRequired
		in.HttpEndpoint = types.InstanceMetadataEndpointStateEnabled
	}
	out, err := r.c.ModifyInstanceMetadataOptions(ctx, in)
	if err != nil {
		return action.AWSError(err, r.account, "ec2:ModifyInstanceMetadataOptions", "set the instance metadata options")
	}
	r.trace.Record(out.ResultMetadata)
	return nil
}

func (r *isolateRun) detach(ctx context.Context, asg string) error {
	c, err := r.env.Cloud.AutoScaling(ctx, r.account, r.region)
	if err != nil {
		return err
	}
	out, err := c.DetachInstances(ctx, &autoscaling.DetachInstancesInput{AutoScalingGroupName: aws.String(asg),
		InstanceIds: []string{r.id}, ShouldDecrementDesiredCapacity: aws.Bool(false)})
	if err != nil {
		return action.AWSError(err, r.account, "autoscaling:DetachInstances", "detach from Auto Scaling group "+asg)
	}
	r.trace.Record(out.ResultMetadata)
	return nil
}

func (r *isolateRun) deregister(ctx context.Context, tg tgPrior) error {
	c, err := r.env.Cloud.ELBv2(ctx, r.account, r.region)
	if err != nil {
		return err
	}
	target := elbtypes.TargetDescription{Id: aws.String(r.id)}
	if tg.Port != 0 {
		target.Port = aws.Int32(tg.Port)
	}
	out, err := c.DeregisterTargets(ctx, &elbv2.DeregisterTargetsInput{TargetGroupArn: aws.String(tg.ARN), Targets: []elbtypes.TargetDescription{target}})
	if err != nil {
		return action.AWSError(err, r.account, "elasticloadbalancing:DeregisterTargets", "deregister from "+tg.ARN)
	}
	r.trace.Record(out.ResultMetadata)
	return nil
}

func (isolate) Undo(ctx context.Context, env *action.Env, req *action.Request, raw json.RawMessage) (*action.Result, error) {
	t := req.Target
	var prior isolatePrior
	if err := action.DecodePrior(raw, &prior); err != nil {
		return nil, fmt.Errorf("release %s in %s: %w", t.ID, t.Account, err)
	}
	c, err := env.Cloud.EC2(ctx, t.Account, t.Region)
	if err != nil {
		return nil, fmt.Errorf("release %s in %s: %w", t.ID, t.Account, err)
	}
	r := &isolateRun{env: env, req: req, c: c, trace: &action.Trace{}, account: t.Account, region: t.Region, id: t.ID}
	var fns []func() error
	for _, p := range prior.Interfaces {
		tr := tracking{defaultTCPEstablished, defaultUDPStream, defaultUDP}
		if p.Tracking != nil {
			tr = *p.Tracking
		}
		fns = append(fns,
			func() error { return r.setGroups(ctx, p.ID, p.Groups...) },
			func() error { return r.setTracking(ctx, p.ID, tr) })
	}
	if prior.Protection {
		fns = append(fns, func() error { return r.setProtection(ctx, false) })
	}
	if prior.Metadata != nil {
		fns = append(fns, func() error { return r.setMetadata(ctx, "", prior.Metadata) })
	}
	if prior.AutoScaling != "" {
		fns = append(fns, func() error {
			ac, err := env.Cloud.AutoScaling(ctx, t.Account, t.Region)
			if err != nil {
				return err
			}
			out, err := ac.AttachInstances(ctx, &autoscaling.AttachInstancesInput{AutoScalingGroupName: aws.String(prior.AutoScaling), InstanceIds: []string{t.ID}})
			if err != nil {
				return action.AWSError(err, t.Account, "autoscaling:AttachInstances", "attach to Auto Scaling group "+prior.AutoScaling)
			}
			r.trace.Record(out.ResultMetadata)
			return nil
		})
	}
	for _, tg := range prior.TargetGroups {
		fns = append(fns, func() error {
			ec, err := env.Cloud.ELBv2(ctx, t.Account, t.Region)
			if err != nil {
				return err
			}
			target := elbtypes.TargetDescription{Id: aws.String(t.ID)}
			if tg.Port != 0 {
				target.Port = aws.Int32(tg.Port)
			}
			out, err := ec.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: aws.String(tg.ARN), Targets: []elbtypes.TargetDescription{target}})
			if err != nil {
				return action.AWSError(err, t.Account, "elasticloadbalancing:RegisterTargets", "register with "+tg.ARN)
			}
			r.trace.Record(out.ResultMetadata)
			return nil
		})
	}
	if len(prior.Tags) > 0 {
		fns = append(fns, func() error { return undoTags(ctx, c, r.trace, t.Account, t.ID, prior.Tags) })
	}
	if err := action.Parallel(fns...); err != nil {
		return &action.Result{Status: action.Done, RequestIDs: r.trace.IDs()}, fmt.Errorf("release %s in %s: %w", t.ID, t.Account, err)
	}
	msg := "network interfaces, termination protection, metadata options, Auto Scaling group and target groups restored; the isolation groups are kept for other instances"
	return &action.Result{Status: action.Done, Message: msg, RequestIDs: r.trace.IDs()}, nil
}
