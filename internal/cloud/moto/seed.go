package moto

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/wafv2"
	waftypes "github.com/aws/aws-sdk-go-v2/service/wafv2/types"
)

// HubAccount is the account moto places callers in when it does not know their access key:
// the hub Firebreak runs in.
const HubAccount = "123456789012"

// Region is where Seed puts regional resources.
const Region = "us-east-1"

// RoleName is the responder role Seed creates in each member account. moto lets any
// caller assume any role ARN, whether or not the role exists; it is created anyway so that
// the organisation looks like a real one.
const RoleName = "FirebreakResponder"

// AMI is the image id instances are started from. Start runs moto without its default
// images, and RunInstances accepts any id while moto's AMI validation is off.
const AMI = "ami-12c6146b"

// hubCredentials are static credentials moto maps to HubAccount.
var hubCredentials = credentials.NewStaticCredentialsProvider("AKIAFIREBREAKHUB0000", "hub-secret", "")

// Config returns an SDK configuration acting in account on the moto server at url: the hub
// account with the hub's credentials, any other account through sts:AssumeRole into its
// responder role, which is how moto tells accounts apart.
func Config(ctx context.Context, url, account string) (aws.Config, error) {
	cfg := aws.Config{
		Region:       Region,
		Credentials:  hubCredentials,
		BaseEndpoint: aws.String(url),
	}
	if account == HubAccount {
		return cfg, nil
	}
	arn := fmt.Sprintf("arn:aws:iam::%s:role/%s", account, RoleName)
	assume := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), arn, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = "moto-seed"
	})
	creds := aws.NewCredentialsCache(assume)
	if _, err := creds.Retrieve(ctx); err != nil {
		return aws.Config{}, fmt.Errorf("assume %s: %w", arn, err)
	}
	cfg.Credentials = creds
	return cfg, nil
}

// S3Client returns an S3 client for cfg that addresses buckets in the path, as moto needs.
func S3Client(cfg aws.Config) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
}

// Account is what Seed created in one member account.
type Account struct {
	ID          string
	Environment string

	VPC           string
	Subnet        string
	SecurityGroup string // ingress tcp 443 from 0.0.0.0/0
	Instance      string // running, tagged Environment and Owner
	Volumes       []string

	User      string // with an active access key and a login profile
	AccessKey string
	Role      string

	Trail       string // logging
	TrailARN    string
	TrailBucket string

	IPSetName string // REGIONAL, empty
	IPSetID   string
	IPSetARN  string

	Bucket string // no public access block
}

// Org is what Seed created.
type Org struct {
	URL      string
	Accounts []Account
}

// orgPlan names the member accounts and how each is tagged, after the example in the
// world-file contract.
var orgPlan = []struct{ id, env string }{
	{"111122223333", "prod"},
	{"222233334444", "dev"},
	{"333344445555", "sandbox"},
}

// Seed creates a three-account organisation on the moto server at url.
func Seed(ctx context.Context, url string) (*Org, error) {
	org := &Org{URL: url}
	for _, p := range orgPlan {
		cfg, err := Config(ctx, url, p.id)
		if err != nil {
			return nil, err
		}
		a := Account{ID: p.id, Environment: p.env}
		for _, step := range []func(context.Context, aws.Config, *Account) error{seedNetwork, seedIAM, seedTrail, seedWAF, seedBucket} {
			if err := step(ctx, cfg, &a); err != nil {
				return nil, fmt.Errorf("seed account %s: %w", p.id, err)
			}
		}
		org.Accounts = append(org.Accounts, a)
	}
	return org, nil
}

