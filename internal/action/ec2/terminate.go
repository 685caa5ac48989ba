package ec2

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// TerminateSpec declares ec2.terminate. Termination protection is switched off first,
// because ec2.isolate switches it on and a playbook that isolates and then terminates
// means both.
func TerminateSpec() *action.Spec {
	return &action.Spec{
		Name: "ec2.terminate",
		Summary: "Terminate the instance, turning off termination protection first. Memory, instance-store data and " +
			"volumes deleted on termination are gone: run it only after the evidence steps.",
		Targets:     []event.Kind{event.KindInstance},
		Exec:        terminate{},
		Destructive: true,
		Permissions: []string{
			"ec2:DescribeInstances",
			"ec2:ModifyInstanceAttribute",
			"ec2:TerminateInstances",
		},
		Manual: `# Account {{.Account}}, region {{.Region}}: terminate {{.ID}}. There is no way back.
aws ec2 modify-instance-attribute --region {{.Region}} --instance-id {{.ID}} --no-disable-api-termination
aws ec2 terminate-instances --region {{.Region}} --instance-ids {{.ID}}`,
		ManualUndo: `# A terminated instance cannot be recovered. Launch a new one from the evidence snapshots if it is needed:
# aws ec2 register-image --region {{.Region}} ... --block-device-mappings DeviceName=/dev/xvda,Ebs={SnapshotId=SNAPSHOT_ID}`,
	}
}

type terminate struct{}

func (terminate) Do(ctx context.Context, env *action.Env, req *action.Request) (*action.Result, error) {
	t := req.Target
	fail := func(err error) (*action.Result, error) {
		return nil, fmt.Errorf("terminate %s in %s: %w", t.ID, t.Account, err)
	}
	c, err := env.Cloud.EC2(ctx, t.Account, t.Region)
	if err != nil {
		return fail(err)
	}
	trace := &action.Trace{}
	inst, err := describeInstance(ctx, c, trace, t.Account, t.ID)
	if err != nil {
		return fail(err)
	}
	if s := inst.State.Name; s == types.InstanceStateNameTerminated || s == types.InstanceStateNameShuttingDown {
		return &action.Result{Status: action.AlreadyDone, Message: "the instance is already " + string(s), RequestIDs: trace.IDs()}, nil
	}
	// Whether protection is on costs a call to find out; switching it off is as cheap and
	// harmless when it was already off.
	mo, err := c.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{
		InstanceId: aws.String(t.ID), DisableApiTermination: &types.AttributeBooleanValue{Value: aws.Bool(false)}})
	if err != nil {
		return fail(action.AWSError(err, t.Account, "ec2:ModifyInstanceAttribute", "turn off termination protection"))
	}
	trace.Record(mo.ResultMetadata)
	out, err := c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{t.ID}})
	if err != nil {
		return fail(action.AWSError(err, t.Account, "ec2:TerminateInstances", "terminate the instance"))
	}
	trace.Record(out.ResultMetadata)
	return &action.Result{Status: action.Done, Message: "termination requested", RequestIDs: trace.IDs()}, nil
}

func (terminate) Undo(_ context.Context, _ *action.Env, req *action.Request, _ json.RawMessage) (*action.Result, error) {
	return nil, fmt.Errorf("terminate %s in %s: %w: a terminated instance is gone; launch a new one from the evidence snapshots", req.Target.ID, req.Target.Account, action.ErrIrreversible)
}
