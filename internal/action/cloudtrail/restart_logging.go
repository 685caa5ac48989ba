package cloudtrail

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"

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
		Exec:    restartLogging{},
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

type restartLogging struct{}

func (restartLogging) Do(ctx context.Context, env *action.Env, req *action.Request) (*action.Result, error) {
	t := req.Target
	fail := func(err error) (*action.Result, error) {
		return nil, fmt.Errorf("restart logging of trail %s in %s: %w", t.ID, t.Account, err)
	}
	c, err := env.Cloud.CloudTrail(ctx, t.Account, t.Region)
	if err != nil {
		return fail(err)
	}
	trace := &action.Trace{}
	// The event may name the trail by ARN and come from any region a multi-region trail
	// covers; DescribeTrails gives its name and home region.
	out, err := c.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{TrailNameList: []string{t.ID}})
	if err != nil {
		return fail(action.AWSError(err, t.Account, "cloudtrail:DescribeTrails", "find the trail"))
	}
	trace.Record(out.ResultMetadata)
	name, home := trailName(t.ID), t.Region
	for _, tr := range out.TrailList {
		if aws.ToString(tr.Name) == name || aws.ToString(tr.TrailARN) == t.ID {
			name = aws.ToString(tr.Name)
			if h := aws.ToString(tr.HomeRegion); h != "" {
				home = h
			}
			break
		}
	}
	if home != t.Region {
		if c, err = env.Cloud.CloudTrail(ctx, t.Account, home); err != nil {
			return fail(err)
		}
	}
	st, err := c.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String(name)})
	if err != nil {
		return fail(action.AWSError(err, t.Account, "cloudtrail:GetTrailStatus", "read whether the trail is logging"))
	}
	trace.Record(st.ResultMetadata)
	if aws.ToBool(st.IsLogging) {
		return &action.Result{Status: action.AlreadyDone, Message: "the trail is already logging", RequestIDs: trace.IDs()}, nil
	}
	// In its home region a trail is named by its name; the ARN is for calls from elsewhere.
	started, err := c.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String(name)})
	if err != nil {
		return fail(action.AWSError(err, t.Account, "cloudtrail:StartLogging", "start logging in "+home))
	}
	trace.Record(started.ResultMetadata)
	return &action.Result{Status: action.Done, Message: "logging restarted on trail " + name + " in " + home, RequestIDs: trace.IDs()}, nil
}

// Undo changes nothing: restarting logging is the remedy, and stopping the trail again
// would repeat what the attacker did.
func (restartLogging) Undo(context.Context, *action.Env, *action.Request, json.RawMessage) (*action.Result, error) {
	return &action.Result{Status: action.Skipped, Message: "nothing to undo: restarting logging is the remedy, and the trail is left logging"}, nil
}

// trailName returns the name in a trail ARN (arn:aws:cloudtrail:REGION:ACCOUNT:trail/NAME),
// or its argument when it is a name already.
func trailName(id string) string {
	if i := strings.LastIndex(id, ":trail/"); i >= 0 {
		return id[i+len(":trail/"):]
	}
	return id
}
