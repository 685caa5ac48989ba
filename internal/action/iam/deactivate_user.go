package iam

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"net/url"
	"reflect"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/cloud"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// DenyAllPolicyName is the name of the inline deny-all policy iam.deactivate-user attaches.
// A fixed name makes undo a single DeleteUserPolicy and lets a responder find it at a
// glance.
const DenyAllPolicyName = "FirebreakDenyAll"

// DeactivateUserSpec declares iam.deactivate-user. Access keys are deactivated, never
// deleted, so they can be turned back on and their last-used data stays for the
// investigation. Console access cannot be suspended, only removed: undo therefore cannot
// bring back the user's password, and an administrator must set a new one.
func DeactivateUserSpec() *action.Spec {
	return &action.Spec{
		Name: "iam.deactivate-user",
		Summary: "Cut an IAM user off: deactivate all its access keys, remove its console password and attach " +
			"an inline policy that denies everything.",
		Targets: []event.Kind{event.KindIAMUser},
		Params: []action.Param{
			{
				Name:    "deactivate_keys",
				Type:    action.Bool,
				Doc:     "Set every access key of the user to Inactive.",
				Default: true,
			},
			{
				Name:    "delete_login_profile",
				Type:    action.Bool,
				Doc:     "Delete the user's console password; undo cannot restore it.",
				Default: true,
			},
			{
				Name: "attach_deny_policy",
				Type: action.Bool,
				Doc: "Attach the inline policy " + DenyAllPolicyName + ", which denies every action, " +
					"including to sessions the user already obtained with sts:GetSessionToken or GetFederationToken.",
				Default: true,
			},
		},
		Reversible: true,
		Exec:       deactivateUser{},
		Permissions: []string{
			"iam:GetUser",
			"iam:ListAccessKeys",
			"iam:UpdateAccessKey",
			"iam:GetLoginProfile",
			"iam:DeleteLoginProfile",
			// Undo issues a new console password, since the old one cannot be restored.
			"iam:CreateLoginProfile",
			// Whether the deny-all policy is already there, so a repeated step changes nothing.
			"iam:GetUserPolicy",
			"iam:PutUserPolicy",
			"iam:DeleteUserPolicy",
			"iam:TagUser",
			"iam:UntagUser",
		},
		Manual: `# Account {{.Account}}: cut off IAM user {{.ID}}.
# deactivate_keys = {{.Param "deactivate_keys"}}: set each access key Inactive.
aws iam list-access-keys --user-name '{{.ID}}' --query 'AccessKeyMetadata[].[AccessKeyId,Status]'
aws iam update-access-key --user-name '{{.ID}}' --access-key-id ACCESS_KEY_ID --status Inactive
# delete_login_profile = {{.Param "delete_login_profile"}}: remove console access.
aws iam delete-login-profile --user-name '{{.ID}}'
# attach_deny_policy = {{.Param "attach_deny_policy"}}: deny everything, including to existing session tokens.
aws iam put-user-policy --user-name '{{.ID}}' --policy-name ` + DenyAllPolicyName + ` \
  --policy-document '` + DenyAllPolicy + `'
aws iam tag-user --user-name '{{.ID}}' --tags Key=firebreak:incident,Value=INCIDENT_ID Key=firebreak:status,Value=deactivated`,
		ManualUndo: `# Account {{.Account}}: restore IAM user {{.ID}}.
aws iam delete-user-policy --user-name '{{.ID}}' --policy-name ` + DenyAllPolicyName + `
# Reactivate only the keys that were active before.
aws iam update-access-key --user-name '{{.ID}}' --access-key-id ACCESS_KEY_ID --status Active
# The old password is gone: give the user a new one that must be changed at first sign-in.
aws iam create-login-profile --user-name '{{.ID}}' --password 'NEW_TEMPORARY_PASSWORD' --password-reset-required
aws iam untag-user --user-name '{{.ID}}' --tag-keys firebreak:status`,
	}
}

type deactivateUser struct{}

