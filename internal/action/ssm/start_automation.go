package ssm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/cloud"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// StartAutomationSpec declares ssm.start-automation. Firebreak cannot see what a runbook
// does (AWS-TerminateEC2Instance is one), so the step is treated as destructive: it does not
// run after a failed evidence step, and it has no undo. Runbooks that act under their own
// AutomationAssumeRole need that role passed, hence iam:PassRole.
func StartAutomationSpec() *action.Spec {
	return &action.Spec{
		Name:    "ssm.start-automation",
		Summary: "Start a Systems Manager Automation runbook on the target and wait for it to finish.",
		Targets: append([]event.Kind(nil), event.Kinds...),
		Params: []action.Param{
			{
				Name:     "document",
				Type:     action.String,
				Doc:      "Name or ARN of the Automation runbook, e.g. AWS-DisableS3BucketPublicReadWrite.",
				Required: true,
			},
			{
				Name: "parameters",
				Type: action.Any,
				Doc:  "The runbook's parameters, a map from parameter name to a value or a list of values.",
			},
			{
				Name: "target_parameter",
				Type: action.String,
				Doc: "The runbook parameter that receives the target's id (InstanceId, BucketName, ...); " +
					"empty passes the id nowhere, for runbooks that take it in parameters.",
				Default: "",
			},
		},
		Destructive: true,
		Exec:        startAutomation{},
		Permissions: []string{
			"ssm:StartAutomationExecution",
			"ssm:GetAutomationExecution",
			// A run that outlives the step's timeout is stopped, not left acting unobserved.
			"ssm:StopAutomationExecution",
			"iam:PassRole",
		},
		Manual: `# Account {{.Account}}, region {{.Region}}: run the step's runbook on {{.ID}}, with the step's parameters.
aws ssm start-automation-execution --region {{.Region}} --document-name '{{with .Param "document"}}{{.}}{{else}}DOCUMENT{{end}}' \
  --parameters '{{with .Param "target_parameter"}}{{.}}{{else}}TARGET_PARAMETER{{end}}={{.ID}},PARAMETER=VALUE'
aws ssm get-automation-execution --region {{.Region}} --automation-execution-id EXECUTION_ID \
  --query 'AutomationExecution.[AutomationExecutionStatus,FailureMessage]'`,
		ManualUndo: `# No general undo: reverse what the runbook changed, by hand or with a runbook that does.
# To stop a run still in progress:
aws ssm stop-automation-execution --region {{.Region}} --automation-execution-id EXECUTION_ID`,
	}
}

type startAutomation struct{}

// automationPrior names the execution the step started, so that undo can stop it if it
// is still running.
type automationPrior struct {
	ExecutionID string `json:"execution_id"`
}

// stopTimeout bounds the StopAutomationExecution sent after the step's own context ended.
const stopTimeout = 30 * time.Second

func automationCacheKey(req *action.Request, doc string) string {
	t := req.Target
	return "ssm.start-automation/" + t.Account + "/" + t.Region + "/" + doc + "/" + string(t.Kind) + "/" + t.ID + "/" + req.Incident
}

// automationOutcome sorts an execution status: finished well, finished badly, or still
// going (including waiting for an approval or a change calendar).
func automationOutcome(s types.AutomationExecutionStatus) (done, failed bool) {
	switch s {
	case types.AutomationExecutionStatusSuccess, types.AutomationExecutionStatusCompletedWithSuccess:
		return true, false
	case types.AutomationExecutionStatusFailed, types.AutomationExecutionStatusTimedout,
		types.AutomationExecutionStatusCancelled, types.AutomationExecutionStatusCompletedWithFailure,
		types.AutomationExecutionStatusRejected, types.AutomationExecutionStatusExited,
		types.AutomationExecutionStatusChangeCalendarOverrideRejected:
		return true, true
	}
	return false, false
}

