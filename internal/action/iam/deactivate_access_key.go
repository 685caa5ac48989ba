package iam

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// DeactivateAccessKeySpec declares iam.deactivate-access-key. UpdateAccessKey without a
// user name acts on the caller's own keys, so when the step does not name the user it is
// looked up with GetAccessKeyLastUsed, which answers for any key in the account.
func DeactivateAccessKeySpec() *action.Spec {
	return &action.Spec{
		Name:    "iam.deactivate-access-key",
		Summary: "Set one IAM access key to Inactive, leaving the user's other keys and console access alone.",
		Targets: []event.Kind{event.KindAccessKey},
		Params: []action.Param{
			{
				Name:    "user",
				Type:    action.String,
				Doc:     "The IAM user that owns the key; empty looks it up from the key.",
				Default: "",
			},
		},
		Reversible: true,
		Exec:       deactivateAccessKey{},
		Permissions: []string{
			"iam:GetAccessKeyLastUsed",
			// Whether the key is already inactive, so a repeated step changes nothing.
			"iam:ListAccessKeys",
			"iam:UpdateAccessKey",
		},
		Manual: `# Account {{.Account}}: deactivate access key {{.ID}}.
{{with .Param "user"}}aws iam update-access-key --user-name '{{.}}' --access-key-id {{$.ID}} --status Inactive{{else}}# Find the key's user first.
aws iam get-access-key-last-used --access-key-id {{.ID}} --query UserName
aws iam update-access-key --user-name USER_NAME --access-key-id {{.ID}} --status Inactive{{end}}`,
		ManualUndo: `# Account {{.Account}}: reactivate access key {{.ID}}.
aws iam update-access-key --user-name {{with .Param "user"}}'{{.}}'{{else}}USER_NAME{{end}} --access-key-id {{.ID}} --status Active`,
	}
}

type deactivateAccessKey struct{}

// lastUsed finds the user that owns an access key.
type lastUsed interface {
	GetAccessKeyLastUsed(ctx context.Context, in *iam.GetAccessKeyLastUsedInput, optFns ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error)
}

type accessKeyPrior struct {
	User string `json:"user"`
}

func (deactivateAccessKey) Do(ctx context.Context, env *action.Env, req *action.Request) (*action.Result, error) {
	t := req.Target
	fail := func(err error) (*action.Result, error) {
		return nil, fmt.Errorf("deactivate access key %s in %s: %w", t.ID, t.Account, err)
	}
	c, err := env.Cloud.IAM(ctx, t.Account)
	if err != nil {
		return fail(err)
	}
	trace := &action.Trace{}
	user := req.String("user")
	if user == "" {
		// cloud.IAM does not list GetAccessKeyLastUsed; the SDK client has it.
		lu, ok := c.(lastUsed)
		if !ok {
			return fail(fmt.Errorf("cannot look up the key's user here; name it with the step's user parameter"))
		}
		out, err := lu.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(t.ID)})
		if err != nil {
			return fail(action.AWSError(err, t.Account, "iam:GetAccessKeyLastUsed", "find the key's user"))
		}
		trace.Record(out.ResultMetadata)
		user = aws.ToString(out.UserName)
	}
	keys, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	if err != nil {
		return fail(action.AWSError(err, t.Account, "iam:ListAccessKeys", "read the keys of "+user))
	}
	trace.Record(keys.ResultMetadata)
	for _, k := range keys.AccessKeyMetadata {
		if aws.ToString(k.AccessKeyId) != t.ID {
			continue
		}
		if k.Status == types.StatusTypeInactive {
			return &action.Result{Status: action.AlreadyDone, Message: "the key is already inactive", RequestIDs: trace.IDs()}, nil
		}
		out, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(t.ID), Status: types.StatusTypeInactive})
		if err != nil {
			return fail(action.AWSError(err, t.Account, "iam:UpdateAccessKey", "deactivate the key"))
		}
		trace.Record(out.ResultMetadata)
		prior, err := action.EncodePrior(accessKeyPrior{User: user})
		if err != nil {
			return fail(err)
		}
		return &action.Result{Status: action.Done, Message: "key of " + user + " set Inactive", Prior: prior, RequestIDs: trace.IDs()}, nil
	}
	return fail(fmt.Errorf("user %s has no such key", user))
}

func (deactivateAccessKey) Undo(ctx context.Context, env *action.Env, req *action.Request, raw json.RawMessage) (*action.Result, error) {
	t := req.Target
	var prior accessKeyPrior
	if err := action.DecodePrior(raw, &prior); err != nil {
		return nil, fmt.Errorf("reactivate access key %s in %s: %w", t.ID, t.Account, err)
	}
	c, err := env.Cloud.IAM(ctx, t.Account)
	if err != nil {
		return nil, fmt.Errorf("reactivate access key %s in %s: %w", t.ID, t.Account, err)
	}
	out, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(prior.User), AccessKeyId: aws.String(t.ID), Status: types.StatusTypeActive})
	if err != nil {
		return nil, fmt.Errorf("reactivate access key %s in %s: %w", t.ID, t.Account, action.AWSError(err, t.Account, "iam:UpdateAccessKey", "reactivate the key"))
	}
	var trace action.Trace
	trace.Record(out.ResultMetadata)
	return &action.Result{Status: action.Done, Message: "key set Active again", RequestIDs: trace.IDs()}, nil
}
