package s3

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/firebreak-sec/firebreak/internal/cloud"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// BlockPublicAccessSpec declares s3.block-public-access. All four settings are turned on:
// blocking new public ACLs and policies alone would leave the existing ones in force.
// The previous configuration (or its absence) is recorded so undo puts back exactly that.
func BlockPublicAccessSpec() *action.Spec {
	return &action.Spec{
		Name: "s3.block-public-access",
		Summary: "Turn on all four S3 Block Public Access settings for the bucket, overriding public ACLs and " +
			"bucket policies already in place.",
		Targets:    []event.Kind{event.KindS3Bucket},
		Reversible: true,
		Exec:       blockPublicAccess{},
		Permissions: []string{
			// GetPublicAccessBlock; PutPublicAccessBlock and DeletePublicAccessBlock are both
			// authorised as s3:PutBucketPublicAccessBlock.
			"s3:GetBucketPublicAccessBlock",
			"s3:PutBucketPublicAccessBlock",
		},
		Manual: `# Account {{.Account}}: block public access to bucket {{.ID}}. Keep the first command's output for undo.
aws s3api get-public-access-block --bucket '{{.ID}}' --expected-bucket-owner {{.Account}}
aws s3api put-public-access-block --bucket '{{.ID}}' --expected-bucket-owner {{.Account}} \
  --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true`,
		ManualUndo: `# Account {{.Account}}: put back the configuration bucket {{.ID}} had before, or remove it if it had none.
aws s3api put-public-access-block --bucket '{{.ID}}' --expected-bucket-owner {{.Account}} \
  --public-access-block-configuration BlockPublicAcls=PREVIOUS,IgnorePublicAcls=PREVIOUS,BlockPublicPolicy=PREVIOUS,RestrictPublicBuckets=PREVIOUS
aws s3api delete-public-access-block --bucket '{{.ID}}' --expected-bucket-owner {{.Account}}`,
	}
}

type blockPublicAccess struct{}

// publicAccessPrior is the bucket's configuration before; Had false means it had none.
type publicAccessPrior struct {
	Had                   bool `json:"had"`
	BlockPublicACLs       bool `json:"block_public_acls,omitempty"`
	IgnorePublicACLs      bool `json:"ignore_public_acls,omitempty"`
	BlockPublicPolicy     bool `json:"block_public_policy,omitempty"`
	RestrictPublicBuckets bool `json:"restrict_public_buckets,omitempty"`
}

func (blockPublicAccess) Do(ctx context.Context, env *action.Env, req *action.Request) (*action.Result, error) {
	t := req.Target
	fail := func(err error) (*action.Result, error) {
		return nil, fmt.Errorf("block public access to bucket %s in %s: %w", t.ID, t.Account, err)
	}
	c, err := env.Cloud.S3(ctx, t.Account, t.Region)
	if err != nil {
		return fail(err)
	}
	trace := &action.Trace{}
	var prior publicAccessPrior
	out, err := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String(t.ID), ExpectedBucketOwner: aws.String(t.Account)})
	switch {
	case err != nil && cloud.Code(err) == "NoSuchPublicAccessBlockConfiguration":
	case err != nil:
		return fail(action.AWSError(err, t.Account, "s3:GetBucketPublicAccessBlock", "read the public access block"))
	default:
		trace.Record(out.ResultMetadata)
		if cfg := out.PublicAccessBlockConfiguration; cfg != nil {
			prior = publicAccessPrior{Had: true, BlockPublicACLs: aws.ToBool(cfg.BlockPublicAcls), IgnorePublicACLs: aws.ToBool(cfg.IgnorePublicAcls),
				BlockPublicPolicy: aws.ToBool(cfg.BlockPublicPolicy), RestrictPublicBuckets: aws.ToBool(cfg.RestrictPublicBuckets)}
		}
	}
	if prior.BlockPublicACLs && prior.IgnorePublicACLs && prior.BlockPublicPolicy && prior.RestrictPublicBuckets {
		return &action.Result{Status: action.AlreadyDone, Message: "all four settings are already on", RequestIDs: trace.IDs()}, nil
	}
	if err := putPublicAccessBlock(ctx, c, trace, t, publicAccessPrior{Had: true, BlockPublicACLs: true, IgnorePublicACLs: true, BlockPublicPolicy: true, RestrictPublicBuckets: true}); err != nil {
		return fail(err)
	}
	raw, err := action.EncodePrior(prior)
	if err != nil {
		return fail(err)
	}
	return &action.Result{Status: action.Done, Message: "all four settings on", Prior: raw, RequestIDs: trace.IDs()}, nil
}

func putPublicAccessBlock(ctx context.Context, c cloud.S3, trace *action.Trace, t action.Target, p publicAccessPrior) error {
	out, err := c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: aws.String(t.ID), ExpectedBucketOwner: aws.String(t.Account),
		PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(p.BlockPublicACLs),
			IgnorePublicAcls: aws.Bool(p.IgnorePublicACLs), BlockPublicPolicy: aws.Bool(p.BlockPublicPolicy), RestrictPublicBuckets: aws.Bool(p.RestrictPublicBuckets)}})
	if err != nil {
		return action.AWSError(err, t.Account, "s3:PutBucketPublicAccessBlock", "write the public access block")
	}
	trace.Record(out.ResultMetadata)
	return nil
}

func (blockPublicAccess) Undo(ctx context.Context, env *action.Env, req *action.Request, raw json.RawMessage) (*action.Result, error) {
	t := req.Target
	var prior publicAccessPrior
	if err := action.DecodePrior(raw, &prior); err != nil {
		return nil, fmt.Errorf("restore public access of bucket %s in %s: %w", t.ID, t.Account, err)
	}
	c, err := env.Cloud.S3(ctx, t.Account, t.Region)
	if err != nil {
		return nil, fmt.Errorf("restore public access of bucket %s in %s: %w", t.ID, t.Account, err)
	}
	trace := &action.Trace{}
	if prior.Had {
		if err := putPublicAccessBlock(ctx, c, trace, t, prior); err != nil {
			return nil, fmt.Errorf("restore public access of bucket %s in %s: %w", t.ID, t.Account, err)
		}
		return &action.Result{Status: action.Done, Message: "previous configuration restored", RequestIDs: trace.IDs()}, nil
	}
	out, err := c.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: aws.String(t.ID), ExpectedBucketOwner: aws.String(t.Account)})
	if err != nil {
		return nil, fmt.Errorf("restore public access of bucket %s in %s: %w", t.ID, t.Account, action.AWSError(err, t.Account, "s3:PutBucketPublicAccessBlock", "remove the public access block"))
	}
	trace.Record(out.ResultMetadata)
	return &action.Result{Status: action.Done, Message: "public access block removed, as the bucket had none", RequestIDs: trace.IDs()}, nil
}
