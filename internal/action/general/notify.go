package general

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/cloud"
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
		Exec:        notify{},
		Permissions: []string{"sns:Publish"},
		Manual: `# Tell the owners of {{.ID}} (account {{.Account}}, region {{.Region}}) about incident INCIDENT_ID. By SNS:
aws sns publish --region {{.Region}} --topic-arn TOPIC_ARN --subject "Firebreak incident INCIDENT_ID" \
  --message '{{with .Param "message"}}{{.}} {{end}}Resource {{.ID}} in account {{.Account}}, region {{.Region}}: WHAT_WAS_DONE'`,
		ManualUndo: `# A notification cannot be withdrawn; send a follow-up instead.`,
	}
}

type notify struct{}

// maxSubject is SNS's limit on a message subject.
const maxSubject = 100

// compose builds the notification for req: the subject names the incident and the
// target, the message adds the event and the step's own text.
func compose(req *action.Request) action.Notification {
	t := req.Target
	what := "incident"
	if e := req.Event; e != nil && e.Type != "" {
		what = e.Type
	}
	subject := fmt.Sprintf("Firebreak incident %s: %s on %s", req.Incident, what, t.ID)
	if len(subject) > maxSubject {
		subject = subject[:maxSubject-3] + "..."
	}
	var b strings.Builder
	if m := req.String("message"); m != "" {
		b.WriteString(m)
		b.WriteString("\n\n")
	}
	fmt.Fprintf(&b, "Incident: %s\n", req.Incident)
	// Request has no field for the playbook; a step that wants it named passes it as a
	// parameter.
	if p := req.String("playbook"); p != "" {
		fmt.Fprintf(&b, "Playbook: %s\n", p)
	}
	fmt.Fprintf(&b, "Target: %s\n", t)
	if t.ARN != "" {
		fmt.Fprintf(&b, "ARN: %s\n", t.ARN)
	}
	if e := req.Event; e != nil {
		fmt.Fprintf(&b, "Event: %s (%s, severity %.1f)\n", e.Type, e.Source, e.Severity)
		if e.Title != "" {
			fmt.Fprintf(&b, "Title: %s\n", e.Title)
		}
		if e.ID != "" {
			fmt.Fprintf(&b, "Event id: %s\n", e.ID)
		}
	}
	return action.Notification{Incident: req.Incident, To: req.StringList("to"), Channel: req.String("channel"),
		Subject: subject, Message: b.String(), Target: t}
}

// topicARN returns the channel's region if it is an SNS topic ARN
// (arn:PARTITION:sns:REGION:ACCOUNT:NAME).
func topicARN(channel string) (region string, ok bool) {
	parts := strings.SplitN(channel, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sns" || parts[3] == "" || parts[5] == "" {
		return "", false
	}
	return parts[3], true
}

// sentKey names one delivery of a notification in env.Cache. A repeated step (a retry after
// a later delivery failed, or the step run again) does not send what was already sent; the
// cache lives as long as the process, which is as far as this guarantee goes.
func sentKey(via string, n action.Notification) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00%s", via, n.Incident, n.Target.ID, strings.Join(n.To, ","), n.Subject, n.Message)
	return "notify:" + hex.EncodeToString(h.Sum(nil))
}

func (notify) Do(ctx context.Context, env *action.Env, req *action.Request) (*action.Result, error) {
	t := req.Target
	fail := func(err error) (*action.Result, error) {
		return nil, fmt.Errorf("notify about %s: %w", t, err)
	}
	n := compose(req)
	trace := &action.Trace{}
	var (
		sent      []string
		evidence  []action.Evidence
		delivered bool
	)
	if region, ok := topicARN(n.Channel); ok {
		key := sentKey("sns", n)
		if _, done := env.Cache.Get(key); done {
			delivered = true
		} else {
			c, err := env.Cloud.SNS(ctx, t.Account, region)
			if err != nil {
				return fail(err)
			}
			out, err := c.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(n.Channel), Subject: aws.String(n.Subject), Message: aws.String(n.Message)})
			if err != nil {
				return fail(action.AWSError(err, t.Account, "sns:Publish", "publish to "+n.Channel))
			}
			trace.Record(out.ResultMetadata)
			env.Cache.Put(key, aws.ToString(out.MessageId))
			sent = append(sent, "SNS topic "+n.Channel)
			evidence = append(evidence, action.Evidence{Kind: "message", ID: aws.ToString(out.MessageId), Detail: "published to " + n.Channel})
		}
	}
	if env.Notify != nil {
		key := sentKey("notifier", n)
		if _, done := env.Cache.Get(key); done {
			delivered = true
		} else {
			retry, err := env.Notify.Notify(ctx, n)
			if err != nil {
				class := cloud.Permanent
				if retry {
					class = cloud.Retry
				}
				return &action.Result{Evidence: evidence, RequestIDs: trace.IDs()}, fmt.Errorf("notify about %s: %w", t,
					&cloud.Error{Class: class, Account: t.Account, Operation: "notify", Err: err})
			}
			env.Cache.Put(key, "sent")
			sent = append(sent, "the notification routing")
		}
	}
	switch {
	case len(sent) > 0:
		return &action.Result{Status: action.Done, Message: "sent through " + strings.Join(sent, " and "), Evidence: evidence, RequestIDs: trace.IDs()}, nil
	case delivered:
		return &action.Result{Status: action.AlreadyDone, Message: "this notification was already sent"}, nil
	}
	return fail(fmt.Errorf("no way to send it: the channel is not an SNS topic ARN and no notifier is configured"))
}

// Undo changes nothing: a notification cannot be withdrawn.
func (notify) Undo(context.Context, *action.Env, *action.Request, json.RawMessage) (*action.Result, error) {
	return &action.Result{Status: action.Skipped, Message: "a notification cannot be withdrawn; send a follow-up instead"}, nil
}
