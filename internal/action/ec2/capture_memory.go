package ec2

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/cloud"
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
				Name: "timeout",
				Type: action.Duration,
				Doc: "How long to wait for the capture before failing the step. The command itself runs on until " +
					"the document's own timeout; the failure names it so that a responder can cancel it.",
				Default: "30m",
			},
		},
		Evidence:   true,
		Reversible: false,
		Exec:       captureMemory{},
		Permissions: []string{
			// A capture can only be sent to an instance the SSM agent has registered.
			"ssm:DescribeInstanceInformation",
			"ssm:SendCommand",
			"ssm:GetCommandInvocation",
			// A repeated step finds the capture this incident already started by its comment.
			"ssm:ListCommandInvocations",
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

type captureMemory struct{}

// captureComment marks a capture with its incident, so that a repeated step (after a
// restart, when the cache is empty) finds the capture already sent instead of sending a
// second one. SSM comments are at most 100 characters.
func captureComment(incident string) string {
	c := "Firebreak incident " + incident
	if len(c) > 100 {
		c = c[:100]
	}
	return c
}

func captureCacheKey(t action.Target, incident string) string {
	return "ec2.capture-memory/" + t.Account + "/" + t.Region + "/" + t.ID + "/" + incident
}

// commandFailed reports whether an invocation ended without a memory image, so that a
// repeated step sends a new capture rather than reusing it.
func commandFailed(s ssmtypes.CommandInvocationStatus) bool {
	switch s {
	case ssmtypes.CommandInvocationStatusFailed, ssmtypes.CommandInvocationStatusTimedOut,
		ssmtypes.CommandInvocationStatusCancelled, ssmtypes.CommandInvocationStatusCancelling:
		return true
	}
	return false
}

func (captureMemory) Do(ctx context.Context, env *action.Env, req *action.Request) (*action.Result, error) {
	t := req.Target
	fail := func(res *action.Result, err error) (*action.Result, error) {
		return res, fmt.Errorf("capture the memory of %s in %s: %w", t.ID, t.Account, err)
	}
	doc, bucket := req.String("document"), req.String("bucket")
	if doc == "" {
		return fail(nil, errors.New("no SSM document is named"))
	}
	c, err := env.Cloud.SSM(ctx, t.Account, t.Region)
	if err != nil {
		return fail(nil, err)
	}
	trace := &action.Trace{}
	status := action.AlreadyDone
	id, err := earlierCapture(ctx, env, c, trace, req, doc)
	if err != nil {
		return fail(nil, err)
	}
	if id == "" {
		if id, err = sendCapture(ctx, c, trace, req, doc, bucket); err != nil {
			return fail(nil, err)
		}
		env.Cache.Put(captureCacheKey(t, req.Incident), id)
		status = action.Done
	}
	detail := "memory of " + t.ID + " by " + doc
	if bucket != "" {
		detail += ", uploaded to s3://" + bucket
	}
	res := &action.Result{Status: status, Evidence: []action.Evidence{{Kind: "ssm-command", ID: id, Detail: detail}}}
	// Evidence is only evidence once the image is written: wait, so that isolating or
	// stopping the instance after this step cannot cut the capture short.
	inv, err := waitForCapture(ctx, env, c, trace, t, id, req.Duration("timeout", 30*time.Minute))
	res.RequestIDs = trace.IDs()
	if err != nil {
		return fail(res, err)
	}
	if u := aws.ToString(inv.StandardOutputUrl); u != "" {
		res.Evidence[0].Detail += "; output at " + u
	}
	res.Message = "memory captured by command " + id
	return res, nil
}

// earlierCapture returns the command this incident already sent to the instance and that
// has not failed, or "". The cache answers within one process; after a restart the
// command is found by its comment.
func earlierCapture(ctx context.Context, env *action.Env, c cloud.SSM, trace *action.Trace, req *action.Request, doc string) (string, error) {
	t := req.Target
	if req.Incident == "" {
		return "", nil
	}
	key := captureCacheKey(t, req.Incident)
	if id, ok := env.Cache.Get(key); ok {
		out, err := c.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: aws.String(id), InstanceId: aws.String(t.ID)})
		switch {
		case err == nil:
			trace.Record(out.ResultMetadata)
			if !commandFailed(out.Status) {
				return id, nil
			}
		case action.Class(err) != cloud.NotFound && cloud.Code(err) != "InvalidCommandId" && cloud.Code(err) != "InvocationDoesNotExist":
			return "", action.AWSError(err, t.Account, "ssm:GetCommandInvocation", "check the capture already sent")
		}
		// A capture that failed or that SSM no longer knows is taken again.
		env.Cache.Forget(key)
	}
	// SendCommand takes no client token: give a command an earlier attempt may have sent
	// time to show before concluding there is none.
	if err := env.SettleFor(ctx, req); err != nil {
		return "", err
	}
	comment := captureComment(req.Incident)
	in := &ssm.ListCommandInvocationsInput{InstanceId: aws.String(t.ID),
		Filters: []ssmtypes.CommandFilter{{Key: ssmtypes.CommandFilterKeyDocumentName, Value: aws.String(doc)}}}
	for {
		out, err := c.ListCommandInvocations(ctx, in)
		if err != nil {
			return "", action.AWSError(err, t.Account, "ssm:ListCommandInvocations", "look for this incident's capture")
		}
		trace.Record(out.ResultMetadata)
		for _, inv := range out.CommandInvocations {
			if aws.ToString(inv.Comment) == comment && aws.ToString(inv.DocumentName) == doc && !commandFailed(inv.Status) {
				id := aws.ToString(inv.CommandId)
				env.Cache.Put(key, id)
				return id, nil
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return "", nil
		}
		in.NextToken = out.NextToken
	}
}

