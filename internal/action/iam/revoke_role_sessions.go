package iam

import (
	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// RevokeRoleSessionsSpec declares iam.revoke-role-sessions, the IAM console's "Revoke
// active sessions": an inline policy that denies everything to credentials issued before
// now, so stolen temporary credentials stop working while new sessions are unaffected.
// Anyone who can still assume the role (or an instance whose profile it is) gets fresh
// credentials that work, so this is paired with cutting off whatever obtained them.
//
// Removing the policy on undo makes the revoked credentials valid again until they expire;
// undo is offered for a revocation made in error, not as a routine release.
func RevokeRoleSessionsSpec() *action.Spec {
	return &action.Spec{
		Name: "iam.revoke-role-sessions",
		Summary: "Revoke every session of the role issued before now, with an inline policy that denies all " +
			"actions on aws:TokenIssueTime, as the IAM console's \"Revoke active sessions\" does.",
		Targets: []event.Kind{event.KindIAMRole},
		Params: []action.Param{
			{
				Name:    "policy_name",
				Type:    action.String,
				Doc:     "Name of the inline policy; putting it again moves the cut-off time to now.",
				Default: "FirebreakRevokeOlderSessions",
			},
		},
		Reversible: true,
		Permissions: []string{
			"iam:GetRole",
			"iam:PutRolePolicy",
			"iam:DeleteRolePolicy",
			"iam:TagRole",
			"iam:UntagRole",
		},
		Manual: `# Account {{.Account}}: revoke every session of role {{.ID}} issued before now.
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
aws iam put-role-policy --role-name '{{.ID}}' --policy-name '{{.Param "policy_name"}}' --policy-document \
  '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"'"$NOW"'"}}}]}'
aws iam tag-role --role-name '{{.ID}}' --tags Key=firebreak:incident,Value=INCIDENT_ID`,
		ManualUndo: `# Account {{.Account}}: the revoked credentials of role {{.ID}} become valid again until they expire.
aws iam delete-role-policy --role-name '{{.ID}}' --policy-name '{{.Param "policy_name"}}'
aws iam untag-role --role-name '{{.ID}}' --tag-keys firebreak:incident`,
	}
}
