package ec2

import (
	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// SnapshotVolumesSpec declares ec2.snapshot-volumes. It uses CreateSnapshots rather than
// one CreateSnapshot per volume so that the set is crash-consistent across volumes: an
// investigator sees the disks as they were at a single instant.
func SnapshotVolumesSpec() *action.Spec {
	return &action.Spec{
		Name:    "ec2.snapshot-volumes",
		Summary: "Snapshot every EBS volume attached to the instance, crash-consistent across volumes, tagged with the incident.",
		Targets: []event.Kind{event.KindInstance},
		Params: []action.Param{
			{
				Name:    "tags",
				Type:    action.StringMap,
				Doc:     "Extra tags for each snapshot, besides the incident tags Firebreak always adds.",
				Default: map[string]string{},
			},
			{
				Name:    "copy_tags",
				Type:    action.Bool,
				Doc:     "Copy each volume's tags to its snapshot, so the snapshot keeps its owner and environment.",
				Default: true,
			},
		},
		Evidence: true,
		// Snapshots are kept when the incident is released: deleting evidence is a
		// retention decision, not an undo.
		Reversible: false,
		Permissions: []string{
			"ec2:DescribeInstances",
			"ec2:CreateSnapshots",
			// CreateSnapshots with tag specifications is authorised as ec2:CreateTags too.
			"ec2:CreateTags",
			// Evidence is only evidence once the snapshots are complete.
			"ec2:DescribeSnapshots",
		},
		Manual: `# Account {{.Account}}, region {{.Region}}: snapshot every volume of {{.ID}} at one instant.
# copy_tags = {{.Param "copy_tags"}}: when false, leave out --copy-tags-from-source.
aws ec2 create-snapshots --region {{.Region}} \
  --instance-specification InstanceId={{.ID}},ExcludeBootVolume=false \
  --copy-tags-from-source volume \
  --description "Firebreak evidence for incident INCIDENT_ID" \
  --tag-specifications 'ResourceType=snapshot,Tags=[{Key=firebreak:incident,Value=INCIDENT_ID},{Key=firebreak:source-instance,Value={{.ID}}}]'
# Wait until every snapshot reports "completed" before stopping or terminating the instance.
aws ec2 describe-snapshots --region {{.Region}} --filters Name=tag:firebreak:incident,Values=INCIDENT_ID \
  --query 'Snapshots[].[SnapshotId,VolumeId,State,Progress]'`,
		ManualUndo: `# Nothing to undo: snapshots are evidence and stay until your retention policy removes them.
# To delete one deliberately: aws ec2 delete-snapshot --region {{.Region}} --snapshot-id SNAPSHOT_ID`,
	}
}
