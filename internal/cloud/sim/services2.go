package sim

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	gdtypes "github.com/aws/aws-sdk-go-v2/service/guardduty/types"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/firebreak-sec/firebreak/internal/cloud"
	"github.com/firebreak-sec/firebreak/internal/world"
)

// SSM is the simulated Systems Manager API of one account and region.
type SSM struct{ c client }

var _ cloud.SSM = (*SSM)(nil)

// knownDocument accepts the AWS-owned documents (AWS-*, AWSSupport-*, ...) and those the
// world lists.
func (s *scope) knownDocument(name string) bool {
	return strings.HasPrefix(name, "AWS") || contains(s.r.SSMDocuments, name)
}

// poll reports an id's status, counting down the InProgress reports Options.PendingPolls
// asks for before the stored status shows.
func (s *scope) poll(id, status string) string {
	left, ok := s.acct.polls[id]
	if !ok || status != "InProgress" {
		return status
	}
	if left > 0 {
		s.acct.polls[id] = left - 1
		return "InProgress"
	}
	delete(s.acct.polls, id)
	return "Success"
}

// DescribeInstanceInformation implements cloud.SSM: running instances whose agent is online.
func (c *SSM) DescribeInstanceInformation(ctx context.Context, in *ssm.DescribeInstanceInformationInput, _ ...func(*ssm.Options)) (*ssm.DescribeInstanceInformationOutput, error) {
	return run(ctx, &c.c, "DescribeInstanceInformation", in, func(s *scope, in *ssm.DescribeInstanceInformationInput) (*ssm.DescribeInstanceInformationOutput, error) {
		var want []string
		for _, f := range in.Filters {
			if aws.ToString(f.Key) == "InstanceIds" {
				want = append(want, f.Values...)
			}
		}
		out := &ssm.DescribeInstanceInformationOutput{InstanceInformationList: []ssmtypes.InstanceInformation{}}
		for _, i := range s.r.Instances {
			if i == nil || !i.SSMManaged || def(i.State, "running") != "running" || (len(want) > 0 && !contains(want, i.ID)) {
				continue
			}
			out.InstanceInformationList = append(out.InstanceInformationList, ssmtypes.InstanceInformation{InstanceId: aws.String(i.ID), PingStatus: ssmtypes.PingStatusOnline, ResourceType: ssmtypes.ResourceTypeEc2Instance})
		}
		return out, nil
	})
}

// SendCommand implements cloud.SSM. Every target must be a running, managed instance.
func (c *SSM) SendCommand(ctx context.Context, in *ssm.SendCommandInput, _ ...func(*ssm.Options)) (*ssm.SendCommandOutput, error) {
	return run(ctx, &c.c, "SendCommand", in, func(s *scope, in *ssm.SendCommandInput) (*ssm.SendCommandOutput, error) {
		doc := aws.ToString(in.DocumentName)
		if !s.knownDocument(doc) {
			return nil, apiError("InvalidDocument", fmt.Sprintf("Document with name %s does not exist.", doc))
		}
		if len(in.InstanceIds) == 0 {
			return nil, apiError("InvalidParameters", "InstanceIds or Targets must be given.")
		}
		for _, id := range in.InstanceIds {
			i, err := s.instance(id)
			if err != nil || !i.SSMManaged || def(i.State, "running") != "running" {
				return nil, apiError("InvalidInstanceId", fmt.Sprintf("Instances [[%s]] not in a valid state for account %s", id, s.a.ID))
			}
		}
		cmd := &world.SSMCommand{ID: s.newUUID(), Document: doc, Instances: append([]string{}, in.InstanceIds...), Parameters: in.Parameters, Status: "InProgress"}
		if s.c.org.opts.PendingPolls == 0 {
			cmd.Status = "Success"
		} else {
			for _, id := range cmd.Instances {
				s.acct.polls[cmd.ID+"/"+id] = s.c.org.opts.PendingPolls
			}
		}
		s.r.SSMCommands = append(s.r.SSMCommands, cmd)
		return &ssm.SendCommandOutput{Command: &ssmtypes.Command{CommandId: aws.String(cmd.ID), DocumentName: aws.String(doc), InstanceIds: cmd.Instances, Parameters: in.Parameters, Status: ssmtypes.CommandStatusPending}}, nil
	})
}

func (s *scope) command(id string) (*world.SSMCommand, bool) {
	for _, c := range s.r.SSMCommands {
		if c != nil && c.ID == id {
			return c, true
		}
	}
	return nil, false
}

// settle marks a command succeeded once none of its invocations is still pending.
func (s *scope) settle(cmd *world.SSMCommand) {
	for _, id := range cmd.Instances {
		if _, ok := s.acct.polls[cmd.ID+"/"+id]; ok {
			return
		}
	}
	if cmd.Status == "InProgress" {
		cmd.Status = "Success"
	}
}

