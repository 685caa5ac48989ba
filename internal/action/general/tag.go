package general

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/cloud"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// TagSpec declares tag. Tags are how the rest of the organisation sees that a resource is
// under incident response, and how exceptions and other automation recognise it. The
// values a key had before are recorded, so undo restores them rather than deleting a tag
// the resource already had. S3 has no call to add one tag: PutBucketTagging replaces the
// whole set, so the bucket's tags are read and written back merged.
func TagSpec() *action.Spec {
	return &action.Spec{
		Name:    "tag",
		Summary: "Add tags to the resource, alongside the firebreak:incident tag naming the incident.",
		Targets: []event.Kind{
			event.KindInstance,
			event.KindS3Bucket,
			event.KindSecurityGroup,
			event.KindIAMUser,
			event.KindIAMRole,
		},
		Params: []action.Param{
			{
				Name:    "tags",
				Type:    action.StringMap,
				Doc:     "The tags to set.",
				Default: map[string]string{"firebreak:status": "contained"},
			},
		},
		Reversible: true,
		Exec:       tag{},
		Permissions: []string{
			// An instance's or group's tags come with its description.
			"ec2:DescribeInstances",
			"ec2:DescribeSecurityGroups",
			"ec2:CreateTags",
			"ec2:DeleteTags",
			// DeleteBucketTagging, for undo on a bucket that had no tags, is authorised as
			// s3:PutBucketTagging.
			"s3:GetBucketTagging",
			"s3:PutBucketTagging",
			"iam:ListUserTags",
			"iam:TagUser",
			"iam:UntagUser",
			// A role's tags come with GetRole.
			"iam:GetRole",
			"iam:TagRole",
			"iam:UntagRole",
		},
		Manual: `# Account {{.Account}}, region {{.Region}}: tag {{.ID}} with the step's tags and firebreak:incident. Note existing values first.
# Instance or security group:
aws ec2 create-tags --region {{.Region}} --resources {{.ID}} --tags Key=firebreak:incident,Value=INCIDENT_ID Key=KEY,Value=VALUE
# S3 bucket: put-bucket-tagging replaces every tag, so include the existing ones from get-bucket-tagging.
aws s3api get-bucket-tagging --bucket '{{.ID}}'
aws s3api put-bucket-tagging --bucket '{{.ID}}' --tagging 'TagSet=[{Key=firebreak:incident,Value=INCIDENT_ID},{Key=KEY,Value=VALUE},EXISTING_TAGS]'
# IAM user or role:
aws iam tag-user --user-name '{{.ID}}' --tags Key=firebreak:incident,Value=INCIDENT_ID Key=KEY,Value=VALUE
aws iam tag-role --role-name '{{.ID}}' --tags Key=firebreak:incident,Value=INCIDENT_ID Key=KEY,Value=VALUE`,
		ManualUndo: `# Account {{.Account}}, region {{.Region}}: remove the tags that were added, and set back any value that was overwritten.
aws ec2 delete-tags --region {{.Region}} --resources {{.ID}} --tags Key=firebreak:incident Key=KEY
aws s3api put-bucket-tagging --bucket '{{.ID}}' --tagging 'TagSet=[PREVIOUS_TAGS]'
aws iam untag-user --user-name '{{.ID}}' --tag-keys firebreak:incident KEY
aws iam untag-role --role-name '{{.ID}}' --tag-keys firebreak:incident KEY`,
	}
}

type tag struct{}

// tagPrior is each key tag set and what it was before.
type tagPrior struct {
	Tags []action.TagChange `json:"tags"`
}

// tagger reads and writes the tags of one resource, whatever service it belongs to.
type tagger struct {
	t     action.Target
	trace *action.Trace
	// read returns the resource's tags; write sets set and deletes remove.
	read  func(ctx context.Context) (map[string]string, error)
	write func(ctx context.Context, set map[string]string, remove []string) error
}

func newTagger(ctx context.Context, env *action.Env, t action.Target, trace *action.Trace) (*tagger, error) {
	tg := &tagger{t: t, trace: trace}
	switch t.Kind {
	case event.KindInstance, event.KindSecurityGroup:
		c, err := env.Cloud.EC2(ctx, t.Account, t.Region)
		if err != nil {
			return nil, err
		}
		tg.read = func(ctx context.Context) (map[string]string, error) { return ec2ReadTags(ctx, c, trace, t) }
		tg.write = func(ctx context.Context, set map[string]string, remove []string) error {
			return ec2WriteTags(ctx, c, trace, t, set, remove)
		}
	case event.KindS3Bucket:
		c, err := env.Cloud.S3(ctx, t.Account, t.Region)
		if err != nil {
			return nil, err
		}
		tg.read = func(ctx context.Context) (map[string]string, error) { return s3ReadTags(ctx, c, trace, t) }
		tg.write = func(ctx context.Context, set map[string]string, remove []string) error {
			return s3WriteTags(ctx, c, trace, t, set, remove)
		}
	case event.KindIAMUser, event.KindIAMRole:
		c, err := env.Cloud.IAM(ctx, t.Account)
		if err != nil {
			return nil, err
		}
		tg.read = func(ctx context.Context) (map[string]string, error) { return iamReadTags(ctx, c, trace, t) }
		tg.write = func(ctx context.Context, set map[string]string, remove []string) error {
			return iamWriteTags(ctx, c, trace, t, set, remove)
		}
	default:
		return nil, fmt.Errorf("cannot tag a %s", t.Kind)
	}
	return tg, nil
}

