package pace

// The wrappers below are mechanical: each waits for its account's slot through call and
// forwards to the wrapped client. TestEveryOperationIsPaced fails when an operation added
// to a cloud interface has no wrapper here, and the compiler fails when one is missing.

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/networkfirewall"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/wafv2"

	"github.com/firebreak-sec/firebreak/internal/cloud"
)

// Every wrapper implements its interface in full.
var (
	_ cloud.EC2             = ec2Client{}
	_ cloud.IAM             = iamClient{}
	_ cloud.CloudTrail      = cloudTrailClient{}
	_ cloud.WAF             = wafClient{}
	_ cloud.NetworkFirewall = networkFirewallClient{}
	_ cloud.S3              = s3Client{}
	_ cloud.SSM             = ssmClient{}
	_ cloud.SecurityHub     = securityHubClient{}
	_ cloud.GuardDuty       = guardDutyClient{}
	_ cloud.AutoScaling     = autoScalingClient{}
	_ cloud.ELBv2           = elbv2Client{}
	_ cloud.SNS             = snsClient{}
)

// ec2Client paces a cloud.EC2.
type ec2Client struct {
	next cloud.EC2
	l    *limiter
}

func (c ec2Client) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, o ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	return call(ctx, c.l, in, o, c.next.DescribeInstances)
}

func (c ec2Client) DescribeInstanceAttribute(ctx context.Context, in *ec2.DescribeInstanceAttributeInput, o ...func(*ec2.Options)) (*ec2.DescribeInstanceAttributeOutput, error) {
	return call(ctx, c.l, in, o, c.next.DescribeInstanceAttribute)
}

func (c ec2Client) ModifyInstanceAttribute(ctx context.Context, in *ec2.ModifyInstanceAttributeInput, o ...func(*ec2.Options)) (*ec2.ModifyInstanceAttributeOutput, error) {
	return call(ctx, c.l, in, o, c.next.ModifyInstanceAttribute)
}

func (c ec2Client) ModifyInstanceMetadataOptions(ctx context.Context, in *ec2.ModifyInstanceMetadataOptionsInput, o ...func(*ec2.Options)) (*ec2.ModifyInstanceMetadataOptionsOutput, error) {
	return call(ctx, c.l, in, o, c.next.ModifyInstanceMetadataOptions)
}

func (c ec2Client) StopInstances(ctx context.Context, in *ec2.StopInstancesInput, o ...func(*ec2.Options)) (*ec2.StopInstancesOutput, error) {
	return call(ctx, c.l, in, o, c.next.StopInstances)
}

func (c ec2Client) StartInstances(ctx context.Context, in *ec2.StartInstancesInput, o ...func(*ec2.Options)) (*ec2.StartInstancesOutput, error) {
	return call(ctx, c.l, in, o, c.next.StartInstances)
}

func (c ec2Client) TerminateInstances(ctx context.Context, in *ec2.TerminateInstancesInput, o ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error) {
	return call(ctx, c.l, in, o, c.next.TerminateInstances)
}

func (c ec2Client) DescribeVolumes(ctx context.Context, in *ec2.DescribeVolumesInput, o ...func(*ec2.Options)) (*ec2.DescribeVolumesOutput, error) {
	return call(ctx, c.l, in, o, c.next.DescribeVolumes)
}

func (c ec2Client) CreateSnapshot(ctx context.Context, in *ec2.CreateSnapshotInput, o ...func(*ec2.Options)) (*ec2.CreateSnapshotOutput, error) {
	return call(ctx, c.l, in, o, c.next.CreateSnapshot)
}

func (c ec2Client) CreateSnapshots(ctx context.Context, in *ec2.CreateSnapshotsInput, o ...func(*ec2.Options)) (*ec2.CreateSnapshotsOutput, error) {
	return call(ctx, c.l, in, o, c.next.CreateSnapshots)
}