// GetCommandInvocation implements cloud.SSM.
func (c *SSM) GetCommandInvocation(ctx context.Context, in *ssm.GetCommandInvocationInput, _ ...func(*ssm.Options)) (*ssm.GetCommandInvocationOutput, error) {
	return run(ctx, &c.c, "GetCommandInvocation", in, func(s *scope, in *ssm.GetCommandInvocationInput) (*ssm.GetCommandInvocationOutput, error) {
		cmd, ok := s.command(aws.ToString(in.CommandId))
		if !ok {
			return nil, apiError("InvalidCommandId", "The command ID is not valid.")
		}
		id := aws.ToString(in.InstanceId)
		if !contains(cmd.Instances, id) {
			return nil, apiError("InvocationDoesNotExist", "An invocation does not exist for this command and instance.")
		}
		st := s.poll(cmd.ID+"/"+id, cmd.Status)
		s.settle(cmd)
		return &ssm.GetCommandInvocationOutput{CommandId: aws.String(cmd.ID), InstanceId: aws.String(id), DocumentName: aws.String(cmd.Document), Status: ssmtypes.CommandInvocationStatus(st), StatusDetails: aws.String(st), ResponseCode: 0}, nil
	})
}

// ListCommandInvocations implements cloud.SSM.
func (c *SSM) ListCommandInvocations(ctx context.Context, in *ssm.ListCommandInvocationsInput, _ ...func(*ssm.Options)) (*ssm.ListCommandInvocationsOutput, error) {
	return run(ctx, &c.c, "ListCommandInvocations", in, func(s *scope, in *ssm.ListCommandInvocationsInput) (*ssm.ListCommandInvocationsOutput, error) {
		out := &ssm.ListCommandInvocationsOutput{CommandInvocations: []ssmtypes.CommandInvocation{}}
		if in.CommandId != nil {
			if _, ok := s.command(aws.ToString(in.CommandId)); !ok {
				return nil, apiError("InvalidCommandId", "The command ID is not valid.")
			}
		}
		for _, cmd := range s.r.SSMCommands {
			if cmd == nil || (in.CommandId != nil && cmd.ID != aws.ToString(in.CommandId)) {
				continue
			}
			for _, id := range cmd.Instances {
				if in.InstanceId != nil && id != aws.ToString(in.InstanceId) {
					continue
				}
				st := s.poll(cmd.ID+"/"+id, cmd.Status)
				out.CommandInvocations = append(out.CommandInvocations, ssmtypes.CommandInvocation{CommandId: aws.String(cmd.ID), InstanceId: aws.String(id), DocumentName: aws.String(cmd.Document), Status: ssmtypes.CommandInvocationStatus(st), StatusDetails: aws.String(st)})
			}
			s.settle(cmd)
		}
		return out, nil
	})
}

func (s *scope) automation(id string) (*world.SSMAutomation, error) {
	for _, a := range s.r.SSMAutomations {
		if a != nil && a.ID == id {
			return a, nil
		}
	}
	return nil, apiError("AutomationExecutionNotFoundException", fmt.Sprintf("Automation execution %s not found.", id))
}

// StartAutomationExecution implements cloud.SSM.
func (c *SSM) StartAutomationExecution(ctx context.Context, in *ssm.StartAutomationExecutionInput, _ ...func(*ssm.Options)) (*ssm.StartAutomationExecutionOutput, error) {
	return run(ctx, &c.c, "StartAutomationExecution", in, func(s *scope, in *ssm.StartAutomationExecutionInput) (*ssm.StartAutomationExecutionOutput, error) {
		doc := aws.ToString(in.DocumentName)
		if !s.knownDocument(doc) {
			return nil, apiError("AutomationDefinitionNotFoundException", fmt.Sprintf("Automation definition %s not found.", doc))
		}
		a := &world.SSMAutomation{ID: s.newUUID(), Document: doc, Parameters: in.Parameters, Status: "InProgress"}
		if s.c.org.opts.PendingPolls == 0 {
			a.Status = "Success"
		} else {
			s.acct.polls[a.ID] = s.c.org.opts.PendingPolls
		}
		s.r.SSMAutomations = append(s.r.SSMAutomations, a)
		return &ssm.StartAutomationExecutionOutput{AutomationExecutionId: aws.String(a.ID)}, nil
	})
}

// GetAutomationExecution implements cloud.SSM.
func (c *SSM) GetAutomationExecution(ctx context.Context, in *ssm.GetAutomationExecutionInput, _ ...func(*ssm.Options)) (*ssm.GetAutomationExecutionOutput, error) {
	return run(ctx, &c.c, "GetAutomationExecution", in, func(s *scope, in *ssm.GetAutomationExecutionInput) (*ssm.GetAutomationExecutionOutput, error) {
		a, err := s.automation(aws.ToString(in.AutomationExecutionId))
		if err != nil {
			return nil, err
		}
		st := s.poll(a.ID, a.Status)
		a.Status = st
		return &ssm.GetAutomationExecutionOutput{AutomationExecution: &ssmtypes.AutomationExecution{
			AutomationExecutionId: aws.String(a.ID), DocumentName: aws.String(a.Document), Parameters: a.Parameters, AutomationExecutionStatus: ssmtypes.AutomationExecutionStatus(st),
		}}, nil
	})
}

