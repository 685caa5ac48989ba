package s3

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/cloud"
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
		Exec:       enforceEncryption{},
		Permissions: []string{
			// GetBucketEncryption and PutBucketEncryption (DeleteBucketEncryption too) are authorised as these.
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

type enforceEncryption struct{}

// encryptionPrior is the bucket's default encryption before; Had false means it had none
// (buckets from before January 2023 that never set one, and the simulated organisation).
type encryptionPrior struct {
	Had       bool   `json:"had"`
	Algorithm string `json:"algorithm,omitempty"`
	KMSKey    string `json:"kms_key_id,omitempty"`
	BucketKey bool   `json:"bucket_key,omitempty"`
}

func (enforceEncryption) Do(ctx context.Context, env *action.Env, req *action.Request) (*action.Result, error) {
	t := req.Target
	fail := func(err error) (*action.Result, error) {
		return nil, fmt.Errorf("enforce default encryption on bucket %s in %s: %w", t.ID, t.Account, err)
	}
	want := encryptionPrior{Had: true, Algorithm: req.String("algorithm"), KMSKey: req.String("kms_key_id")}
	switch want.Algorithm {
	case string(types.ServerSideEncryptionAwsKms):
		// Bucket Keys cut the KMS requests, and their cost, by orders of magnitude.
		want.BucketKey = true
	case string(types.ServerSideEncryptionAes256):
		// S3 refuses a KMS key with SSE-S3; a stray parameter should not fail the step.
		want.KMSKey = ""
	default:
		return fail(fmt.Errorf("algorithm %q is neither aws:kms nor AES256", want.Algorithm))
	}
	c, err := env.Cloud.S3(ctx, t.Account, t.Region)
	if err != nil {
		return fail(err)
	}
	trace := &action.Trace{}
	var prior encryptionPrior
	out, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(t.ID), ExpectedBucketOwner: aws.String(t.Account)})
	switch {
	case err != nil && cloud.Code(err) == "ServerSideEncryptionConfigurationNotFoundError":
	case err != nil:
		return fail(action.AWSError(err, t.Account, "s3:GetEncryptionConfiguration", "read the default encryption"))
	default:
		trace.Record(out.ResultMetadata)
		// S3 keeps exactly one rule; a configuration without one counts as none.
		if cfg := out.ServerSideEncryptionConfiguration; cfg != nil && len(cfg.Rules) > 0 && cfg.Rules[0].ApplyServerSideEncryptionByDefault != nil {
			d := cfg.Rules[0].ApplyServerSideEncryptionByDefault
			prior = encryptionPrior{Had: true, Algorithm: string(d.SSEAlgorithm), KMSKey: aws.ToString(d.KMSMasterKeyID), BucketKey: aws.ToBool(cfg.Rules[0].BucketKeyEnabled)}
		}
	}
	if prior == want {
		return &action.Result{Status: action.AlreadyDone, Message: "default encryption is already " + describeEncryption(want), RequestIDs: trace.IDs()}, nil
	}
	raw, err := action.EncodePrior(prior)
	if err != nil {
		return fail(err)
	}
	if err := putEncryption(ctx, c, trace, t, want); err != nil {
		return fail(err)
	}
	return &action.Result{Status: action.Done, Message: "default encryption set to " + describeEncryption(want), Prior: raw, RequestIDs: trace.IDs()}, nil
}

func describeEncryption(e encryptionPrior) string {
	switch {
	case !e.Had:
		return "none"
	case e.KMSKey != "":
		return e.Algorithm + " with key " + e.KMSKey
	case e.Algorithm == string(types.ServerSideEncryptionAwsKms):
		return e.Algorithm + " with the AWS managed key"
	}
	return e.Algorithm
}

func putEncryption(ctx context.Context, c cloud.S3, trace *action.Trace, t action.Target, e encryptionPrior) error {
	rule := types.ServerSideEncryptionRule{ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryption(e.Algorithm)}}
	if e.KMSKey != "" {
		rule.ApplyServerSideEncryptionByDefault.KMSMasterKeyID = aws.String(e.KMSKey)
	}
	if e.BucketKey {
		rule.BucketKeyEnabled = aws.Bool(true)
	}
	out, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: aws.String(t.ID), ExpectedBucketOwner: aws.String(t.Account),
		ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{rule}}})
	if err != nil {
		return action.AWSError(err, t.Account, "s3:PutEncryptionConfiguration", "write the default encryption")
	}
	trace.Record(out.ResultMetadata)
	return nil
}

func (enforceEncryption) Undo(ctx context.Context, env *action.Env, req *action.Request, raw json.RawMessage) (*action.Result, error) {
	t := req.Target
	fail := func(err error) (*action.Result, error) {
		return nil, fmt.Errorf("restore default encryption of bucket %s in %s: %w", t.ID, t.Account, err)
	}
	var prior encryptionPrior
	if err := action.DecodePrior(raw, &prior); err != nil {
		return fail(err)
	}
	c, err := env.Cloud.S3(ctx, t.Account, t.Region)
	if err != nil {
		return fail(err)
	}
	trace := &action.Trace{}
	if prior.Had {
		if err := putEncryption(ctx, c, trace, t, prior); err != nil {
			return fail(err)
		}
		return &action.Result{Status: action.Done, Message: "default encryption restored to " + describeEncryption(prior), RequestIDs: trace.IDs()}, nil
	}
	// Where S3 still allows a bucket without default encryption, that is what it had.
	out, err := c.DeleteBucketEncryption(ctx, &s3.DeleteBucketEncryptionInput{Bucket: aws.String(t.ID), ExpectedBucketOwner: aws.String(t.Account)})
	if err != nil {
		return fail(action.AWSError(err, t.Account, "s3:PutEncryptionConfiguration", "remove the default encryption"))
	}
	trace.Record(out.ResultMetadata)
	return &action.Result{Status: action.Done, Message: "default encryption removed, as the bucket had none", RequestIDs: trace.IDs()}, nil
}