// deactivateUserPrior is what iam.deactivate-user changed. The old console password is not
// among it: IAM never reveals a password, so undo can only issue a new one.
type deactivateUserPrior struct {
	User string `json:"user"`
	// Keys are the access keys that were Active and were set Inactive.
	Keys []string `json:"keys,omitempty"`
	// LoginProfile says the user had a console password that was deleted, and
	// PasswordResetRequired whether it had to be changed at next sign-in.
	LoginProfile          bool `json:"login_profile,omitempty"`
	PasswordResetRequired bool `json:"password_reset_required,omitempty"`
	// PolicyAdded says Firebreak attached the deny-all policy; when a policy of that name
	// was there before with another document, PolicyBefore holds that document instead.
	PolicyAdded  bool               `json:"policy_added,omitempty"`
	PolicyBefore string             `json:"policy_before,omitempty"`
	Tags         []action.TagChange `json:"tags,omitempty"`
}

func (deactivateUser) Do(ctx context.Context, env *action.Env, req *action.Request) (*action.Result, error) {
	t := req.Target
	fail := func(res *action.Result, err error) (*action.Result, error) {
		return res, fmt.Errorf("deactivate user %s in %s: %w", t.ID, t.Account, err)
	}
	c, err := env.Cloud.IAM(ctx, t.Account)
	if err != nil {
		return fail(nil, err)
	}
	user := aws.String(t.ID)
	doKeys, doLogin, doPolicy := req.Bool("deactivate_keys", true), req.Bool("delete_login_profile", true), req.Bool("attach_deny_policy", true)
	trace := &action.Trace{}

	// Round one: everything the decision depends on, read at once.
	var (
		tags          map[string]string
		keys          []types.AccessKeyMetadata
		login         *types.LoginProfile
		policy        string
		policyPresent bool
	)
	err = action.Parallel(
		func() error {
			out, err := c.GetUser(ctx, &iam.GetUserInput{UserName: user})
			if err != nil {
				return action.AWSError(err, t.Account, "iam:GetUser", "read the user")
			}
			trace.Record(out.ResultMetadata)
			tags = map[string]string{}
			if out.User != nil {
				for _, tg := range out.User.Tags {
					tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
				}
			}
			return nil
		},
		when(doKeys, func() error {
			out, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: user})
			if err != nil {
				return action.AWSError(err, t.Account, "iam:ListAccessKeys", "list the user's access keys")
			}
			trace.Record(out.ResultMetadata)
			keys = out.AccessKeyMetadata
			return nil
		}),
		when(doLogin, func() error {
			out, err := c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: user})
			switch {
			case err != nil && cloud.Code(err) == "NoSuchEntity":
				return nil
			case err != nil:
				return action.AWSError(err, t.Account, "iam:GetLoginProfile", "read the user's console password")
			}
			trace.Record(out.ResultMetadata)
			login = out.LoginProfile
			if login == nil {
				login = &types.LoginProfile{}
			}
			return nil
		}),
		when(doPolicy, func() error {
			out, err := c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: user, PolicyName: aws.String(DenyAllPolicyName)})
			switch {
			case err != nil && cloud.Code(err) == "NoSuchEntity":
				return nil
			case err != nil:
				return action.AWSError(err, t.Account, "iam:GetUserPolicy", "read the inline policy "+DenyAllPolicyName)
			}
			trace.Record(out.ResultMetadata)
			// IAM returns policy documents URL-encoded.
			doc, err := url.PathUnescape(aws.ToString(out.PolicyDocument))
			if err != nil {
				return fmt.Errorf("read the inline policy %s: the document is not URL-encoded: %w", DenyAllPolicyName, err)
			}
			policy, policyPresent = doc, true
			return nil
		}),
	)
	if err != nil {
		return fail(nil, err)
	}

	prior := deactivateUserPrior{User: t.ID}
	for _, k := range keys {
		if k.Status == types.StatusTypeActive {
			prior.Keys = append(prior.Keys, aws.ToString(k.AccessKeyId))
		}
	}
	if login != nil {
		prior.LoginProfile, prior.PasswordResetRequired = true, login.PasswordResetRequired
	}
	putPolicy := doPolicy && !(policyPresent && samePolicy(policy, DenyAllPolicy))
	if putPolicy {
		if policyPresent {
			prior.PolicyBefore = policy
		} else {
			prior.PolicyAdded = true
		}
	}
	setTags, tagPrior := action.TagChanges(tags, action.IncidentTags(req.Incident, "deactivated"))
	prior.Tags = tagPrior
	if len(prior.Keys) == 0 && !prior.LoginProfile && !putPolicy && len(setTags) == 0 {
		return &action.Result{Status: action.AlreadyDone, Message: "the user is already deactivated", RequestIDs: trace.IDs()}, nil
	}
	raw, err := action.EncodePrior(prior)
	if err != nil {
		return fail(nil, err)
	}

	// Round two: every change at once. Should one fail, the result still carries the
	// prior state, so that a retry or a release can undo the changes that were made.
	fns := []func() error{
		when(prior.LoginProfile, func() error {
			out, err := c.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: user})
			if err != nil && cloud.Code(err) != "NoSuchEntity" {
				return action.AWSError(err, t.Account, "iam:DeleteLoginProfile", "delete the console password")
			}
			if err == nil {
				trace.Record(out.ResultMetadata)
			}
			return nil
		}),
		when(putPolicy, func() error {
			out, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: user, PolicyName: aws.String(DenyAllPolicyName), PolicyDocument: aws.String(DenyAllPolicy)})
			if err != nil {
				return action.AWSError(err, t.Account, "iam:PutUserPolicy", "attach the deny-all policy")
			}
			trace.Record(out.ResultMetadata)
			return nil
		}),
		when(len(setTags) > 0, func() error {
			return tagUser(ctx, c, trace, t.Account, t.ID, setTags)
		}),
	}
	for _, id := range prior.Keys {
		fns = append(fns, func() error {
			out, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: user, AccessKeyId: aws.String(id), Status: types.StatusTypeInactive})
			if err != nil {
				return action.AWSError(err, t.Account, "iam:UpdateAccessKey", "deactivate access key "+id)
			}
			trace.Record(out.ResultMetadata)
			return nil
		})
	}
	if err := action.Parallel(fns...); err != nil {
		return fail(&action.Result{Prior: raw, RequestIDs: trace.IDs()}, err)
	}
	return &action.Result{Status: action.Done, Message: prior.summary(), Prior: raw, RequestIDs: trace.IDs()}, nil
}

