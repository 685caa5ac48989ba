package ec2

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/cloud"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// SnapshotVolumesSpec declares ec2.snapshot-volumes. It uses CreateSnapshots rather than
// one CreateSnapshot per volume so that the set is crash-consistent across volumes: an
// investigator sees the disks as they were at a single instant.
func SnapshotVolumesSpec() *action.Spec {
	return &action.Spec{
		Name:    "ec2.snapshot-volumes",
		Summary: "Snapshot every EBS volume attached to the instance, crash-consistent across volumes, tagged with the incident.",
		Targets: []event.Kind{event.KindInstance},
		Params: []action.Param{
			{
				Name:    "tags",
				Type:    action.StringMap,
				Doc:     "Extra tags for each snapshot, besides the incident tags Firebreak always adds.",
				Default: map[string]string{},
			},
			{
				Name:    "copy_tags",
				Type:    action.Bool,
				Doc:     "Copy each volume's tags to its snapshot, so the snapshot keeps its owner and environment.",
				Default: true,
			},
		},
		Evidence: true,
		Exec:     snapshotVolumes{},
		// Snapshots are kept when the incident is released: deleting evidence is a
		// retention decision, not an undo.
		Reversible: false,
		Permissions: []string{
			"ec2:DescribeInstances",
			"ec2:CreateSnapshots",
			// CreateSnapshots with tag specifications is authorised as ec2:CreateTags too.
			"ec2:CreateTags",
			// Evidence is only evidence once the snapshots are complete.
			"ec2:DescribeSnapshots",
		},
		Manual: `# Account {{.Account}}, region {{.Region}}: snapshot every volume of {{.ID}} at one instant.
# copy_tags = {{.Param "copy_tags"}}: when false, leave out --copy-tags-from-source.
aws ec2 create-snapshots --region {{.Region}} \
  --instance-specification InstanceId={{.ID}},ExcludeBootVolume=false \
  --copy-tags-from-source volume \
  --description "Firebreak evidence for incident INCIDENT_ID" \
  --tag-specifications 'ResourceType=snapshot,Tags=[{Key=firebreak:incident,Value=INCIDENT_ID},{Key=firebreak:source-instance,Value={{.ID}}}]'
# Wait until every snapshot reports "completed" before stopping or terminating the instance.
aws ec2 describe-snapshots --region {{.Region}} --filters Name=tag:firebreak:incident,Values=INCIDENT_ID \
  --query 'Snapshots[].[SnapshotId,VolumeId,State,Progress]'`,
		ManualUndo: `# Nothing to undo: snapshots are evidence and stay until your retention policy removes them.
# To delete one deliberately: aws ec2 delete-snapshot --region {{.Region}} --snapshot-id SNAPSHOT_ID`,
	}
}

type snapshotVolumes struct{}

// snapshotTimeout bounds the wait for snapshots to complete; large volumes take long, and
// a step that never ends holds up the destructive steps after it.
const snapshotTimeout = 2 * time.Hour

