package general

import (
	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// NotifySpec declares notify. Recipients are names the notification routing resolves
// ("owners" is whoever the resource's tags and account name as owners); a channel that is
// an SNS topic ARN is published to with the member-account role, which is the only AWS
// permission this action needs. Other channels (chat, paging, e-mail) are the server's
// integrations and need no AWS permission.
func NotifySpec() *action.Spec {
	return &action.Spec{
		Name:    "notify",
		Summary: "Tell people about the incident and what has been done so far.",
		Targets: append([]event.Kind(nil), event.Kinds...),
		Params: []action.Param{
			{
				Name:    "to",
				Type:    action.StringList,
				Doc:     "Who to tell, as routing names; \"owners\" means the owners of the resource.",
				Default: []string{"owners"},
			},
			{
				Name:    "channel",
				Type:    action.String,
				Doc:     "A configured channel or an SNS topic ARN; empty lets the routing choose.",
				Default: "",
			},
			{
				Name:    "message",
				Type:    action.String,
				Doc:     "Text before the incident summary; empty sends the summary alone.",
				Default: "",
			},
		},
		Permissions: []string{"sns:Publish"},
		Manual: `# Tell the owners of {{.ID}} (account {{.Account}}, region {{.Region}}) about incident INCIDENT_ID. By SNS:
aws sns publish --region {{.Region}} --topic-arn TOPIC_ARN --subject "Firebreak incident INCIDENT_ID" \
  --message '{{with .Param "message"}}{{.}} {{end}}Resource {{.ID}} in account {{.Account}}, region {{.Region}}: WHAT_WAS_DONE'`,
		ManualUndo: `# A notification cannot be withdrawn; send a follow-up instead.`,
	}
}
