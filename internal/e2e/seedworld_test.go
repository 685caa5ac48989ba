package e2e

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/firebreak-sec/firebreak/internal/cloud/moto"
	"github.com/firebreak-sec/firebreak/internal/world"
)

// seedWorld describes the organisation moto.Seed created as a world, for the simulator.
// It is written from the seed record and from what AWS does on creation (a new group's
// allow-all egress rule, an instance's default metadata options), not by reading moto's
// state back, so that the seeded states of the two backends are compared too and the
// reader and this description check each other. Only the primary network interface id and
// private address, which the seed does not record, are read from moto.
func seedWorld(ctx context.Context, org *moto.Org) (*world.World, error) {
	w := &world.World{}
	for _, a := range org.Accounts {
		cfg, err := moto.Config(ctx, org.URL, a.ID)
		if err != nil {
			return nil, err
		}
		out, err := ec2.NewFromConfig(cfg).DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{a.Instance}})
		if err != nil {
			return nil, fmt.Errorf("describe %s in %s: %w", a.Instance, a.ID, err)
		}
		inst := out.Reservations[0].Instances[0]
		eni := ""
		for _, ni := range inst.NetworkInterfaces {
			if ni.Attachment != nil && aws.ToInt32(ni.Attachment.DeviceIndex) == 0 {
				eni = aws.ToString(ni.NetworkInterfaceId)
			}
		}
		region := &world.Region{
			VPCs:    []*world.VPC{{ID: a.VPC}},
			Subnets: []*world.Subnet{{ID: a.Subnet, VPC: a.VPC}},
			SecurityGroups: []*world.SecurityGroup{{
				ID: a.SecurityGroup, Name: "web", Description: "public web", VPC: a.VPC,
				Ingress: []*world.Rule{{Protocol: "tcp", Port: 443, CIDR: "0.0.0.0/0"}},
				Egress:  []*world.Rule{{Protocol: "-1", CIDR: "0.0.0.0/0"}},
			}},
			Instances: []*world.Instance{{
				ID: a.Instance, Subnet: a.Subnet, SecurityGroups: []string{a.SecurityGroup},
				Volumes: append([]string(nil), a.Volumes...), State: "running",
				Tags: map[string]string{"Environment": a.Environment, "Owner": "team-web", "Name": "web-1"},
				Type: "t3.micro", PrimaryENI: eni, PrivateIP: aws.ToString(inst.PrivateIpAddress),
			}},
			Snapshots: []*world.Snapshot{},
			Trails:    []*world.Trail{{Name: a.Trail, Logging: true, Bucket: a.TrailBucket}},
			WAFIPSets: []*world.IPSet{{Name: a.IPSetName, Scope: "REGIONAL", ID: a.IPSetID, IPVersion: "IPV4", Addresses: []string{}}},
			Buckets: []*world.Bucket{
				{Name: a.TrailBucket},
				{Name: a.Bucket, Tags: map[string]string{"Environment": a.Environment}},
			},
		}
		w.Accounts = append(w.Accounts, &world.Account{
			ID: a.ID, Name: a.Environment, Tags: map[string]string{"Environment": a.Environment},
			Regions: map[string]*world.Region{moto.Region: region},
			IAM: &world.IAM{
				Users: []*world.User{{Name: a.User, LoginProfile: true, Tags: map[string]string{"Owner": "team-web"},
					AccessKeys: []*world.AccessKey{{ID: a.AccessKey, Status: "Active"}}}},
				Roles: []*world.Role{{Name: moto.RoleName}, {Name: a.Role}},
			},
		})
	}
	return w, nil
}
