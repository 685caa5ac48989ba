package sim

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/networkfirewall"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/wafv2"
	waftypes "github.com/aws/aws-sdk-go-v2/service/wafv2/types"
	"github.com/aws/smithy-go"

	"github.com/firebreak-sec/firebreak/internal/world"
)

const (
	prod    = "111122223333"
	staging = "444455556666"
	east    = "us-east-1"
)

var ctx = context.Background()

func newOrg(t *testing.T, opts Options) *Org {
	t.Helper()
	w, err := world.Load("../../world/testdata/world.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return New(w, opts)
}

// check fails the test unless err carries the AWS error code want ("" for success).
func check(t *testing.T, what string, err error, want string) {
	t.Helper()
	var ae smithy.APIError
	got := ""
	if errors.As(err, &ae) {
		got = ae.ErrorCode()
	} else if err != nil {
		got = err.Error()
	}
	if got != want {
		t.Fatalf("%s: error code %q (%v), want %q", what, got, err, want)
	}
}

func region(o *Org, account string) *world.Region {
	return o.World().Accounts[accountIndex(o, account)].Regions[east]
}

func accountIndex(o *Org, id string) int {
	for i, a := range o.World().Accounts {
		if a.ID == id {
			return i
		}
	}
	return -1
}

func mustEC2(t *testing.T, o *Org, account string) *EC2 {
	t.Helper()
	c, err := o.EC2(ctx, account, east)
	if err != nil {
		t.Fatal(err)
	}
	return c.(*EC2)
}

func TestSecurityGroups(t *testing.T) {
	o := newOrg(t, Options{})
	c := mustEC2(t, o, prod)
	out, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("quarantine"), Description: aws.String("isolation"), VpcId: aws.String("vpc-1")})
	check(t, "create", err, "")
	sg := aws.ToString(out.GroupId)
	if sg != "sg-00000000000000001" {
		t.Errorf("generated id %s, want sg-00000000000000001", sg)
	}
	d, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{sg}})
	check(t, "describe", err, "")
	eg := d.SecurityGroups[0].IpPermissionsEgress
	if len(eg) != 1 || aws.ToString(eg[0].IpProtocol) != "-1" || aws.ToString(eg[0].IpRanges[0].CidrIp) != "0.0.0.0/0" || len(d.SecurityGroups[0].IpPermissions) != 0 {
		t.Fatalf("new group rules: in %v, out %v; want no ingress and allow-all egress", d.SecurityGroups[0].IpPermissions, eg)
	}
	allTraffic := []ec2types.IpPermission{{IpProtocol: aws.String("-1"), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}
	ssh := []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("10.0.0.0/8")}}}}
	steps := []struct {
		name string
		call func() error
		want string
	}{
		{"duplicate name", func() error {
			_, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("quarantine"), Description: aws.String("x"), VpcId: aws.String("vpc-1")})
			return err
		}, "InvalidGroup.Duplicate"},
		{"unknown vpc", func() error {
			_, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("q2"), Description: aws.String("x"), VpcId: aws.String("vpc-9")})
			return err
		}, "InvalidVpcID.NotFound"},
		{"revoke default egress", func() error {
			_, err := c.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: aws.String(sg), IpPermissions: allTraffic})
			return err
		}, ""},
		{"revoke it again", func() error {
			_, err := c.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: aws.String(sg), IpPermissions: allTraffic})
			return err
		}, "InvalidPermission.NotFound"},
		{"authorize ssh", func() error {
			_, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(sg), IpPermissions: ssh})
			return err
		}, ""},
		{"authorize ssh twice", func() error {
			_, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(sg), IpPermissions: ssh})
			return err
		}, "InvalidPermission.Duplicate"},
		{"unknown group", func() error {
			_, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String("sg-nope"), IpPermissions: ssh})
			return err
		}, "InvalidGroup.NotFound"},
		{"delete group in use", func() error {
			_, err := c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String("sg-web")})
			return err
		}, "DependencyViolation"},
		{"nil input", func() error { _, err := c.RevokeSecurityGroupIngress(ctx, nil); return err }, "InvalidGroup.NotFound"},
	}
	for _, s := range steps {
		check(t, s.name, s.call(), s.want)
	}
	g := region(o, prod).SecurityGroups[2]
	if len(g.Egress) != 0 || len(g.Ingress) != 1 || g.Ingress[0].Port != 22 {
		t.Errorf("final group %+v: want no egress and one ssh rule", g)
	}

	// Confining by rule id: the ids DescribeSecurityGroupRules gives revoke exactly that rule.
	rules, err := c.DescribeSecurityGroupRules(ctx, &ec2.DescribeSecurityGroupRulesInput{Filters: []ec2types.Filter{{Name: aws.String("group-id"), Values: []string{"sg-web"}}}})
	check(t, "describe rules", err, "")
	if len(rules.SecurityGroupRules) != 1 {
		t.Fatalf("sg-web rules = %d, want 1", len(rules.SecurityGroupRules))
	}
	_, err = c.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String("sg-web"), SecurityGroupRuleIds: []string{aws.ToString(rules.SecurityGroupRules[0].SecurityGroupRuleId)}})
	check(t, "revoke by id", err, "")
	if n := len(region(o, prod).SecurityGroups[0].Ingress); n != 0 {
		t.Errorf("sg-web ingress = %d rules after revoke", n)
	}
}

