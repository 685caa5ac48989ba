package ec2

import (
	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// StopSpec declares ec2.stop. Stopping keeps the EBS volumes but loses memory and any
// instance-store data for good, so in a playbook it belongs after ec2.capture-memory and
// ec2.snapshot-volumes. It is not marked destructive because the instance and its disks
// survive and undo starts it again.
func StopSpec() *action.Spec {
	return &action.Spec{
		Name: "ec2.stop",
		Summary: "Stop the instance. Memory and instance-store data are lost: run it after the evidence steps " +
			"(ec2.capture-memory, ec2.snapshot-volumes).",
		Targets:    []event.Kind{event.KindInstance},
		Reversible: true,
		Permissions: []string{
			"ec2:DescribeInstances",
			"ec2:StopInstances",
			"ec2:StartInstances",
		},
		Manual: `# Account {{.Account}}, region {{.Region}}: stop {{.ID}} once memory is captured and volumes are snapshotted.
aws ec2 stop-instances --region {{.Region}} --instance-ids {{.ID}}
aws ec2 wait instance-stopped --region {{.Region}} --instance-ids {{.ID}}`,
		ManualUndo: `# Account {{.Account}}, region {{.Region}}: start {{.ID}} again. Without an Elastic IP its public IP address changes.
aws ec2 start-instances --region {{.Region}} --instance-ids {{.ID}}`,
	}
}
