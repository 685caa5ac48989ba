package moto

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/networkfirewall"
	nfwtypes "github.com/aws/aws-sdk-go-v2/service/networkfirewall/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/wafv2"
	waftypes "github.com/aws/aws-sdk-go-v2/service/wafv2/types"

	"github.com/firebreak-sec/firebreak/internal/cloud"
	awscloud "github.com/firebreak-sec/firebreak/internal/cloud/aws"
)

// TestMotoOrganisation seeds the organisation and reads every resource back through
// Firebreak's own Provider, which reaches each account by assuming its responder role.
func TestMotoOrganisation(t *testing.T) {
	url, _ := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	org, err := Seed(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if len(org.Accounts) != 3 {
		t.Fatalf("seeded %d accounts, want 3", len(org.Accounts))
	}
	hub, err := Config(ctx, url, HubAccount)
	if err != nil {
		t.Fatal(err)
	}
	p, err := awscloud.NewFromConfig(hub, awscloud.Options{Endpoint: url})
	if err != nil {
		t.Fatal(err)
	}

	for _, a := range org.Accounts {
		t.Run(a.ID, func(t *testing.T) {
			checkNetwork(ctx, t, p, a)
			checkIAM(ctx, t, p, a)
			checkTrail(ctx, t, p, a)
			checkWAF(ctx, t, p, a)
			checkBucket(ctx, t, p, a)
		})
	}

	t.Run("accounts are separate", func(t *testing.T) {
		for _, a := range org.Accounts {
			for _, b := range org.Accounts {
				if a.ID == b.ID {
					continue
				}
				c, err := p.EC2(ctx, b.ID, Region)
				if err != nil {
					t.Fatal(err)
				}
				_, err = c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{a.Instance}})
				if cloud.Classify(err) != cloud.NotFound {
					t.Errorf("account %s sees %s's instance %s: err %v", b.ID, a.ID, a.Instance, err)
				}
				ic, err := p.IAM(ctx, b.ID)
				if err != nil {
					t.Fatal(err)
				}
				keys, err := ic.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
				if err != nil {
					t.Fatal(err)
				}
				for _, k := range keys.AccessKeyMetadata {
					if aws.ToString(k.AccessKeyId) == a.AccessKey {
						t.Errorf("account %s lists %s's access key %s", b.ID, a.ID, a.AccessKey)
					}
				}
			}
		}
		hubEC2 := ec2.NewFromConfig(hub)
		vpcs, err := hubEC2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vpcs.Vpcs {
			for _, a := range org.Accounts {
				if aws.ToString(v.VpcId) == a.VPC {
					t.Errorf("hub account sees %s's VPC %s", a.ID, a.VPC)
				}
			}
		}
	})

	t.Run("reset empties every account", func(t *testing.T) {
		if err := Reset(url); err != nil {
			t.Fatal(err)
		}
		a := org.Accounts[0]
		cfg, err := Config(ctx, url, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ec2.NewFromConfig(cfg).DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{a.Instance}})
		if cloud.Classify(err) != cloud.NotFound {
			t.Errorf("instance %s survived the reset: err %v", a.Instance, err)
		}
	})
}