func (c ec2Client) DescribeSnapshots(ctx context.Context, in *ec2.DescribeSnapshotsInput, o ...func(*ec2.Options)) (*ec2.DescribeSnapshotsOutput, error) {
	return call(ctx, c.l, in, o, c.next.DescribeSnapshots)
}

func (c ec2Client) DeleteSnapshot(ctx context.Context, in *ec2.DeleteSnapshotInput, o ...func(*ec2.Options)) (*ec2.DeleteSnapshotOutput, error) {
	return call(ctx, c.l, in, o, c.next.DeleteSnapshot)
}

func (c ec2Client) CreateTags(ctx context.Context, in *ec2.CreateTagsInput, o ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error) {
	return call(ctx, c.l, in, o, c.next.CreateTags)
}

func (c ec2Client) DeleteTags(ctx context.Context, in *ec2.DeleteTagsInput, o ...func(*ec2.Options)) (*ec2.DeleteTagsOutput, error) {
	return call(ctx, c.l, in, o, c.next.DeleteTags)
}

func (c ec2Client) DescribeSecurityGroups(ctx context.Context, in *ec2.DescribeSecurityGroupsInput, o ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error) {
	return call(ctx, c.l, in, o, c.next.DescribeSecurityGroups)
}

func (c ec2Client) DescribeSecurityGroupRules(ctx context.Context, in *ec2.DescribeSecurityGroupRulesInput, o ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupRulesOutput, error) {
	return call(ctx, c.l, in, o, c.next.DescribeSecurityGroupRules)
}

func (c ec2Client) CreateSecurityGroup(ctx context.Context, in *ec2.CreateSecurityGroupInput, o ...func(*ec2.Options)) (*ec2.CreateSecurityGroupOutput, error) {
	return call(ctx, c.l, in, o, c.next.CreateSecurityGroup)
}

func (c ec2Client) DeleteSecurityGroup(ctx context.Context, in *ec2.DeleteSecurityGroupInput, o ...func(*ec2.Options)) (*ec2.DeleteSecurityGroupOutput, error) {
	return call(ctx, c.l, in, o, c.next.DeleteSecurityGroup)
}

func (c ec2Client) AuthorizeSecurityGroupIngress(ctx context.Context, in *ec2.AuthorizeSecurityGroupIngressInput, o ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupIngressOutput, error) {
	return call(ctx, c.l, in, o, c.next.AuthorizeSecurityGroupIngress)
}

func (c ec2Client) AuthorizeSecurityGroupEgress(ctx context.Context, in *ec2.AuthorizeSecurityGroupEgressInput, o ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupEgressOutput, error) {
	return call(ctx, c.l, in, o, c.next.AuthorizeSecurityGroupEgress)
}

func (c ec2Client) RevokeSecurityGroupIngress(ctx context.Context, in *ec2.RevokeSecurityGroupIngressInput, o ...func(*ec2.Options)) (*ec2.RevokeSecurityGroupIngressOutput, error) {
	return call(ctx, c.l, in, o, c.next.RevokeSecurityGroupIngress)
}

func (c ec2Client) RevokeSecurityGroupEgress(ctx context.Context, in *ec2.RevokeSecurityGroupEgressInput, o ...func(*ec2.Options)) (*ec2.RevokeSecurityGroupEgressOutput, error) {
	return call(ctx, c.l, in, o, c.next.RevokeSecurityGroupEgress)
}

func (c ec2Client) DescribeNetworkInterfaces(ctx context.Context, in *ec2.DescribeNetworkInterfacesInput, o ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error) {
	return call(ctx, c.l, in, o, c.next.DescribeNetworkInterfaces)
}

func (c ec2Client) ModifyNetworkInterfaceAttribute(ctx context.Context, in *ec2.ModifyNetworkInterfaceAttributeInput, o ...func(*ec2.Options)) (*ec2.ModifyNetworkInterfaceAttributeOutput, error) {
	return call(ctx, c.l, in, o, c.next.ModifyNetworkInterfaceAttribute)
}