func (tag) Do(ctx context.Context, env *action.Env, req *action.Request) (*action.Result, error) {
	t := req.Target
	fail := func(err error) (*action.Result, error) {
		return nil, fmt.Errorf("tag %s: %w", t, err)
	}
	trace := &action.Trace{}
	tg, err := newTagger(ctx, env, t, trace)
	if err != nil {
		return fail(err)
	}
	want := req.StringMap("tags")
	maps.Copy(want, action.IncidentTags(req.Incident, ""))
	current, err := tg.read(ctx)
	if err != nil {
		return fail(err)
	}
	set, prior := action.TagChanges(current, want)
	if len(set) == 0 {
		return &action.Result{Status: action.AlreadyDone, Message: "the resource already has these tags", RequestIDs: trace.IDs()}, nil
	}
	raw, err := action.EncodePrior(tagPrior{Tags: prior})
	if err != nil {
		return fail(err)
	}
	if err := tg.write(ctx, set, nil); err != nil {
		return fail(err)
	}
	return &action.Result{Status: action.Done, Message: fmt.Sprintf("%d tag(s) set", len(set)), Prior: raw, RequestIDs: trace.IDs()}, nil
}

func (tag) Undo(ctx context.Context, env *action.Env, req *action.Request, raw json.RawMessage) (*action.Result, error) {
	t := req.Target
	fail := func(err error) (*action.Result, error) {
		return nil, fmt.Errorf("restore the tags of %s: %w", t, err)
	}
	var prior tagPrior
	if err := action.DecodePrior(raw, &prior); err != nil {
		return fail(err)
	}
	trace := &action.Trace{}
	tg, err := newTagger(ctx, env, t, trace)
	if err != nil {
		return fail(err)
	}
	restore, remove := action.SplitTagUndo(prior.Tags)
	if err := tg.write(ctx, restore, remove); err != nil {
		return fail(err)
	}
	return &action.Result{Status: action.Done, Message: fmt.Sprintf("%d tag(s) removed, %d restored", len(remove), len(restore)), RequestIDs: trace.IDs()}, nil
}

func ec2ReadTags(ctx context.Context, c cloud.EC2, trace *action.Trace, t action.Target) (map[string]string, error) {
	var tags []ec2types.Tag
	if t.Kind == event.KindInstance {
		out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{t.ID}})
		if err != nil {
			return nil, action.AWSError(err, t.Account, "ec2:DescribeInstances", "read the instance's tags")
		}
		trace.Record(out.ResultMetadata)
		for _, r := range out.Reservations {
			for _, i := range r.Instances {
				if aws.ToString(i.InstanceId) == t.ID {
					tags = i.Tags
				}
			}
		}
	} else {
		out, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{t.ID}})
		if err != nil {
			return nil, action.AWSError(err, t.Account, "ec2:DescribeSecurityGroups", "read the group's tags")
		}
		trace.Record(out.ResultMetadata)
		for _, g := range out.SecurityGroups {
			if aws.ToString(g.GroupId) == t.ID {
				tags = g.Tags
			}
		}
	}
	m := make(map[string]string, len(tags))
	for _, tg := range tags {
		m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return m, nil
}

func ec2WriteTags(ctx context.Context, c cloud.EC2, trace *action.Trace, t action.Target, set map[string]string, remove []string) error {
	return action.Parallel(
		when(len(set) > 0, func() error {
			in := &ec2.CreateTagsInput{Resources: []string{t.ID}}
			for _, k := range slices.Sorted(maps.Keys(set)) {
				in.Tags = append(in.Tags, ec2types.Tag{Key: aws.String(k), Value: aws.String(set[k])})
			}
			out, err := c.CreateTags(ctx, in)
			if err != nil {
				return action.AWSError(err, t.Account, "ec2:CreateTags", "tag "+t.ID)
			}
			trace.Record(out.ResultMetadata)
			return nil
		}),
		when(len(remove) > 0, func() error {
			in := &ec2.DeleteTagsInput{Resources: []string{t.ID}}
			for _, k := range remove {
				in.Tags = append(in.Tags, ec2types.Tag{Key: aws.String(k)})
			}
			out, err := c.DeleteTags(ctx, in)
			if err != nil {
				return action.AWSError(err, t.Account, "ec2:DeleteTags", "untag "+t.ID)
			}
			trace.Record(out.ResultMetadata)
			return nil
		}),
	)
}

