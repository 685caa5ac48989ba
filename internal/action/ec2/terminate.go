package ec2

import (
	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// TerminateSpec declares ec2.terminate. Termination protection is switched off first,
// because ec2.isolate switches it on and a playbook that isolates and then terminates
// means both.
func TerminateSpec() *action.Spec {
	return &action.Spec{
		Name: "ec2.terminate",
		Summary: "Terminate the instance, turning off termination protection first. Memory, instance-store data and " +
			"volumes deleted on termination are gone: run it only after the evidence steps.",
		Targets:     []event.Kind{event.KindInstance},
		Destructive: true,
		Permissions: []string{
			"ec2:DescribeInstances",
			"ec2:ModifyInstanceAttribute",
			"ec2:TerminateInstances",
		},
		Manual: `# Account {{.Account}}, region {{.Region}}: terminate {{.ID}}. There is no way back.
aws ec2 modify-instance-attribute --region {{.Region}} --instance-id {{.ID}} --no-disable-api-termination
aws ec2 terminate-instances --region {{.Region}} --instance-ids {{.ID}}`,
		ManualUndo: `# A terminated instance cannot be recovered. Launch a new one from the evidence snapshots if it is needed:
# aws ec2 register-image --region {{.Region}} ... --block-device-mappings DeviceName=/dev/xvda,Ebs={SnapshotId=SNAPSHOT_ID}`,
	}
}