func (c ec2Client) DescribeNetworkAcls(ctx context.Context, in *ec2.DescribeNetworkAclsInput, o ...func(*ec2.Options)) (*ec2.DescribeNetworkAclsOutput, error) {
	return call(ctx, c.l, in, o, c.next.DescribeNetworkAcls)
}

func (c ec2Client) CreateNetworkAclEntry(ctx context.Context, in *ec2.CreateNetworkAclEntryInput, o ...func(*ec2.Options)) (*ec2.CreateNetworkAclEntryOutput, error) {
	return call(ctx, c.l, in, o, c.next.CreateNetworkAclEntry)
}

func (c ec2Client) DeleteNetworkAclEntry(ctx context.Context, in *ec2.DeleteNetworkAclEntryInput, o ...func(*ec2.Options)) (*ec2.DeleteNetworkAclEntryOutput, error) {
	return call(ctx, c.l, in, o, c.next.DeleteNetworkAclEntry)
}

// iamClient paces a cloud.IAM.
type iamClient struct {
	next cloud.IAM
	l    *limiter
}

func (c iamClient) GetUser(ctx context.Context, in *iam.GetUserInput, o ...func(*iam.Options)) (*iam.GetUserOutput, error) {
	return call(ctx, c.l, in, o, c.next.GetUser)
}

func (c iamClient) ListAccessKeys(ctx context.Context, in *iam.ListAccessKeysInput, o ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error) {
	return call(ctx, c.l, in, o, c.next.ListAccessKeys)
}

func (c iamClient) UpdateAccessKey(ctx context.Context, in *iam.UpdateAccessKeyInput, o ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error) {
	return call(ctx, c.l, in, o, c.next.UpdateAccessKey)
}

func (c iamClient) GetLoginProfile(ctx context.Context, in *iam.GetLoginProfileInput, o ...func(*iam.Options)) (*iam.GetLoginProfileOutput, error) {
	return call(ctx, c.l, in, o, c.next.GetLoginProfile)
}

func (c iamClient) CreateLoginProfile(ctx context.Context, in *iam.CreateLoginProfileInput, o ...func(*iam.Options)) (*iam.CreateLoginProfileOutput, error) {
	return call(ctx, c.l, in, o, c.next.CreateLoginProfile)
}

func (c iamClient) DeleteLoginProfile(ctx context.Context, in *iam.DeleteLoginProfileInput, o ...func(*iam.Options)) (*iam.DeleteLoginProfileOutput, error) {
	return call(ctx, c.l, in, o, c.next.DeleteLoginProfile)
}

func (c iamClient) GetUserPolicy(ctx context.Context, in *iam.GetUserPolicyInput, o ...func(*iam.Options)) (*iam.GetUserPolicyOutput, error) {
	return call(ctx, c.l, in, o, c.next.GetUserPolicy)
}

func (c iamClient) PutUserPolicy(ctx context.Context, in *iam.PutUserPolicyInput, o ...func(*iam.Options)) (*iam.PutUserPolicyOutput, error) {
	return call(ctx, c.l, in, o, c.next.PutUserPolicy)
}

func (c iamClient) DeleteUserPolicy(ctx context.Context, in *iam.DeleteUserPolicyInput, o ...func(*iam.Options)) (*iam.DeleteUserPolicyOutput, error) {
	return call(ctx, c.l, in, o, c.next.DeleteUserPolicy)
}

func (c iamClient) ListUserTags(ctx context.Context, in *iam.ListUserTagsInput, o ...func(*iam.Options)) (*iam.ListUserTagsOutput, error) {
	return call(ctx, c.l, in, o, c.next.ListUserTags)
}

func (c iamClient) TagUser(ctx context.Context, in *iam.TagUserInput, o ...func(*iam.Options)) (*iam.TagUserOutput, error) {
	return call(ctx, c.l, in, o, c.next.TagUser)
}

func (c iamClient) UntagUser(ctx context.Context, in *iam.UntagUserInput, o ...func(*iam.Options)) (*iam.UntagUserOutput, error) {
	return call(ctx, c.l, in, o, c.next.UntagUser)
}

