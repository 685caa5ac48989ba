// Package ec2 declares the actions Firebreak takes on EC2 instances and security groups:
// preserving their disks and memory, cutting them off the network, stopping and
// terminating them.
package ec2

import (
	"context"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/cloud"
)

// Specs returns every EC2 action, evidence first, in the order a responder would usually
// run them.
func Specs() []*action.Spec {
	return []*action.Spec{
		SnapshotVolumesSpec(),
		CaptureMemorySpec(),
		IsolateSpec(),
		ConfineSecurityGroupSpec(),
		StopSpec(),
		TerminateSpec(),
	}
}

// describeInstance returns the instance called id, or a NotFound-classed error.
func describeInstance(ctx context.Context, c cloud.EC2, t *action.Trace, account, id string) (*types.Instance, error) {
	out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		return nil, action.AWSError(err, account, "ec2:DescribeInstances", "describe instance "+id)
	}
	t.Record(out.ResultMetadata)
	for _, r := range out.Reservations {
		for i := range r.Instances {
			if aws.ToString(r.Instances[i].InstanceId) == id {
				return &r.Instances[i], nil
			}
		}
	}
	return nil, action.AWSError(&smithy.GenericAPIError{Code: "InvalidInstanceID.NotFound",
		Message: "The instance ID '" + id + "' does not exist"}, account, "ec2:DescribeInstances", "describe instance "+id)
}

// ec2Tags turns EC2 tags into a map.
func ec2Tags(tags []types.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// setTags creates the tags in set on resource.
func setTags(ctx context.Context, c cloud.EC2, t *action.Trace, account, resource string, set map[string]string) error {
	if len(set) == 0 {
		return nil
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tags := make([]types.Tag, 0, len(keys))
	for _, k := range keys {
		tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(set[k])})
	}
	out, err := c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{resource}, Tags: tags})
	if err != nil {
		return action.AWSError(err, account, "ec2:CreateTags", "tag "+resource)
	}
	t.Record(out.ResultMetadata)
	return nil
}

// undoTags puts back the tags recorded by action.TagChanges.
func undoTags(ctx context.Context, c cloud.EC2, t *action.Trace, account, resource string, prior []action.TagChange) error {
	restore, remove := action.SplitTagUndo(prior)
	return action.Parallel(
		func() error { return setTags(ctx, c, t, account, resource, restore) },
		func() error {
			if len(remove) == 0 {
				return nil
			}
			tags := make([]types.Tag, 0, len(remove))
			for _, k := range remove {
				tags = append(tags, types.Tag{Key: aws.String(k)})
			}
			out, err := c.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{resource}, Tags: tags})
			if err != nil {
				return action.AWSError(err, account, "ec2:DeleteTags", "untag "+resource)
			}
			t.Record(out.ResultMetadata)
			return nil
		},
	)
}