func s3ReadTags(ctx context.Context, c cloud.S3, trace *action.Trace, t action.Target) (map[string]string, error) {
	out, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(t.ID), ExpectedBucketOwner: aws.String(t.Account)})
	switch {
	case err != nil && cloud.Code(err) == "NoSuchTagSet":
		return map[string]string{}, nil
	case err != nil:
		return nil, action.AWSError(err, t.Account, "s3:GetBucketTagging", "read the bucket's tags")
	}
	trace.Record(out.ResultMetadata)
	m := make(map[string]string, len(out.TagSet))
	for _, tg := range out.TagSet {
		m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return m, nil
}

// s3WriteTags reads the bucket's tags again right before writing, because PutBucketTagging
// replaces the whole set: the fresher the read, the smaller the window in which a tag
// someone else adds is lost.
func s3WriteTags(ctx context.Context, c cloud.S3, trace *action.Trace, t action.Target, set map[string]string, remove []string) error {
	current, err := s3ReadTags(ctx, c, trace, t)
	if err != nil {
		return err
	}
	maps.Copy(current, set)
	for _, k := range remove {
		delete(current, k)
	}
	if len(current) == 0 {
		// S3 refuses an empty tag set; a bucket without tags has none at all.
		out, err := c.DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: aws.String(t.ID), ExpectedBucketOwner: aws.String(t.Account)})
		if err != nil {
			return action.AWSError(err, t.Account, "s3:PutBucketTagging", "remove the bucket's tags")
		}
		trace.Record(out.ResultMetadata)
		return nil
	}
	in := &s3.PutBucketTaggingInput{Bucket: aws.String(t.ID), ExpectedBucketOwner: aws.String(t.Account), Tagging: &s3types.Tagging{}}
	for _, k := range slices.Sorted(maps.Keys(current)) {
		in.Tagging.TagSet = append(in.Tagging.TagSet, s3types.Tag{Key: aws.String(k), Value: aws.String(current[k])})
	}
	out, err := c.PutBucketTagging(ctx, in)
	if err != nil {
		return action.AWSError(err, t.Account, "s3:PutBucketTagging", "write the bucket's tags")
	}
	trace.Record(out.ResultMetadata)
	return nil
}

func iamReadTags(ctx context.Context, c cloud.IAM, trace *action.Trace, t action.Target) (map[string]string, error) {
	var tags []iamtypes.Tag
	if t.Kind == event.KindIAMUser {
		in := &iam.ListUserTagsInput{UserName: aws.String(t.ID)}
		for {
			out, err := c.ListUserTags(ctx, in)
			if err != nil {
				return nil, action.AWSError(err, t.Account, "iam:ListUserTags", "read the user's tags")
			}
			trace.Record(out.ResultMetadata)
			tags = append(tags, out.Tags...)
			if !out.IsTruncated {
				break
			}
			in.Marker = out.Marker
		}
	} else {
		// GetRole returns the role's tags; cloud.IAM has no ListRoleTags.
		out, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(t.ID)})
		if err != nil {
			return nil, action.AWSError(err, t.Account, "iam:GetRole", "read the role's tags")
		}
		trace.Record(out.ResultMetadata)
		if out.Role != nil {
			tags = out.Role.Tags
		}
	}
	m := make(map[string]string, len(tags))
	for _, tg := range tags {
		m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return m, nil
}

func iamWriteTags(ctx context.Context, c cloud.IAM, trace *action.Trace, t action.Target, set map[string]string, remove []string) error {
	var tags []iamtypes.Tag
	for _, k := range slices.Sorted(maps.Keys(set)) {
		tags = append(tags, iamtypes.Tag{Key: aws.String(k), Value: aws.String(set[k])})
	}
	user := t.Kind == event.KindIAMUser
	return action.Parallel(
		when(len(tags) > 0, func() error {
			if user {
				out, err := c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String(t.ID), Tags: tags})
				if err != nil {
					return action.AWSError(err, t.Account, "iam:TagUser", "tag the user")
				}
				trace.Record(out.ResultMetadata)
				return nil
			}
			out, err := c.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String(t.ID), Tags: tags})
			if err != nil {
				return action.AWSError(err, t.Account, "iam:TagRole", "tag the role")
			}
			trace.Record(out.ResultMetadata)
			return nil
		}),
		when(len(remove) > 0, func() error {
			if user {
				out, err := c.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String(t.ID), TagKeys: remove})
				if err != nil {
					return action.AWSError(err, t.Account, "iam:UntagUser", "untag the user")
				}
				trace.Record(out.ResultMetadata)
				return nil
			}
			out, err := c.UntagRole(ctx, &iam.UntagRoleInput{RoleName: aws.String(t.ID), TagKeys: remove})
			if err != nil {
				return action.AWSError(err, t.Account, "iam:UntagRole", "untag the role")
			}
			trace.Record(out.ResultMetadata)
			return nil
		}),
	)
}

// when returns fn if cond holds and nil otherwise; action.Parallel skips nil functions.
func when(cond bool, fn func() error) func() error {
	if !cond {
		return nil
	}
	return fn
}