// summary says what Do changed, for the step report.
func (p deactivateUserPrior) summary() string {
	var parts []string
	if n := len(p.Keys); n > 0 {
		parts = append(parts, fmt.Sprintf("%d access key(s) set Inactive", n))
	}
	if p.LoginProfile {
		parts = append(parts, "console password deleted")
	}
	if p.PolicyAdded || p.PolicyBefore != "" {
		parts = append(parts, DenyAllPolicyName+" attached")
	}
	if len(parts) == 0 {
		return "user tagged"
	}
	return strings.Join(parts, ", ")
}

// Undo reactivates exactly the keys Do deactivated, removes the deny-all policy only if Do
// added it (or puts back the document it replaced), and restores the tags. A deleted console
// password cannot come back: IAM never reveals it. The user gets a new, random one that must
// be changed at first sign-in; it is not reported anywhere, because step results end up in
// audit records, so an administrator sets a temporary password the user is told of
// (aws iam update-login-profile) when console access is to be returned.
func (deactivateUser) Undo(ctx context.Context, env *action.Env, req *action.Request, raw json.RawMessage) (*action.Result, error) {
	t := req.Target
	fail := func(err error) (*action.Result, error) {
		return nil, fmt.Errorf("reactivate user %s in %s: %w", t.ID, t.Account, err)
	}
	var prior deactivateUserPrior
	if err := action.DecodePrior(raw, &prior); err != nil {
		return fail(err)
	}
	if prior.User == "" {
		prior.User = t.ID
	}
	c, err := env.Cloud.IAM(ctx, t.Account)
	if err != nil {
		return fail(err)
	}
	user := aws.String(prior.User)
	trace := &action.Trace{}
	restore, remove := action.SplitTagUndo(prior.Tags)
	// Every call tolerates finding its change already undone, so that undo after a Do that
	// failed part-way, or a repeated undo, succeeds.
	fns := []func() error{
		when(prior.LoginProfile, func() error {
			password, err := newPassword()
			if err != nil {
				return err
			}
			out, err := c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: user, Password: aws.String(password), PasswordResetRequired: true})
			if err != nil && cloud.Code(err) != "EntityAlreadyExists" {
				return action.AWSError(err, t.Account, "iam:CreateLoginProfile", "give the user a new console password")
			}
			if err == nil {
				trace.Record(out.ResultMetadata)
			}
			return nil
		}),
		when(prior.PolicyAdded, func() error {
			out, err := c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: user, PolicyName: aws.String(DenyAllPolicyName)})
			if err != nil && cloud.Code(err) != "NoSuchEntity" {
				return action.AWSError(err, t.Account, "iam:DeleteUserPolicy", "remove the deny-all policy")
			}
			if err == nil {
				trace.Record(out.ResultMetadata)
			}
			return nil
		}),
		when(prior.PolicyBefore != "", func() error {
			out, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: user, PolicyName: aws.String(DenyAllPolicyName), PolicyDocument: aws.String(prior.PolicyBefore)})
			if err != nil {
				return action.AWSError(err, t.Account, "iam:PutUserPolicy", "put back the policy "+DenyAllPolicyName+" as it was")
			}
			trace.Record(out.ResultMetadata)
			return nil
		}),
		when(len(restore) > 0, func() error {
			return tagUser(ctx, c, trace, t.Account, prior.User, restore)
		}),
		when(len(remove) > 0, func() error {
			out, err := c.UntagUser(ctx, &iam.UntagUserInput{UserName: user, TagKeys: remove})
			if err != nil {
				return action.AWSError(err, t.Account, "iam:UntagUser", "remove the incident tags")
			}
			trace.Record(out.ResultMetadata)
			return nil
		}),
	}
	for _, id := range prior.Keys {
		fns = append(fns, func() error {
			out, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: user, AccessKeyId: aws.String(id), Status: types.StatusTypeActive})
			if err != nil {
				return action.AWSError(err, t.Account, "iam:UpdateAccessKey", "reactivate access key "+id)
			}
			trace.Record(out.ResultMetadata)
			return nil
		})
	}
	if err := action.Parallel(fns...); err != nil {
		return fail(err)
	}
	msg := "user restored"
	if prior.LoginProfile {
		msg += "; the old console password cannot be restored: a new random one that must be changed at sign-in was set, so an administrator must issue a temporary password"
	}
	return &action.Result{Status: action.Done, Message: msg, RequestIDs: trace.IDs()}, nil
}