func checkNetwork(ctx context.Context, t *testing.T, p *awscloud.Provider, a Account) {
	t.Helper()
	c, err := p.EC2(ctx, a.ID, Region)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{a.Instance}})
	if err != nil {
		t.Fatalf("describe instance: %v", err)
	}
	inst := out.Reservations[0].Instances[0]
	if inst.State.Name != ec2types.InstanceStateNameRunning {
		t.Errorf("instance state %s, want running", inst.State.Name)
	}
	if got := aws.ToString(inst.SubnetId); got != a.Subnet {
		t.Errorf("instance subnet %s, want %s", got, a.Subnet)
	}
	if len(inst.SecurityGroups) != 1 || aws.ToString(inst.SecurityGroups[0].GroupId) != a.SecurityGroup {
		t.Errorf("instance groups %v, want [%s]", inst.SecurityGroups, a.SecurityGroup)
	}
	tags := map[string]string{}
	for _, tag := range inst.Tags {
		tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	if tags["Environment"] != a.Environment || tags["Owner"] != "team-web" {
		t.Errorf("instance tags %v, want Environment=%s Owner=team-web", tags, a.Environment)
	}
	sgs, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{a.SecurityGroup}})
	if err != nil {
		t.Fatalf("describe security group: %v", err)
	}
	sg := sgs.SecurityGroups[0]
	if aws.ToString(sg.VpcId) != a.VPC {
		t.Errorf("security group in %s, want %s", aws.ToString(sg.VpcId), a.VPC)
	}
	open := false
	for _, perm := range sg.IpPermissions {
		for _, r := range perm.IpRanges {
			if aws.ToString(perm.IpProtocol) == "tcp" && aws.ToInt32(perm.FromPort) == 443 && aws.ToString(r.CidrIp) == "0.0.0.0/0" {
				open = true
			}
		}
	}
	if !open {
		t.Errorf("security group ingress %v lacks tcp 443 from 0.0.0.0/0", sg.IpPermissions)
	}

	vols, err := c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: a.Volumes})
	if err != nil {
		t.Fatalf("describe volumes: %v", err)
	}
	if len(vols.Volumes) == 0 || len(vols.Volumes) != len(a.Volumes) {
		t.Fatalf("found %d volumes, want %d (at least one)", len(vols.Volumes), len(a.Volumes))
	}
	for _, v := range vols.Volumes {
		if len(v.Attachments) != 1 || aws.ToString(v.Attachments[0].InstanceId) != a.Instance {
			t.Errorf("volume %s attachments %v, want %s", aws.ToString(v.VolumeId), v.Attachments, a.Instance)
		}
	}
}

func checkIAM(ctx context.Context, t *testing.T, p *awscloud.Provider, a Account) {
	t.Helper()
	c, err := p.IAM(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	user, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(a.User)})
	if err != nil {
		t.Fatalf("get user: %v", err)
	}
	if !strings.Contains(aws.ToString(user.User.Arn), ":"+a.ID+":") {
		t.Errorf("user ARN %s is not in account %s", aws.ToString(user.User.Arn), a.ID)
	}
	keys, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(a.User)})
	if err != nil {
		t.Fatalf("list access keys: %v", err)
	}
	if len(keys.AccessKeyMetadata) != 1 || aws.ToString(keys.AccessKeyMetadata[0].AccessKeyId) != a.AccessKey ||
		keys.AccessKeyMetadata[0].Status != "Active" {
		t.Errorf("access keys %+v, want one active %s", keys.AccessKeyMetadata, a.AccessKey)
	}
	if _, err := c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(a.User)}); err != nil {
		t.Errorf("get login profile: %v", err)
	}
	for _, role := range []string{a.Role, RoleName} {
		if _, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(role)}); err != nil {
			t.Errorf("get role %s: %v", role, err)
		}
	}
}

func checkTrail(ctx context.Context, t *testing.T, p *awscloud.Provider, a Account) {
	t.Helper()
	c, err := p.CloudTrail(ctx, a.ID, Region)
	if err != nil {
		t.Fatal(err)
	}
	status, err := c.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String(a.Trail)})
	if err != nil {
		t.Fatalf("get trail status: %v", err)
	}
	if !aws.ToBool(status.IsLogging) {
		t.Errorf("trail %s is not logging", a.Trail)
	}
	trails, err := c.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{})
	if err != nil {
		t.Fatalf("describe trails: %v", err)
	}
	if len(trails.TrailList) != 1 || aws.ToString(trails.TrailList[0].TrailARN) != a.TrailARN || !strings.Contains(a.TrailARN, a.ID) {
		t.Errorf("trails %+v, want only %s", trails.TrailList, a.TrailARN)
	}
}