func (snapshotVolumes) Do(ctx context.Context, env *action.Env, req *action.Request) (*action.Result, error) {
	t := req.Target
	fail := func(err error) (*action.Result, error) {
		return nil, fmt.Errorf("snapshot the volumes of %s in %s: %w", t.ID, t.Account, err)
	}
	c, err := env.Cloud.EC2(ctx, t.Account, t.Region)
	if err != nil {
		return fail(err)
	}
	trace := &action.Trace{}
	// Snapshots this incident already took are found by their tags, so a repeated step
	// takes no second set. CreateSnapshots takes no client token, so after an attempt that
	// may have sent it, its snapshots are given time to show first.
	if err := env.SettleFor(ctx, req); err != nil {
		return fail(err)
	}
	existing, err := incidentSnapshots(ctx, c, trace, t.Account, t.ID, req.Incident)
	if err != nil {
		return fail(err)
	}
	status := action.AlreadyDone
	if len(existing) == 0 || req.Incident == "" {
		tags := []types.Tag{
			{Key: aws.String("firebreak:source-instance"), Value: aws.String(t.ID)},
		}
		if req.Incident != "" {
			tags = append(tags, types.Tag{Key: aws.String("firebreak:incident"), Value: aws.String(req.Incident)})
		}
		extra := req.StringMap("tags")
		keys := make([]string, 0, len(extra))
		for k := range extra {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(extra[k])})
		}
		in := &ec2.CreateSnapshotsInput{
			InstanceSpecification: &types.InstanceSpecification{InstanceId: aws.String(t.ID), ExcludeBootVolume: aws.Bool(false)},
			Description:           aws.String("Firebreak evidence for incident " + req.Incident),
			TagSpecifications:     []types.TagSpecification{{ResourceType: types.ResourceTypeSnapshot, Tags: tags}},
		}
		if req.Bool("copy_tags", true) {
			in.CopyTagsFromSource = types.CopyTagsFromSourceVolume
		}
		out, err := c.CreateSnapshots(ctx, in)
		if err != nil {
			return fail(action.AWSError(err, t.Account, "ec2:CreateSnapshots", "create snapshots"))
		}
		trace.Record(out.ResultMetadata)
		existing = existing[:0]
		for _, s := range out.Snapshots {
			existing = append(existing, types.Snapshot{SnapshotId: s.SnapshotId, VolumeId: s.VolumeId, State: s.State})
		}
		status = action.Done
	}
	res := &action.Result{Status: status}
	for _, s := range existing {
		res.Evidence = append(res.Evidence, action.Evidence{Kind: "snapshot", ID: aws.ToString(s.SnapshotId), Detail: "of " + aws.ToString(s.VolumeId)})
	}
	sort.Slice(res.Evidence, func(i, j int) bool { return res.Evidence[i].ID < res.Evidence[j].ID })
	// Evidence is only evidence once complete: wait, so that a stop or terminate after
	// this step cannot race the snapshot.
	wctx, cancel := context.WithTimeout(ctx, snapshotTimeout)
	defer cancel()
	for {
		pending := 0
		for _, s := range existing {
			if s.State == types.SnapshotStateError {
				res.RequestIDs = trace.IDs()
				return res, fmt.Errorf("snapshot the volumes of %s in %s: snapshot %s failed", t.ID, t.Account, aws.ToString(s.SnapshotId))
			}
			if s.State != types.SnapshotStateCompleted && s.State != "" {
				pending++
			}
		}
		if pending == 0 {
			break
		}
		if err := env.Wait(wctx); err != nil {
			res.RequestIDs = trace.IDs()
			return res, fmt.Errorf("snapshot the volumes of %s in %s: %d snapshot(s) still pending: %w", t.ID, t.Account, pending, err)
		}
		ids := make([]string, 0, len(existing))
		for _, s := range existing {
			ids = append(ids, aws.ToString(s.SnapshotId))
		}
		out, err := c.DescribeSnapshots(wctx, &ec2.DescribeSnapshotsInput{SnapshotIds: ids})
		if err != nil {
			res.RequestIDs = trace.IDs()
			return res, fmt.Errorf("snapshot the volumes of %s in %s: %w", t.ID, t.Account, action.AWSError(err, t.Account, "ec2:DescribeSnapshots", "wait for the snapshots"))
		}
		trace.Record(out.ResultMetadata)
		existing = out.Snapshots
	}
	res.Message = fmt.Sprintf("%d snapshot(s) complete", len(existing))
	res.RequestIDs = trace.IDs()
	return res, nil
}

// incidentSnapshots returns the snapshots of instance id tagged with the incident.
func incidentSnapshots(ctx context.Context, c cloud.EC2, trace *action.Trace, account, id, incident string) ([]types.Snapshot, error) {
	if incident == "" {
		return nil, nil
	}
	in := &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}, Filters: []types.Filter{
		{Name: aws.String("tag:firebreak:incident"), Values: []string{incident}},
		{Name: aws.String("tag:firebreak:source-instance"), Values: []string{id}},
	}}
	var snaps []types.Snapshot
	for {
		out, err := c.DescribeSnapshots(ctx, in)
		if err != nil {
			return nil, action.AWSError(err, account, "ec2:DescribeSnapshots", "look for this incident's snapshots")
		}
		trace.Record(out.ResultMetadata)
		snaps = append(snaps, out.Snapshots...)
		if aws.ToString(out.NextToken) == "" {
			return snaps, nil
		}
		in.NextToken = out.NextToken
	}
}

func (snapshotVolumes) Undo(context.Context, *action.Env, *action.Request, json.RawMessage) (*action.Result, error) {
	return &action.Result{Status: action.Skipped, Message: "nothing undone: snapshots are evidence and are kept; delete them under your retention policy"}, nil
}