func (c iamClient) GetRole(ctx context.Context, in *iam.GetRoleInput, o ...func(*iam.Options)) (*iam.GetRoleOutput, error) {
	return call(ctx, c.l, in, o, c.next.GetRole)
}

func (c iamClient) GetRolePolicy(ctx context.Context, in *iam.GetRolePolicyInput, o ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error) {
	return call(ctx, c.l, in, o, c.next.GetRolePolicy)
}

func (c iamClient) PutRolePolicy(ctx context.Context, in *iam.PutRolePolicyInput, o ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error) {
	return call(ctx, c.l, in, o, c.next.PutRolePolicy)
}

func (c iamClient) DeleteRolePolicy(ctx context.Context, in *iam.DeleteRolePolicyInput, o ...func(*iam.Options)) (*iam.DeleteRolePolicyOutput, error) {
	return call(ctx, c.l, in, o, c.next.DeleteRolePolicy)
}

func (c iamClient) TagRole(ctx context.Context, in *iam.TagRoleInput, o ...func(*iam.Options)) (*iam.TagRoleOutput, error) {
	return call(ctx, c.l, in, o, c.next.TagRole)
}

func (c iamClient) UntagRole(ctx context.Context, in *iam.UntagRoleInput, o ...func(*iam.Options)) (*iam.UntagRoleOutput, error) {
	return call(ctx, c.l, in, o, c.next.UntagRole)
}

// cloudTrailClient paces a cloud.CloudTrail.
type cloudTrailClient struct {
	next cloud.CloudTrail
	l    *limiter
}

func (c cloudTrailClient) DescribeTrails(ctx context.Context, in *cloudtrail.DescribeTrailsInput, o ...func(*cloudtrail.Options)) (*cloudtrail.DescribeTrailsOutput, error) {
	return call(ctx, c.l, in, o, c.next.DescribeTrails)
}

func (c cloudTrailClient) GetTrailStatus(ctx context.Context, in *cloudtrail.GetTrailStatusInput, o ...func(*cloudtrail.Options)) (*cloudtrail.GetTrailStatusOutput, error) {
	return call(ctx, c.l, in, o, c.next.GetTrailStatus)
}

func (c cloudTrailClient) StartLogging(ctx context.Context, in *cloudtrail.StartLoggingInput, o ...func(*cloudtrail.Options)) (*cloudtrail.StartLoggingOutput, error) {
	return call(ctx, c.l, in, o, c.next.StartLogging)
}

func (c cloudTrailClient) StopLogging(ctx context.Context, in *cloudtrail.StopLoggingInput, o ...func(*cloudtrail.Options)) (*cloudtrail.StopLoggingOutput, error) {
	return call(ctx, c.l, in, o, c.next.StopLogging)
}

// wafClient paces a cloud.WAF.
type wafClient struct {
	next cloud.WAF
	l    *limiter
}

func (c wafClient) ListIPSets(ctx context.Context, in *wafv2.ListIPSetsInput, o ...func(*wafv2.Options)) (*wafv2.ListIPSetsOutput, error) {
	return call(ctx, c.l, in, o, c.next.ListIPSets)
}

func (c wafClient) GetIPSet(ctx context.Context, in *wafv2.GetIPSetInput, o ...func(*wafv2.Options)) (*wafv2.GetIPSetOutput, error) {
	return call(ctx, c.l, in, o, c.next.GetIPSet)
}

func (c wafClient) CreateIPSet(ctx context.Context, in *wafv2.CreateIPSetInput, o ...func(*wafv2.Options)) (*wafv2.CreateIPSetOutput, error) {
	return call(ctx, c.l, in, o, c.next.CreateIPSet)
}

func (c wafClient) UpdateIPSet(ctx context.Context, in *wafv2.UpdateIPSetInput, o ...func(*wafv2.Options)) (*wafv2.UpdateIPSetOutput, error) {
	return call(ctx, c.l, in, o, c.next.UpdateIPSet)
}

