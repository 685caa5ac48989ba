package ec2

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// StopSpec declares ec2.stop. Stopping keeps the EBS volumes but loses memory and any
// instance-store data for good, so in a playbook it belongs after ec2.capture-memory and
// ec2.snapshot-volumes. It is not marked destructive because the instance and its disks
// survive and undo starts it again.
func StopSpec() *action.Spec {
	return &action.Spec{
		Name: "ec2.stop",
		Summary: "Stop the instance. Memory and instance-store data are lost: run it after the evidence steps " +
			"(ec2.capture-memory, ec2.snapshot-volumes).",
		Targets:       []event.Kind{event.KindInstance},
		Exec:          stop{},
		Reversible:    true,
		LosesEvidence: true,
		Permissions: []string{
			"ec2:DescribeInstances",
			"ec2:StopInstances",
			"ec2:StartInstances",
		},
		Manual: `# Account {{.Account}}, region {{.Region}}: stop {{.ID}} once memory is captured and volumes are snapshotted.
aws ec2 stop-instances --region {{.Region}} --instance-ids {{.ID}}
aws ec2 wait instance-stopped --region {{.Region}} --instance-ids {{.ID}}`,
		ManualUndo: `# Account {{.Account}}, region {{.Region}}: start {{.ID}} again. Without an Elastic IP its public IP address changes.
aws ec2 start-instances --region {{.Region}} --instance-ids {{.ID}}`,
	}
}

type stop struct{}

type stopPrior struct {
	State string `json:"state"`
}

func (stop) Do(ctx context.Context, env *action.Env, req *action.Request) (*action.Result, error) {
	t := req.Target
	c, err := env.Cloud.EC2(ctx, t.Account, t.Region)
	if err != nil {
		return nil, fmt.Errorf("stop %s in %s: %w", t.ID, t.Account, err)
	}
	trace := &action.Trace{}
	inst, err := describeInstance(ctx, c, trace, t.Account, t.ID)
	if err != nil {
		return nil, fmt.Errorf("stop %s in %s: %w", t.ID, t.Account, err)
	}
	switch state := inst.State.Name; state {
	case types.InstanceStateNameStopped, types.InstanceStateNameStopping:
		return &action.Result{Status: action.AlreadyDone, Message: "the instance is already " + string(state), RequestIDs: trace.IDs()}, nil
	case types.InstanceStateNameTerminated, types.InstanceStateNameShuttingDown:
		return &action.Result{Status: action.Skipped, Message: "the instance is " + string(state), RequestIDs: trace.IDs()}, nil
	}
	out, err := c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{t.ID}})
	if err != nil {
		return nil, fmt.Errorf("stop %s in %s: %w", t.ID, t.Account, action.AWSError(err, t.Account, "ec2:StopInstances", "stop the instance"))
	}
	trace.Record(out.ResultMetadata)
	prior, err := action.EncodePrior(stopPrior{State: string(inst.State.Name)})
	if err != nil {
		return nil, err
	}
	return &action.Result{Status: action.Done, Message: "stop requested", Prior: prior, RequestIDs: trace.IDs()}, nil
}

func (stop) Undo(ctx context.Context, env *action.Env, req *action.Request, raw json.RawMessage) (*action.Result, error) {
	t := req.Target
	var prior stopPrior
	if err := action.DecodePrior(raw, &prior); err != nil {
		return nil, fmt.Errorf("start %s in %s: %w", t.ID, t.Account, err)
	}
	if prior.State != string(types.InstanceStateNameRunning) && prior.State != string(types.InstanceStateNamePending) {
		return &action.Result{Status: action.AlreadyDone, Message: "the instance was " + prior.State + " before; left as it is"}, nil
	}
	c, err := env.Cloud.EC2(ctx, t.Account, t.Region)
	if err != nil {
		return nil, fmt.Errorf("start %s in %s: %w", t.ID, t.Account, err)
	}
	out, err := c.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{t.ID}})
	if err != nil {
		return nil, fmt.Errorf("start %s in %s: %w", t.ID, t.Account, action.AWSError(err, t.Account, "ec2:StartInstances", "start the instance"))
	}
	var trace action.Trace
	trace.Record(out.ResultMetadata)
	return &action.Result{Status: action.Done, Message: "start requested", RequestIDs: trace.IDs()}, nil
}
