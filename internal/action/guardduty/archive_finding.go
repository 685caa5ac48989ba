package guardduty

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// ArchiveFindingSpec declares guardduty.archive-finding. It acts on the finding that
// triggered the incident, so it accepts every kind; only events from GuardDuty carry one.
// GuardDuty lets only the administrator account archive findings, never a member account,
// so in an organisation this permission belongs to the role in the GuardDuty
// administrator account, and the call goes to that account's detector.
func ArchiveFindingSpec() *action.Spec {
	return &action.Spec{
		Name:       "guardduty.archive-finding",
		Summary:    "Archive the GuardDuty finding that triggered the incident.",
		Targets:    append([]event.Kind(nil), event.Kinds...),
		Reversible: true,
		Exec:       archiveFinding{},
		Permissions: []string{
			"guardduty:ListDetectors",
			// Whether the finding is archived already, so a repeated step changes nothing.
			"guardduty:GetFindings",
			"guardduty:ArchiveFindings",
			"guardduty:UnarchiveFindings",
		},
		Manual: `# In the GuardDuty administrator account, region {{.Region}} (the finding is from account {{.Account}}):
aws guardduty list-detectors --region {{.Region}}
aws guardduty archive-findings --region {{.Region}} --detector-id DETECTOR_ID --finding-ids FINDING_ID`,
		ManualUndo: `# In the GuardDuty administrator account, region {{.Region}}:
aws guardduty unarchive-findings --region {{.Region}} --detector-id DETECTOR_ID --finding-ids FINDING_ID`,
	}
}

type archiveFinding struct{}

// archivePrior names the finding archived and the detector that holds it.
type archivePrior struct {
	Account    string `json:"account"`
	Region     string `json:"region"`
	DetectorID string `json:"detector_id"`
	FindingID  string `json:"finding_id"`
}

// archiveScope is where the finding is archived: the account and region the event names,
// falling back to the target's.
func archiveScope(req *action.Request) (account, region string) {
	account, region = req.Target.Account, req.Target.Region
	if req.Event != nil {
		if req.Event.Account != "" {
			account = req.Event.Account
		}
		if req.Event.Region != "" {
			region = req.Event.Region
		}
	}
	return account, region
}

func (archiveFinding) Do(ctx context.Context, env *action.Env, req *action.Request) (*action.Result, error) {
	if req.Event == nil || req.Event.Source != event.SourceGuardDuty || req.Event.FindingID == "" {
		return &action.Result{Status: action.Skipped, Message: "the incident was not opened by a GuardDuty finding, so there is no finding to archive"}, nil
	}
	id := req.Event.FindingID
	account, region := archiveScope(req)
	fail := func(err error) (*action.Result, error) {
		return nil, fmt.Errorf("archive GuardDuty finding %s in %s/%s: %w", id, account, region, err)
	}
	c, err := env.Cloud.GuardDuty(ctx, account, region)
	if err != nil {
		return fail(err)
	}
	trace := &action.Trace{}
	dets, err := c.ListDetectors(ctx, &guardduty.ListDetectorsInput{})
	if err != nil {
		return fail(action.AWSError(err, account, "guardduty:ListDetectors", "find the detector"))
	}
	trace.Record(dets.ResultMetadata)
	// GuardDuty allows one detector per account and region.
	if len(dets.DetectorIds) == 0 {
		return fail(errors.New("GuardDuty has no detector here"))
	}
	detector := dets.DetectorIds[0]
	got, err := c.GetFindings(ctx, &guardduty.GetFindingsInput{DetectorId: aws.String(detector), FindingIds: []string{id}})
	if err != nil {
		return fail(action.AWSError(err, account, "guardduty:GetFindings", "read the finding"))
	}
	trace.Record(got.ResultMetadata)
	if len(got.Findings) == 0 {
		return fail(errors.New("the detector has no such finding; only the GuardDuty administrator account sees its members' findings"))
	}
	if f := got.Findings[0]; f.Service != nil && aws.ToBool(f.Service.Archived) {
		return &action.Result{Status: action.AlreadyDone, Message: "the finding is already archived", RequestIDs: trace.IDs()}, nil
	}
	raw, err := action.EncodePrior(archivePrior{Account: account, Region: region, DetectorID: detector, FindingID: id})
	if err != nil {
		return fail(err)
	}
	out, err := c.ArchiveFindings(ctx, &guardduty.ArchiveFindingsInput{DetectorId: aws.String(detector), FindingIds: []string{id}})
	if err != nil {
		return fail(action.AWSError(err, account, "guardduty:ArchiveFindings", "archive the finding"))
	}
	trace.Record(out.ResultMetadata)
	return &action.Result{Status: action.Done, Message: "finding archived", Prior: raw, RequestIDs: trace.IDs()}, nil
}

func (archiveFinding) Undo(ctx context.Context, env *action.Env, _ *action.Request, raw json.RawMessage) (*action.Result, error) {
	var prior archivePrior
	if err := action.DecodePrior(raw, &prior); err != nil {
		return nil, fmt.Errorf("unarchive the GuardDuty finding: %w", err)
	}
	fail := func(err error) (*action.Result, error) {
		return nil, fmt.Errorf("unarchive GuardDuty finding %s in %s/%s: %w", prior.FindingID, prior.Account, prior.Region, err)
	}
	c, err := env.Cloud.GuardDuty(ctx, prior.Account, prior.Region)
	if err != nil {
		return fail(err)
	}
	out, err := c.UnarchiveFindings(ctx, &guardduty.UnarchiveFindingsInput{DetectorId: aws.String(prior.DetectorID), FindingIds: []string{prior.FindingID}})
	if err != nil {
		return fail(action.AWSError(err, prior.Account, "guardduty:UnarchiveFindings", "unarchive the finding"))
	}
	var trace action.Trace
	trace.Record(out.ResultMetadata)
	return &action.Result{Status: action.Done, Message: "finding unarchived", RequestIDs: trace.IDs()}, nil
}