// StopAutomationExecution implements cloud.SSM; a finished execution cannot be stopped.
func (c *SSM) StopAutomationExecution(ctx context.Context, in *ssm.StopAutomationExecutionInput, _ ...func(*ssm.Options)) (*ssm.StopAutomationExecutionOutput, error) {
	return run(ctx, &c.c, "StopAutomationExecution", in, func(s *scope, in *ssm.StopAutomationExecutionInput) (*ssm.StopAutomationExecutionOutput, error) {
		a, err := s.automation(aws.ToString(in.AutomationExecutionId))
		if err != nil {
			return nil, err
		}
		if a.Status != "InProgress" && a.Status != "Pending" && a.Status != "Waiting" {
			return nil, apiError("InvalidAutomationStatusUpdateException", fmt.Sprintf("The automation execution %s is in a terminal state: %s.", a.ID, a.Status))
		}
		delete(s.acct.polls, a.ID)
		a.Status = "Cancelled"
		return &ssm.StopAutomationExecutionOutput{}, nil
	})
}

// SecurityHub is the simulated Security Hub API of one account and region.
type SecurityHub struct{ c client }

var _ cloud.SecurityHub = (*SecurityHub)(nil)

func stringFilterMatch(fs []shtypes.StringFilter, v string) bool {
	if len(fs) == 0 {
		return true
	}
	for _, f := range fs {
		val := aws.ToString(f.Value)
		switch f.Comparison {
		case shtypes.StringFilterComparisonEquals, "":
			if v == val {
				return true
			}
		case shtypes.StringFilterComparisonPrefix:
			if strings.HasPrefix(v, val) {
				return true
			}
		case shtypes.StringFilterComparisonNotEquals:
			if v != val {
				return true
			}
		}
	}
	return false
}

func (s *scope) shFinding(f *world.SecurityHubFinding) shtypes.AwsSecurityFinding {
	out := shtypes.AwsSecurityFinding{
		Id: aws.String(f.ID), ProductArn: aws.String(f.ProductARN), Title: aws.String(f.Title), AwsAccountId: aws.String(s.a.ID), Region: aws.String(s.region),
		Workflow: &shtypes.Workflow{Status: shtypes.WorkflowStatus(def(f.WorkflowStatus, "NEW"))}, UserDefinedFields: f.UserDefined,
	}
	if f.Severity != "" {
		out.Severity = &shtypes.Severity{Label: shtypes.SeverityLabel(f.Severity)}
	}
	if f.Note != "" {
		out.Note = &shtypes.Note{Text: aws.String(f.Note)}
	}
	return out
}

// GetFindings implements cloud.SecurityHub for Id, ProductArn and WorkflowStatus filters.
func (c *SecurityHub) GetFindings(ctx context.Context, in *securityhub.GetFindingsInput, _ ...func(*securityhub.Options)) (*securityhub.GetFindingsOutput, error) {
	return run(ctx, &c.c, "GetFindings", in, func(s *scope, in *securityhub.GetFindingsInput) (*securityhub.GetFindingsOutput, error) {
		out := &securityhub.GetFindingsOutput{Findings: []shtypes.AwsSecurityFinding{}}
		for _, f := range s.r.SecurityHub {
			if f == nil {
				continue
			}
			if in.Filters != nil && (!stringFilterMatch(in.Filters.Id, f.ID) || !stringFilterMatch(in.Filters.ProductArn, f.ProductARN) || !stringFilterMatch(in.Filters.WorkflowStatus, def(f.WorkflowStatus, "NEW"))) {
				continue
			}
			out.Findings = append(out.Findings, s.shFinding(f))
		}
		return out, nil
	})
}

// BatchUpdateFindings implements cloud.SecurityHub. Unknown findings are reported as
// unprocessed, not as an error, as Security Hub does.
func (c *SecurityHub) BatchUpdateFindings(ctx context.Context, in *securityhub.BatchUpdateFindingsInput, _ ...func(*securityhub.Options)) (*securityhub.BatchUpdateFindingsOutput, error) {
	return run(ctx, &c.c, "BatchUpdateFindings", in, func(s *scope, in *securityhub.BatchUpdateFindingsInput) (*securityhub.BatchUpdateFindingsOutput, error) {
		if len(in.FindingIdentifiers) == 0 {
			return nil, apiError("InvalidInputException", "FindingIdentifiers must not be empty")
		}
		if in.Note != nil && (aws.ToString(in.Note.Text) == "" || aws.ToString(in.Note.UpdatedBy) == "") {
			return nil, apiError("InvalidInputException", "Note requires Text and UpdatedBy")
		}
		out := &securityhub.BatchUpdateFindingsOutput{ProcessedFindings: []shtypes.AwsSecurityFindingIdentifier{}, UnprocessedFindings: []shtypes.BatchUpdateFindingsUnprocessedFinding{}}
		for _, id := range in.FindingIdentifiers {
			var f *world.SecurityHubFinding
			for _, x := range s.r.SecurityHub {
				if x != nil && x.ID == aws.ToString(id.Id) && x.ProductARN == aws.ToString(id.ProductArn) {
					f = x
				}
			}
			if f == nil {
				out.UnprocessedFindings = append(out.UnprocessedFindings, shtypes.BatchUpdateFindingsUnprocessedFinding{FindingIdentifier: &id, ErrorCode: aws.String("FindingNotFound"), ErrorMessage: aws.String("Finding not found")})
				continue
			}
			if in.Workflow != nil && in.Workflow.Status != "" {
				f.WorkflowStatus = string(in.Workflow.Status)
			}
			if in.Note != nil {
				f.Note = aws.ToString(in.Note.Text)
			}
			if in.Severity != nil && in.Severity.Label != "" {
				f.Severity = string(in.Severity.Label)
			}
			for k, v := range in.UserDefinedFields {
				if f.UserDefined == nil {
					f.UserDefined = map[string]string{}
				}
				f.UserDefined[k] = v
			}
			out.ProcessedFindings = append(out.ProcessedFindings, id)
		}
		return out, nil
	})
}

