package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/wafv2"
	waftypes "github.com/aws/aws-sdk-go-v2/service/wafv2/types"

	"github.com/firebreak-sec/firebreak/internal/cloud"
	"github.com/firebreak-sec/firebreak/internal/cloud/moto"
	"github.com/firebreak-sec/firebreak/internal/world"
)

// readMoto reads the seeded organisation back from moto through the SDK, in the world
// shape. It reads with plain SDK clients rather than Firebreak's provider, so that a
// mistake in the provider cannot hide itself. Resources moto creates on its own (each
// account's default VPC and every VPC's default security group) are left out: Firebreak
// never touches them and the world does not describe them.
func readMoto(ctx context.Context, org *moto.Org) (*world.World, error) {
	// Accounts are read concurrently: the suite reads moto three times per scenario.
	w := &world.World{Accounts: make([]*world.Account, len(org.Accounts))}
	errs := make([]error, len(org.Accounts))
	var wg sync.WaitGroup
	for i, a := range org.Accounts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.Accounts[i], errs[i] = readAccount(ctx, org.URL, a)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return w, nil
}

func readAccount(ctx context.Context, url string, a moto.Account) (*world.Account, error) {
	cfg, err := moto.Config(ctx, url, a.ID)
	if err != nil {
		return nil, err
	}
	r := &world.Region{VPCs: []*world.VPC{{ID: a.VPC}}, Subnets: []*world.Subnet{{ID: a.Subnet, VPC: a.VPC}}}
	acc := &world.Account{ID: a.ID, Regions: map[string]*world.Region{moto.Region: r}, IAM: &world.IAM{}}
	for _, step := range []func() error{
		func() error { return readEC2(ctx, ec2.NewFromConfig(cfg), a, r) },
		func() error { return readTrails(ctx, cloudtrail.NewFromConfig(cfg), r) },
		func() error { return readWAF(ctx, wafv2.NewFromConfig(cfg), r) },
		func() error { return readBuckets(ctx, moto.S3Client(cfg), []string{a.TrailBucket, a.Bucket}, r) },
		func() error { return readIAM(ctx, iam.NewFromConfig(cfg), acc.IAM) },
	} {
		if err := step(); err != nil {
			return nil, fmt.Errorf("read account %s: %w", a.ID, err)
		}
	}
	return acc, nil
}

func ec2TagMap(tags []ec2types.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

func vpcFilter(vpc string) []ec2types.Filter {
	return []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpc}}}
}

func readEC2(ctx context.Context, c *ec2.Client, a moto.Account, r *world.Region) error {
	sgs, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: vpcFilter(a.VPC)})
	if err != nil {
		return fmt.Errorf("describe security groups: %w", err)
	}
	for _, g := range sgs.SecurityGroups {
		if aws.ToString(g.GroupName) == "default" {
			continue
		}
		r.SecurityGroups = append(r.SecurityGroups, &world.SecurityGroup{
			ID: aws.ToString(g.GroupId), Name: aws.ToString(g.GroupName), Description: aws.ToString(g.Description),
			VPC: aws.ToString(g.VpcId), Ingress: rules(g.IpPermissions), Egress: rules(g.IpPermissionsEgress),
			Tags: ec2TagMap(g.Tags),
		})
	}

	insts, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: vpcFilter(a.VPC)})
	if err != nil {
		return fmt.Errorf("describe instances: %w", err)
	}
	for _, res := range insts.Reservations {
		for _, in := range res.Instances {
			inst, err := readInstance(ctx, c, in)
			if err != nil {
				return err
			}
			r.Instances = append(r.Instances, inst)
		}
	}

	// Only snapshots of the organisation's volumes: moto also reports, as the account's own,
	// a snapshot behind each AMI it ships.
	var vols []string
	for _, in := range r.Instances {
		vols = append(vols, in.Volumes...)
	}
	snaps, err := c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"},
		Filters: []ec2types.Filter{{Name: aws.String("volume-id"), Values: vols}}})
	if err != nil {
		return fmt.Errorf("describe snapshots: %w", err)
	}
	r.Snapshots = []*world.Snapshot{}
	for _, s := range snaps.Snapshots {
		r.Snapshots = append(r.Snapshots, &world.Snapshot{ID: aws.ToString(s.SnapshotId), Volume: aws.ToString(s.VolumeId),
			Tags: ec2TagMap(s.Tags), Description: aws.ToString(s.Description), State: string(s.State)})
	}
	return nil
}

