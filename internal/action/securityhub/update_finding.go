package securityhub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/cloud"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// UpdateFindingSpec declares securityhub.update-finding. It acts on the finding that
// triggered the incident, whatever resource the playbook targets, so it accepts every
// kind; only events from Security Hub carry a finding it can update (its Id and
// ProductArn). BatchUpdateFindings is the API for customers' own workflow changes; the
// finding provider's fields are left alone. Undo puts back the workflow status (and the
// note) the finding had; a finding that had no note keeps a note saying it was released,
// because Security Hub cannot remove one.
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
		Reversible: true,
		Exec:       updateFinding{},
		Permissions: []string{
			// The finding's current workflow status and note, for idempotence and undo.
			"securityhub:GetFindings",
			"securityhub:BatchUpdateFindings",
		},
		Manual: `# Account {{.Account}}, region {{.Region}}: mark the triggering finding {{.Param "workflow_status"}}.
aws securityhub batch-update-findings --region {{.Region}} \
  --finding-identifiers Id=FINDING_ID,ProductArn=PRODUCT_ARN \
  --workflow Status={{.Param "workflow_status"}} \
  --note Text='{{with .Param "note"}}{{.}}{{else}}Firebreak incident INCIDENT_ID{{end}}',UpdatedBy=firebreak`,
		ManualUndo: `# Account {{.Account}}, region {{.Region}}: put back the workflow status the finding had (NEW unless you recorded another).
aws securityhub batch-update-findings --region {{.Region}} --finding-identifiers Id=FINDING_ID,ProductArn=PRODUCT_ARN \
  --workflow Status=PREVIOUS_STATUS --note Text='Firebreak incident INCIDENT_ID released',UpdatedBy=firebreak`,
	}
}

type updateFinding struct{}

// noteAuthor is the UpdatedBy of the notes Firebreak writes.
const noteAuthor = "firebreak"

// findingPrior is the finding's workflow status and note before the step.
type findingPrior struct {
	ID         string `json:"id"`
	ProductARN string `json:"product_arn"`
	Account    string `json:"account"`
	Region     string `json:"region"`
	Status     string `json:"workflow_status"`
	Note       string `json:"note,omitempty"`
	NoteBy     string `json:"note_updated_by,omitempty"`
}

