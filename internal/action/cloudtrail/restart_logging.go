package cloudtrail

import (
	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// RestartLoggingSpec declares cloudtrail.restart-logging, the remedy for a trail stopped
// with cloudtrail:StopLogging. It is not reversible: stopping the trail again would repeat
// the attacker's move. StartLogging must be called in the trail's home region, which for a
// multi-region trail may differ from the region the event came from.
func RestartLoggingSpec() *action.Spec {
	return &action.Spec{
		Name:    "cloudtrail.restart-logging",
		Summary: "Start logging again on a trail that was stopped, in the trail's home region.",
		Targets: []event.Kind{event.KindTrail},
		Permissions: []string{
			// Finds the home region and whether the trail is already logging.
			"cloudtrail:DescribeTrails",
			"cloudtrail:GetTrailStatus",
			"cloudtrail:StartLogging",
		},
		Manual: `# Account {{.Account}}: restart trail {{.ID}} (run in the trail's home region; check HomeRegion first).
aws cloudtrail describe-trails --region {{.Region}} --trail-name-list '{{.ID}}' --query 'trailList[].[Name,HomeRegion,IsMultiRegionTrail]'
aws cloudtrail start-logging --region HOME_REGION --name '{{.ID}}'
aws cloudtrail get-trail-status --region HOME_REGION --name '{{.ID}}' --query '[IsLogging,LatestDeliveryError]'`,
		ManualUndo: `# Not reversible: a stopped trail is what was remedied. Stop it only by a deliberate change:
# aws cloudtrail stop-logging --region HOME_REGION --name '{{.ID}}'`,
	}
}