func sendCapture(ctx context.Context, c cloud.SSM, trace *action.Trace, req *action.Request, doc, bucket string) (string, error) {
	t := req.Target
	info, err := c.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{
		Filters: []ssmtypes.InstanceInformationStringFilter{{Key: aws.String("InstanceIds"), Values: []string{t.ID}}}})
	if err != nil {
		return "", action.AWSError(err, t.Account, "ssm:DescribeInstanceInformation", "check the SSM agent")
	}
	trace.Record(info.ResultMetadata)
	online := false
	for _, i := range info.InstanceInformationList {
		if aws.ToString(i.InstanceId) == t.ID && i.PingStatus == ssmtypes.PingStatusOnline {
			online = true
		}
	}
	if !online {
		// Without the agent there is no way to reach memory; failing keeps the steps that
		// would destroy it from running.
		return "", errors.New("the SSM agent on the instance is not online, so memory cannot be captured")
	}
	in := &ssm.SendCommandInput{DocumentName: aws.String(doc), InstanceIds: []string{t.ID}}
	if req.Incident != "" {
		in.Comment = aws.String(captureComment(req.Incident))
	}
	if bucket != "" {
		in.Parameters = map[string][]string{"Bucket": {bucket}}
	}
	out, err := c.SendCommand(ctx, in)
	if err != nil {
		return "", action.AWSError(err, t.Account, "ssm:SendCommand", "send the "+doc+" command")
	}
	trace.Record(out.ResultMetadata)
	if out.Command == nil || aws.ToString(out.Command.CommandId) == "" {
		return "", errors.New("SendCommand returned no command id")
	}
	return aws.ToString(out.Command.CommandId), nil
}

// waitForCapture polls the invocation until it ends or timeout passes. A capture that
// outlives the timeout is left to SSM's own execution timeout: it is reported, with its
// command id, so that a responder can cancel it.
func waitForCapture(ctx context.Context, env *action.Env, c cloud.SSM, trace *action.Trace, t action.Target, id string, timeout time.Duration) (*ssm.GetCommandInvocationOutput, error) {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		out, err := c.GetCommandInvocation(wctx, &ssm.GetCommandInvocationInput{CommandId: aws.String(id), InstanceId: aws.String(t.ID)})
		switch {
		case err == nil:
			trace.Record(out.ResultMetadata)
			switch out.Status {
			case ssmtypes.CommandInvocationStatusSuccess:
				return out, nil
			case ssmtypes.CommandInvocationStatusFailed, ssmtypes.CommandInvocationStatusTimedOut,
				ssmtypes.CommandInvocationStatusCancelled, ssmtypes.CommandInvocationStatusCancelling:
				return nil, fmt.Errorf("command %s ended %s: %s", id, out.Status, aws.ToString(out.StatusDetails))
			}
		// Right after SendCommand the invocation may not exist yet.
		case cloud.Code(err) == "InvocationDoesNotExist":
		case wctx.Err() != nil && ctx.Err() == nil:
			return nil, fmt.Errorf("command %s still running after %s; cancel it with ssm cancel-command if need be", id, timeout)
		default:
			return nil, action.AWSError(err, t.Account, "ssm:GetCommandInvocation", "wait for command "+id)
		}
		if err := env.Wait(wctx); err != nil {
			if ctx.Err() == nil {
				return nil, fmt.Errorf("command %s still running after %s; cancel it with ssm cancel-command if need be", id, timeout)
			}
			return nil, fmt.Errorf("wait for command %s: %w", id, err)
		}
	}
}

func (captureMemory) Undo(context.Context, *action.Env, *action.Request, json.RawMessage) (*action.Result, error) {
	return &action.Result{Status: action.Skipped, Message: "nothing undone: the memory image is evidence and is kept"}, nil
}