func TestInstanceGroups(t *testing.T) {
	o := newOrg(t, Options{})
	c := mustEC2(t, o, prod)
	tests := []struct {
		name, eni, instance string
		groups              []string
		want                string
	}{
		{"secondary eni is replaced", "eni-app1", "", []string{"sg-web"}, ""},
		{"primary eni is replaced", "eni-app0", "", []string{"sg-web"}, ""},
		{"implicit primary eni", "eni-0abc", "", []string{"sg-app"}, ""},
		{"unknown eni", "eni-zzz", "", []string{"sg-web"}, "InvalidNetworkInterfaceID.NotFound"},
		{"unknown group", "eni-app1", "", []string{"sg-nope"}, "InvalidGroup.NotFound"},
		{"too many groups", "eni-app1", "", []string{"sg-web", "sg-app", "sg-web", "sg-app", "sg-web", "sg-app"}, "SecurityGroupsPerInterfaceLimitExceeded"},
		{"instance with several interfaces", "", "i-0app", []string{"sg-web"}, "InvalidInstanceID"},
		{"instance with one interface", "", "i-0abc", []string{"sg-web"}, ""},
		{"unknown instance", "", "i-0nope", []string{"sg-web"}, "InvalidInstanceID.NotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.eni != "" {
				_, err = c.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{NetworkInterfaceId: aws.String(tt.eni), Groups: tt.groups})
			} else {
				_, err = c.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(tt.instance), Groups: tt.groups})
			}
			check(t, tt.name, err, tt.want)
		})
	}
	r := region(o, prod)
	if got := r.Instances[1].NetworkInterfaces[0].SecurityGroups; strings.Join(got, ",") != "sg-web" {
		t.Errorf("eni-app1 groups = %v, want [sg-web] (replaced, not added)", got)
	}
	if got := r.Instances[0].SecurityGroups; strings.Join(got, ",") != "sg-web" {
		t.Errorf("i-0abc groups = %v", got)
	}
	ni, err := c.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{Filters: []ec2types.Filter{{Name: aws.String("attachment.instance-id"), Values: []string{"i-0app"}}}})
	check(t, "describe enis", err, "")
	if len(ni.NetworkInterfaces) != 2 || aws.ToInt32(ni.NetworkInterfaces[1].Attachment.DeviceIndex) != 1 {
		t.Errorf("i-0app interfaces = %d", len(ni.NetworkInterfaces))
	}
	_, err = c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{{Name: aws.String("bogus"), Values: []string{"x"}}}})
	check(t, "bad filter", err, "InvalidParameterValue")
	di, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{{Name: aws.String("tag:Owner"), Values: []string{"team-*"}}}})
	check(t, "tag filter", err, "")
	if len(di.Reservations) != 2 {
		t.Errorf("tag:Owner=team-* matched %d instances, want 2", len(di.Reservations))
	}
}