func tagUser(ctx context.Context, c cloud.IAM, trace *action.Trace, account, user string, tags map[string]string) error {
	in := &iam.TagUserInput{UserName: aws.String(user)}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	out, err := c.TagUser(ctx, in)
	if err != nil {
		return action.AWSError(err, account, "iam:TagUser", "tag the user")
	}
	trace.Record(out.ResultMetadata)
	return nil
}

// when returns fn if cond holds and nil otherwise; action.Parallel skips nil functions.
func when(cond bool, fn func() error) func() error {
	if !cond {
		return nil
	}
	return fn
}

// samePolicy reports whether two policy documents say the same, ignoring layout.
func samePolicy(a, b string) bool {
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return a == b
	}
	return reflect.DeepEqual(va, vb)
}

// newPassword returns a random console password that meets any IAM password policy's
// character-class requirements: 32 characters drawn from upper and lower case letters,
// digits and symbols, with at least one of each.
func newPassword() (string, error) {
	classes := []string{"ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghijkmnopqrstuvwxyz", "23456789", "!@#$%^&*()-_=+[]{}"}
	all := strings.Join(classes, "")
	for {
		b := make([]byte, 32)
		for i := range b {
			n, err := rand.Int(rand.Reader, big.NewInt(int64(len(all))))
			if err != nil {
				return "", fmt.Errorf("generate a password: %w", err)
			}
			b[i] = all[n.Int64()]
		}
		ok := true
		for _, cl := range classes {
			ok = ok && strings.ContainsAny(string(b), cl)
		}
		if ok {
			return string(b), nil
		}
	}
}