func checkWAF(ctx context.Context, t *testing.T, p *awscloud.Provider, a Account) {
	t.Helper()
	c, err := p.WAF(ctx, a.ID, Region)
	if err != nil {
		t.Fatal(err)
	}
	set, err := c.GetIPSet(ctx, &wafv2.GetIPSetInput{Name: aws.String(a.IPSetName), Id: aws.String(a.IPSetID), Scope: waftypes.ScopeRegional})
	if err != nil {
		t.Fatalf("get IP set: %v", err)
	}
	if len(set.IPSet.Addresses) != 0 || !strings.Contains(aws.ToString(set.IPSet.ARN), a.ID) {
		t.Errorf("IP set %+v, want empty and in account %s", set.IPSet, a.ID)
	}
}

func checkBucket(ctx context.Context, t *testing.T, p *awscloud.Provider, a Account) {
	t.Helper()
	c, err := p.S3(ctx, a.ID, Region)
	if err != nil {
		t.Fatal(err)
	}
	tagging, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(a.Bucket)})
	if err != nil {
		t.Fatalf("get bucket tagging: %v", err)
	}
	if len(tagging.TagSet) != 1 || aws.ToString(tagging.TagSet[0].Value) != a.Environment {
		t.Errorf("bucket tags %+v, want Environment=%s", tagging.TagSet, a.Environment)
	}
	_, err = c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String(a.Bucket)})
	if cloud.Classify(err) != cloud.NotFound {
		t.Errorf("bucket %s has a public access block, want none: err %v", a.Bucket, err)
	}
}

// probe runs one deviation's operation against moto and says whether moto still deviates.
type probe func(ctx context.Context, t *testing.T, cfg aws.Config) (deviates bool, evidence string)

// unsupported probes an operation that should fail in moto.
func unsupported(call func(ctx context.Context, cfg aws.Config) error) probe {
	return func(ctx context.Context, t *testing.T, cfg aws.Config) (bool, string) {
		err := call(ctx, cfg)
		if err == nil {
			return false, "succeeded"
		}
		return true, err.Error()
	}
}

func detector(ctx context.Context, t *testing.T, cfg aws.Config) string {
	t.Helper()
	out, err := guardduty.NewFromConfig(cfg).CreateDetector(ctx, &guardduty.CreateDetectorInput{Enable: aws.Bool(true)})
	if err != nil {
		t.Fatalf("create detector: %v", err)
	}
	return aws.ToString(out.DetectorId)
}

func gdProbe(call func(ctx context.Context, c *guardduty.Client, detector string) error) probe {
	return func(ctx context.Context, t *testing.T, cfg aws.Config) (bool, string) {
		return unsupported(func(ctx context.Context, cfg aws.Config) error {
			return call(ctx, guardduty.NewFromConfig(cfg), detector(ctx, t, cfg))
		})(ctx, t, cfg)
	}
}