func tags(kind ec2types.ResourceType, kv ...string) []ec2types.TagSpecification {
	spec := ec2types.TagSpecification{ResourceType: kind}
	for i := 0; i+1 < len(kv); i += 2 {
		spec.Tags = append(spec.Tags, ec2types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return []ec2types.TagSpecification{spec}
}

func seedNetwork(ctx context.Context, cfg aws.Config, a *Account) error {
	c := ec2.NewFromConfig(cfg)
	vpc, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16"),
		TagSpecifications: tags(ec2types.ResourceTypeVpc, "Name", "firebreak-"+a.Environment)})
	if err != nil {
		return fmt.Errorf("create VPC: %w", err)
	}
	a.VPC = aws.ToString(vpc.Vpc.VpcId)
	subnet, err := c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String("10.0.1.0/24"),
		AvailabilityZone: aws.String(Region + "a")})
	if err != nil {
		return fmt.Errorf("create subnet: %w", err)
	}
	a.Subnet = aws.ToString(subnet.Subnet.SubnetId)
	sg, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("web"),
		Description: aws.String("public web"), VpcId: vpc.Vpc.VpcId})
	if err != nil {
		return fmt.Errorf("create security group: %w", err)
	}
	a.SecurityGroup = aws.ToString(sg.GroupId)
	if _, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId,
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(443), ToPort: aws.Int32(443),
			IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}); err != nil {
		return fmt.Errorf("open 443: %w", err)
	}
	run, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(AMI), InstanceType: ec2types.InstanceTypeT3Micro,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: subnet.Subnet.SubnetId, SecurityGroupIds: []string{a.SecurityGroup},
		TagSpecifications: tags(ec2types.ResourceTypeInstance, "Environment", a.Environment, "Owner", "team-web", "Name", "web-1")})
	if err != nil {
		return fmt.Errorf("run instance: %w", err)
	}
	a.Instance = aws.ToString(run.Instances[0].InstanceId)
	vol, err := c.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String(Region + "a"), Size: aws.Int32(8),
		TagSpecifications: tags(ec2types.ResourceTypeVolume, "Name", "web-1-data")})
	if err != nil {
		return fmt.Errorf("create volume: %w", err)
	}
	if _, err := c.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: vol.VolumeId, InstanceId: aws.String(a.Instance),
		Device: aws.String("/dev/sdf")}); err != nil {
		return fmt.Errorf("attach volume: %w", err)
	}
	vols, err := c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: []ec2types.Filter{
		{Name: aws.String("attachment.instance-id"), Values: []string{a.Instance}}}})
	if err != nil {
		return fmt.Errorf("list volumes: %w", err)
	}
	for _, v := range vols.Volumes {
		a.Volumes = append(a.Volumes, aws.ToString(v.VolumeId))
	}
	return nil
}

// trustHub lets the hub account assume a role.
const trustHub = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + HubAccount + `:root"},"Action":"sts:AssumeRole"}]}`

// trustEC2 lets instances assume a role.
const trustEC2 = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

func seedIAM(ctx context.Context, cfg aws.Config, a *Account) error {
	c := iam.NewFromConfig(cfg)
	if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(RoleName), AssumeRolePolicyDocument: aws.String(trustHub)}); err != nil {
		return fmt.Errorf("create responder role: %w", err)
	}
	a.User = "alice"
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(a.User),
		Tags: []iamtypes.Tag{{Key: aws.String("Owner"), Value: aws.String("team-web")}}}); err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	key, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(a.User)})
	if err != nil {
		return fmt.Errorf("create access key: %w", err)
	}
	a.AccessKey = aws.ToString(key.AccessKey.AccessKeyId)
	if _, err := c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String(a.User),
		Password: aws.String("Firebreak-seed-1!")}); err != nil {
		return fmt.Errorf("create login profile: %w", err)
	}
	a.Role = "app-role"
	if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(a.Role), AssumeRolePolicyDocument: aws.String(trustEC2)}); err != nil {
		return fmt.Errorf("create role: %w", err)
	}
	return nil
}

func seedTrail(ctx context.Context, cfg aws.Config, a *Account) error {
	a.TrailBucket = "trail-" + a.ID
	if _, err := S3Client(cfg).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(a.TrailBucket)}); err != nil {
		return fmt.Errorf("create trail bucket: %w", err)
	}
	c := cloudtrail.NewFromConfig(cfg)
	a.Trail = "org-trail"
	trail, err := c.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String(a.Trail), S3BucketName: aws.String(a.TrailBucket)})
	if err != nil {
		return fmt.Errorf("create trail: %w", err)
	}
	a.TrailARN = aws.ToString(trail.TrailARN)
	// By name: moto fails StartLogging given the trail's ARN (see Deviations).
	if _, err := c.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String(a.Trail)}); err != nil {
		return fmt.Errorf("start logging: %w", err)
	}
	return nil
}

func seedWAF(ctx context.Context, cfg aws.Config, a *Account) error {
	a.IPSetName = "firebreak-blocklist"
	out, err := wafv2.NewFromConfig(cfg).CreateIPSet(ctx, &wafv2.CreateIPSetInput{Name: aws.String(a.IPSetName),
		Scope: waftypes.ScopeRegional, IPAddressVersion: waftypes.IPAddressVersionIpv4, Addresses: []string{}})
	if err != nil {
		return fmt.Errorf("create IP set: %w", err)
	}
	a.IPSetID, a.IPSetARN = aws.ToString(out.Summary.Id), aws.ToString(out.Summary.ARN)
	return nil
}

func seedBucket(ctx context.Context, cfg aws.Config, a *Account) error {
	a.Bucket = "data-" + a.Environment + "-" + a.ID
	c := S3Client(cfg)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(a.Bucket)}); err != nil {
		return fmt.Errorf("create bucket: %w", err)
	}
	if _, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(a.Bucket),
		Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("Environment"), Value: aws.String(a.Environment)}}}}); err != nil {
		return fmt.Errorf("tag bucket: %w", err)
	}
	return nil
}