// networkFirewallClient paces a cloud.NetworkFirewall.
type networkFirewallClient struct {
	next cloud.NetworkFirewall
	l    *limiter
}

func (c networkFirewallClient) DescribeRuleGroup(ctx context.Context, in *networkfirewall.DescribeRuleGroupInput, o ...func(*networkfirewall.Options)) (*networkfirewall.DescribeRuleGroupOutput, error) {
	return call(ctx, c.l, in, o, c.next.DescribeRuleGroup)
}

func (c networkFirewallClient) UpdateRuleGroup(ctx context.Context, in *networkfirewall.UpdateRuleGroupInput, o ...func(*networkfirewall.Options)) (*networkfirewall.UpdateRuleGroupOutput, error) {
	return call(ctx, c.l, in, o, c.next.UpdateRuleGroup)
}

// s3Client paces a cloud.S3.
type s3Client struct {
	next cloud.S3
	l    *limiter
}

func (c s3Client) GetPublicAccessBlock(ctx context.Context, in *s3.GetPublicAccessBlockInput, o ...func(*s3.Options)) (*s3.GetPublicAccessBlockOutput, error) {
	return call(ctx, c.l, in, o, c.next.GetPublicAccessBlock)
}

func (c s3Client) PutPublicAccessBlock(ctx context.Context, in *s3.PutPublicAccessBlockInput, o ...func(*s3.Options)) (*s3.PutPublicAccessBlockOutput, error) {
	return call(ctx, c.l, in, o, c.next.PutPublicAccessBlock)
}

func (c s3Client) DeletePublicAccessBlock(ctx context.Context, in *s3.DeletePublicAccessBlockInput, o ...func(*s3.Options)) (*s3.DeletePublicAccessBlockOutput, error) {
	return call(ctx, c.l, in, o, c.next.DeletePublicAccessBlock)
}

func (c s3Client) GetBucketEncryption(ctx context.Context, in *s3.GetBucketEncryptionInput, o ...func(*s3.Options)) (*s3.GetBucketEncryptionOutput, error) {
	return call(ctx, c.l, in, o, c.next.GetBucketEncryption)
}

func (c s3Client) PutBucketEncryption(ctx context.Context, in *s3.PutBucketEncryptionInput, o ...func(*s3.Options)) (*s3.PutBucketEncryptionOutput, error) {
	return call(ctx, c.l, in, o, c.next.PutBucketEncryption)
}

func (c s3Client) DeleteBucketEncryption(ctx context.Context, in *s3.DeleteBucketEncryptionInput, o ...func(*s3.Options)) (*s3.DeleteBucketEncryptionOutput, error) {
	return call(ctx, c.l, in, o, c.next.DeleteBucketEncryption)
}

func (c s3Client) GetBucketTagging(ctx context.Context, in *s3.GetBucketTaggingInput, o ...func(*s3.Options)) (*s3.GetBucketTaggingOutput, error) {
	return call(ctx, c.l, in, o, c.next.GetBucketTagging)
}

func (c s3Client) PutBucketTagging(ctx context.Context, in *s3.PutBucketTaggingInput, o ...func(*s3.Options)) (*s3.PutBucketTaggingOutput, error) {
	return call(ctx, c.l, in, o, c.next.PutBucketTagging)
}

func (c s3Client) DeleteBucketTagging(ctx context.Context, in *s3.DeleteBucketTaggingInput, o ...func(*s3.Options)) (*s3.DeleteBucketTaggingOutput, error) {
	return call(ctx, c.l, in, o, c.next.DeleteBucketTagging)
}

func (c s3Client) GetObjectLockConfiguration(ctx context.Context, in *s3.GetObjectLockConfigurationInput, o ...func(*s3.Options)) (*s3.GetObjectLockConfigurationOutput, error) {
	return call(ctx, c.l, in, o, c.next.GetObjectLockConfiguration)
}

func (c s3Client) PutObject(ctx context.Context, in *s3.PutObjectInput, o ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	return call(ctx, c.l, in, o, c.next.PutObject)
}