// probes holds one probe per entry of Deviations.
var probes = map[string]probe{
	"guardduty:CreateSampleFindings": gdProbe(func(ctx context.Context, c *guardduty.Client, d string) error {
		_, err := c.CreateSampleFindings(ctx, &guardduty.CreateSampleFindingsInput{DetectorId: &d, FindingTypes: []string{"Backdoor:EC2/C&CActivity.B"}})
		return err
	}),
	"guardduty:ListFindings": gdProbe(func(ctx context.Context, c *guardduty.Client, d string) error {
		_, err := c.ListFindings(ctx, &guardduty.ListFindingsInput{DetectorId: &d})
		return err
	}),
	"guardduty:GetFindings": gdProbe(func(ctx context.Context, c *guardduty.Client, d string) error {
		_, err := c.GetFindings(ctx, &guardduty.GetFindingsInput{DetectorId: &d, FindingIds: []string{"f1"}})
		return err
	}),
	"guardduty:ArchiveFindings": gdProbe(func(ctx context.Context, c *guardduty.Client, d string) error {
		_, err := c.ArchiveFindings(ctx, &guardduty.ArchiveFindingsInput{DetectorId: &d, FindingIds: []string{"f1"}})
		return err
	}),
	"guardduty:UnarchiveFindings": gdProbe(func(ctx context.Context, c *guardduty.Client, d string) error {
		_, err := c.UnarchiveFindings(ctx, &guardduty.UnarchiveFindingsInput{DetectorId: &d, FindingIds: []string{"f1"}})
		return err
	}),
	"securityhub:BatchUpdateFindings": func(ctx context.Context, t *testing.T, cfg aws.Config) (bool, string) {
		c := securityhub.NewFromConfig(cfg)
		if _, err := c.EnableSecurityHub(ctx, &securityhub.EnableSecurityHubInput{}); err != nil {
			t.Fatalf("enable Security Hub: %v", err)
		}
		_, err := c.BatchUpdateFindings(ctx, &securityhub.BatchUpdateFindingsInput{
			FindingIdentifiers: []shtypes.AwsSecurityFindingIdentifier{{Id: aws.String("f1"), ProductArn: aws.String("arn:aws:securityhub:us-east-1::product/aws/guardduty")}},
			Workflow:           &shtypes.WorkflowUpdate{Status: shtypes.WorkflowStatusNotified},
		})
		if err == nil {
			return false, "succeeded"
		}
		return true, err.Error()
	},
	"s3:GetObjectRetention": func(ctx context.Context, t *testing.T, cfg aws.Config) (bool, string) {
		c := S3Client(cfg)
		bucket, key := aws.String("locked-evidence"), aws.String("memory.lime")
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket, ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
			t.Fatalf("create bucket: %v", err)
		}
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: key, Body: strings.NewReader("x")}); err != nil {
			t.Fatalf("put object: %v", err)
		}
		until := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
		if _, err := c.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: bucket, Key: key,
			Retention: &s3types.ObjectLockRetention{Mode: s3types.ObjectLockRetentionModeGovernance, RetainUntilDate: &until}}); err != nil {
			t.Fatalf("put object retention: %v", err)
		}
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: key})
		if err != nil || head.ObjectLockMode != s3types.ObjectLockModeGovernance {
			t.Errorf("workaround broken: HeadObject lock mode %v, err %v", head, err)
		}
		out, err := c.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: bucket, Key: key})
		switch {
		case err != nil:
			return true, err.Error()
		case out.Retention == nil:
			return true, "no error, nil Retention"
		case out.Retention.Mode != s3types.ObjectLockRetentionModeGovernance:
			return true, fmt.Sprintf("no error, mode %q", out.Retention.Mode)
		}
		return false, "succeeded"
	},
	"ssm:StartAutomationExecution": unsupported(func(ctx context.Context, cfg aws.Config) error {
		_, err := ssm.NewFromConfig(cfg).StartAutomationExecution(ctx, &ssm.StartAutomationExecutionInput{DocumentName: aws.String("AWS-StopEC2Instance"),
			Parameters: map[string][]string{"InstanceId": {"i-0abc"}}})
		return err
	}),
	"ssm:GetAutomationExecution": unsupported(func(ctx context.Context, cfg aws.Config) error {
		_, err := ssm.NewFromConfig(cfg).GetAutomationExecution(ctx, &ssm.GetAutomationExecutionInput{AutomationExecutionId: aws.String("00000000-0000-0000-0000-000000000000")})
		return err
	}),
	"ssm:StopAutomationExecution": unsupported(func(ctx context.Context, cfg aws.Config) error {
		_, err := ssm.NewFromConfig(cfg).StopAutomationExecution(ctx, &ssm.StopAutomationExecutionInput{AutomationExecutionId: aws.String("00000000-0000-0000-0000-000000000000")})
		return err
	}),
	"ssm:DescribeInstanceInformation": unsupported(func(ctx context.Context, cfg aws.Config) error {
		_, err := ssm.NewFromConfig(cfg).DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{})
		return err
	}),
	"ssm:ListCommandInvocations": unsupported(func(ctx context.Context, cfg aws.Config) error {
		_, err := ssm.NewFromConfig(cfg).ListCommandInvocations(ctx, &ssm.ListCommandInvocationsInput{})
		return err
	}),
	"network-firewall:DescribeRuleGroup": unsupported(func(ctx context.Context, cfg aws.Config) error {
		_, err := networkfirewall.NewFromConfig(cfg).DescribeRuleGroup(ctx, &networkfirewall.DescribeRuleGroupInput{RuleGroupName: aws.String("blocklist"), Type: nfwtypes.RuleGroupTypeStateful})
		return err
	}),
	"network-firewall:UpdateRuleGroup": unsupported(func(ctx context.Context, cfg aws.Config) error {
		_, err := networkfirewall.NewFromConfig(cfg).UpdateRuleGroup(ctx, &networkfirewall.UpdateRuleGroupInput{RuleGroupName: aws.String("blocklist"),
			Type: nfwtypes.RuleGroupTypeStateful, UpdateToken: aws.String("token"), Rules: aws.String("drop ip 203.0.113.7 any -> any any (sid:1;)")})
		return err
	}),
	"iam:CreateLoginProfile": func(ctx context.Context, t *testing.T, cfg aws.Config) (bool, string) {
		c := iam.NewFromConfig(cfg)
		user := aws.String("probe-login")
		if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: user}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: user,
			Password: aws.String("Pr0be-Passw0rd!x"), PasswordResetRequired: true}); err != nil {
			t.Fatal(err)
		}
		out, err := c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: user})
		if err != nil {
			t.Fatal(err)
		}
		got := out.LoginProfile.PasswordResetRequired
		return !got, fmt.Sprintf("GetLoginProfile reports PasswordResetRequired=%v after a create with true", got)
	},
	"ec2:ModifyNetworkInterfaceAttribute": func(ctx context.Context, t *testing.T, cfg aws.Config) (bool, string) {
		c := ec2.NewFromConfig(cfg)
		net := Account{Environment: "probe"}
		if err := seedNetwork(ctx, cfg, &net); err != nil {
			t.Fatal(err)
		}
		quarantine, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("quarantine"), Description: aws.String("no traffic"), VpcId: &net.VPC})
		if err != nil {
			t.Fatal(err)
		}
		groupsOf := func() (instance, eni []string) {
			out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{net.Instance}})
			if err != nil {
				t.Fatal(err)
			}
			inst := out.Reservations[0].Instances[0]
			for _, g := range inst.SecurityGroups {
				instance = append(instance, aws.ToString(g.GroupId))
			}
			for _, g := range inst.NetworkInterfaces[0].Groups {
				eni = append(eni, aws.ToString(g.GroupId))
			}
			return instance, eni
		}
		out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{net.Instance}})
		if err != nil {
			t.Fatal(err)
		}
		eniID := out.Reservations[0].Instances[0].NetworkInterfaces[0].NetworkInterfaceId
		if _, err := c.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{NetworkInterfaceId: eniID, Groups: []string{*quarantine.GroupId}}); err != nil {
			t.Fatal(err)
		}
		_, eni := groupsOf()
		deviates := !slices.Equal(eni, []string{*quarantine.GroupId})
		// The workaround: ModifyInstanceAttribute replaces the groups.
		if _, err := c.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: &net.Instance, Groups: []string{*quarantine.GroupId}}); err != nil {
			t.Fatal(err)
		}
		inst, eniAfter := groupsOf()
		if !slices.Equal(inst, []string{*quarantine.GroupId}) || !slices.Equal(eniAfter, []string{*quarantine.GroupId}) {
			t.Errorf("workaround broken: after ModifyInstanceAttribute instance groups %v, interface groups %v", inst, eniAfter)
		}
		return deviates, "interface groups after replacing with " + *quarantine.GroupId + ": " + strings.Join(eni, ",")
	},
	"cloudtrail:StartLogging": trailByARN(func(ctx context.Context, c *cloudtrail.Client, name string) error {
		_, err := c.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: &name})
		return err
	}),
	"cloudtrail:StopLogging": trailByARN(func(ctx context.Context, c *cloudtrail.Client, name string) error {
		_, err := c.StopLogging(ctx, &cloudtrail.StopLoggingInput{Name: &name})
		return err
	}),
}

