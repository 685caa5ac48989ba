package reliability

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/firebreak-sec/firebreak/internal/cloud/moto"
)

// motoEnv points a firebreak process at moto through the SDK's default chain, as an
// operator would point it at AWS: an endpoint, static hub credentials (moto places an
// unknown key in moto.HubAccount) and a region, with nothing read from the user's files.
func motoEnv(url string) []string {
	return []string{
		"AWS_ENDPOINT_URL=" + url,
		"AWS_ACCESS_KEY_ID=AKIARELIABILITYHUB01",
		"AWS_SECRET_ACCESS_KEY=reliability-secret",
		"AWS_REGION=" + moto.Region,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"FIREBREAK_API_KEY=" + apiKey,
	}
}

// maxPerSubnet is how many instances go in one seeded /24 subnet, with room to spare.
const maxPerSubnet = 200

// seedInstances runs n more instances, spread over the seeded organisation's accounts, and
// returns a finding about each; the event and finding ids start with prefix.
func seedInstances(ctx context.Context, t *testing.T, org *moto.Org, n int, prefix string) []finding {
	t.Helper()
	var fs []finding
	for a, acct := range org.Accounts {
		count := n / len(org.Accounts)
		if a < n%len(org.Accounts) {
			count++
		}
		if count == 0 {
			continue
		}
		c := ec2Client(ctx, t, org.URL, acct.ID)
		// A seeded subnet is a /24 (251 addresses), so instances go in batches of at most
		// maxPerSubnet, each batch past the first in a subnet of its own in the same VPC.
		for start, batch := 0, 0; start < count; start, batch = start+maxPerSubnet, batch+1 {
			size := min(maxPerSubnet, count-start)
			subnet := acct.Subnet
			if batch > 0 {
				sn, err := c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(acct.VPC),
					CidrBlock: aws.String(fmt.Sprintf("10.0.%d.0/24", 100+batch))})
				if err != nil {
					t.Fatalf("create subnet %d in %s: %v", batch, acct.ID, err)
				}
				subnet = aws.ToString(sn.Subnet.SubnetId)
			}
			out, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(moto.AMI), InstanceType: ec2types.InstanceTypeT3Micro,
				MinCount: aws.Int32(int32(size)), MaxCount: aws.Int32(int32(size)), SubnetId: aws.String(subnet),
				SecurityGroupIds: []string{acct.SecurityGroup},
				TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{
					{Key: aws.String("Environment"), Value: aws.String("prod")},
					{Key: aws.String("Owner"), Value: aws.String("team-reliability")}}}}})
			if err != nil {
				t.Fatalf("run %d instances in %s: %v", size, acct.ID, err)
			}
			for i, in := range out.Instances {
				fs = append(fs, finding{
					EventID:   fmt.Sprintf("%s-%s-%d", prefix, acct.ID, start+i),
					FindingID: fmt.Sprintf("%s%s%06d", prefix, acct.ID, start+i),
					Account:   acct.ID, Instance: aws.ToString(in.InstanceId), VPC: acct.VPC, Subnet: subnet,
				})
			}
		}
	}
	return fs
}

func ec2Client(ctx context.Context, t *testing.T, url, account string) *ec2.Client {
	t.Helper()
	cfg, err := moto.Config(ctx, url, account)
	if err != nil {
		t.Fatal(err)
	}
	return ec2.NewFromConfig(cfg)
}

// cloudCounts is what containment left in moto.
type cloudCounts struct {
	Volumes   int // volumes of the instances the findings name
	Snapshots int // snapshots of those volumes
	Groups    int // isolation groups, over all VPCs
}

// checkCloud counts, through the SDK, the snapshots of every volume of the instances in fs
// and the isolation groups in every VPC: each volume must have exactly one snapshot and
// each VPC at most one isolation group of each name, however often a step was run again.
func checkCloud(ctx context.Context, t *testing.T, org *moto.Org, fs []finding) cloudCounts {
	t.Helper()
	var cc cloudCounts
	wanted := map[string]bool{}
	for _, f := range fs {
		wanted[f.Instance] = true
	}
	for _, acct := range org.Accounts {
		c := ec2Client(ctx, t, org.URL, acct.ID)
		volumes := map[string]string{} // volume: instance
		pi := ec2.NewDescribeInstancesPaginator(c, &ec2.DescribeInstancesInput{})
		for pi.HasMorePages() {
			page, err := pi.NextPage(ctx)
			if err != nil {
				t.Fatalf("describe instances in %s: %v", acct.ID, err)
			}
			for _, r := range page.Reservations {
				for _, in := range r.Instances {
					if !wanted[aws.ToString(in.InstanceId)] {
						continue
					}
					for _, bd := range in.BlockDeviceMappings {
						if bd.Ebs != nil {
							volumes[aws.ToString(bd.Ebs.VolumeId)] = aws.ToString(in.InstanceId)
						}
					}
				}
			}
		}
		snaps := map[string]int{}
		ps := ec2.NewDescribeSnapshotsPaginator(c, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}})
		for ps.HasMorePages() {
			page, err := ps.NextPage(ctx)
			if err != nil {
				t.Fatalf("describe snapshots in %s: %v", acct.ID, err)
			}
			for _, s := range page.Snapshots {
				snaps[aws.ToString(s.VolumeId)]++
			}
		}
		for v, in := range volumes {
			cc.Volumes++
			cc.Snapshots += snaps[v]
			if snaps[v] != 1 {
				t.Errorf("account %s: volume %s of %s has %d snapshots, want 1", acct.ID, v, in, snaps[v])
			}
		}
		groups := map[string]int{}
		pg := ec2.NewDescribeSecurityGroupsPaginator(c, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{
			{Name: aws.String("tag:firebreak:managed"), Values: []string{"true"}}}})
		for pg.HasMorePages() {
			page, err := pg.NextPage(ctx)
			if err != nil {
				t.Fatalf("describe security groups in %s: %v", acct.ID, err)
			}
			for _, g := range page.SecurityGroups {
				groups[aws.ToString(g.VpcId)+" "+aws.ToString(g.GroupName)]++
				cc.Groups++
			}
		}
		if len(groups) == 0 && len(volumes) > 0 {
			t.Errorf("account %s: no isolation group", acct.ID)
		}
		for k, n := range groups {
			if n != 1 {
				t.Errorf("account %s: %d isolation groups %s, want 1", acct.ID, n, k)
			}
		}
	}
	return cc
}