func (c s3Client) GetObjectRetention(ctx context.Context, in *s3.GetObjectRetentionInput, o ...func(*s3.Options)) (*s3.GetObjectRetentionOutput, error) {
	return call(ctx, c.l, in, o, c.next.GetObjectRetention)
}

// ssmClient paces a cloud.SSM.
type ssmClient struct {
	next cloud.SSM
	l    *limiter
}

func (c ssmClient) DescribeInstanceInformation(ctx context.Context, in *ssm.DescribeInstanceInformationInput, o ...func(*ssm.Options)) (*ssm.DescribeInstanceInformationOutput, error) {
	return call(ctx, c.l, in, o, c.next.DescribeInstanceInformation)
}

func (c ssmClient) SendCommand(ctx context.Context, in *ssm.SendCommandInput, o ...func(*ssm.Options)) (*ssm.SendCommandOutput, error) {
	return call(ctx, c.l, in, o, c.next.SendCommand)
}

func (c ssmClient) GetCommandInvocation(ctx context.Context, in *ssm.GetCommandInvocationInput, o ...func(*ssm.Options)) (*ssm.GetCommandInvocationOutput, error) {
	return call(ctx, c.l, in, o, c.next.GetCommandInvocation)
}

func (c ssmClient) ListCommandInvocations(ctx context.Context, in *ssm.ListCommandInvocationsInput, o ...func(*ssm.Options)) (*ssm.ListCommandInvocationsOutput, error) {
	return call(ctx, c.l, in, o, c.next.ListCommandInvocations)
}

func (c ssmClient) StartAutomationExecution(ctx context.Context, in *ssm.StartAutomationExecutionInput, o ...func(*ssm.Options)) (*ssm.StartAutomationExecutionOutput, error) {
	return call(ctx, c.l, in, o, c.next.StartAutomationExecution)
}

func (c ssmClient) GetAutomationExecution(ctx context.Context, in *ssm.GetAutomationExecutionInput, o ...func(*ssm.Options)) (*ssm.GetAutomationExecutionOutput, error) {
	return call(ctx, c.l, in, o, c.next.GetAutomationExecution)
}

func (c ssmClient) StopAutomationExecution(ctx context.Context, in *ssm.StopAutomationExecutionInput, o ...func(*ssm.Options)) (*ssm.StopAutomationExecutionOutput, error) {
	return call(ctx, c.l, in, o, c.next.StopAutomationExecution)
}

// securityHubClient paces a cloud.SecurityHub.
type securityHubClient struct {
	next cloud.SecurityHub
	l    *limiter
}

func (c securityHubClient) GetFindings(ctx context.Context, in *securityhub.GetFindingsInput, o ...func(*securityhub.Options)) (*securityhub.GetFindingsOutput, error) {
	return call(ctx, c.l, in, o, c.next.GetFindings)
}

func (c securityHubClient) BatchUpdateFindings(ctx context.Context, in *securityhub.BatchUpdateFindingsInput, o ...func(*securityhub.Options)) (*securityhub.BatchUpdateFindingsOutput, error) {
	return call(ctx, c.l, in, o, c.next.BatchUpdateFindings)
}

// guardDutyClient paces a cloud.GuardDuty.
type guardDutyClient struct {
	next cloud.GuardDuty
	l    *limiter
}

func (c guardDutyClient) ListDetectors(ctx context.Context, in *guardduty.ListDetectorsInput, o ...func(*guardduty.Options)) (*guardduty.ListDetectorsOutput, error) {
	return call(ctx, c.l, in, o, c.next.ListDetectors)
}

func (c guardDutyClient) GetFindings(ctx context.Context, in *guardduty.GetFindingsInput, o ...func(*guardduty.Options)) (*guardduty.GetFindingsOutput, error) {
	return call(ctx, c.l, in, o, c.next.GetFindings)
}

func (c guardDutyClient) ArchiveFindings(ctx context.Context, in *guardduty.ArchiveFindingsInput, o ...func(*guardduty.Options)) (*guardduty.ArchiveFindingsOutput, error) {
	return call(ctx, c.l, in, o, c.next.ArchiveFindings)
}