// trailByARN probes a logging call made with the trail's ARN, after checking that the same
// call with the trail's name works.
func trailByARN(call func(ctx context.Context, c *cloudtrail.Client, name string) error) probe {
	return func(ctx context.Context, t *testing.T, cfg aws.Config) (bool, string) {
		a := Account{ID: "probe"}
		if err := seedTrail(ctx, cfg, &a); err != nil {
			t.Fatal(err)
		}
		c := cloudtrail.NewFromConfig(cfg)
		if err := call(ctx, c, a.Trail); err != nil {
			t.Errorf("workaround broken: by name: %v", err)
		}
		if err := call(ctx, c, a.TrailARN); err != nil {
			return true, err.Error()
		}
		return false, "succeeded"
	}
}

// TestMotoDeviations checks that every recorded deviation still holds, so that the table
// the end-to-end suite skips by stays true as moto changes.
func TestMotoDeviations(t *testing.T) {
	url, _ := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, d := range Deviations {
		t.Run(d.Operation, func(t *testing.T) {
			p, ok := probes[d.Operation]
			if !ok {
				t.Fatalf("no probe for %s", d.Operation)
			}
			if err := Reset(url); err != nil {
				t.Fatal(err)
			}
			cfg, err := Config(ctx, url, "222233334444")
			if err != nil {
				t.Fatal(err)
			}
			// moto's failures are not transient; retrying them only slows the probe.
			cfg.RetryMaxAttempts = 1
			deviates, evidence := p(ctx, t, cfg)
			if !deviates {
				t.Errorf("moto no longer deviates in %s (%s): update Deviations", d.Operation, evidence)
			}
			t.Logf("%s: %s", d.Kind, evidence)
		})
	}
	for op := range probes {
		if _, ok := Lookup(op); !ok {
			t.Errorf("probe for %s has no entry in Deviations", op)
		}
	}
}

