package securityhub

import (
	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// UpdateFindingSpec declares securityhub.update-finding. It acts on the finding that
// triggered the incident, whatever resource the playbook targets, so it accepts every
// kind; only events from Security Hub carry a finding it can update (its Id and
// ProductArn). BatchUpdateFindings is the API for customers' own workflow changes; the
// finding provider's fields are left alone. Not reversible: a note cannot be withdrawn,
// and the workflow status is history a later step or responder sets again if need be.
func UpdateFindingSpec() *action.Spec {
	return &action.Spec{
		Name:    "securityhub.update-finding",
		Summary: "Set the workflow status of the Security Hub finding that triggered the incident, with a note.",
		Targets: append([]event.Kind(nil), event.Kinds...),
		Params: []action.Param{
			{
				Name:    "workflow_status",
				Type:    action.String,
				Doc:     "The finding's new workflow status.",
				Default: "NOTIFIED",
				Allowed: []string{"NEW", "NOTIFIED", "RESOLVED", "SUPPRESSED"},
			},
			{
				Name:    "note",
				Type:    action.String,
				Doc:     "A note for the finding; empty writes one naming the incident.",
				Default: "",
			},
		},
		Permissions: []string{"securityhub:BatchUpdateFindings"},
		Manual: `# Account {{.Account}}, region {{.Region}}: mark the triggering finding {{.Param "workflow_status"}}.
aws securityhub batch-update-findings --region {{.Region}} \
  --finding-identifiers Id=FINDING_ID,ProductArn=PRODUCT_ARN \
  --workflow Status={{.Param "workflow_status"}} \
  --note Text='{{with .Param "note"}}{{.}}{{else}}Firebreak incident INCIDENT_ID{{end}}',UpdatedBy=firebreak`,
		ManualUndo: `# Not reversible; set the status you want explicitly:
# aws securityhub batch-update-findings --region {{.Region}} --finding-identifiers Id=FINDING_ID,ProductArn=PRODUCT_ARN --workflow Status=NEW`,
	}
}