// GuardDuty is the simulated GuardDuty API of one account and region.
type GuardDuty struct{ c client }

var _ cloud.GuardDuty = (*GuardDuty)(nil)

func (s *scope) detector(id string) (*world.GuardDuty, error) {
	if s.r.GuardDuty == nil || s.r.GuardDuty.DetectorID != id {
		return nil, apiError("BadRequestException", "The request is rejected because the input detectorId is not owned by the current account.")
	}
	return s.r.GuardDuty, nil
}

func (s *scope) gdFindings(d *world.GuardDuty, ids []string) ([]*world.GuardDutyFinding, error) {
	var out []*world.GuardDutyFinding
	for _, id := range ids {
		found := false
		for _, f := range d.Findings {
			if f != nil && f.ID == id {
				out, found = append(out, f), true
			}
		}
		if !found {
			return nil, apiError("BadRequestException", fmt.Sprintf("The request is rejected because the finding %s does not exist.", id))
		}
	}
	return out, nil
}

// ListDetectors implements cloud.GuardDuty.
func (c *GuardDuty) ListDetectors(ctx context.Context, in *guardduty.ListDetectorsInput, _ ...func(*guardduty.Options)) (*guardduty.ListDetectorsOutput, error) {
	return run(ctx, &c.c, "ListDetectors", in, func(s *scope, in *guardduty.ListDetectorsInput) (*guardduty.ListDetectorsOutput, error) {
		out := &guardduty.ListDetectorsOutput{DetectorIds: []string{}}
		if s.r.GuardDuty != nil {
			out.DetectorIds = append(out.DetectorIds, s.r.GuardDuty.DetectorID)
		}
		return out, nil
	})
}

// GetFindings implements cloud.GuardDuty.
func (c *GuardDuty) GetFindings(ctx context.Context, in *guardduty.GetFindingsInput, _ ...func(*guardduty.Options)) (*guardduty.GetFindingsOutput, error) {
	return run(ctx, &c.c, "GetFindings", in, func(s *scope, in *guardduty.GetFindingsInput) (*guardduty.GetFindingsOutput, error) {
		d, err := s.detector(aws.ToString(in.DetectorId))
		if err != nil {
			return nil, err
		}
		out := &guardduty.GetFindingsOutput{Findings: []gdtypes.Finding{}}
		for _, f := range d.Findings {
			if f == nil || !contains(in.FindingIds, f.ID) {
				continue
			}
			out.Findings = append(out.Findings, gdtypes.Finding{
				Id: aws.String(f.ID), Type: aws.String(f.Type), Severity: aws.Float64(f.Severity), AccountId: aws.String(s.a.ID), Region: aws.String(s.region),
				Arn: aws.String(s.arn("guardduty", fmt.Sprintf("detector/%s/finding/%s", d.DetectorID, f.ID))), Service: &gdtypes.Service{Archived: aws.Bool(f.Archived)},
			})
		}
		return out, nil
	})
}

// ArchiveFindings implements cloud.GuardDuty.
func (c *GuardDuty) ArchiveFindings(ctx context.Context, in *guardduty.ArchiveFindingsInput, _ ...func(*guardduty.Options)) (*guardduty.ArchiveFindingsOutput, error) {
	return run(ctx, &c.c, "ArchiveFindings", in, func(s *scope, in *guardduty.ArchiveFindingsInput) (*guardduty.ArchiveFindingsOutput, error) {
		d, err := s.detector(aws.ToString(in.DetectorId))
		if err != nil {
			return nil, err
		}
		fs, err := s.gdFindings(d, in.FindingIds)
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			f.Archived = true
		}
		return &guardduty.ArchiveFindingsOutput{}, nil
	})
}

// UnarchiveFindings implements cloud.GuardDuty.
func (c *GuardDuty) UnarchiveFindings(ctx context.Context, in *guardduty.UnarchiveFindingsInput, _ ...func(*guardduty.Options)) (*guardduty.UnarchiveFindingsOutput, error) {
	return run(ctx, &c.c, "UnarchiveFindings", in, func(s *scope, in *guardduty.UnarchiveFindingsInput) (*guardduty.UnarchiveFindingsOutput, error) {
		d, err := s.detector(aws.ToString(in.DetectorId))
		if err != nil {
			return nil, err
		}
		fs, err := s.gdFindings(d, in.FindingIds)
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			f.Archived = false
		}
		return &guardduty.UnarchiveFindingsOutput{}, nil
	})
}