// automationParameters turns the step's parameters into what SSM takes: every value a
// list of strings. Lists stay lists; maps and other structures are passed as JSON, the
// form runbooks declare StringMap parameters in.
func automationParameters(req *action.Request) (map[string][]string, error) {
	out := map[string][]string{}
	var in map[string]any
	switch v := req.Params["parameters"].(type) {
	case nil:
	case map[string]any:
		in = v
	case map[string]string:
		in = map[string]any{}
		for k, s := range v {
			in[k] = s
		}
	case map[string][]string:
		for k, s := range v {
			out[k] = append([]string(nil), s...)
		}
	default:
		return nil, fmt.Errorf("parameters must be a map from parameter name to value, not %T", v)
	}
	for k, v := range in {
		switch x := v.(type) {
		case string:
			out[k] = []string{x}
		case []string:
			out[k] = append([]string(nil), x...)
		case []any:
			vals := make([]string, 0, len(x))
			for _, e := range x {
				s, err := scalar(e)
				if err != nil {
					return nil, fmt.Errorf("parameter %s: %w", k, err)
				}
				vals = append(vals, s)
			}
			out[k] = vals
		default:
			s, err := scalar(x)
			if err != nil {
				return nil, fmt.Errorf("parameter %s: %w", k, err)
			}
			out[k] = []string{s}
		}
	}
	if name := req.String("target_parameter"); name != "" {
		if v, ok := out[name]; ok && (len(v) != 1 || v[0] != req.Target.ID) {
			return nil, fmt.Errorf("parameter %s is given in parameters and is also target_parameter; give it once", name)
		}
		out[name] = []string{req.Target.ID}
	}
	return out, nil
}

func scalar(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool, int, int32, int64, float64, json.Number:
		return fmt.Sprint(x), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("value cannot be passed to SSM: %w", err)
	}
	return string(b), nil
}

func (startAutomation) Do(ctx context.Context, env *action.Env, req *action.Request) (*action.Result, error) {
	t := req.Target
	doc := req.String("document")
	fail := func(res *action.Result, err error) (*action.Result, error) {
		return res, fmt.Errorf("run automation %s on %s in %s/%s: %w", doc, t.ID, t.Account, t.Region, err)
	}
	if doc == "" {
		return fail(nil, errors.New("no runbook is named in document"))
	}
	params, err := automationParameters(req)
	if err != nil {
		return fail(nil, err)
	}
	c, err := env.Cloud.SSM(ctx, t.Account, t.Region)
	if err != nil {
		return fail(nil, err)
	}
	trace := &action.Trace{}
	// SSM has no way to find an execution by who started it short of listing them all,
	// so a repeated step recognises its execution through the cache: within one process
	// it is not started twice, after a restart it would be.
	key := automationCacheKey(req, doc)
	status := action.AlreadyDone
	id, _ := env.Cache.Get(key)
	if id != "" {
		out, err := c.GetAutomationExecution(ctx, &ssm.GetAutomationExecutionInput{AutomationExecutionId: aws.String(id)})
		switch {
		case err == nil:
			trace.Record(out.ResultMetadata)
			if out.AutomationExecution != nil {
				if _, failed := automationOutcome(out.AutomationExecution.AutomationExecutionStatus); failed {
					// A failed run is what a retry is for: start it again.
					id = ""
				}
			}
		case action.Class(err) == cloud.NotFound:
			id = ""
		default:
			return fail(nil, action.AWSError(err, t.Account, "ssm:GetAutomationExecution", "check the execution already started"))
		}
		if id == "" {
			env.Cache.Forget(key)
		}
	}
	if id == "" {
		in := &ssm.StartAutomationExecutionInput{DocumentName: aws.String(doc)}
		if len(params) > 0 {
			in.Parameters = params
		}
		out, err := c.StartAutomationExecution(ctx, in)
		if err != nil {
			return fail(nil, action.AWSError(err, t.Account, "ssm:StartAutomationExecution", "start the runbook"))
		}
		trace.Record(out.ResultMetadata)
		if id = aws.ToString(out.AutomationExecutionId); id == "" {
			return fail(nil, errors.New("StartAutomationExecution returned no execution id"))
		}
		env.Cache.Put(key, id)
		status = action.Done
	}
	raw, err := action.EncodePrior(automationPrior{ExecutionID: id})
	if err != nil {
		return fail(nil, err)
	}
	res := &action.Result{Status: status, Prior: raw,
		Evidence: []action.Evidence{{Kind: "automation-execution", ID: id, Detail: doc + " on " + t.ID}}}
	exec, err := waitForAutomation(ctx, env, c, trace, t.Account, id)
	res.RequestIDs = trace.IDs()
	if err != nil {
		return fail(res, err)
	}
	res.Message = fmt.Sprintf("execution %s ended %s", id, exec.AutomationExecutionStatus)
	return res, nil
}