func (c guardDutyClient) UnarchiveFindings(ctx context.Context, in *guardduty.UnarchiveFindingsInput, o ...func(*guardduty.Options)) (*guardduty.UnarchiveFindingsOutput, error) {
	return call(ctx, c.l, in, o, c.next.UnarchiveFindings)
}

// autoScalingClient paces a cloud.AutoScaling.
type autoScalingClient struct {
	next cloud.AutoScaling
	l    *limiter
}

func (c autoScalingClient) DescribeAutoScalingInstances(ctx context.Context, in *autoscaling.DescribeAutoScalingInstancesInput, o ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingInstancesOutput, error) {
	return call(ctx, c.l, in, o, c.next.DescribeAutoScalingInstances)
}

func (c autoScalingClient) DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, o ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	return call(ctx, c.l, in, o, c.next.DescribeAutoScalingGroups)
}

func (c autoScalingClient) DetachInstances(ctx context.Context, in *autoscaling.DetachInstancesInput, o ...func(*autoscaling.Options)) (*autoscaling.DetachInstancesOutput, error) {
	return call(ctx, c.l, in, o, c.next.DetachInstances)
}

func (c autoScalingClient) AttachInstances(ctx context.Context, in *autoscaling.AttachInstancesInput, o ...func(*autoscaling.Options)) (*autoscaling.AttachInstancesOutput, error) {
	return call(ctx, c.l, in, o, c.next.AttachInstances)
}

func (c autoScalingClient) EnterStandby(ctx context.Context, in *autoscaling.EnterStandbyInput, o ...func(*autoscaling.Options)) (*autoscaling.EnterStandbyOutput, error) {
	return call(ctx, c.l, in, o, c.next.EnterStandby)
}

func (c autoScalingClient) ExitStandby(ctx context.Context, in *autoscaling.ExitStandbyInput, o ...func(*autoscaling.Options)) (*autoscaling.ExitStandbyOutput, error) {
	return call(ctx, c.l, in, o, c.next.ExitStandby)
}

// elbv2Client paces a cloud.ELBv2.
type elbv2Client struct {
	next cloud.ELBv2
	l    *limiter
}

func (c elbv2Client) DescribeTargetGroups(ctx context.Context, in *elasticloadbalancingv2.DescribeTargetGroupsInput, o ...func(*elasticloadbalancingv2.Options)) (*elasticloadbalancingv2.DescribeTargetGroupsOutput, error) {
	return call(ctx, c.l, in, o, c.next.DescribeTargetGroups)
}

func (c elbv2Client) DescribeTargetHealth(ctx context.Context, in *elasticloadbalancingv2.DescribeTargetHealthInput, o ...func(*elasticloadbalancingv2.Options)) (*elasticloadbalancingv2.DescribeTargetHealthOutput, error) {
	return call(ctx, c.l, in, o, c.next.DescribeTargetHealth)
}

func (c elbv2Client) DeregisterTargets(ctx context.Context, in *elasticloadbalancingv2.DeregisterTargetsInput, o ...func(*elasticloadbalancingv2.Options)) (*elasticloadbalancingv2.DeregisterTargetsOutput, error) {
	return call(ctx, c.l, in, o, c.next.DeregisterTargets)
}

func (c elbv2Client) RegisterTargets(ctx context.Context, in *elasticloadbalancingv2.RegisterTargetsInput, o ...func(*elasticloadbalancingv2.Options)) (*elasticloadbalancingv2.RegisterTargetsOutput, error) {
	return call(ctx, c.l, in, o, c.next.RegisterTargets)
}

// snsClient paces a cloud.SNS.
type snsClient struct {
	next cloud.SNS
	l    *limiter
}

func (c snsClient) Publish(ctx context.Context, in *sns.PublishInput, o ...func(*sns.Options)) (*sns.PublishOutput, error) {
	return call(ctx, c.l, in, o, c.next.Publish)
}