// skipRecorder records a skip or a fatal failure instead of ending the test.
type skipRecorder struct {
	testing.TB
	skipped string
}

func (r *skipRecorder) Helper() {}

func (r *skipRecorder) Skipf(format string, args ...any) { r.skipped = fmt.Sprintf(format, args...) }

func (r *skipRecorder) Fatalf(format string, args ...any) { r.skipped = fmt.Sprintf(format, args...) }

func TestStartFailsWhenMotoIsMissing(t *testing.T) {
	tests := []struct {
		name   string
		python string
		want   []string
	}{
		{"no python", "firebreak-no-such-python3", []string{"firebreak-no-such-python3 is not on PATH", "pip install 'moto[server]'"}},
		{"no moto", "false", []string{"false cannot import moto.server", "pip install 'moto[server]'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func(p string) { python = p }(python)
			python = tt.python
			r := &skipRecorder{TB: t}
			url, stop := Start(r)
			stop()
			if url != "" {
				t.Errorf("Start() = %q, want no server", url)
			}
			for _, want := range tt.want {
				if !strings.Contains(r.skipped, want) {
					t.Errorf("Start() failed with %q, want it to mention %q", r.skipped, want)
				}
			}
		})
	}
}

func TestSkipNamesTheDeviation(t *testing.T) {
	tests := []struct {
		name string
		ops  []string
		want string
	}{
		{"supported", []string{"ec2:ModifyInstanceAttribute", "iam:UpdateAccessKey"}, ""},
		{"unsupported", []string{"ec2:DescribeInstances", "guardduty:ArchiveFindings"}, "moto: guardduty:ArchiveFindings unsupported: HTTP 404"},
		{"differs", []string{"ec2:ModifyNetworkInterfaceAttribute"}, "moto: ec2:ModifyNetworkInterfaceAttribute differs: an interface's groups are reported as the union"},
		{"none", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &skipRecorder{TB: t}
			Skip(r, tt.ops...)
			if tt.want == "" && r.skipped != "" || !strings.HasPrefix(r.skipped, tt.want) {
				t.Errorf("Skip() = %q, want prefix %q", r.skipped, tt.want)
			}
		})
	}
}