// AutoScaling is the simulated Auto Scaling API of one account and region.
type AutoScaling struct{ c client }

var _ cloud.AutoScaling = (*AutoScaling)(nil)

func (s *scope) asg(name string) (*world.AutoScalingGroup, error) {
	for _, g := range s.r.AutoScalingGroups {
		if g != nil && g.Name == name {
			return g, nil
		}
	}
	return nil, apiError("ValidationError", fmt.Sprintf("AutoScalingGroup name not found - AutoScalingGroup '%s' not found", name))
}

func removeString(list []string, s string) []string {
	var out []string
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

func (s *scope) activity(group, desc string) asgtypes.Activity {
	now := s.c.org.opts.Now()
	return asgtypes.Activity{ActivityId: aws.String(s.newUUID()), AutoScalingGroupName: aws.String(group), Description: aws.String(desc), StatusCode: asgtypes.ScalingActivityStatusCodeSuccessful, StartTime: &now, Cause: aws.String(desc)}
}

// DescribeAutoScalingInstances implements cloud.AutoScaling. Instances in no group are
// simply absent from the answer.
func (c *AutoScaling) DescribeAutoScalingInstances(ctx context.Context, in *autoscaling.DescribeAutoScalingInstancesInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingInstancesOutput, error) {
	return run(ctx, &c.c, "DescribeAutoScalingInstances", in, func(s *scope, in *autoscaling.DescribeAutoScalingInstancesInput) (*autoscaling.DescribeAutoScalingInstancesOutput, error) {
		out := &autoscaling.DescribeAutoScalingInstancesOutput{AutoScalingInstances: []asgtypes.AutoScalingInstanceDetails{}}
		for _, g := range s.r.AutoScalingGroups {
			if g == nil {
				continue
			}
			for _, st := range []struct {
				state string
				ids   []string
			}{{"InService", g.Instances}, {"Standby", g.Standby}} {
				state := st.state
				for _, id := range st.ids {
					if len(in.InstanceIds) == 0 || contains(in.InstanceIds, id) {
						out.AutoScalingInstances = append(out.AutoScalingInstances, asgtypes.AutoScalingInstanceDetails{
							InstanceId: aws.String(id), AutoScalingGroupName: aws.String(g.Name), LifecycleState: aws.String(state),
							HealthStatus: aws.String("HEALTHY"), ProtectedFromScaleIn: aws.Bool(false),
						})
					}
				}
			}
		}
		return out, nil
	})
}

// DescribeAutoScalingGroups implements cloud.AutoScaling.
func (c *AutoScaling) DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	return run(ctx, &c.c, "DescribeAutoScalingGroups", in, func(s *scope, in *autoscaling.DescribeAutoScalingGroupsInput) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
		out := &autoscaling.DescribeAutoScalingGroupsOutput{AutoScalingGroups: []asgtypes.AutoScalingGroup{}}
		for _, g := range s.r.AutoScalingGroups {
			if g == nil || (len(in.AutoScalingGroupNames) > 0 && !contains(in.AutoScalingGroupNames, g.Name)) {
				continue
			}
			ag := asgtypes.AutoScalingGroup{AutoScalingGroupName: aws.String(g.Name), MinSize: aws.Int32(g.MinSize), MaxSize: aws.Int32(g.MaxSize), DesiredCapacity: aws.Int32(g.DesiredCapacity)}
			for _, id := range g.Instances {
				ag.Instances = append(ag.Instances, asgtypes.Instance{InstanceId: aws.String(id), LifecycleState: asgtypes.LifecycleStateInService, HealthStatus: aws.String("Healthy")})
			}
			for _, id := range g.Standby {
				ag.Instances = append(ag.Instances, asgtypes.Instance{InstanceId: aws.String(id), LifecycleState: asgtypes.LifecycleStateStandby, HealthStatus: aws.String("Healthy")})
			}
			out.AutoScalingGroups = append(out.AutoScalingGroups, ag)
		}
		return out, nil
	})
}

func resize(g *world.AutoScalingGroup, delta int32) error {
	d := g.DesiredCapacity + delta
	if d < g.MinSize {
		return apiError("ValidationError", fmt.Sprintf("Currently, desiredSize equals minSize (%d). Detaching or entering standby with a decrement would violate the min size constraint.", g.MinSize))
	}
	if d > g.MaxSize {
		return apiError("ValidationError", fmt.Sprintf("Desired capacity:%d must be between the specified min size:%d and max size:%d", d, g.MinSize, g.MaxSize))
	}
	g.DesiredCapacity = d
	return nil
}

