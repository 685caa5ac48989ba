package ssm

import (
	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// StartAutomationSpec declares ssm.start-automation. Firebreak cannot see what a runbook
// does (AWS-TerminateEC2Instance is one), so the step is treated as destructive: it does not
// run after a failed evidence step, and it has no undo. Runbooks that act under their own
// AutomationAssumeRole need that role passed, hence iam:PassRole.
func StartAutomationSpec() *action.Spec {
	return &action.Spec{
		Name:    "ssm.start-automation",
		Summary: "Start a Systems Manager Automation runbook on the target and wait for it to finish.",
		Targets: append([]event.Kind(nil), event.Kinds...),
		Params: []action.Param{
			{
				Name:     "document",
				Type:     action.String,
				Doc:      "Name or ARN of the Automation runbook, e.g. AWS-DisableS3BucketPublicReadWrite.",
				Required: true,
			},
			{
				Name: "parameters",
				Type: action.Any,
				Doc:  "The runbook's parameters, a map from parameter name to a value or a list of values.",
			},
			{
				Name: "target_parameter",
				Type: action.String,
				Doc: "The runbook parameter that receives the target's id (InstanceId, BucketName, ...); " +
					"empty passes the id nowhere, for runbooks that take it in parameters.",
				Default: "",
			},
		},
		Destructive: true,
		Permissions: []string{
			"ssm:StartAutomationExecution",
			"ssm:GetAutomationExecution",
			// A run that outlives the step's timeout is stopped, not left acting unobserved.
			"ssm:StopAutomationExecution",
			"iam:PassRole",
		},
		Manual: `# Account {{.Account}}, region {{.Region}}: run the step's runbook on {{.ID}}, with the step's parameters.
aws ssm start-automation-execution --region {{.Region}} --document-name '{{with .Param "document"}}{{.}}{{else}}DOCUMENT{{end}}' \
  --parameters '{{with .Param "target_parameter"}}{{.}}{{else}}TARGET_PARAMETER{{end}}={{.ID}},PARAMETER=VALUE'
aws ssm get-automation-execution --region {{.Region}} --automation-execution-id EXECUTION_ID \
  --query 'AutomationExecution.[AutomationExecutionStatus,FailureMessage]'`,
		ManualUndo: `# No general undo: reverse what the runbook changed, by hand or with a runbook that does.
# To stop a run still in progress:
aws ssm stop-automation-execution --region {{.Region}} --automation-execution-id EXECUTION_ID`,
	}
}