func TestInstanceLifecycle(t *testing.T) {
	o := newOrg(t, Options{})
	c := mustEC2(t, o, prod)
	id := []string{"i-0app"}
	_, err := c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: id})
	check(t, "terminate protected", err, "OperationNotPermitted")
	_, err = c.ModifyInstanceMetadataOptions(ctx, &ec2.ModifyInstanceMetadataOptionsInput{InstanceId: aws.String("i-0app"), HttpTokens: ec2types.HttpTokensStateRequired, HttpPutResponseHopLimit: aws.Int32(1)})
	check(t, "imds", err, "")
	st, err := c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: id})
	check(t, "stop", err, "")
	if st.StoppingInstances[0].CurrentState.Name != "stopping" {
		t.Errorf("stop reports %s", st.StoppingInstances[0].CurrentState.Name)
	}
	_, err = c.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: id})
	check(t, "start", err, "")
	_, err = c.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String("i-0app"), DisableApiTermination: &ec2types.AttributeBooleanValue{Value: aws.Bool(false)}})
	check(t, "unprotect", err, "")
	_, err = c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: id})
	check(t, "terminate", err, "")
	_, err = c.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: id})
	check(t, "start terminated", err, "IncorrectInstanceState")
	in := region(o, prod).Instances[1]
	if in.State != "terminated" || in.Metadata.HTTPTokens != "required" || in.Metadata.HopLimit != 1 {
		t.Errorf("instance after lifecycle: %+v %+v", in, in.Metadata)
	}
}

func TestSnapshots(t *testing.T) {
	o := newOrg(t, Options{})
	c := mustEC2(t, o, prod)
	tags := []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSnapshot, Tags: []ec2types.Tag{{Key: aws.String("firebreak:incident"), Value: aws.String("INC-1")}}}}
	tests := []struct {
		name    string
		in      *ec2.CreateSnapshotsInput
		volumes string
		want    string
	}{
		{"every volume", &ec2.CreateSnapshotsInput{InstanceSpecification: &ec2types.InstanceSpecification{InstanceId: aws.String("i-0app")}, TagSpecifications: tags}, "vol-2,vol-3", ""},
		{"without boot volume", &ec2.CreateSnapshotsInput{InstanceSpecification: &ec2types.InstanceSpecification{InstanceId: aws.String("i-0app"), ExcludeBootVolume: aws.Bool(true)}}, "vol-3", ""},
		{"unknown instance", &ec2.CreateSnapshotsInput{InstanceSpecification: &ec2types.InstanceSpecification{InstanceId: aws.String("i-0nope")}}, "", "InvalidInstanceID.NotFound"},
		{"no instance", &ec2.CreateSnapshotsInput{}, "", "MissingParameter"},
	}
	for _, tt := range tests {
		out, err := c.CreateSnapshots(ctx, tt.in)
		check(t, tt.name, err, tt.want)
		if err != nil {
			continue
		}
		var vols []string
		for _, s := range out.Snapshots {
			vols = append(vols, aws.ToString(s.VolumeId))
		}
		if strings.Join(vols, ",") != tt.volumes {
			t.Errorf("%s: snapshots of %v, want %s", tt.name, vols, tt.volumes)
		}
	}
	d, err := c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{Filters: []ec2types.Filter{{Name: aws.String("tag:firebreak:incident"), Values: []string{"INC-1"}}}})
	check(t, "describe", err, "")
	if len(d.Snapshots) != 2 || d.Snapshots[0].State != ec2types.SnapshotStateCompleted {
		t.Fatalf("tagged snapshots = %+v", d.Snapshots)
	}
	first := aws.ToString(d.Snapshots[0].SnapshotId)
	_, err = c.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(first)})
	check(t, "delete", err, "")
	_, err = c.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(first)})
	check(t, "delete again", err, "InvalidSnapshot.NotFound")
	_, err = c.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String("vol-9")})
	check(t, "unknown volume", err, "InvalidVolume.NotFound")
}