// DetachInstances implements cloud.AutoScaling. Without a decrement the group would launch
// a replacement; the simulation does not model launches.
func (c *AutoScaling) DetachInstances(ctx context.Context, in *autoscaling.DetachInstancesInput, _ ...func(*autoscaling.Options)) (*autoscaling.DetachInstancesOutput, error) {
	return run(ctx, &c.c, "DetachInstances", in, func(s *scope, in *autoscaling.DetachInstancesInput) (*autoscaling.DetachInstancesOutput, error) {
		if in.ShouldDecrementDesiredCapacity == nil {
			return nil, apiError("ValidationError", "ShouldDecrementDesiredCapacity is required")
		}
		g, err := s.asg(aws.ToString(in.AutoScalingGroupName))
		if err != nil {
			return nil, err
		}
		for _, id := range in.InstanceIds {
			if !contains(g.Instances, id) && !contains(g.Standby, id) {
				return nil, apiError("ValidationError", fmt.Sprintf("The instance %s is not part of Auto Scaling group %s.", id, g.Name))
			}
		}
		out := &autoscaling.DetachInstancesOutput{}
		for _, id := range in.InstanceIds {
			inService := contains(g.Instances, id)
			if aws.ToBool(in.ShouldDecrementDesiredCapacity) && inService {
				if err := resize(g, -1); err != nil {
					return nil, err
				}
			}
			g.Instances, g.Standby = removeString(g.Instances, id), removeString(g.Standby, id)
			out.Activities = append(out.Activities, s.activity(g.Name, "Detaching EC2 instance: "+id))
		}
		if g.Instances == nil {
			g.Instances = []string{}
		}
		return out, nil
	})
}

// AttachInstances implements cloud.AutoScaling; the desired capacity grows to match.
func (c *AutoScaling) AttachInstances(ctx context.Context, in *autoscaling.AttachInstancesInput, _ ...func(*autoscaling.Options)) (*autoscaling.AttachInstancesOutput, error) {
	return run(ctx, &c.c, "AttachInstances", in, func(s *scope, in *autoscaling.AttachInstancesInput) (*autoscaling.AttachInstancesOutput, error) {
		g, err := s.asg(aws.ToString(in.AutoScalingGroupName))
		if err != nil {
			return nil, err
		}
		for _, id := range in.InstanceIds {
			i, err := s.instance(id)
			if err != nil || def(i.State, "running") != "running" {
				return nil, apiError("ValidationError", fmt.Sprintf("Instance %s is not in correct state", id))
			}
		}
		for _, id := range in.InstanceIds {
			if contains(g.Instances, id) || contains(g.Standby, id) {
				continue
			}
			if err := resize(g, 1); err != nil {
				return nil, err
			}
			g.Instances = append(g.Instances, id)
		}
		return &autoscaling.AttachInstancesOutput{}, nil
	})
}

// EnterStandby implements cloud.AutoScaling.
func (c *AutoScaling) EnterStandby(ctx context.Context, in *autoscaling.EnterStandbyInput, _ ...func(*autoscaling.Options)) (*autoscaling.EnterStandbyOutput, error) {
	return run(ctx, &c.c, "EnterStandby", in, func(s *scope, in *autoscaling.EnterStandbyInput) (*autoscaling.EnterStandbyOutput, error) {
		if in.ShouldDecrementDesiredCapacity == nil {
			return nil, apiError("ValidationError", "ShouldDecrementDesiredCapacity is required")
		}
		g, err := s.asg(aws.ToString(in.AutoScalingGroupName))
		if err != nil {
			return nil, err
		}
		for _, id := range in.InstanceIds {
			if !contains(g.Instances, id) {
				return nil, apiError("ValidationError", fmt.Sprintf("The instance %s is not in InService.", id))
			}
		}
		out := &autoscaling.EnterStandbyOutput{}
		for _, id := range in.InstanceIds {
			if aws.ToBool(in.ShouldDecrementDesiredCapacity) {
				if err := resize(g, -1); err != nil {
					return nil, err
				}
			}
			g.Instances, g.Standby = removeString(g.Instances, id), append(g.Standby, id)
			out.Activities = append(out.Activities, s.activity(g.Name, "Moving EC2 instance to Standby: "+id))
		}
		if g.Instances == nil {
			g.Instances = []string{}
		}
		return out, nil
	})
}

// ExitStandby implements cloud.AutoScaling.
func (c *AutoScaling) ExitStandby(ctx context.Context, in *autoscaling.ExitStandbyInput, _ ...func(*autoscaling.Options)) (*autoscaling.ExitStandbyOutput, error) {
	return run(ctx, &c.c, "ExitStandby", in, func(s *scope, in *autoscaling.ExitStandbyInput) (*autoscaling.ExitStandbyOutput, error) {
		g, err := s.asg(aws.ToString(in.AutoScalingGroupName))
		if err != nil {
			return nil, err
		}
		for _, id := range in.InstanceIds {
			if !contains(g.Standby, id) {
				return nil, apiError("ValidationError", fmt.Sprintf("The instance %s is not in Standby.", id))
			}
		}
		out := &autoscaling.ExitStandbyOutput{}
		for _, id := range in.InstanceIds {
			if err := resize(g, 1); err != nil {
				return nil, err
			}
			g.Standby, g.Instances = removeString(g.Standby, id), append(g.Instances, id)
			out.Activities = append(out.Activities, s.activity(g.Name, "Moving EC2 instance out of Standby: "+id))
		}
		return out, nil
	})
}