// waitForAutomation polls the execution until it ends. When the step's context ends
// first, the execution is stopped: a destructive runbook is not left acting unobserved.
func waitForAutomation(ctx context.Context, env *action.Env, c cloud.SSM, trace *action.Trace, account, id string) (*types.AutomationExecution, error) {
	for {
		out, err := c.GetAutomationExecution(ctx, &ssm.GetAutomationExecutionInput{AutomationExecutionId: aws.String(id)})
		if err != nil {
			if ctx.Err() != nil {
				return nil, stopUnobserved(ctx, c, trace, account, id)
			}
			return nil, action.AWSError(err, account, "ssm:GetAutomationExecution", "wait for execution "+id)
		}
		trace.Record(out.ResultMetadata)
		exec := out.AutomationExecution
		if exec == nil {
			return nil, fmt.Errorf("execution %s: GetAutomationExecution returned no execution", id)
		}
		if done, failed := automationOutcome(exec.AutomationExecutionStatus); done {
			if failed {
				return exec, fmt.Errorf("execution %s ended %s: %s", id, exec.AutomationExecutionStatus, aws.ToString(exec.FailureMessage))
			}
			return exec, nil
		}
		if err := env.Wait(ctx); err != nil {
			return nil, stopUnobserved(ctx, c, trace, account, id)
		}
	}
}

func stopUnobserved(ctx context.Context, c cloud.SSM, trace *action.Trace, account, id string) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	out, err := c.StopAutomationExecution(sctx, &ssm.StopAutomationExecutionInput{AutomationExecutionId: aws.String(id), Type: types.StopTypeCancel})
	if err != nil && cloud.Code(err) != "InvalidAutomationStatusUpdateException" {
		return fmt.Errorf("execution %s still running when the step ended (%w), and stopping it failed: %w", id, ctx.Err(),
			action.AWSError(err, account, "ssm:StopAutomationExecution", "stop execution "+id))
	}
	if err == nil {
		trace.Record(out.ResultMetadata)
	}
	return fmt.Errorf("execution %s stopped, as it was still running when the step ended: %w", id, ctx.Err())
}

// Undo cannot reverse what a runbook did, which Firebreak cannot see; it stops the
// execution if it is still running, so that it changes nothing more, and says so.
func (startAutomation) Undo(ctx context.Context, env *action.Env, req *action.Request, raw json.RawMessage) (*action.Result, error) {
	t := req.Target
	irreversible := fmt.Errorf("undo automation on %s in %s/%s: what a runbook changed %w", t.ID, t.Account, t.Region, action.ErrIrreversible)
	var prior automationPrior
	if len(raw) == 0 || action.DecodePrior(raw, &prior) != nil || prior.ExecutionID == "" {
		return nil, irreversible
	}
	c, err := env.Cloud.SSM(ctx, t.Account, t.Region)
	if err != nil {
		return nil, errors.Join(irreversible, err)
	}
	trace := &action.Trace{}
	out, err := c.GetAutomationExecution(ctx, &ssm.GetAutomationExecutionInput{AutomationExecutionId: aws.String(prior.ExecutionID)})
	if err != nil {
		return nil, errors.Join(irreversible, action.AWSError(err, t.Account, "ssm:GetAutomationExecution", "check execution "+prior.ExecutionID))
	}
	trace.Record(out.ResultMetadata)
	if exec := out.AutomationExecution; exec != nil {
		if done, _ := automationOutcome(exec.AutomationExecutionStatus); !done {
			stop, err := c.StopAutomationExecution(ctx, &ssm.StopAutomationExecutionInput{AutomationExecutionId: aws.String(prior.ExecutionID), Type: types.StopTypeCancel})
			if err != nil && cloud.Code(err) != "InvalidAutomationStatusUpdateException" {
				return nil, errors.Join(irreversible, action.AWSError(err, t.Account, "ssm:StopAutomationExecution", "stop execution "+prior.ExecutionID))
			}
			if err == nil {
				trace.Record(stop.ResultMetadata)
			}
			return &action.Result{Status: action.Done, Message: "execution " + prior.ExecutionID + " stopped; what it already changed stays", RequestIDs: trace.IDs()}, irreversible
		}
	}
	return nil, irreversible
}