func readInstance(ctx context.Context, c *ec2.Client, in ec2types.Instance) (*world.Instance, error) {
	id := aws.ToString(in.InstanceId)
	inst := &world.Instance{ID: id, Subnet: aws.ToString(in.SubnetId), State: string(in.State.Name), Tags: ec2TagMap(in.Tags),
		Type: string(in.InstanceType), PrivateIP: aws.ToString(in.PrivateIpAddress), SecurityGroups: []string{}}
	for _, ni := range in.NetworkInterfaces {
		groups := []string{}
		for _, g := range ni.Groups {
			groups = append(groups, aws.ToString(g.GroupId))
		}
		if ni.Attachment != nil && aws.ToInt32(ni.Attachment.DeviceIndex) == 0 {
			inst.PrimaryENI, inst.SecurityGroups = aws.ToString(ni.NetworkInterfaceId), groups
			continue
		}
		inst.NetworkInterfaces = append(inst.NetworkInterfaces, &world.NetworkInterface{ID: aws.ToString(ni.NetworkInterfaceId),
			Subnet: aws.ToString(ni.SubnetId), SecurityGroups: groups, PrivateIP: aws.ToString(ni.PrivateIpAddress)})
	}
	vols, err := c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: []ec2types.Filter{
		{Name: aws.String("attachment.instance-id"), Values: []string{id}}}})
	if err != nil {
		return nil, fmt.Errorf("describe volumes of %s: %w", id, err)
	}
	for _, v := range vols.Volumes {
		inst.Volumes = append(inst.Volumes, aws.ToString(v.VolumeId))
	}
	prot, err := c.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: in.InstanceId,
		Attribute: ec2types.InstanceAttributeNameDisableApiTermination})
	if err != nil {
		return nil, fmt.Errorf("read termination protection of %s: %w", id, err)
	}
	inst.DisableAPITermination = prot.DisableApiTermination != nil && aws.ToBool(prot.DisableApiTermination.Value)
	if md := in.MetadataOptions; md != nil {
		inst.Metadata = &world.MetadataOptions{HTTPTokens: string(md.HttpTokens), HTTPEndpoint: string(md.HttpEndpoint),
			HopLimit: aws.ToInt32(md.HttpPutResponseHopLimit)}
	}
	return inst, nil
}

// rules flattens permissions into the world's one-source-per-rule form.
func rules(perms []ec2types.IpPermission) []*world.Rule {
	out := []*world.Rule{}
	for _, p := range perms {
		base := world.Rule{Protocol: aws.ToString(p.IpProtocol), FromPort: aws.ToInt32(p.FromPort), ToPort: aws.ToInt32(p.ToPort)}
		for _, rg := range p.IpRanges {
			r := base
			r.CIDR, r.Description = aws.ToString(rg.CidrIp), aws.ToString(rg.Description)
			out = append(out, &r)
		}
		for _, rg := range p.Ipv6Ranges {
			r := base
			r.CIDRv6, r.Description = aws.ToString(rg.CidrIpv6), aws.ToString(rg.Description)
			out = append(out, &r)
		}
		for _, g := range p.UserIdGroupPairs {
			r := base
			r.SourceGroup, r.Description = aws.ToString(g.GroupId), aws.ToString(g.Description)
			out = append(out, &r)
		}
		for _, pl := range p.PrefixListIds {
			r := base
			r.PrefixList, r.Description = aws.ToString(pl.PrefixListId), aws.ToString(pl.Description)
			out = append(out, &r)
		}
	}
	return out
}

func readTrails(ctx context.Context, c *cloudtrail.Client, r *world.Region) error {
	out, err := c.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{})
	if err != nil {
		return fmt.Errorf("describe trails: %w", err)
	}
	for _, t := range out.TrailList {
		st, err := c.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: t.Name})
		if err != nil {
			return fmt.Errorf("trail status of %s: %w", aws.ToString(t.Name), err)
		}
		r.Trails = append(r.Trails, &world.Trail{Name: aws.ToString(t.Name), Logging: aws.ToBool(st.IsLogging),
			MultiRegion: aws.ToBool(t.IsMultiRegionTrail), Bucket: aws.ToString(t.S3BucketName)})
	}
	return nil
}

func readWAF(ctx context.Context, c *wafv2.Client, r *world.Region) error {
	out, err := c.ListIPSets(ctx, &wafv2.ListIPSetsInput{Scope: waftypes.ScopeRegional})
	if err != nil {
		return fmt.Errorf("list IP sets: %w", err)
	}
	for _, s := range out.IPSets {
		got, err := c.GetIPSet(ctx, &wafv2.GetIPSetInput{Name: s.Name, Id: s.Id, Scope: waftypes.ScopeRegional})
		if err != nil {
			return fmt.Errorf("get IP set %s: %w", aws.ToString(s.Name), err)
		}
		r.WAFIPSets = append(r.WAFIPSets, &world.IPSet{Name: aws.ToString(s.Name), Scope: "REGIONAL", ID: aws.ToString(s.Id),
			Addresses: append([]string{}, got.IPSet.Addresses...), IPVersion: string(got.IPSet.IPAddressVersion),
			Description: aws.ToString(got.IPSet.Description), LockToken: aws.ToString(got.LockToken)})
	}
	return nil
}