// ELBv2 is the simulated Elastic Load Balancing v2 API of one account and region.
type ELBv2 struct{ c client }

var _ cloud.ELBv2 = (*ELBv2)(nil)

func (s *scope) targetGroup(arn string) (*world.TargetGroup, error) {
	for _, t := range s.r.TargetGroups {
		if t != nil && t.ARN == arn {
			return t, nil
		}
	}
	return nil, apiError("TargetGroupNotFound", fmt.Sprintf("Target groups '%s' not found", arn))
}

// DescribeTargetGroups implements cloud.ELBv2.
func (c *ELBv2) DescribeTargetGroups(ctx context.Context, in *elb.DescribeTargetGroupsInput, _ ...func(*elb.Options)) (*elb.DescribeTargetGroupsOutput, error) {
	return run(ctx, &c.c, "DescribeTargetGroups", in, func(s *scope, in *elb.DescribeTargetGroupsInput) (*elb.DescribeTargetGroupsOutput, error) {
		for _, arn := range in.TargetGroupArns {
			if _, err := s.targetGroup(arn); err != nil {
				return nil, err
			}
		}
		out := &elb.DescribeTargetGroupsOutput{TargetGroups: []elbtypes.TargetGroup{}}
		for _, t := range s.r.TargetGroups {
			if t == nil || (len(in.TargetGroupArns) > 0 && !contains(in.TargetGroupArns, t.ARN)) || (len(in.Names) > 0 && !contains(in.Names, t.Name)) {
				continue
			}
			out.TargetGroups = append(out.TargetGroups, elbtypes.TargetGroup{TargetGroupArn: aws.String(t.ARN), TargetGroupName: aws.String(t.Name), VpcId: nonEmpty(t.VPC), Protocol: elbtypes.ProtocolEnum(t.Protocol), Port: aws.Int32(t.Port), TargetType: elbtypes.TargetTypeEnumInstance})
		}
		if len(in.Names) > 0 && len(out.TargetGroups) < len(in.Names) {
			return nil, apiError("TargetGroupNotFound", fmt.Sprintf("One or more target groups not found: %s", strings.Join(in.Names, ", ")))
		}
		return out, nil
	})
}

func targetPort(t *world.TargetGroup, d elbtypes.TargetDescription) int32 {
	if d.Port != nil {
		return aws.ToInt32(d.Port)
	}
	return t.Port
}

// DescribeTargetHealth implements cloud.ELBv2: running targets are healthy, others unused.
func (c *ELBv2) DescribeTargetHealth(ctx context.Context, in *elb.DescribeTargetHealthInput, _ ...func(*elb.Options)) (*elb.DescribeTargetHealthOutput, error) {
	return run(ctx, &c.c, "DescribeTargetHealth", in, func(s *scope, in *elb.DescribeTargetHealthInput) (*elb.DescribeTargetHealthOutput, error) {
		t, err := s.targetGroup(aws.ToString(in.TargetGroupArn))
		if err != nil {
			return nil, err
		}
		out := &elb.DescribeTargetHealthOutput{TargetHealthDescriptions: []elbtypes.TargetHealthDescription{}}
		health := func(id string, port int32, registered bool) elbtypes.TargetHealthDescription {
			h := &elbtypes.TargetHealth{State: elbtypes.TargetHealthStateEnumHealthy}
			if !registered {
				h = &elbtypes.TargetHealth{State: elbtypes.TargetHealthStateEnumUnused, Reason: elbtypes.TargetHealthReasonEnumNotRegistered}
			} else if i, err := s.instance(id); err != nil || def(i.State, "running") != "running" {
				h = &elbtypes.TargetHealth{State: elbtypes.TargetHealthStateEnumUnused, Reason: elbtypes.TargetHealthReasonEnumInvalidState}
			}
			return elbtypes.TargetHealthDescription{Target: &elbtypes.TargetDescription{Id: aws.String(id), Port: aws.Int32(port)}, TargetHealth: h}
		}
		if len(in.Targets) > 0 {
			for _, d := range in.Targets {
				port, reg := targetPort(t, d), false
				for _, x := range t.Targets {
					reg = reg || (x != nil && x.ID == aws.ToString(d.Id) && def32(x.Port, t.Port) == port)
				}
				out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, health(aws.ToString(d.Id), port, reg))
			}
			return out, nil
		}
		for _, x := range t.Targets {
			if x != nil {
				out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, health(x.ID, def32(x.Port, t.Port), true))
			}
		}
		return out, nil
	})
}

func def32(v, d int32) int32 {
	if v == 0 {
		return d
	}
	return v
}

