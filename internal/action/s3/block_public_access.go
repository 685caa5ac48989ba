package s3

import (
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
