package iam

import (
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
		Permissions: []string{
			"iam:GetAccessKeyLastUsed",
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