// readBuckets reads the named buckets; moto's ListBuckets is not scoped to the calling
// account, so the seed's names are what say which buckets an account holds.
func readBuckets(ctx context.Context, c *s3.Client, names []string, r *world.Region) error {
	for _, name := range names {
		b := &world.Bucket{Name: name}
		pab, err := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String(name)})
		switch {
		case err == nil && pab.PublicAccessBlockConfiguration != nil:
			p := pab.PublicAccessBlockConfiguration
			b.PublicAccessBlockConfig = &world.PublicAccessBlock{BlockPublicACLs: aws.ToBool(p.BlockPublicAcls),
				IgnorePublicACLs: aws.ToBool(p.IgnorePublicAcls), BlockPublicPolicy: aws.ToBool(p.BlockPublicPolicy),
				RestrictPublicBuckets: aws.ToBool(p.RestrictPublicBuckets)}
		case err != nil && cloud.Classify(err) != cloud.NotFound:
			return fmt.Errorf("public access block of %s: %w", name, err)
		}
		enc, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(name)})
		switch {
		case err == nil && enc.ServerSideEncryptionConfiguration != nil && len(enc.ServerSideEncryptionConfiguration.Rules) > 0:
			rule := enc.ServerSideEncryptionConfiguration.Rules[0]
			if d := rule.ApplyServerSideEncryptionByDefault; d != nil {
				b.Encryption = &world.Encryption{Algorithm: string(d.SSEAlgorithm), KMSKey: aws.ToString(d.KMSMasterKeyID),
					BucketKey: aws.ToBool(rule.BucketKeyEnabled)}
			}
		case err != nil && cloud.Classify(err) != cloud.NotFound:
			return fmt.Errorf("encryption of %s: %w", name, err)
		}
		tags, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(name)})
		switch {
		case err == nil:
			b.Tags = map[string]string{}
			for _, t := range tags.TagSet {
				b.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
		case cloud.Classify(err) != cloud.NotFound:
			return fmt.Errorf("tags of %s: %w", name, err)
		}
		r.Buckets = append(r.Buckets, b)
	}
	return nil
}

func readIAM(ctx context.Context, c *iam.Client, out *world.IAM) error {
	users, err := c.ListUsers(ctx, &iam.ListUsersInput{})
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	for _, u := range users.Users {
		name := u.UserName
		user := &world.User{Name: aws.ToString(name), Tags: map[string]string{}, AccessKeys: []*world.AccessKey{}}
		keys, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: name})
		if err != nil {
			return fmt.Errorf("access keys of %s: %w", *name, err)
		}
		for _, k := range keys.AccessKeyMetadata {
			user.AccessKeys = append(user.AccessKeys, &world.AccessKey{ID: aws.ToString(k.AccessKeyId), Status: string(k.Status)})
		}
		lp, err := c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: name})
		switch {
		case err == nil:
			user.LoginProfile, user.PasswordResetRequired = true, lp.LoginProfile != nil && lp.LoginProfile.PasswordResetRequired
		case cloud.Classify(err) != cloud.NotFound:
			return fmt.Errorf("login profile of %s: %w", *name, err)
		}
		pols, err := c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: name})
		if err != nil {
			return fmt.Errorf("policies of %s: %w", *name, err)
		}
		for _, p := range pols.PolicyNames {
			got, err := c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: name, PolicyName: aws.String(p)})
			if err != nil {
				return fmt.Errorf("policy %s of %s: %w", p, *name, err)
			}
			if user.Policies == nil {
				user.Policies = map[string]string{}
			}
			user.Policies[p] = unescape(aws.ToString(got.PolicyDocument))
		}
		tags, err := c.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: name})
		if err != nil {
			return fmt.Errorf("tags of %s: %w", *name, err)
		}
		for _, t := range tags.Tags {
			user.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		out.Users = append(out.Users, user)
	}
	roles, err := c.ListRoles(ctx, &iam.ListRolesInput{})
	if err != nil {
		return fmt.Errorf("list roles: %w", err)
	}
	for _, r := range roles.Roles {
		role := &world.Role{Name: aws.ToString(r.RoleName)}
		pols, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: r.RoleName})
		if err != nil {
			return fmt.Errorf("policies of role %s: %w", role.Name, err)
		}
		for _, p := range pols.PolicyNames {
			got, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: r.RoleName, PolicyName: aws.String(p)})
			if err != nil {
				return fmt.Errorf("policy %s of role %s: %w", p, role.Name, err)
			}
			if role.Policies == nil {
				role.Policies = map[string]string{}
			}
			role.Policies[p] = unescape(aws.ToString(got.PolicyDocument))
		}
		tags, err := c.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: r.RoleName})
		if err != nil {
			return fmt.Errorf("tags of role %s: %w", role.Name, err)
		}
		for _, t := range tags.Tags {
			if role.Tags == nil {
				role.Tags = map[string]string{}
			}
			role.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		out.Roles = append(out.Roles, role)
	}
	sort.Slice(out.Roles, func(i, j int) bool { return out.Roles[i].Name < out.Roles[j].Name })
	return nil
}

// unescape decodes a policy document IAM returned URL-encoded, or returns it as it is.
func unescape(doc string) string {
	if d, err := url.QueryUnescape(doc); err == nil {
		return d
	}
	return doc
}
