package iam

import (
	"github.com/firebreak-sec/firebreak/internal/action"
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
		Permissions: []string{
			"iam:GetUser",
			"iam:ListAccessKeys",
			"iam:UpdateAccessKey",
			"iam:GetLoginProfile",
			"iam:DeleteLoginProfile",
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