// DeregisterTargets implements cloud.ELBv2; deregistering a target that is not registered
// is not an error.
func (c *ELBv2) DeregisterTargets(ctx context.Context, in *elb.DeregisterTargetsInput, _ ...func(*elb.Options)) (*elb.DeregisterTargetsOutput, error) {
	return run(ctx, &c.c, "DeregisterTargets", in, func(s *scope, in *elb.DeregisterTargetsInput) (*elb.DeregisterTargetsOutput, error) {
		t, err := s.targetGroup(aws.ToString(in.TargetGroupArn))
		if err != nil {
			return nil, err
		}
		for _, d := range in.Targets {
			if _, err := s.instance(aws.ToString(d.Id)); err != nil {
				return nil, apiError("InvalidTarget", fmt.Sprintf("The following targets are not valid: %s", aws.ToString(d.Id)))
			}
		}
		var keep []*world.Target
		for _, x := range t.Targets {
			drop := false
			for _, d := range in.Targets {
				drop = drop || (x != nil && x.ID == aws.ToString(d.Id) && def32(x.Port, t.Port) == targetPort(t, d))
			}
			if !drop {
				keep = append(keep, x)
			}
		}
		if keep == nil {
			keep = []*world.Target{}
		}
		t.Targets = keep
		return &elb.DeregisterTargetsOutput{}, nil
	})
}

// RegisterTargets implements cloud.ELBv2. Only running instances can be registered.
func (c *ELBv2) RegisterTargets(ctx context.Context, in *elb.RegisterTargetsInput, _ ...func(*elb.Options)) (*elb.RegisterTargetsOutput, error) {
	return run(ctx, &c.c, "RegisterTargets", in, func(s *scope, in *elb.RegisterTargetsInput) (*elb.RegisterTargetsOutput, error) {
		t, err := s.targetGroup(aws.ToString(in.TargetGroupArn))
		if err != nil {
			return nil, err
		}
		for _, d := range in.Targets {
			i, err := s.instance(aws.ToString(d.Id))
			if err != nil || def(i.State, "running") != "running" {
				return nil, apiError("InvalidTarget", fmt.Sprintf("The following targets are not in a running state and cannot be registered: '%s'", aws.ToString(d.Id)))
			}
		}
		for _, d := range in.Targets {
			port, dup := targetPort(t, d), false
			for _, x := range t.Targets {
				dup = dup || (x != nil && x.ID == aws.ToString(d.Id) && def32(x.Port, t.Port) == port)
			}
			if !dup {
				nt := &world.Target{ID: aws.ToString(d.Id)}
				if port != t.Port {
					nt.Port = port
				}
				t.Targets = append(t.Targets, nt)
			}
		}
		return &elb.RegisterTargetsOutput{}, nil
	})
}

// STS is the hub account's simulated STS API.
type STS struct{ c client }

var _ cloud.STS = (*STS)(nil)

// STS returns the hub's STS client. AssumeRole into an account the Org denies, or does not
// know, fails with AccessDenied, as the member account's trust policy would make it.
func (o *Org) STS() *STS {
	return &STS{client{org: o, acct: &account{a: &world.Account{ID: o.opts.Hub, Regions: map[string]*world.Region{}, IAM: &world.IAM{}}, polls: map[string]int{}}, account: o.opts.Hub, region: globalRegion, service: "sts"}}
}

// AssumeRole implements cloud.STS.
func (c *STS) AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, _ ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	return run(ctx, &c.c, "AssumeRole", in, func(s *scope, in *sts.AssumeRoleInput) (*sts.AssumeRoleOutput, error) {
		arn := aws.ToString(in.RoleArn)
		parts := strings.SplitN(arn, ":", 6)
		if len(parts) != 6 || parts[2] != "iam" || !strings.HasPrefix(parts[5], "role/") {
			return nil, apiError("ValidationError", fmt.Sprintf("%s is invalid", arn))
		}
		if aws.ToString(in.RoleSessionName) == "" {
			return nil, apiError("ValidationError", "1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null")
		}
		if _, err := s.c.org.member(parts[4]); err != nil {
			return nil, apiError("AccessDenied", fmt.Sprintf("User: arn:aws:sts::%s:assumed-role/firebreak is not authorized to perform: sts:AssumeRole on resource: %s", s.c.org.opts.Hub, arn))
		}
		exp := s.c.org.opts.Now().Add(time.Hour)
		id := s.newID("ASIA")
		return &sts.AssumeRoleOutput{
			Credentials:     &ststypes.Credentials{AccessKeyId: aws.String(strings.ToUpper(id)), SecretAccessKey: aws.String("sim-secret-" + id), SessionToken: aws.String("sim-token-" + id), Expiration: &exp},
			AssumedRoleUser: &ststypes.AssumedRoleUser{Arn: aws.String(fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", parts[4], strings.TrimPrefix(parts[5], "role/"), aws.ToString(in.RoleSessionName))), AssumedRoleId: aws.String("AROA" + strings.ToUpper(id[4:]) + ":" + aws.ToString(in.RoleSessionName))},
		}, nil
	})
}

// GetCallerIdentity implements cloud.STS.
func (c *STS) GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, _ ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	return run(ctx, &c.c, "GetCallerIdentity", in, func(s *scope, in *sts.GetCallerIdentityInput) (*sts.GetCallerIdentityOutput, error) {
		return &sts.GetCallerIdentityOutput{Account: aws.String(s.a.ID), Arn: aws.String(fmt.Sprintf("arn:aws:sts::%s:assumed-role/firebreak/hub", s.a.ID)), UserId: aws.String("AROAHUB:hub")}, nil
	})
}
