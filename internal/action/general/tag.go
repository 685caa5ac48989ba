package general

import (
	"github.com/firebreak-sec/firebreak/internal/action"
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
		Permissions: []string{
			"ec2:DescribeTags",
			"ec2:CreateTags",
			"ec2:DeleteTags",
			// DeleteBucketTagging, for undo on a bucket that had no tags, is authorised as
			// s3:PutBucketTagging.
			"s3:GetBucketTagging",
			"s3:PutBucketTagging",
			"iam:ListUserTags",
			"iam:TagUser",
			"iam:UntagUser",
			"iam:ListRoleTags",
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
