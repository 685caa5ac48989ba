package ec2

import (
	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// CaptureMemorySpec declares ec2.capture-memory. Memory is acquired on the instance by an
// SSM Command document, because there is no EC2 API for it. The SSM agent needs the
// network and the instance profile's credentials from the instance metadata service, so
// this step must run before ec2.isolate and before ec2.stop, which take both away.
func CaptureMemorySpec() *action.Spec {
	return &action.Spec{
		Name: "ec2.capture-memory",
		Summary: "Acquire the instance's memory with an SSM Run Command document and upload it to S3; " +
			"run it before ec2.isolate, which cuts the SSM agent off.",
		Targets: []event.Kind{event.KindInstance},
		Params: []action.Param{
			{
				Name:    "document",
				Type:    action.String,
				Doc:     "The SSM Command document that acquires memory and uploads the image.",
				Default: "Firebreak-CaptureMemory",
			},
			{
				Name: "bucket",
				Type: action.String,
				Doc: "The S3 bucket the document uploads the image to, passed as its Bucket parameter; " +
					"empty leaves the document's own default. The instance profile, not Firebreak, needs write access to it.",
				Default: "",
			},
			{
				Name:    "timeout",
				Type:    action.Duration,
				Doc:     "How long to wait for the capture before cancelling the command and failing the step.",
				Default: "30m",
			},
		},
		Evidence:   true,
		Reversible: false,
		Permissions: []string{
			// A capture can only be sent to an instance the SSM agent has registered.
			"ssm:DescribeInstanceInformation",
			"ssm:SendCommand",
			"ssm:GetCommandInvocation",
			// A capture that outlives its timeout is cancelled rather than left running.
			"ssm:CancelCommand",
		},
		Manual: `# Account {{.Account}}, region {{.Region}}: capture the memory of {{.ID}} before isolating it.
# Check that the SSM agent is online.
aws ssm describe-instance-information --region {{.Region}} --filters Key=InstanceIds,Values={{.ID}}
aws ssm send-command --region {{.Region}} --instance-ids {{.ID}} \
  --document-name '{{.Param "document"}}' \{{with .Param "bucket"}}
  --parameters 'Bucket={{.}}' \{{end}}
  --comment "Firebreak incident INCIDENT_ID"
# Poll until Status is Success (give up after {{.Param "timeout"}}).
aws ssm get-command-invocation --region {{.Region}} --command-id COMMAND_ID --instance-id {{.ID}}`,
		ManualUndo: `# Nothing to undo: the memory image is evidence. A capture still running can be cancelled:
aws ssm cancel-command --region {{.Region}} --command-id COMMAND_ID --instance-ids {{.ID}}`,
	}
}
