package s3

import (
	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// EnforceEncryptionSpec declares s3.enforce-encryption. Default encryption applies to
// objects written from now on; objects already in the bucket keep the encryption they
// were written with. With aws:kms, S3 Bucket Keys are turned on to keep KMS request costs
// down. Every bucket has had SSE-S3 default encryption since January 2023, so undo puts
// back the previous configuration rather than removing encryption.
func EnforceEncryptionSpec() *action.Spec {
	return &action.Spec{
		Name:    "s3.enforce-encryption",
		Summary: "Set the bucket's default encryption for new objects to SSE-KMS or SSE-S3.",
		Targets: []event.Kind{event.KindS3Bucket},
		Params: []action.Param{
			{
				Name:    "algorithm",
				Type:    action.String,
				Doc:     "aws:kms for SSE-KMS, AES256 for SSE-S3.",
				Default: "aws:kms",
				Allowed: []string{"AES256", "aws:kms"},
			},
			{
				Name: "kms_key_id",
				Type: action.String,
				Doc: "The KMS key id, alias or ARN for aws:kms; empty uses the AWS managed key aws/s3. " +
					"A customer managed key must allow the bucket's writers to use it.",
				Default: "",
			},
		},
		Reversible: true,
		Permissions: []string{
			// GetBucketEncryption and PutBucketEncryption are authorised as these.
			"s3:GetEncryptionConfiguration",
			"s3:PutEncryptionConfiguration",
		},
		Manual: `# Account {{.Account}}: default-encrypt new objects in bucket {{.ID}} with {{.Param "algorithm"}}. Keep the first command's output for undo.
aws s3api get-bucket-encryption --bucket '{{.ID}}' --expected-bucket-owner {{.Account}}
# For aws:kms:
aws s3api put-bucket-encryption --bucket '{{.ID}}' --expected-bucket-owner {{.Account}} --server-side-encryption-configuration \
  '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"aws:kms"{{with .Param "kms_key_id"}},"KMSMasterKeyID":"{{.}}"{{end}}},"BucketKeyEnabled":true}]}'
# For AES256:
aws s3api put-bucket-encryption --bucket '{{.ID}}' --expected-bucket-owner {{.Account}} --server-side-encryption-configuration \
  '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'`,
		ManualUndo: `# Account {{.Account}}: put back the configuration bucket {{.ID}} had before.
aws s3api put-bucket-encryption --bucket '{{.ID}}' --expected-bucket-owner {{.Account}} \
  --server-side-encryption-configuration 'PREVIOUS_CONFIGURATION_JSON'`,
	}
}
