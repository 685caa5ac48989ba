package sim

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/firebreak-sec/firebreak/internal/cloud"
	"github.com/firebreak-sec/firebreak/internal/world"
)

// EC2 is the simulated EC2 API of one account and region.
type EC2 struct{ c client }

var _ cloud.EC2 = (*EC2)(nil)

// maxGroupsPerInterface is EC2's default quota of security groups per network interface.
const maxGroupsPerInterface = 5

var stateCodes = map[string]int32{"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}

func instanceState(name string) *types.InstanceState {
	if name == "" {
		name = "running"
	}
	return &types.InstanceState{Name: types.InstanceStateName(name), Code: aws.Int32(stateCodes[name])}
}

func (s *scope) instance(id string) (*world.Instance, error) {
	if !strings.HasPrefix(id, "i-") {
		return nil, apiError("InvalidInstanceID.Malformed", fmt.Sprintf("Invalid id: %q", id))
	}
	for _, in := range s.r.Instances {
		if in != nil && in.ID == id {
			return in, nil
		}
	}
	return nil, apiError("InvalidInstanceID.NotFound", fmt.Sprintf("The instance ID '%s' does not exist", id))
}

func (s *scope) vpcOfSubnet(subnet string) string {
	for _, sn := range s.r.Subnets {
		if sn != nil && sn.ID == subnet {
			return sn.VPC
		}
	}
	return ""
}

func (s *scope) group(id string) (*world.SecurityGroup, error) {
	for _, g := range s.r.SecurityGroups {
		if g != nil && g.ID == id {
			return g, nil
		}
	}
	return nil, apiError("InvalidGroup.NotFound", fmt.Sprintf("The security group '%s' does not exist", id))
}

func primaryENI(in *world.Instance) string {
	if in.PrimaryENI != "" {
		return in.PrimaryENI
	}
	return "eni-" + strings.TrimPrefix(in.ID, "i-")
}

// checkGroups verifies that every group exists in the VPC an interface is in.
func (s *scope) checkGroups(ids []string, vpc string) error {
	if len(ids) == 0 {
		return apiError("MissingParameter", "The request must contain the parameter groupId")
	}
	if len(ids) > maxGroupsPerInterface {
		return apiError("SecurityGroupsPerInterfaceLimitExceeded", "The maximum number of security groups per interface has been reached.")
	}
	for _, id := range ids {
		g, err := s.group(id)
		if err != nil {
			return err
		}
		if vpc != "" && g.VPC != "" && g.VPC != vpc {
			return apiError("InvalidGroup.NotFound", fmt.Sprintf("The security group '%s' does not exist in VPC '%s'", id, vpc))
		}
	}
	return nil
}

func tagList(m map[string]string) []types.Tag {
	var out []types.Tag
	for _, k := range sortedKeys(m) {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

// tagsFor collects the tags of the TagSpecifications that apply to a resource type.
func tagsFor(specs []types.TagSpecification, rt types.ResourceType) map[string]string {
	m := map[string]string{}
	for _, sp := range specs {
		if sp.ResourceType != rt {
			continue
		}
		for _, t := range sp.Tags {
			m[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	return m
}

func (s *scope) groupIdentifiers(ids []string) []types.GroupIdentifier {
	var out []types.GroupIdentifier
	for _, id := range ids {
		gi := types.GroupIdentifier{GroupId: aws.String(id)}
		if g, err := s.group(id); err == nil {
			gi.GroupName = aws.String(groupName(g))
		}
		out = append(out, gi)
	}
	return out
}

func groupName(g *world.SecurityGroup) string {
	if g.Name != "" {
		return g.Name
	}
	return g.ID
}

func deviceName(i int) string {
	if i == 0 {
		return "/dev/xvda"
	}
	return "/dev/xvd" + string(rune('a'+i))
}

func (s *scope) describeInstance(in *world.Instance) types.Instance {
	vpc := s.vpcOfSubnet(in.Subnet)
	out := types.Instance{
		InstanceId:       aws.String(in.ID),
		State:            instanceState(in.State),
		SubnetId:         aws.String(in.Subnet),
		VpcId:            aws.String(vpc),
		SecurityGroups:   s.groupIdentifiers(in.SecurityGroups),
		Tags:             tagList(in.Tags),
		InstanceType:     types.InstanceType(in.Type),
		PrivateIpAddress: nonEmpty(in.PrivateIP),
		PublicIpAddress:  nonEmpty(in.PublicIP),
	}
	if in.InstanceProfile != "" {
		out.IamInstanceProfile = &types.IamInstanceProfile{Arn: aws.String(fmt.Sprintf("arn:aws:iam::%s:instance-profile/%s", s.a.ID, in.InstanceProfile))}
	}
	for i, v := range in.Volumes {
		out.BlockDeviceMappings = append(out.BlockDeviceMappings, types.InstanceBlockDeviceMapping{
			DeviceName: aws.String(deviceName(i)),
			Ebs:        &types.EbsInstanceBlockDevice{VolumeId: aws.String(v), Status: types.AttachmentStatusAttached, DeleteOnTermination: aws.Bool(i == 0)},
		})
	}
	if len(in.Volumes) > 0 {
		out.RootDeviceName = aws.String(deviceName(0))
	}
	for _, eni := range s.interfaces(in) {
		out.NetworkInterfaces = append(out.NetworkInterfaces, types.InstanceNetworkInterface{
			NetworkInterfaceId: eni.NetworkInterfaceId,
			Attachment: &types.InstanceNetworkInterfaceAttachment{
				AttachmentId: eni.Attachment.AttachmentId, DeviceIndex: eni.Attachment.DeviceIndex, Status: types.AttachmentStatusAttached,
			},
			Groups:           eni.Groups,
			SubnetId:         eni.SubnetId,
			VpcId:            eni.VpcId,
			PrivateIpAddress: eni.PrivateIpAddress,
			Status:           types.NetworkInterfaceStatusInUse,
		})
	}
	md := in.Metadata
	if md == nil {
		md = &world.MetadataOptions{}
	}
	out.MetadataOptions = &types.InstanceMetadataOptionsResponse{
		HttpTokens:              types.HttpTokensState(def(md.HTTPTokens, "optional")),
		HttpEndpoint:            types.InstanceMetadataEndpointState(def(md.HTTPEndpoint, "enabled")),
		HttpPutResponseHopLimit: aws.Int32(max(md.HopLimit, 1)),
		State:                   types.InstanceMetadataOptionsStateApplied,
	}
	return out
}

// interfaces lists an instance's network interfaces, the primary one first.
func (s *scope) interfaces(in *world.Instance) []types.NetworkInterface {
	mk := func(id, subnet string, groups []string, ip string, idx int32) types.NetworkInterface {
		if subnet == "" {
			subnet = in.Subnet
		}
		return types.NetworkInterface{
			NetworkInterfaceId: aws.String(id),
			Attachment: &types.NetworkInterfaceAttachment{
				AttachmentId: aws.String("eni-attach-" + strings.TrimPrefix(id, "eni-")),
				InstanceId:   aws.String(in.ID), DeviceIndex: aws.Int32(idx), Status: types.AttachmentStatusAttached,
			},
			Groups:           s.groupIdentifiers(groups),
			SubnetId:         aws.String(subnet),
			VpcId:            aws.String(s.vpcOfSubnet(subnet)),
			PrivateIpAddress: nonEmpty(ip),
			Status:           types.NetworkInterfaceStatusInUse,
			InterfaceType:    types.NetworkInterfaceTypeInterface,
			OwnerId:          aws.String(s.a.ID),
		}
	}
	out := []types.NetworkInterface{mk(primaryENI(in), in.Subnet, in.SecurityGroups, in.PrivateIP, 0)}
	for i, e := range in.NetworkInterfaces {
		if e != nil {
			out = append(out, mk(e.ID, e.Subnet, e.SecurityGroups, e.PrivateIP, int32(i+1)))
		}
	}
	return out
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func def(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// passes answers whether an object passes EC2 filters: every filter must match one of
// the object's values for that name (values may use * and ?).
func passes(filters []types.Filter, values func(name string) ([]string, bool)) (bool, error) {
	for _, f := range filters {
		name := aws.ToString(f.Name)
		have, known := values(name)
		// A tag filter on a resource kind without tags matches nothing; any other unknown
		// name is refused, as EC2 does, rather than silently matching everything.
		if !known && !strings.HasPrefix(name, "tag:") {
			return false, apiError("InvalidParameterValue", fmt.Sprintf("The filter '%s' is invalid", name))
		}
		if !anyMatch(f.Values, have) {
			return false, nil
		}
	}
	return true, nil
}

func anyMatch(patterns, values []string) bool {
	for _, p := range patterns {
		for _, v := range values {
			if wildcard(p, v) {
				return true
			}
		}
	}
	return false
}

// wildcard matches EC2 filter values: * is any run, ? any one character.
func wildcard(p, s string) bool {
	if p == "" {
		return s == ""
	}
	switch p[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if wildcard(p[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && wildcard(p[1:], s[1:])
	}
	return s != "" && p[0] == s[0] && wildcard(p[1:], s[1:])
}

func tagValues(tags map[string]string, name string) ([]string, bool) {
	if k, ok := strings.CutPrefix(name, "tag:"); ok {
		if v, ok := tags[k]; ok {
			return []string{v}, true
		}
		return nil, true
	}
	if name == "tag-key" {
		return sortedKeys(tags), true
	}
	return nil, false
}

// DescribeInstances implements cloud.EC2. Every instance is its own reservation.
func (e *EC2) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	return run(ctx, &e.c, "DescribeInstances", in, func(s *scope, in *ec2.DescribeInstancesInput) (*ec2.DescribeInstancesOutput, error) {
		var list []*world.Instance
		if len(in.InstanceIds) > 0 {
			for _, id := range in.InstanceIds {
				i, err := s.instance(id)
				if err != nil {
					return nil, err
				}
				list = append(list, i)
			}
		} else {
			for _, i := range s.r.Instances {
				if i != nil {
					list = append(list, i)
				}
			}
		}
		out := &ec2.DescribeInstancesOutput{}
		for _, i := range list {
			ok, err := passes(in.Filters, func(name string) ([]string, bool) {
				switch name {
				case "instance-id":
					return []string{i.ID}, true
				case "instance-state-name":
					return []string{def(i.State, "running")}, true
				case "subnet-id":
					return []string{i.Subnet}, true
				case "vpc-id":
					return []string{s.vpcOfSubnet(i.Subnet)}, true
				case "instance.group-id", "group-id":
					return i.SecurityGroups, true
				case "network-interface.network-interface-id":
					var ids []string
					for _, n := range s.interfaces(i) {
						ids = append(ids, aws.ToString(n.NetworkInterfaceId))
					}
					return ids, true
				case "iam-instance-profile.arn":
					return []string{fmt.Sprintf("arn:aws:iam::%s:instance-profile/%s", s.a.ID, i.InstanceProfile)}, true
				}
				return tagValues(i.Tags, name)
			})
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			out.Reservations = append(out.Reservations, types.Reservation{
				ReservationId: aws.String("r-" + strings.TrimPrefix(i.ID, "i-")),
				OwnerId:       aws.String(s.a.ID),
				Instances:     []types.Instance{s.describeInstance(i)},
			})
		}
		return out, nil
	})
}

// DescribeInstanceAttribute implements cloud.EC2 for disableApiTermination and groupSet.
func (e *EC2) DescribeInstanceAttribute(ctx context.Context, in *ec2.DescribeInstanceAttributeInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstanceAttributeOutput, error) {
	return run(ctx, &e.c, "DescribeInstanceAttribute", in, func(s *scope, in *ec2.DescribeInstanceAttributeInput) (*ec2.DescribeInstanceAttributeOutput, error) {
		i, err := s.instance(aws.ToString(in.InstanceId))
		if err != nil {
			return nil, err
		}
		out := &ec2.DescribeInstanceAttributeOutput{InstanceId: aws.String(i.ID)}
		switch in.Attribute {
		case types.InstanceAttributeNameDisableApiTermination:
			out.DisableApiTermination = &types.AttributeBooleanValue{Value: aws.Bool(i.DisableAPITermination)}
		case types.InstanceAttributeNameGroupSet:
			out.Groups = s.groupIdentifiers(i.SecurityGroups)
		case types.InstanceAttributeNameInstanceType:
			out.InstanceType = &types.AttributeValue{Value: aws.String(i.Type)}
		default:
			return nil, apiError("InvalidParameterValue", fmt.Sprintf("Value (%s) for parameter attribute is invalid.", in.Attribute))
		}
		return out, nil
	})
}

// ModifyInstanceAttribute implements cloud.EC2 for Groups and DisableApiTermination. As in
// AWS, Groups is refused for an instance with more than one network interface: each
// interface must then be changed on its own.
func (e *EC2) ModifyInstanceAttribute(ctx context.Context, in *ec2.ModifyInstanceAttributeInput, _ ...func(*ec2.Options)) (*ec2.ModifyInstanceAttributeOutput, error) {
	return run(ctx, &e.c, "ModifyInstanceAttribute", in, func(s *scope, in *ec2.ModifyInstanceAttributeInput) (*ec2.ModifyInstanceAttributeOutput, error) {
		i, err := s.instance(aws.ToString(in.InstanceId))
		if err != nil {
			return nil, err
		}
		if i.State == "terminated" {
			return nil, apiError("IncorrectInstanceState", fmt.Sprintf("The instance '%s' is not in a state from which it can be modified.", i.ID))
		}
		switch {
		case in.Groups != nil:
			if len(i.NetworkInterfaces) > 0 {
				return nil, apiError("InvalidInstanceID", fmt.Sprintf("There are multiple interfaces attached to instance '%s'. Please specify an interface ID for the operation instead.", i.ID))
			}
			if err := s.checkGroups(in.Groups, s.vpcOfSubnet(i.Subnet)); err != nil {
				return nil, err
			}
			i.SecurityGroups = dedupe(in.Groups)
		case in.DisableApiTermination != nil:
			i.DisableAPITermination = aws.ToBool(in.DisableApiTermination.Value)
		default:
			return nil, apiError("InvalidParameterCombination", "No attributes specified.")
		}
		return &ec2.ModifyInstanceAttributeOutput{}, nil
	})
}

// ModifyInstanceMetadataOptions implements cloud.EC2.
func (e *EC2) ModifyInstanceMetadataOptions(ctx context.Context, in *ec2.ModifyInstanceMetadataOptionsInput, _ ...func(*ec2.Options)) (*ec2.ModifyInstanceMetadataOptionsOutput, error) {
	return run(ctx, &e.c, "ModifyInstanceMetadataOptions", in, func(s *scope, in *ec2.ModifyInstanceMetadataOptionsInput) (*ec2.ModifyInstanceMetadataOptionsOutput, error) {
		i, err := s.instance(aws.ToString(in.InstanceId))
		if err != nil {
			return nil, err
		}
		if i.State == "terminated" {
			return nil, apiError("IncorrectInstanceState", fmt.Sprintf("The instance '%s' is not in a state from which it can be modified.", i.ID))
		}
		if i.Metadata == nil {
			i.Metadata = &world.MetadataOptions{}
		}
		if in.HttpTokens != "" {
			i.Metadata.HTTPTokens = string(in.HttpTokens)
		}
		if in.HttpEndpoint != "" {
			i.Metadata.HTTPEndpoint = string(in.HttpEndpoint)
		}
		if in.HttpPutResponseHopLimit != nil {
			n := aws.ToInt32(in.HttpPutResponseHopLimit)
			if n < 1 || n > 64 {
				return nil, apiError("InvalidParameterValue", "The HttpPutResponseHopLimit must be between 1 and 64.")
			}
			i.Metadata.HopLimit = n
		}
		md := s.describeInstance(i).MetadataOptions
		return &ec2.ModifyInstanceMetadataOptionsOutput{InstanceId: aws.String(i.ID), InstanceMetadataOptions: md}, nil
	})
}

func dedupe(ids []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// transition changes instance states; stopping and terminating complete at once, so the
// next describe shows the final state.
func (s *scope) transition(ids []string, op string, next func(i *world.Instance) (string, error)) ([]types.InstanceStateChange, error) {
	if len(ids) == 0 {
		return nil, apiError("MissingParameter", "The request must contain the parameter InstanceId")
	}
	var list []*world.Instance
	for _, id := range ids {
		i, err := s.instance(id)
		if err != nil {
			return nil, err
		}
		list = append(list, i)
	}
	// All or nothing, as in AWS: check every instance before changing any.
	var states []string
	for _, i := range list {
		st, err := next(i)
		if err != nil {
			return nil, err
		}
		states = append(states, st)
	}
	var out []types.InstanceStateChange
	for k, i := range list {
		prev := def(i.State, "running")
		reported := states[k]
		switch {
		case op == "stop" && prev == "running":
			reported = "stopping"
		case op == "start" && prev == "stopped":
			reported = "pending"
		case op == "terminate" && prev != "terminated":
			reported = "shutting-down"
		}
		i.State = states[k]
		out = append(out, types.InstanceStateChange{InstanceId: aws.String(i.ID), PreviousState: instanceState(prev), CurrentState: instanceState(reported)})
	}
	return out, nil
}

// StopInstances implements cloud.EC2.
func (e *EC2) StopInstances(ctx context.Context, in *ec2.StopInstancesInput, _ ...func(*ec2.Options)) (*ec2.StopInstancesOutput, error) {
	return run(ctx, &e.c, "StopInstances", in, func(s *scope, in *ec2.StopInstancesInput) (*ec2.StopInstancesOutput, error) {
		ch, err := s.transition(in.InstanceIds, "stop", func(i *world.Instance) (string, error) {
			if i.State == "terminated" || i.State == "shutting-down" {
				return "", apiError("IncorrectInstanceState", fmt.Sprintf("This instance '%s' is not in a state from which it can be stopped.", i.ID))
			}
			return "stopped", nil
		})
		if err != nil {
			return nil, err
		}
		return &ec2.StopInstancesOutput{StoppingInstances: ch}, nil
	})
}

// StartInstances implements cloud.EC2.
func (e *EC2) StartInstances(ctx context.Context, in *ec2.StartInstancesInput, _ ...func(*ec2.Options)) (*ec2.StartInstancesOutput, error) {
	return run(ctx, &e.c, "StartInstances", in, func(s *scope, in *ec2.StartInstancesInput) (*ec2.StartInstancesOutput, error) {
		ch, err := s.transition(in.InstanceIds, "start", func(i *world.Instance) (string, error) {
			if i.State == "terminated" || i.State == "shutting-down" {
				return "", apiError("IncorrectInstanceState", fmt.Sprintf("The instance '%s' is not in a state from which it can be started.", i.ID))
			}
			return "running", nil
		})
		if err != nil {
			return nil, err
		}
		return &ec2.StartInstancesOutput{StartingInstances: ch}, nil
	})
}

// TerminateInstances implements cloud.EC2; termination protection refuses it.
func (e *EC2) TerminateInstances(ctx context.Context, in *ec2.TerminateInstancesInput, _ ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error) {
	return run(ctx, &e.c, "TerminateInstances", in, func(s *scope, in *ec2.TerminateInstancesInput) (*ec2.TerminateInstancesOutput, error) {
		ch, err := s.transition(in.InstanceIds, "terminate", func(i *world.Instance) (string, error) {
			if i.DisableAPITermination && i.State != "terminated" {
				return "", apiError("OperationNotPermitted", fmt.Sprintf("The instance '%s' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.", i.ID))
			}
			return "terminated", nil
		})
		if err != nil {
			return nil, err
		}
		return &ec2.TerminateInstancesOutput{TerminatingInstances: ch}, nil
	})
}

// volumeOwner finds the instance a volume is attached to; volumes exist only attached.
func (s *scope) volumeOwner(id string) (*world.Instance, int, error) {
	for _, i := range s.r.Instances {
		if i == nil || i.State == "terminated" {
			continue
		}
		for k, v := range i.Volumes {
			if v == id {
				return i, k, nil
			}
		}
	}
	return nil, 0, apiError("InvalidVolume.NotFound", fmt.Sprintf("The volume '%s' does not exist.", id))
}

// DescribeVolumes implements cloud.EC2, over the volumes attached to instances.
func (e *EC2) DescribeVolumes(ctx context.Context, in *ec2.DescribeVolumesInput, _ ...func(*ec2.Options)) (*ec2.DescribeVolumesOutput, error) {
	return run(ctx, &e.c, "DescribeVolumes", in, func(s *scope, in *ec2.DescribeVolumesInput) (*ec2.DescribeVolumesOutput, error) {
		for _, id := range in.VolumeIds {
			if _, _, err := s.volumeOwner(id); err != nil {
				return nil, err
			}
		}
		out := &ec2.DescribeVolumesOutput{}
		for _, i := range s.r.Instances {
			if i == nil || i.State == "terminated" {
				continue
			}
			for k, v := range i.Volumes {
				if len(in.VolumeIds) > 0 && !contains(in.VolumeIds, v) {
					continue
				}
				ok, err := passes(in.Filters, func(name string) ([]string, bool) {
					switch name {
					case "volume-id":
						return []string{v}, true
					case "attachment.instance-id":
						return []string{i.ID}, true
					case "attachment.device":
						return []string{deviceName(k)}, true
					}
					return nil, false
				})
				if err != nil {
					return nil, err
				}
				if ok {
					out.Volumes = append(out.Volumes, types.Volume{
						VolumeId: aws.String(v), State: types.VolumeStateInUse,
						Attachments: []types.VolumeAttachment{{InstanceId: aws.String(i.ID), VolumeId: aws.String(v), Device: aws.String(deviceName(k)), State: types.VolumeAttachmentStateAttached}},
					})
				}
			}
		}
		return out, nil
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (s *scope) addSnapshot(vol, instance, desc string, tags map[string]string) *world.Snapshot {
	snap := &world.Snapshot{ID: s.newID("snap-"), Volume: vol, Instance: instance, Description: desc, Tags: tags}
	s.r.Snapshots = append(s.r.Snapshots, snap)
	return snap
}

// CreateSnapshot implements cloud.EC2. Snapshots complete at once.
func (e *EC2) CreateSnapshot(ctx context.Context, in *ec2.CreateSnapshotInput, _ ...func(*ec2.Options)) (*ec2.CreateSnapshotOutput, error) {
	return run(ctx, &e.c, "CreateSnapshot", in, func(s *scope, in *ec2.CreateSnapshotInput) (*ec2.CreateSnapshotOutput, error) {
		if in.VolumeId == nil {
			return nil, apiError("MissingParameter", "The request must contain the parameter volumeId")
		}
		owner, _, err := s.volumeOwner(aws.ToString(in.VolumeId))
		if err != nil {
			return nil, err
		}
		snap := s.addSnapshot(aws.ToString(in.VolumeId), owner.ID, aws.ToString(in.Description), tagsFor(in.TagSpecifications, types.ResourceTypeSnapshot))
		return &ec2.CreateSnapshotOutput{
			SnapshotId: aws.String(snap.ID), VolumeId: in.VolumeId, State: types.SnapshotStatePending,
			Description: in.Description, OwnerId: aws.String(s.a.ID), Tags: tagList(snap.Tags),
		}, nil
	})
}

// CreateSnapshots implements cloud.EC2: one crash-consistent snapshot of every volume of
// an instance (less the boot volume or listed data volumes when asked).
func (e *EC2) CreateSnapshots(ctx context.Context, in *ec2.CreateSnapshotsInput, _ ...func(*ec2.Options)) (*ec2.CreateSnapshotsOutput, error) {
	return run(ctx, &e.c, "CreateSnapshots", in, func(s *scope, in *ec2.CreateSnapshotsInput) (*ec2.CreateSnapshotsOutput, error) {
		if in.InstanceSpecification == nil || in.InstanceSpecification.InstanceId == nil {
			return nil, apiError("MissingParameter", "The request must contain the parameter InstanceSpecification.InstanceId")
		}
		spec := in.InstanceSpecification
		i, err := s.instance(aws.ToString(spec.InstanceId))
		if err != nil {
			return nil, err
		}
		if i.State == "terminated" {
			return nil, apiError("IncorrectState", fmt.Sprintf("The instance '%s' is terminated.", i.ID))
		}
		tags := tagsFor(in.TagSpecifications, types.ResourceTypeSnapshot)
		out := &ec2.CreateSnapshotsOutput{}
		for k, v := range i.Volumes {
			if (k == 0 && aws.ToBool(spec.ExcludeBootVolume)) || contains(spec.ExcludeDataVolumeIds, v) {
				continue
			}
			snap := s.addSnapshot(v, i.ID, aws.ToString(in.Description), copyMap(tags))
			out.Snapshots = append(out.Snapshots, types.SnapshotInfo{
				SnapshotId: aws.String(snap.ID), VolumeId: aws.String(v), State: types.SnapshotStatePending,
				Description: in.Description, OwnerId: aws.String(s.a.ID), Tags: tagList(snap.Tags),
			})
		}
		return out, nil
	})
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (s *scope) snapshot(id string) (int, error) {
	for k, sn := range s.r.Snapshots {
		if sn != nil && sn.ID == id {
			return k, nil
		}
	}
	return 0, apiError("InvalidSnapshot.NotFound", fmt.Sprintf("The snapshot '%s' does not exist.", id))
}

// DescribeSnapshots implements cloud.EC2.
func (e *EC2) DescribeSnapshots(ctx context.Context, in *ec2.DescribeSnapshotsInput, _ ...func(*ec2.Options)) (*ec2.DescribeSnapshotsOutput, error) {
	return run(ctx, &e.c, "DescribeSnapshots", in, func(s *scope, in *ec2.DescribeSnapshotsInput) (*ec2.DescribeSnapshotsOutput, error) {
		for _, id := range in.SnapshotIds {
			if _, err := s.snapshot(id); err != nil {
				return nil, err
			}
		}
		out := &ec2.DescribeSnapshotsOutput{}
		for _, sn := range s.r.Snapshots {
			if sn == nil || (len(in.SnapshotIds) > 0 && !contains(in.SnapshotIds, sn.ID)) {
				continue
			}
			ok, err := passes(in.Filters, func(name string) ([]string, bool) {
				switch name {
				case "snapshot-id":
					return []string{sn.ID}, true
				case "volume-id":
					return []string{sn.Volume}, true
				case "status":
					return []string{def(sn.State, "completed")}, true
				case "description":
					return []string{sn.Description}, true
				}
				return tagValues(sn.Tags, name)
			})
			if err != nil {
				return nil, err
			}
			if ok {
				out.Snapshots = append(out.Snapshots, types.Snapshot{
					SnapshotId: aws.String(sn.ID), VolumeId: aws.String(sn.Volume), State: types.SnapshotState(def(sn.State, "completed")),
					Progress: aws.String("100%"), Description: nonEmpty(sn.Description), OwnerId: aws.String(s.a.ID), Tags: tagList(sn.Tags),
				})
			}
		}
		return out, nil
	})
}

// DeleteSnapshot implements cloud.EC2.
func (e *EC2) DeleteSnapshot(ctx context.Context, in *ec2.DeleteSnapshotInput, _ ...func(*ec2.Options)) (*ec2.DeleteSnapshotOutput, error) {
	return run(ctx, &e.c, "DeleteSnapshot", in, func(s *scope, in *ec2.DeleteSnapshotInput) (*ec2.DeleteSnapshotOutput, error) {
		k, err := s.snapshot(aws.ToString(in.SnapshotId))
		if err != nil {
			return nil, err
		}
		s.r.Snapshots = append(s.r.Snapshots[:k], s.r.Snapshots[k+1:]...)
		return &ec2.DeleteSnapshotOutput{}, nil
	})
}

// taggable returns the tag map of a resource by id, creating it when empty.
func (s *scope) taggable(id string) (*map[string]string, error) {
	switch {
	case strings.HasPrefix(id, "i-"):
		i, err := s.instance(id)
		if err != nil {
			return nil, err
		}
		return &i.Tags, nil
	case strings.HasPrefix(id, "sg-"):
		g, err := s.group(id)
		if err != nil {
			return nil, err
		}
		return &g.Tags, nil
	case strings.HasPrefix(id, "snap-"):
		k, err := s.snapshot(id)
		if err != nil {
			return nil, err
		}
		return &s.r.Snapshots[k].Tags, nil
	}
	return nil, apiError("InvalidID", fmt.Sprintf("The ID '%s' is not valid", id))
}

// CreateTags implements cloud.EC2 for instances, security groups and snapshots.
func (e *EC2) CreateTags(ctx context.Context, in *ec2.CreateTagsInput, _ ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error) {
	return run(ctx, &e.c, "CreateTags", in, func(s *scope, in *ec2.CreateTagsInput) (*ec2.CreateTagsOutput, error) {
		var maps []*map[string]string
		for _, id := range in.Resources {
			m, err := s.taggable(id)
			if err != nil {
				return nil, err
			}
			maps = append(maps, m)
		}
		for _, m := range maps {
			if *m == nil {
				*m = map[string]string{}
			}
			for _, t := range in.Tags {
				if strings.HasPrefix(aws.ToString(t.Key), "aws:") {
					return nil, apiError("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use")
				}
			}
			if len(*m)+len(in.Tags) > 50 {
				return nil, apiError("TagLimitExceeded", "The maximum number of Tags for a resource has been reached.")
			}
			for _, t := range in.Tags {
				(*m)[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
		}
		return &ec2.CreateTagsOutput{}, nil
	})
}

// DeleteTags implements cloud.EC2. A tag given with a value is deleted only if it matches.
func (e *EC2) DeleteTags(ctx context.Context, in *ec2.DeleteTagsInput, _ ...func(*ec2.Options)) (*ec2.DeleteTagsOutput, error) {
	return run(ctx, &e.c, "DeleteTags", in, func(s *scope, in *ec2.DeleteTagsInput) (*ec2.DeleteTagsOutput, error) {
		for _, id := range in.Resources {
			m, err := s.taggable(id)
			if err != nil {
				return nil, err
			}
			for _, t := range in.Tags {
				k := aws.ToString(t.Key)
				if v, ok := (*m)[k]; ok && (t.Value == nil || aws.ToString(t.Value) == v) {
					delete(*m, k)
				}
			}
		}
		return &ec2.DeleteTagsOutput{}, nil
	})
}

// rule is a normalised security group rule: what two rules must share to be the same.
type rule struct {
	proto    string
	from, to int32
	kind     string // cidr | cidr6 | group | prefix
	source   string
}

func normProto(p string) string {
	switch strings.ToLower(p) {
	case "-1", "all":
		return "-1"
	case "6":
		return "tcp"
	case "17":
		return "udp"
	case "1":
		return "icmp"
	}
	return strings.ToLower(p)
}

func keyOf(r *world.Rule) rule {
	k := rule{proto: normProto(r.Protocol), from: r.FromPort, to: r.ToPort}
	if r.Port != 0 {
		k.from, k.to = r.Port, r.Port
	}
	if k.proto == "-1" {
		k.from, k.to = -1, -1
	}
	switch {
	case r.CIDR != "":
		k.kind, k.source = "cidr", r.CIDR
	case r.CIDRv6 != "":
		k.kind, k.source = "cidr6", r.CIDRv6
	case r.SourceGroup != "":
		k.kind, k.source = "group", r.SourceGroup
	default:
		k.kind, k.source = "prefix", r.PrefixList
	}
	return k
}

func (k rule) world(desc string) *world.Rule {
	r := &world.Rule{Protocol: k.proto, Description: desc}
	switch {
	case k.proto == "-1":
	case (k.proto == "tcp" || k.proto == "udp") && k.from == k.to:
		r.Port = k.from
	default:
		r.FromPort, r.ToPort = k.from, k.to
	}
	switch k.kind {
	case "cidr":
		r.CIDR = k.source
	case "cidr6":
		r.CIDRv6 = k.source
	case "group":
		r.SourceGroup = k.source
	default:
		r.PrefixList = k.source
	}
	return r
}

// ruleID is a rule's id: the one it was given, or one derived from its content, which is
// unique within a group because AWS refuses duplicate rules.
func ruleID(group string, egress bool, r *world.Rule) string {
	if r.ID != "" {
		return r.ID
	}
	k := keyOf(r)
	h := sha256.Sum256(fmt.Appendf(nil, "%s|%t|%s|%d|%d|%s|%s", group, egress, k.proto, k.from, k.to, k.kind, k.source))
	return fmt.Sprintf("sgr-%x", h[:9])[:21]
}

// fromPermissions expands SDK permissions into one rule per source.
func (s *scope) fromPermissions(perms []types.IpPermission) ([]*world.Rule, error) {
	var out []*world.Rule
	for _, p := range perms {
		proto := normProto(aws.ToString(p.IpProtocol))
		if proto == "" {
			return nil, apiError("MissingParameter", "The request must contain the parameter ipProtocol")
		}
		k := rule{proto: proto, from: aws.ToInt32(p.FromPort), to: aws.ToInt32(p.ToPort)}
		if proto == "-1" {
			k.from, k.to = -1, -1
		} else if (proto == "tcp" || proto == "udp") && (p.FromPort == nil || p.ToPort == nil || k.from > k.to || k.from < 0 || k.to > 65535) {
			return nil, apiError("InvalidParameterValue", fmt.Sprintf("Invalid port range (%d, %d)", k.from, k.to))
		}
		n := 0
		for _, r := range p.IpRanges {
			if _, err := netip.ParsePrefix(aws.ToString(r.CidrIp)); err != nil {
				return nil, apiError("InvalidParameterValue", fmt.Sprintf("CIDR block %s is malformed", aws.ToString(r.CidrIp)))
			}
			k.kind, k.source = "cidr", aws.ToString(r.CidrIp)
			out, n = append(out, k.world(aws.ToString(r.Description))), n+1
		}
		for _, r := range p.Ipv6Ranges {
			k.kind, k.source = "cidr6", aws.ToString(r.CidrIpv6)
			out, n = append(out, k.world(aws.ToString(r.Description))), n+1
		}
		for _, r := range p.UserIdGroupPairs {
			if _, err := s.group(aws.ToString(r.GroupId)); err != nil {
				return nil, err
			}
			k.kind, k.source = "group", aws.ToString(r.GroupId)
			out, n = append(out, k.world(aws.ToString(r.Description))), n+1
		}
		for _, r := range p.PrefixListIds {
			k.kind, k.source = "prefix", aws.ToString(r.PrefixListId)
			out, n = append(out, k.world(aws.ToString(r.Description))), n+1
		}
		if n == 0 {
			return nil, apiError("MissingParameter", "The request must contain a source or destination for each permission")
		}
	}
	return out, nil
}

// permissions groups rules by protocol and port range, as DescribeSecurityGroups does.
func permissions(rules []*world.Rule) []types.IpPermission {
	var out []types.IpPermission
	index := map[[3]string]int{}
	for _, r := range rules {
		if r == nil {
			continue
		}
		k := keyOf(r)
		key := [3]string{k.proto, strconv.Itoa(int(k.from)), strconv.Itoa(int(k.to))}
		i, ok := index[key]
		if !ok {
			p := types.IpPermission{IpProtocol: aws.String(k.proto)}
			if k.proto != "-1" {
				p.FromPort, p.ToPort = aws.Int32(k.from), aws.Int32(k.to)
			}
			out = append(out, p)
			i = len(out) - 1
			index[key] = i
		}
		p := &out[i]
		desc := nonEmpty(r.Description)
		switch k.kind {
		case "cidr":
			p.IpRanges = append(p.IpRanges, types.IpRange{CidrIp: aws.String(k.source), Description: desc})
		case "cidr6":
			p.Ipv6Ranges = append(p.Ipv6Ranges, types.Ipv6Range{CidrIpv6: aws.String(k.source), Description: desc})
		case "group":
			p.UserIdGroupPairs = append(p.UserIdGroupPairs, types.UserIdGroupPair{GroupId: aws.String(k.source), Description: desc})
		default:
			p.PrefixListIds = append(p.PrefixListIds, types.PrefixListId{PrefixListId: aws.String(k.source), Description: desc})
		}
	}
	return out
}

func (s *scope) describeGroup(g *world.SecurityGroup) types.SecurityGroup {
	return types.SecurityGroup{
		GroupId: aws.String(g.ID), GroupName: aws.String(groupName(g)), Description: aws.String(g.Description),
		VpcId: aws.String(g.VPC), OwnerId: aws.String(s.a.ID), Tags: tagList(g.Tags),
		IpPermissions: permissions(g.Ingress), IpPermissionsEgress: permissions(g.Egress),
	}
}

// DescribeSecurityGroups implements cloud.EC2.
func (e *EC2) DescribeSecurityGroups(ctx context.Context, in *ec2.DescribeSecurityGroupsInput, _ ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error) {
	return run(ctx, &e.c, "DescribeSecurityGroups", in, func(s *scope, in *ec2.DescribeSecurityGroupsInput) (*ec2.DescribeSecurityGroupsOutput, error) {
		for _, id := range in.GroupIds {
			if _, err := s.group(id); err != nil {
				return nil, err
			}
		}
		out := &ec2.DescribeSecurityGroupsOutput{}
		for _, g := range s.r.SecurityGroups {
			if g == nil || (len(in.GroupIds) > 0 && !contains(in.GroupIds, g.ID)) || (len(in.GroupNames) > 0 && !contains(in.GroupNames, groupName(g))) {
				continue
			}
			ok, err := passes(in.Filters, func(name string) ([]string, bool) {
				switch name {
				case "group-id":
					return []string{g.ID}, true
				case "group-name":
					return []string{groupName(g)}, true
				case "vpc-id":
					return []string{g.VPC}, true
				case "description":
					return []string{g.Description}, true
				}
				return tagValues(g.Tags, name)
			})
			if err != nil {
				return nil, err
			}
			if ok {
				out.SecurityGroups = append(out.SecurityGroups, s.describeGroup(g))
			}
		}
		return out, nil
	})
}

func (s *scope) sgRule(g *world.SecurityGroup, egress bool, r *world.Rule) types.SecurityGroupRule {
	k := keyOf(r)
	out := types.SecurityGroupRule{
		SecurityGroupRuleId: aws.String(ruleID(g.ID, egress, r)), GroupId: aws.String(g.ID), GroupOwnerId: aws.String(s.a.ID),
		IsEgress: aws.Bool(egress), IpProtocol: aws.String(k.proto), FromPort: aws.Int32(k.from), ToPort: aws.Int32(k.to),
		Description: nonEmpty(r.Description),
	}
	switch k.kind {
	case "cidr":
		out.CidrIpv4 = aws.String(k.source)
	case "cidr6":
		out.CidrIpv6 = aws.String(k.source)
	case "group":
		out.ReferencedGroupInfo = &types.ReferencedSecurityGroup{GroupId: aws.String(k.source), UserId: aws.String(s.a.ID)}
	default:
		out.PrefixListId = aws.String(k.source)
	}
	return out
}

// DescribeSecurityGroupRules implements cloud.EC2.
func (e *EC2) DescribeSecurityGroupRules(ctx context.Context, in *ec2.DescribeSecurityGroupRulesInput, _ ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupRulesOutput, error) {
	return run(ctx, &e.c, "DescribeSecurityGroupRules", in, func(s *scope, in *ec2.DescribeSecurityGroupRulesInput) (*ec2.DescribeSecurityGroupRulesOutput, error) {
		out := &ec2.DescribeSecurityGroupRulesOutput{}
		found := map[string]bool{}
		for _, g := range s.r.SecurityGroups {
			if g == nil {
				continue
			}
			for _, dir := range []struct {
				egress bool
				rules  []*world.Rule
			}{{false, g.Ingress}, {true, g.Egress}} {
				for _, r := range dir.rules {
					if r == nil {
						continue
					}
					sr := s.sgRule(g, dir.egress, r)
					id := aws.ToString(sr.SecurityGroupRuleId)
					if len(in.SecurityGroupRuleIds) > 0 && !contains(in.SecurityGroupRuleIds, id) {
						continue
					}
					ok, err := passes(in.Filters, func(name string) ([]string, bool) {
						switch name {
						case "group-id":
							return []string{g.ID}, true
						case "security-group-rule-id":
							return []string{id}, true
						}
						return tagValues(nil, name)
					})
					if err != nil {
						return nil, err
					}
					if ok {
						found[id] = true
						out.SecurityGroupRules = append(out.SecurityGroupRules, sr)
					}
				}
			}
		}
		for _, id := range in.SecurityGroupRuleIds {
			if !found[id] {
				return nil, apiError("InvalidSecurityGroupRuleId.NotFound", fmt.Sprintf("The security group rule ID '%s' does not exist", id))
			}
		}
		return out, nil
	})
}

// CreateSecurityGroup implements cloud.EC2. Like AWS, the new group allows all egress and
// no ingress.
func (e *EC2) CreateSecurityGroup(ctx context.Context, in *ec2.CreateSecurityGroupInput, _ ...func(*ec2.Options)) (*ec2.CreateSecurityGroupOutput, error) {
	return run(ctx, &e.c, "CreateSecurityGroup", in, func(s *scope, in *ec2.CreateSecurityGroupInput) (*ec2.CreateSecurityGroupOutput, error) {
		name, desc, vpc := aws.ToString(in.GroupName), aws.ToString(in.Description), aws.ToString(in.VpcId)
		switch {
		case name == "":
			return nil, apiError("MissingParameter", "The request must contain the parameter groupName")
		case desc == "":
			return nil, apiError("MissingParameter", "The request must contain the parameter groupDescription")
		case strings.EqualFold(name, "default"):
			return nil, apiError("InvalidGroup.Reserved", "The security group 'default' is reserved")
		case strings.HasPrefix(name, "sg-"):
			return nil, apiError("InvalidParameterValue", "Group names may not be in the format sg-*.")
		}
		if vpc == "" {
			if len(s.r.VPCs) == 0 {
				return nil, apiError("VPCIdNotSpecified", "No default VPC for this user")
			}
			vpc = s.r.VPCs[0].ID
		}
		known := false
		for _, v := range s.r.VPCs {
			known = known || (v != nil && v.ID == vpc)
		}
		if !known {
			return nil, apiError("InvalidVpcID.NotFound", fmt.Sprintf("The vpc ID '%s' does not exist", vpc))
		}
		for _, g := range s.r.SecurityGroups {
			if g != nil && g.VPC == vpc && groupName(g) == name {
				return nil, apiError("InvalidGroup.Duplicate", fmt.Sprintf("The security group '%s' already exists for VPC '%s'", name, vpc))
			}
		}
		g := &world.SecurityGroup{
			ID: s.newID("sg-"), Name: name, Description: desc, VPC: vpc, Ingress: []*world.Rule{},
			Egress: []*world.Rule{{Protocol: "-1", CIDR: "0.0.0.0/0"}},
			Tags:   tagsFor(in.TagSpecifications, types.ResourceTypeSecurityGroup),
		}
		if len(g.Tags) == 0 {
			g.Tags = nil
		}
		s.r.SecurityGroups = append(s.r.SecurityGroups, g)
		return &ec2.CreateSecurityGroupOutput{GroupId: aws.String(g.ID), Tags: tagList(g.Tags)}, nil
	})
}

// DeleteSecurityGroup implements cloud.EC2; a group in use or referenced cannot go.
func (e *EC2) DeleteSecurityGroup(ctx context.Context, in *ec2.DeleteSecurityGroupInput, _ ...func(*ec2.Options)) (*ec2.DeleteSecurityGroupOutput, error) {
	return run(ctx, &e.c, "DeleteSecurityGroup", in, func(s *scope, in *ec2.DeleteSecurityGroupInput) (*ec2.DeleteSecurityGroupOutput, error) {
		id := aws.ToString(in.GroupId)
		if _, err := s.group(id); err != nil {
			return nil, err
		}
		inUse := apiError("DependencyViolation", fmt.Sprintf("resource %s has a dependent object", id))
		for _, i := range s.r.Instances {
			if i == nil || i.State == "terminated" {
				continue
			}
			if contains(i.SecurityGroups, id) {
				return nil, inUse
			}
			for _, n := range i.NetworkInterfaces {
				if n != nil && contains(n.SecurityGroups, id) {
					return nil, inUse
				}
			}
		}
		for _, g := range s.r.SecurityGroups {
			for _, r := range append(append([]*world.Rule(nil), g.Ingress...), g.Egress...) {
				if r != nil && r.SourceGroup == id && g.ID != id {
					return nil, inUse
				}
			}
		}
		var keep []*world.SecurityGroup
		for _, g := range s.r.SecurityGroups {
			if g.ID != id {
				keep = append(keep, g)
			}
		}
		s.r.SecurityGroups = keep
		return &ec2.DeleteSecurityGroupOutput{GroupId: aws.String(id), Return: aws.Bool(true)}, nil
	})
}

// authorize adds rules to a group, all or none: one duplicate fails the call.
func (s *scope) authorize(groupID string, egress bool, perms []types.IpPermission) ([]types.SecurityGroupRule, error) {
	g, err := s.group(groupID)
	if err != nil {
		return nil, err
	}
	add, err := s.fromPermissions(perms)
	if err != nil {
		return nil, err
	}
	if len(add) == 0 {
		return nil, apiError("MissingParameter", "The request must contain the parameter ipPermissions")
	}
	list := &g.Ingress
	if egress {
		list = &g.Egress
	}
	have := map[rule]bool{}
	for _, r := range *list {
		if r != nil {
			have[keyOf(r)] = true
		}
	}
	for _, r := range add {
		k := keyOf(r)
		if have[k] {
			return nil, apiError("InvalidPermission.Duplicate", fmt.Sprintf("the specified rule \"peer: %s, %s, ALLOW\" already exists", k.source, strings.ToUpper(k.proto)))
		}
		have[k] = true
	}
	*list = append(*list, add...)
	var out []types.SecurityGroupRule
	for _, r := range add {
		out = append(out, s.sgRule(g, egress, r))
	}
	return out, nil
}

// revoke removes rules, all or none: one rule that does not exist fails the call.
func (s *scope) revoke(groupID string, egress bool, perms []types.IpPermission, ids []string) ([]types.RevokedSecurityGroupRule, error) {
	g, err := s.group(groupID)
	if err != nil {
		return nil, err
	}
	list := &g.Ingress
	if egress {
		list = &g.Egress
	}
	drop := map[int]bool{}
	if len(ids) > 0 {
		for _, id := range ids {
			found := false
			for k, r := range *list {
				if r != nil && ruleID(g.ID, egress, r) == id {
					drop[k], found = true, true
				}
			}
			if !found {
				return nil, apiError("InvalidSecurityGroupRuleId.NotFound", fmt.Sprintf("The security group rule ID '%s' does not exist", id))
			}
		}
	} else {
		rm, err := s.fromPermissions(perms)
		if err != nil {
			return nil, err
		}
		for _, want := range rm {
			wk, found := keyOf(want), false
			for k, r := range *list {
				if r != nil && keyOf(r) == wk {
					drop[k], found = true, true
				}
			}
			if !found {
				return nil, apiError("InvalidPermission.NotFound", "The specified rule does not exist in this security group.")
			}
		}
	}
	var keep []*world.Rule
	var out []types.RevokedSecurityGroupRule
	for k, r := range *list {
		if !drop[k] {
			keep = append(keep, r)
			continue
		}
		sr := s.sgRule(g, egress, r)
		out = append(out, types.RevokedSecurityGroupRule{
			SecurityGroupRuleId: sr.SecurityGroupRuleId, GroupId: sr.GroupId, IsEgress: sr.IsEgress, IpProtocol: sr.IpProtocol,
			FromPort: sr.FromPort, ToPort: sr.ToPort, CidrIpv4: sr.CidrIpv4, CidrIpv6: sr.CidrIpv6, PrefixListId: sr.PrefixListId,
		})
	}
	if keep == nil && !egress {
		keep = []*world.Rule{}
	}
	*list = keep
	return out, nil
}

// AuthorizeSecurityGroupIngress implements cloud.EC2.
func (e *EC2) AuthorizeSecurityGroupIngress(ctx context.Context, in *ec2.AuthorizeSecurityGroupIngressInput, _ ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupIngressOutput, error) {
	return run(ctx, &e.c, "AuthorizeSecurityGroupIngress", in, func(s *scope, in *ec2.AuthorizeSecurityGroupIngressInput) (*ec2.AuthorizeSecurityGroupIngressOutput, error) {
		perms := in.IpPermissions
		if len(perms) == 0 && in.IpProtocol != nil {
			perms = []types.IpPermission{{IpProtocol: in.IpProtocol, FromPort: in.FromPort, ToPort: in.ToPort, IpRanges: []types.IpRange{{CidrIp: in.CidrIp}}}}
		}
		rules, err := s.authorize(aws.ToString(in.GroupId), false, perms)
		if err != nil {
			return nil, err
		}
		return &ec2.AuthorizeSecurityGroupIngressOutput{Return: aws.Bool(true), SecurityGroupRules: rules}, nil
	})
}

// AuthorizeSecurityGroupEgress implements cloud.EC2.
func (e *EC2) AuthorizeSecurityGroupEgress(ctx context.Context, in *ec2.AuthorizeSecurityGroupEgressInput, _ ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupEgressOutput, error) {
	return run(ctx, &e.c, "AuthorizeSecurityGroupEgress", in, func(s *scope, in *ec2.AuthorizeSecurityGroupEgressInput) (*ec2.AuthorizeSecurityGroupEgressOutput, error) {
		rules, err := s.authorize(aws.ToString(in.GroupId), true, in.IpPermissions)
		if err != nil {
			return nil, err
		}
		return &ec2.AuthorizeSecurityGroupEgressOutput{Return: aws.Bool(true), SecurityGroupRules: rules}, nil
	})
}

// RevokeSecurityGroupIngress implements cloud.EC2.
func (e *EC2) RevokeSecurityGroupIngress(ctx context.Context, in *ec2.RevokeSecurityGroupIngressInput, _ ...func(*ec2.Options)) (*ec2.RevokeSecurityGroupIngressOutput, error) {
	return run(ctx, &e.c, "RevokeSecurityGroupIngress", in, func(s *scope, in *ec2.RevokeSecurityGroupIngressInput) (*ec2.RevokeSecurityGroupIngressOutput, error) {
		perms := in.IpPermissions
		if len(perms) == 0 && in.IpProtocol != nil {
			perms = []types.IpPermission{{IpProtocol: in.IpProtocol, FromPort: in.FromPort, ToPort: in.ToPort, IpRanges: []types.IpRange{{CidrIp: in.CidrIp}}}}
		}
		rules, err := s.revoke(aws.ToString(in.GroupId), false, perms, in.SecurityGroupRuleIds)
		if err != nil {
			return nil, err
		}
		return &ec2.RevokeSecurityGroupIngressOutput{Return: aws.Bool(true), RevokedSecurityGroupRules: rules}, nil
	})
}

// RevokeSecurityGroupEgress implements cloud.EC2.
func (e *EC2) RevokeSecurityGroupEgress(ctx context.Context, in *ec2.RevokeSecurityGroupEgressInput, _ ...func(*ec2.Options)) (*ec2.RevokeSecurityGroupEgressOutput, error) {
	return run(ctx, &e.c, "RevokeSecurityGroupEgress", in, func(s *scope, in *ec2.RevokeSecurityGroupEgressInput) (*ec2.RevokeSecurityGroupEgressOutput, error) {
		rules, err := s.revoke(aws.ToString(in.GroupId), true, in.IpPermissions, in.SecurityGroupRuleIds)
		if err != nil {
			return nil, err
		}
		return &ec2.RevokeSecurityGroupEgressOutput{Return: aws.Bool(true), RevokedSecurityGroupRules: rules}, nil
	})
}

// DescribeNetworkInterfaces implements cloud.EC2, over the interfaces of instances.
func (e *EC2) DescribeNetworkInterfaces(ctx context.Context, in *ec2.DescribeNetworkInterfacesInput, _ ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error) {
	return run(ctx, &e.c, "DescribeNetworkInterfaces", in, func(s *scope, in *ec2.DescribeNetworkInterfacesInput) (*ec2.DescribeNetworkInterfacesOutput, error) {
		out := &ec2.DescribeNetworkInterfacesOutput{}
		found := map[string]bool{}
		for _, i := range s.r.Instances {
			if i == nil || i.State == "terminated" {
				continue
			}
			for _, n := range s.interfaces(i) {
				id := aws.ToString(n.NetworkInterfaceId)
				if len(in.NetworkInterfaceIds) > 0 && !contains(in.NetworkInterfaceIds, id) {
					continue
				}
				ok, err := passes(in.Filters, func(name string) ([]string, bool) {
					switch name {
					case "network-interface-id":
						return []string{id}, true
					case "attachment.instance-id":
						return []string{i.ID}, true
					case "subnet-id":
						return []string{aws.ToString(n.SubnetId)}, true
					case "vpc-id":
						return []string{aws.ToString(n.VpcId)}, true
					case "group-id":
						var ids []string
						for _, g := range n.Groups {
							ids = append(ids, aws.ToString(g.GroupId))
						}
						return ids, true
					}
					return nil, false
				})
				if err != nil {
					return nil, err
				}
				if ok {
					found[id] = true
					out.NetworkInterfaces = append(out.NetworkInterfaces, n)
				}
			}
		}
		for _, id := range in.NetworkInterfaceIds {
			if !found[id] {
				return nil, apiError("InvalidNetworkInterfaceID.NotFound", fmt.Sprintf("The networkInterface ID '%s' does not exist", id))
			}
		}
		return out, nil
	})
}

// ModifyNetworkInterfaceAttribute implements cloud.EC2 for Groups: the interface's groups
// are replaced, not added to.
func (e *EC2) ModifyNetworkInterfaceAttribute(ctx context.Context, in *ec2.ModifyNetworkInterfaceAttributeInput, _ ...func(*ec2.Options)) (*ec2.ModifyNetworkInterfaceAttributeOutput, error) {
	return run(ctx, &e.c, "ModifyNetworkInterfaceAttribute", in, func(s *scope, in *ec2.ModifyNetworkInterfaceAttributeInput) (*ec2.ModifyNetworkInterfaceAttributeOutput, error) {
		id := aws.ToString(in.NetworkInterfaceId)
		if ct := in.ConnectionTrackingSpecification; ct != nil {
			// Idle timeouts are validated as AWS does but not kept: they change how long
			// flows linger, not the state a world file describes.
			if err := checkTrackingTimeouts(ct); err != nil {
				return nil, err
			}
			if in.Groups == nil {
				if !s.eniExists(id) {
					return nil, apiError("InvalidNetworkInterfaceID.NotFound", fmt.Sprintf("The networkInterface ID '%s' does not exist", id))
				}
				return &ec2.ModifyNetworkInterfaceAttributeOutput{}, nil
			}
		}
		if in.Groups == nil {
			return nil, apiError("InvalidParameterCombination", "No attributes specified.")
		}
		for _, i := range s.r.Instances {
			if i == nil || i.State == "terminated" {
				continue
			}
			if primaryENI(i) == id {
				if err := s.checkGroups(in.Groups, s.vpcOfSubnet(i.Subnet)); err != nil {
					return nil, err
				}
				i.SecurityGroups = dedupe(in.Groups)
				return &ec2.ModifyNetworkInterfaceAttributeOutput{}, nil
			}
			for _, n := range i.NetworkInterfaces {
				if n != nil && n.ID == id {
					if err := s.checkGroups(in.Groups, s.vpcOfSubnet(def(n.Subnet, i.Subnet))); err != nil {
						return nil, err
					}
					n.SecurityGroups = dedupe(in.Groups)
					return &ec2.ModifyNetworkInterfaceAttributeOutput{}, nil
				}
			}
		}
		return nil, apiError("InvalidNetworkInterfaceID.NotFound", fmt.Sprintf("The networkInterface ID '%s' does not exist", id))
	})
}

func (s *scope) acl(id string) (*world.NetworkACL, error) {
	for _, a := range s.r.NetworkACLs {
		if a != nil && a.ID == id {
			return a, nil
		}
	}
	return nil, apiError("InvalidNetworkAclID.NotFound", fmt.Sprintf("The network ACL '%s' does not exist", id))
}

func aclProto(p string) string {
	switch normProto(p) {
	case "tcp":
		return "6"
	case "udp":
		return "17"
	case "icmp":
		return "1"
	}
	return normProto(p)
}

// DescribeNetworkAcls implements cloud.EC2.
func (e *EC2) DescribeNetworkAcls(ctx context.Context, in *ec2.DescribeNetworkAclsInput, _ ...func(*ec2.Options)) (*ec2.DescribeNetworkAclsOutput, error) {
	return run(ctx, &e.c, "DescribeNetworkAcls", in, func(s *scope, in *ec2.DescribeNetworkAclsInput) (*ec2.DescribeNetworkAclsOutput, error) {
		for _, id := range in.NetworkAclIds {
			if _, err := s.acl(id); err != nil {
				return nil, err
			}
		}
		out := &ec2.DescribeNetworkAclsOutput{}
		for _, a := range s.r.NetworkACLs {
			if a == nil || (len(in.NetworkAclIds) > 0 && !contains(in.NetworkAclIds, a.ID)) {
				continue
			}
			ok, err := passes(in.Filters, func(name string) ([]string, bool) {
				switch name {
				case "network-acl-id":
					return []string{a.ID}, true
				case "vpc-id":
					return []string{a.VPC}, true
				case "association.subnet-id":
					return a.Subnets, true
				case "default":
					return []string{strconv.FormatBool(a.Default)}, true
				}
				return nil, false
			})
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			acl := types.NetworkAcl{NetworkAclId: aws.String(a.ID), VpcId: aws.String(a.VPC), IsDefault: aws.Bool(a.Default), OwnerId: aws.String(s.a.ID)}
			for _, sn := range a.Subnets {
				acl.Associations = append(acl.Associations, types.NetworkAclAssociation{NetworkAclId: aws.String(a.ID), SubnetId: aws.String(sn), NetworkAclAssociationId: aws.String("aclassoc-" + strings.TrimPrefix(sn, "subnet-"))})
			}
			for _, en := range a.Entries {
				if en == nil {
					continue
				}
				ent := types.NetworkAclEntry{RuleNumber: aws.Int32(en.RuleNumber), Egress: aws.Bool(en.Egress), RuleAction: types.RuleAction(en.Action), Protocol: aws.String(aclProto(en.Protocol)), CidrBlock: aws.String(en.CIDR)}
				if p := aclProto(en.Protocol); p == "6" || p == "17" {
					ent.PortRange = &types.PortRange{From: aws.Int32(en.FromPort), To: aws.Int32(en.ToPort)}
				}
				acl.Entries = append(acl.Entries, ent)
			}
			out.NetworkAcls = append(out.NetworkAcls, acl)
		}
		return out, nil
	})
}

// CreateNetworkAclEntry implements cloud.EC2.
func (e *EC2) CreateNetworkAclEntry(ctx context.Context, in *ec2.CreateNetworkAclEntryInput, _ ...func(*ec2.Options)) (*ec2.CreateNetworkAclEntryOutput, error) {
	return run(ctx, &e.c, "CreateNetworkAclEntry", in, func(s *scope, in *ec2.CreateNetworkAclEntryInput) (*ec2.CreateNetworkAclEntryOutput, error) {
		a, err := s.acl(aws.ToString(in.NetworkAclId))
		if err != nil {
			return nil, err
		}
		n := aws.ToInt32(in.RuleNumber)
		if n < 1 || n > 32766 {
			return nil, apiError("InvalidParameterValue", "The rule number must be between 1 and 32766.")
		}
		if in.RuleAction != types.RuleActionAllow && in.RuleAction != types.RuleActionDeny {
			return nil, apiError("InvalidParameterValue", "The rule action must be allow or deny.")
		}
		if _, err := netip.ParsePrefix(aws.ToString(in.CidrBlock)); err != nil {
			return nil, apiError("InvalidParameterValue", fmt.Sprintf("CIDR block %s is malformed", aws.ToString(in.CidrBlock)))
		}
		for _, en := range a.Entries {
			if en != nil && en.RuleNumber == n && en.Egress == aws.ToBool(in.Egress) {
				return nil, apiError("NetworkAclEntryAlreadyExists", fmt.Sprintf("The network acl entry identified by %d already exists.", n))
			}
		}
		en := &world.ACLEntry{RuleNumber: n, Egress: aws.ToBool(in.Egress), Action: string(in.RuleAction), Protocol: normProto(aws.ToString(in.Protocol)), CIDR: aws.ToString(in.CidrBlock)}
		if in.PortRange != nil {
			en.FromPort, en.ToPort = aws.ToInt32(in.PortRange.From), aws.ToInt32(in.PortRange.To)
		}
		a.Entries = append(a.Entries, en)
		return &ec2.CreateNetworkAclEntryOutput{}, nil
	})
}

// DeleteNetworkAclEntry implements cloud.EC2.
func (e *EC2) DeleteNetworkAclEntry(ctx context.Context, in *ec2.DeleteNetworkAclEntryInput, _ ...func(*ec2.Options)) (*ec2.DeleteNetworkAclEntryOutput, error) {
	return run(ctx, &e.c, "DeleteNetworkAclEntry", in, func(s *scope, in *ec2.DeleteNetworkAclEntryInput) (*ec2.DeleteNetworkAclEntryOutput, error) {
		a, err := s.acl(aws.ToString(in.NetworkAclId))
		if err != nil {
			return nil, err
		}
		for k, en := range a.Entries {
			if en != nil && en.RuleNumber == aws.ToInt32(in.RuleNumber) && en.Egress == aws.ToBool(in.Egress) {
				a.Entries = append(a.Entries[:k], a.Entries[k+1:]...)
				return &ec2.DeleteNetworkAclEntryOutput{}, nil
			}
		}
		return nil, apiError("InvalidNetworkAclEntry.NotFound", fmt.Sprintf("The network acl entry identified by %d does not exist.", aws.ToInt32(in.RuleNumber)))
	})
}

// checkTrackingTimeouts applies EC2's documented bounds on idle connection-tracking
// timeouts: TCP established 60–432000 s, UDP stream 60–180 s, other UDP 30–60 s.
func checkTrackingTimeouts(ct *types.ConnectionTrackingSpecificationRequest) error {
	bounds := []struct {
		name     string
		v        *int32
		min, max int32
	}{
		{"TcpEstablishedTimeout", ct.TcpEstablishedTimeout, 60, 432000},
		{"UdpStreamTimeout", ct.UdpStreamTimeout, 60, 180},
		{"UdpTimeout", ct.UdpTimeout, 30, 60},
	}
	for _, b := range bounds {
		if b.v != nil && (*b.v < b.min || *b.v > b.max) {
			return apiError("InvalidParameterValue", fmt.Sprintf("Value (%d) for parameter %s is invalid. It must be between %d and %d.", *b.v, b.name, b.min, b.max))
		}
	}
	return nil
}

// eniExists reports whether id names a live instance's network interface in this region.
func (s *scope) eniExists(id string) bool {
	for _, i := range s.r.Instances {
		if i == nil || i.State == "terminated" {
			continue
		}
		if primaryENI(i) == id {
			return true
		}
		for _, n := range i.NetworkInterfaces {
			if n != nil && n.ID == id {
				return true
			}
		}
	}
	return false
}