func TestIAM(t *testing.T) {
	o := newOrg(t, Options{})
	ci, err := o.IAM(ctx, prod)
	if err != nil {
		t.Fatal(err)
	}
	c := ci.(*IAM)
	deny := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`
	steps := []struct {
		name string
		call func() error
		want string
	}{
		{"delete login profile", func() error {
			_, err := c.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: aws.String("alice")})
			return err
		}, ""},
		{"get deleted login profile", func() error {
			_, err := c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String("alice")})
			return err
		}, "NoSuchEntity"},
		{"recreate login profile", func() error {
			_, err := c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("alice"), Password: aws.String("Xy7!long-random"), PasswordResetRequired: true})
			return err
		}, ""},
		{"create it twice", func() error {
			_, err := c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("alice"), Password: aws.String("Xy7!long-random")})
			return err
		}, "EntityAlreadyExists"},
		{"unknown user", func() error {
			_, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("mallory")})
			return err
		}, "NoSuchEntity"},
		{"deactivate key", func() error {
			_, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String("AKIAEXAMPLE1"), Status: "Inactive"})
			return err
		}, ""},
		{"key of another user", func() error {
			_, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String("AKIAEXAMPLE2"), Status: "Inactive"})
			return err
		}, "NoSuchEntity"},
		{"bad policy", func() error {
			_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("deny"), PolicyDocument: aws.String("{")})
			return err
		}, "MalformedPolicyDocument"},
		{"put user policy", func() error {
			_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("deny"), PolicyDocument: aws.String(deny)})
			return err
		}, ""},
		{"role policy missing", func() error {
			_, err := c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("app-role"), PolicyName: aws.String("revoke")})
			return err
		}, "NoSuchEntity"},
		{"put role policy", func() error {
			_, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("app-role"), PolicyName: aws.String("revoke"), PolicyDocument: aws.String(deny)})
			return err
		}, ""},
		{"unknown role", func() error {
			_, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("ghost")})
			return err
		}, "NoSuchEntity"},
		{"tag user", func() error {
			_, err := c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("alice"), Tags: nil})
			return err
		}, ""},
	}
	for _, s := range steps {
		check(t, s.name, s.call(), s.want)
	}
	got, err := c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("deny")})
	check(t, "get policy", err, "")
	if doc, _ := url.QueryUnescape(aws.ToString(got.PolicyDocument)); doc != deny {
		t.Errorf("policy document = %s", doc)
	}
	u := o.World().Accounts[0].IAM.Users[0]
	if !u.LoginProfile || !u.PasswordResetRequired || u.AccessKeys[0].Status != "Inactive" {
		t.Errorf("alice = %+v", u)
	}
}

func TestWAFAndFirewall(t *testing.T) {
	o := newOrg(t, Options{})
	wi, _ := o.WAF(ctx, prod, east)
	w := wi.(*WAF)
	list, err := w.ListIPSets(ctx, &wafv2.ListIPSetsInput{Scope: waftypes.ScopeRegional})
	check(t, "list", err, "")
	s := list.IPSets[0]
	get, err := w.GetIPSet(ctx, &wafv2.GetIPSetInput{Name: s.Name, Id: s.Id, Scope: waftypes.ScopeRegional})
	check(t, "get", err, "")
	upd := func(token *string) error {
		_, err := w.UpdateIPSet(ctx, &wafv2.UpdateIPSetInput{Name: s.Name, Id: s.Id, Scope: waftypes.ScopeRegional, LockToken: token, Addresses: []string{"203.0.113.7/32"}})
		return err
	}
	check(t, "update", upd(get.LockToken), "")
	check(t, "stale token", upd(get.LockToken), "WAFOptimisticLockException")
	_, err = w.GetIPSet(ctx, &wafv2.GetIPSetInput{Name: s.Name, Id: aws.String("wrong"), Scope: waftypes.ScopeRegional})
	check(t, "wrong id", err, "WAFNonexistentItemException")
	_, err = w.ListIPSets(ctx, &wafv2.ListIPSetsInput{Scope: "GLOBAL"})
	check(t, "bad scope", err, "WAFInvalidParameterException")
	_, err = w.CreateIPSet(ctx, &wafv2.CreateIPSetInput{Name: s.Name, Scope: waftypes.ScopeRegional, IPAddressVersion: waftypes.IPAddressVersionIpv4, Addresses: []string{}})
	check(t, "duplicate", err, "WAFDuplicateItemException")
	if got := region(o, prod).WAFIPSets[0].Addresses; len(got) != 1 || got[0] != "203.0.113.7/32" {
		t.Errorf("addresses = %v", got)
	}

	fi, _ := o.NetworkFirewall(ctx, prod, east)
	f := fi.(*NetworkFirewall)
	rg, err := f.DescribeRuleGroup(ctx, &networkfirewall.DescribeRuleGroupInput{RuleGroupName: aws.String("firebreak-block"), Type: "STATEFUL"})
	check(t, "describe rule group", err, "")
	set := rg.RuleGroup.RuleVariables.IPSets["BLOCKED"]
	set.Definition = append(set.Definition, "203.0.113.7/32")
	rg.RuleGroup.RuleVariables.IPSets["BLOCKED"] = set
	in := &networkfirewall.UpdateRuleGroupInput{RuleGroupName: aws.String("firebreak-block"), Type: "STATEFUL", RuleGroup: rg.RuleGroup, UpdateToken: rg.UpdateToken}
	_, err = f.UpdateRuleGroup(ctx, in)
	check(t, "update rule group", err, "")
	_, err = f.UpdateRuleGroup(ctx, in)
	check(t, "stale update token", err, "InvalidTokenException")
	again, err := f.DescribeRuleGroup(ctx, &networkfirewall.DescribeRuleGroupInput{RuleGroupName: aws.String("firebreak-block"), Type: "STATEFUL"})
	check(t, "describe again", err, "")
	if d := again.RuleGroup.RuleVariables.IPSets["BLOCKED"].Definition; len(d) != 2 {
		t.Errorf("blocked = %v", d)
	}
	_, err = f.DescribeRuleGroup(ctx, &networkfirewall.DescribeRuleGroupInput{RuleGroupName: aws.String("none")})
	check(t, "unknown rule group", err, "ResourceNotFoundException")
}

func TestS3(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	o := newOrg(t, Options{Now: func() time.Time { return now }})
	ci, _ := o.S3(ctx, prod, east)
	c := ci.(*S3)
	b := aws.String("data-prod")
	_, err := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b})
	check(t, "no pab", err, "NoSuchPublicAccessBlockConfiguration")
	on := &s3types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true)}
	_, err = c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: b, PublicAccessBlockConfiguration: on})
	check(t, "put pab", err, "")
	_, err = c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: b})
	check(t, "no encryption", err, "ServerSideEncryptionConfigurationNotFoundError")
	_, err = c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: b, ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{Rules: []s3types.ServerSideEncryptionRule{{ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{SSEAlgorithm: s3types.ServerSideEncryptionAes256}}}}})
	check(t, "put encryption", err, "")
	_, err = c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String("nope")})
	check(t, "no bucket", err, "NoSuchBucket")
	_, err = c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String("data-prod-eu")})
	check(t, "bucket in another region", err, "ServerSideEncryptionConfigurationNotFoundError")

	until := now.Add(48 * time.Hour)
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("x"), Body: strings.NewReader("x"), ObjectLockMode: s3types.ObjectLockModeCompliance, ObjectLockRetainUntilDate: &until})
	check(t, "lock without object lock", err, "InvalidRequest")
	ev := aws.String("evidence-prod")
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: ev, Key: aws.String("INC-1/mem.lime"), Body: strings.NewReader("memory"), ObjectLockMode: s3types.ObjectLockModeCompliance, ObjectLockRetainUntilDate: &until})
	check(t, "put evidence", err, "")
	r, err := c.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: ev, Key: aws.String("INC-1/mem.lime")})
	check(t, "retention", err, "")
	if !r.Retention.RetainUntilDate.Equal(until) || r.Retention.Mode != "COMPLIANCE" {
		t.Errorf("retention = %+v", r.Retention)
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: ev, Key: aws.String("default"), Body: strings.NewReader("d")})
	check(t, "default retention", err, "")
	r, err = c.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: ev, Key: aws.String("default")})
	check(t, "default retention read", err, "")
	if want := now.Add(365 * 24 * time.Hour); !r.Retention.RetainUntilDate.Equal(want) {
		t.Errorf("default retain until %v, want %v", r.Retention.RetainUntilDate, want)
	}
	_, err = c.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: ev, Key: aws.String("missing")})
	check(t, "missing key", err, "NoSuchKey")
	bk := region(o, prod).Buckets[0]
	if !bk.PublicAccessBlock || bk.Encryption == nil || bk.Encryption.Algorithm != "AES256" {
		t.Errorf("bucket = %+v", bk)
	}
}

func TestOtherServices(t *testing.T) {
	o := newOrg(t, Options{PendingPolls: 1})
	cti, _ := o.CloudTrail(ctx, staging, east)
	ct := cti.(*CloudTrail)
	_, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("arn:aws:cloudtrail:us-east-1:444455556666:trail/staging-trail")})
	check(t, "start logging by arn", err, "")
	st, err := ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String("staging-trail")})
	check(t, "status", err, "")
	if !aws.ToBool(st.IsLogging) {
		t.Error("trail not logging")
	}
	_, err = ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String("gone")})
	check(t, "unknown trail", err, "TrailNotFoundException")

	si, _ := o.SSM(ctx, prod, east)
	sm := si.(*SSM)
	_, err = sm.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: []string{"i-0abc"}})
	check(t, "unmanaged instance", err, "InvalidInstanceId")
	cmd, err := sm.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("Firebreak-CaptureMemory"), InstanceIds: []string{"i-0app"}})
	check(t, "send command", err, "")
	for _, want := range []string{"InProgress", "Success"} {
		inv, err := sm.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: cmd.Command.CommandId, InstanceId: aws.String("i-0app")})
		check(t, "invocation", err, "")
		if string(inv.Status) != want {
			t.Errorf("invocation status %s, want %s", inv.Status, want)
		}
	}
	ae, err := sm.StartAutomationExecution(ctx, &ssm.StartAutomationExecutionInput{DocumentName: aws.String("AWS-StopEC2Instance")})
	check(t, "start automation", err, "")
	_, err = sm.StopAutomationExecution(ctx, &ssm.StopAutomationExecutionInput{AutomationExecutionId: ae.AutomationExecutionId})
	check(t, "stop automation", err, "")
	_, err = sm.StopAutomationExecution(ctx, &ssm.StopAutomationExecutionInput{AutomationExecutionId: ae.AutomationExecutionId})
	check(t, "stop stopped automation", err, "InvalidAutomationStatusUpdateException")
	_, err = sm.StartAutomationExecution(ctx, &ssm.StartAutomationExecutionInput{DocumentName: aws.String("Nope")})
	check(t, "unknown document", err, "AutomationDefinitionNotFoundException")

	hi, _ := o.SecurityHub(ctx, prod, east)
	f := region(o, prod).SecurityHub[0]
	bu, err := hi.BatchUpdateFindings(ctx, &securityhub.BatchUpdateFindingsInput{
		FindingIdentifiers: []shtypes.AwsSecurityFindingIdentifier{{Id: aws.String(f.ID), ProductArn: aws.String(f.ProductARN)}, {Id: aws.String("x"), ProductArn: aws.String(f.ProductARN)}},
		Workflow:           &shtypes.WorkflowUpdate{Status: shtypes.WorkflowStatusResolved},
		Note:               &shtypes.NoteUpdate{Text: aws.String("contained"), UpdatedBy: aws.String("firebreak")},
	})
	check(t, "batch update", err, "")
	if len(bu.ProcessedFindings) != 1 || len(bu.UnprocessedFindings) != 1 || f.WorkflowStatus != "RESOLVED" || f.Note != "contained" {
		t.Errorf("batch update: %+v, finding %+v", bu, f)
	}

	gi, _ := o.GuardDuty(ctx, prod, east)
	det, err := gi.ListDetectors(ctx, &guardduty.ListDetectorsInput{})
	check(t, "detectors", err, "")
	gf := region(o, prod).GuardDuty.Findings[0]
	_, err = gi.ArchiveFindings(ctx, &guardduty.ArchiveFindingsInput{DetectorId: aws.String(det.DetectorIds[0]), FindingIds: []string{gf.ID}})
	check(t, "archive", err, "")
	if !gf.Archived {
		t.Error("finding not archived")
	}
	_, err = gi.ArchiveFindings(ctx, &guardduty.ArchiveFindingsInput{DetectorId: aws.String("other"), FindingIds: []string{gf.ID}})
	check(t, "foreign detector", err, "BadRequestException")

	ai, _ := o.AutoScaling(ctx, prod, east)
	_, err = ai.DetachInstances(ctx, &autoscaling.DetachInstancesInput{AutoScalingGroupName: aws.String("app-asg"), InstanceIds: []string{"i-0app"}, ShouldDecrementDesiredCapacity: aws.Bool(true)})
	check(t, "detach below min", err, "ValidationError")
	_, err = ai.DetachInstances(ctx, &autoscaling.DetachInstancesInput{AutoScalingGroupName: aws.String("app-asg"), InstanceIds: []string{"i-0abc"}, ShouldDecrementDesiredCapacity: aws.Bool(false)})
	check(t, "detach non-member", err, "ValidationError")
	_, err = ai.DetachInstances(ctx, &autoscaling.DetachInstancesInput{AutoScalingGroupName: aws.String("app-asg"), InstanceIds: []string{"i-0app"}, ShouldDecrementDesiredCapacity: aws.Bool(false)})
	check(t, "detach", err, "")
	das, err := ai.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: []string{"i-0app"}})
	check(t, "describe asg instances", err, "")
	if len(das.AutoScalingInstances) != 0 {
		t.Errorf("detached instance still in a group")
	}

	ei, _ := o.ELBv2(ctx, prod, east)
	tg := region(o, prod).TargetGroups[0]
	_, err = ei.DeregisterTargets(ctx, &elb.DeregisterTargetsInput{TargetGroupArn: aws.String(tg.ARN), Targets: []elbtypes.TargetDescription{{Id: aws.String("i-0app")}}})
	check(t, "deregister", err, "")
	h, err := ei.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(tg.ARN), Targets: []elbtypes.TargetDescription{{Id: aws.String("i-0app")}}})
	check(t, "health", err, "")
	if h.TargetHealthDescriptions[0].TargetHealth.State != elbtypes.TargetHealthStateEnumUnused {
		t.Errorf("deregistered target state %s", h.TargetHealthDescriptions[0].TargetHealth.State)
	}
	_, err = ei.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: aws.String(tg.ARN), Targets: []elbtypes.TargetDescription{{Id: aws.String("i-0app")}}})
	check(t, "register", err, "")
	_, err = ei.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{TargetGroupArns: []string{"arn:nope"}})
	check(t, "unknown target group", err, "TargetGroupNotFound")

	ni, _ := o.SNS(ctx, prod, east)
	_, err = ni.Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:111122223333:firebreak-alerts"), Subject: aws.String("contained"), Message: aws.String("i-0abc isolated")})
	check(t, "publish", err, "")
	_, err = ni.Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:111122223333:nope"), Message: aws.String("x")})
	check(t, "unknown topic", err, "NotFound")
	if m := region(o, prod).SNSTopics[0].Messages; len(m) != 1 || m[0].Body != "i-0abc isolated" {
		t.Errorf("topic messages = %+v", m)
	}
}

func TestAssumeRole(t *testing.T) {
	o := newOrg(t, Options{DenyAssumeRole: []string{staging}})
	in := func(acct string) *sts.AssumeRoleInput {
		return &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + acct + ":role/FirebreakResponder"), RoleSessionName: aws.String("firebreak")}
	}
	tests := []struct{ account, want string }{{prod, ""}, {staging, "AccessDenied"}, {"123456789012", "AccessDenied"}}
	for _, tt := range tests {
		_, err := o.STS().AssumeRole(ctx, in(tt.account))
		check(t, "assume "+tt.account, err, tt.want)
		_, err = o.EC2(ctx, tt.account, east)
		check(t, "ec2 client "+tt.account, err, tt.want)
	}
	o.SetAssumeRoleDenied(staging, false)
	_, err := o.STS().AssumeRole(ctx, in(staging))
	check(t, "assume after allowing", err, "")
}

// faultCodes makes the same calls against a fresh organisation and returns their codes.
func faultCodes(t *testing.T, seed uint64) []string {
	o := newOrg(t, Options{Seed: seed, Faults: []Fault{{Service: "ec2", ThrottleRate: 0.3, ServerErrorRate: 0.1}, {Service: "iam", Operation: "UpdateAccessKey", AccessDenied: true}}})
	c := mustEC2(t, o, prod)
	var codes []string
	for range 60 {
		_, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
		codes = append(codes, code(err))
	}
	ic, _ := o.IAM(ctx, prod)
	_, err := ic.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String("AKIAEXAMPLE1"), Status: "Inactive"})
	codes = append(codes, code(err))
	_, err = ic.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
	return append(codes, code(err))
}

func TestFaultsAreSeeded(t *testing.T) {
	a, b, other := faultCodes(t, 42), faultCodes(t, 42), faultCodes(t, 7)
	if strings.Join(a, ",") != strings.Join(b, ",") {
		t.Fatalf("same seed, different faults:\n%v\n%v", a, b)
	}
	if strings.Join(a, ",") == strings.Join(other, ",") {
		t.Errorf("different seeds gave the same faults")
	}
	count := map[string]int{}
	for _, c := range a[:60] {
		count[c]++
	}
	if count["RequestLimitExceeded"] < 8 || count["InternalError"] < 1 || count[""] < 25 {
		t.Errorf("fault mix %v is far from 30%% throttled, 10%% server errors", count)
	}
	if a[60] != "AccessDenied" || a[61] != "" {
		t.Errorf("access denied for one operation only: got %v", a[60:])
	}
}

func TestRateLimit(t *testing.T) {
	now := time.Unix(0, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	o := newOrg(t, Options{RateLimit: 5, Now: clock})
	c := mustEC2(t, o, prod)
	ic, _ := o.IAM(ctx, prod)
	var codes []string
	for range 6 {
		_, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
		codes = append(codes, code(err))
	}
	_, err := ic.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")})
	codes = append(codes, code(err))
	if strings.Join(codes, ",") != ",,,,,RequestLimitExceeded,Throttling" {
		t.Fatalf("codes = %v", codes)
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	_, err = c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	check(t, "after refill", err, "")
	_, err = mustEC2(t, o, staging).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	check(t, "other account has its own bucket", err, "")
}

func TestCallLog(t *testing.T) {
	o := newOrg(t, Options{Faults: []Fault{{Latency: 20 * time.Millisecond}}})
	c := mustEC2(t, o, prod)
	start := time.Now()
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
		}()
	}
	wg.Wait()
	_, _ = c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"i-0nope"}})
	_, _ = c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{})
	end := time.Now()
	if n := o.CountCalls(prod, "ec2", "DescribeInstances"); n != 4 {
		t.Errorf("DescribeInstances calls = %d, want 4", n)
	}
	if n := o.RoundTrips(start, end); n != 3 {
		t.Errorf("round trips = %d, want 3 (three parallel, then two serial)", n)
	}
	calls := o.Calls()
	if last := calls[3]; last.Code != "InvalidInstanceID.NotFound" || last.Region != east || !last.End.After(last.Start) {
		t.Errorf("logged call %+v", last)
	}
}

// Two organisations given the same calls end in the same state, which dumps as the same
// text and loads again as a world file.
func TestDumpIsStable(t *testing.T) {
	dump := func() string {
		o := newOrg(t, Options{})
		c := mustEC2(t, o, prod)
		out, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("q"), Description: aws.String("q"), VpcId: aws.String("vpc-1")})
		check(t, "create", err, "")
		_, err = c.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String("i-0abc"), Groups: []string{aws.ToString(out.GroupId)}})
		check(t, "modify", err, "")
		_, err = c.CreateSnapshots(ctx, &ec2.CreateSnapshotsInput{InstanceSpecification: &ec2types.InstanceSpecification{InstanceId: aws.String("i-0abc")}})
		check(t, "snapshots", err, "")
		var b bytes.Buffer
		if err := o.Dump(&b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	a, b := dump(), dump()
	if a != b {
		t.Fatal("dumps of equal runs differ")
	}
	if _, err := world.Parse("state.json", []byte(a)); err != nil {
		t.Fatalf("dump does not load as a world file: %v", err)
	}
	if !strings.Contains(a, `"id": "snap-00000000000000002"`) {
		t.Errorf("dump lacks the generated snapshot id")
	}
}

// Concurrent calls into several accounts keep every account's state consistent.
func TestConcurrentCalls(t *testing.T) {
	o := newOrg(t, Options{})
	var wg sync.WaitGroup
	for _, acct := range []string{prod, staging} {
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := mustEC2(t, o, acct)
				for range 10 {
					_, _ = c.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(map[string]string{prod: "vol-1", staging: "vol-s1"}[acct])})
				}
			}()
		}
	}
	wg.Wait()
	if n := len(region(o, prod).Snapshots); n != 80 {
		t.Errorf("prod snapshots = %d, want 80", n)
	}
	if n := len(region(o, staging).Snapshots); n != 81 {
		t.Errorf("staging snapshots = %d, want 81", n)
	}
}