// findingOf returns the Security Hub finding identifiers an event carries: the ASFF Id
// and ProductArn, from the normalised fields or, failing those, the finding itself.
func findingOf(e *event.Event) (id, product string, ok bool) {
	if e == nil || e.Source != event.SourceSecurityHub {
		return "", "", false
	}
	id = e.FindingID
	product, _ = e.Details["product_arn"].(string)
	if (id == "" || product == "") && len(e.Raw) > 0 {
		var raw struct{ Id, ProductArn string }
		if json.Unmarshal(e.Raw, &raw) == nil {
			id, product = cmpOr(id, raw.Id), cmpOr(product, raw.ProductArn)
		}
	}
	return id, product, id != "" && product != ""
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// findingScope is where the finding lives: the account and region the event names, which
// with cross-region aggregation can differ from the resource's.
func findingScope(req *action.Request) (account, region string) {
	account, region = req.Target.Account, req.Target.Region
	if req.Event != nil {
		account, region = cmpOr(req.Event.Account, account), cmpOr(req.Event.Region, region)
	}
	return account, region
}

func (updateFinding) Do(ctx context.Context, env *action.Env, req *action.Request) (*action.Result, error) {
	id, product, ok := findingOf(req.Event)
	if !ok {
		return &action.Result{Status: action.Skipped, Message: "the incident was not opened by a Security Hub finding, so there is no finding to update"}, nil
	}
	account, region := findingScope(req)
	fail := func(err error) (*action.Result, error) {
		return nil, fmt.Errorf("update Security Hub finding %s in %s/%s: %w", id, account, region, err)
	}
	status := req.String("workflow_status")
	note := req.String("note")
	if note == "" {
		note = "Firebreak incident " + req.Incident
	}
	c, err := env.Cloud.SecurityHub(ctx, account, region)
	if err != nil {
		return fail(err)
	}
	trace := &action.Trace{}
	cur, err := getFinding(ctx, c, trace, account, id, product)
	if err != nil {
		return fail(err)
	}
	prior := findingPrior{ID: id, ProductARN: product, Account: account, Region: region, Status: string(types.WorkflowStatusNew)}
	if cur.Workflow != nil && cur.Workflow.Status != "" {
		prior.Status = string(cur.Workflow.Status)
	}
	if cur.Note != nil {
		prior.Note, prior.NoteBy = aws.ToString(cur.Note.Text), aws.ToString(cur.Note.UpdatedBy)
	}
	if prior.Status == status && prior.Note == note {
		return &action.Result{Status: action.AlreadyDone, Message: "the finding is already " + status + " with this incident's note", RequestIDs: trace.IDs()}, nil
	}
	raw, err := action.EncodePrior(prior)
	if err != nil {
		return fail(err)
	}
	if err := batchUpdate(ctx, c, trace, account, id, product, status, note, noteAuthor); err != nil {
		return fail(err)
	}
	return &action.Result{Status: action.Done, Message: fmt.Sprintf("workflow status %s -> %s", prior.Status, status), Prior: raw, RequestIDs: trace.IDs()}, nil
}

func getFinding(ctx context.Context, c cloud.SecurityHub, trace *action.Trace, account, id, product string) (*types.AwsSecurityFinding, error) {
	out, err := c.GetFindings(ctx, &securityhub.GetFindingsInput{Filters: &types.AwsSecurityFindingFilters{
		Id:         []types.StringFilter{{Comparison: types.StringFilterComparisonEquals, Value: aws.String(id)}},
		ProductArn: []types.StringFilter{{Comparison: types.StringFilterComparisonEquals, Value: aws.String(product)}},
	}, MaxResults: aws.Int32(1)})
	if err != nil {
		return nil, action.AWSError(err, account, "securityhub:GetFindings", "read the finding")
	}
	trace.Record(out.ResultMetadata)
	if len(out.Findings) == 0 {
		return nil, errors.New("no such finding in Security Hub here; with cross-region aggregation, findings are updated in the region they were recorded in")
	}
	return &out.Findings[0], nil
}

func batchUpdate(ctx context.Context, c cloud.SecurityHub, trace *action.Trace, account, id, product, status, note, by string) error {
	in := &securityhub.BatchUpdateFindingsInput{
		FindingIdentifiers: []types.AwsSecurityFindingIdentifier{{Id: aws.String(id), ProductArn: aws.String(product)}},
		Workflow:           &types.WorkflowUpdate{Status: types.WorkflowStatus(status)},
	}
	if note != "" {
		in.Note = &types.NoteUpdate{Text: aws.String(note), UpdatedBy: aws.String(cmpOr(by, noteAuthor))}
	}
	out, err := c.BatchUpdateFindings(ctx, in)
	if err != nil {
		return action.AWSError(err, account, "securityhub:BatchUpdateFindings", "update the finding")
	}
	trace.Record(out.ResultMetadata)
	// Security Hub reports per-finding failures in the response, not as an error.
	if len(out.UnprocessedFindings) > 0 {
		var msgs []string
		for _, u := range out.UnprocessedFindings {
			msgs = append(msgs, aws.ToString(u.ErrorCode)+": "+aws.ToString(u.ErrorMessage))
		}
		return fmt.Errorf("the finding was not updated by Security Hub: %s", strings.Join(msgs, "; "))
	}
	return nil
}

func (updateFinding) Undo(ctx context.Context, env *action.Env, req *action.Request, raw json.RawMessage) (*action.Result, error) {
	var prior findingPrior
	if err := action.DecodePrior(raw, &prior); err != nil {
		return nil, fmt.Errorf("restore the Security Hub finding: %w", err)
	}
	fail := func(err error) (*action.Result, error) {
		return nil, fmt.Errorf("restore Security Hub finding %s in %s/%s: %w", prior.ID, prior.Account, prior.Region, err)
	}
	c, err := env.Cloud.SecurityHub(ctx, prior.Account, prior.Region)
	if err != nil {
		return fail(err)
	}
	trace := &action.Trace{}
	note, by := prior.Note, prior.NoteBy
	if note == "" {
		// A note cannot be removed, only replaced: say why the status went back.
		note, by = "Firebreak incident "+req.Incident+" released; workflow status restored to "+prior.Status, noteAuthor
	}
	if err := batchUpdate(ctx, c, trace, prior.Account, prior.ID, prior.ProductARN, prior.Status, note, by); err != nil {
		return fail(err)
	}
	return &action.Result{Status: action.Done, Message: "workflow status restored to " + prior.Status, RequestIDs: trace.IDs()}, nil
}
