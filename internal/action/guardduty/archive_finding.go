package guardduty

import (
	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// ArchiveFindingSpec declares guardduty.archive-finding. It acts on the finding that
// triggered the incident, so it accepts every kind; only events from GuardDuty carry one.
// GuardDuty lets only the administrator account archive findings, never a member account,
// so in an organisation this permission belongs to the role in the GuardDuty
// administrator account, and the call goes to that account's detector.
func ArchiveFindingSpec() *action.Spec {
	return &action.Spec{
		Name:       "guardduty.archive-finding",
		Summary:    "Archive the GuardDuty finding that triggered the incident.",
		Targets:    append([]event.Kind(nil), event.Kinds...),
		Reversible: true,
		Permissions: []string{
			"guardduty:ListDetectors",
			"guardduty:ArchiveFindings",
			"guardduty:UnarchiveFindings",
		},
		Manual: `# In the GuardDuty administrator account, region {{.Region}} (the finding is from account {{.Account}}):
aws guardduty list-detectors --region {{.Region}}
aws guardduty archive-findings --region {{.Region}} --detector-id DETECTOR_ID --finding-ids FINDING_ID`,
		ManualUndo: `# In the GuardDuty administrator account, region {{.Region}}:
aws guardduty unarchive-findings --region {{.Region}} --detector-id DETECTOR_ID --finding-ids FINDING_ID`,
	}
}
