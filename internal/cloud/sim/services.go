package sim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/networkfirewall"
	nfwtypes "github.com/aws/aws-sdk-go-v2/service/networkfirewall/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/wafv2"
	waftypes "github.com/aws/aws-sdk-go-v2/service/wafv2/types"

	"github.com/firebreak-sec/firebreak/internal/cloud"
	"github.com/firebreak-sec/firebreak/internal/world"
)

// assignIDs gives resources the generated identifiers AWS would have issued, derived from
// their names so that a world loaded twice gets the same ones.
func assignIDs(account, region string, r *world.Region) {
	for _, s := range r.WAFIPSets {
		if s == nil {
			continue
		}
		if s.ID == "" {
			s.ID = digestUUID(account, region, s.Scope, s.Name)
		}
		if s.LockToken == "" {
			s.LockToken = digestUUID("lock", s.ID, "0")
		}
	}
	for _, g := range r.FirewallRuleGroups {
		if g != nil && g.UpdateToken == "" {
			g.UpdateToken = digestUUID("update", account, region, g.Name, "0")
		}
	}
	for _, t := range r.TargetGroups {
		if t != nil && t.ARN == "" {
			t.ARN = fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:targetgroup/%s/%s", region, account, t.Name, digestUUID(t.Name)[:16])
		}
	}
}

func digestUUID(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// nextToken derives the token that follows another, so that token sequences are stable.
func nextToken(prev string) string { return digestUUID("next", prev) }

// CloudTrail is the simulated CloudTrail API of one account and region.
type CloudTrail struct{ c client }

var _ cloud.CloudTrail = (*CloudTrail)(nil)

func (s *scope) trail(nameOrARN string) (*world.Trail, error) {
	name := nameOrARN
	if i := strings.LastIndex(nameOrARN, ":trail/"); i >= 0 {
		name = nameOrARN[i+len(":trail/"):]
	}
	for _, t := range s.r.Trails {
		if t != nil && t.Name == name {
			return t, nil
		}
	}
	return nil, apiError("TrailNotFoundException", fmt.Sprintf("Unknown trail: %s for the user: %s", nameOrARN, s.a.ID))
}

// DescribeTrails implements cloud.CloudTrail.
func (c *CloudTrail) DescribeTrails(ctx context.Context, in *cloudtrail.DescribeTrailsInput, _ ...func(*cloudtrail.Options)) (*cloudtrail.DescribeTrailsOutput, error) {
	return run(ctx, &c.c, "DescribeTrails", in, func(s *scope, in *cloudtrail.DescribeTrailsInput) (*cloudtrail.DescribeTrailsOutput, error) {
		out := &cloudtrail.DescribeTrailsOutput{TrailList: []cttypes.Trail{}}
		for _, t := range s.r.Trails {
			if t == nil {
				continue
			}
			if len(in.TrailNameList) > 0 {
				arn := s.arn("cloudtrail", "trail/"+t.Name)
				if !contains(in.TrailNameList, t.Name) && !contains(in.TrailNameList, arn) {
					continue
				}
			}
			out.TrailList = append(out.TrailList, cttypes.Trail{
				Name: aws.String(t.Name), TrailARN: aws.String(s.arn("cloudtrail", "trail/"+t.Name)), HomeRegion: aws.String(s.region),
				IsMultiRegionTrail: aws.Bool(t.MultiRegion), S3BucketName: nonEmpty(t.Bucket),
			})
		}
		return out, nil
	})
}

// GetTrailStatus implements cloud.CloudTrail.
func (c *CloudTrail) GetTrailStatus(ctx context.Context, in *cloudtrail.GetTrailStatusInput, _ ...func(*cloudtrail.Options)) (*cloudtrail.GetTrailStatusOutput, error) {
	return run(ctx, &c.c, "GetTrailStatus", in, func(s *scope, in *cloudtrail.GetTrailStatusInput) (*cloudtrail.GetTrailStatusOutput, error) {
		t, err := s.trail(aws.ToString(in.Name))
		if err != nil {
			return nil, err
		}
		return &cloudtrail.GetTrailStatusOutput{IsLogging: aws.Bool(t.Logging)}, nil
	})
}

// StartLogging implements cloud.CloudTrail.
func (c *CloudTrail) StartLogging(ctx context.Context, in *cloudtrail.StartLoggingInput, _ ...func(*cloudtrail.Options)) (*cloudtrail.StartLoggingOutput, error) {
	return run(ctx, &c.c, "StartLogging", in, func(s *scope, in *cloudtrail.StartLoggingInput) (*cloudtrail.StartLoggingOutput, error) {
		t, err := s.trail(aws.ToString(in.Name))
		if err != nil {
			return nil, err
		}
		t.Logging = true
		return &cloudtrail.StartLoggingOutput{}, nil
	})
}

// StopLogging implements cloud.CloudTrail.
func (c *CloudTrail) StopLogging(ctx context.Context, in *cloudtrail.StopLoggingInput, _ ...func(*cloudtrail.Options)) (*cloudtrail.StopLoggingOutput, error) {
	return run(ctx, &c.c, "StopLogging", in, func(s *scope, in *cloudtrail.StopLoggingInput) (*cloudtrail.StopLoggingOutput, error) {
		t, err := s.trail(aws.ToString(in.Name))
		if err != nil {
			return nil, err
		}
		t.Logging = false
		return &cloudtrail.StopLoggingOutput{}, nil
	})
}

// WAF is the simulated WAFv2 API of one account and region.
type WAF struct{ c client }

var _ cloud.WAF = (*WAF)(nil)

// maxIPSetAddresses is WAF's limit of addresses per IP set.
const maxIPSetAddresses = 10000

func (s *scope) checkScope(scope waftypes.Scope) error {
	switch scope {
	case waftypes.ScopeRegional:
		return nil
	case waftypes.ScopeCloudfront:
		if s.region != "us-east-1" {
			return apiError("WAFInvalidParameterException", "Error reason: The scope is not valid., field: SCOPE_VALUE, parameter: CLOUDFRONT")
		}
		return nil
	}
	return apiError("WAFInvalidParameterException", fmt.Sprintf("Error reason: The scope is not valid., field: SCOPE_VALUE, parameter: %s", scope))
}

func (s *scope) ipSetARN(set *world.IPSet) string {
	scope := "regional"
	if set.Scope == "CLOUDFRONT" {
		scope = "global"
	}
	return s.arn("wafv2", fmt.Sprintf("%s/ipset/%s/%s", scope, set.Name, set.ID))
}

func (s *scope) ipSet(name, id string, scope waftypes.Scope) (*world.IPSet, error) {
	if err := s.checkScope(scope); err != nil {
		return nil, err
	}
	for _, set := range s.r.WAFIPSets {
		if set != nil && set.Name == name && set.ID == id && set.Scope == string(scope) {
			return set, nil
		}
	}
	return nil, apiError("WAFNonexistentItemException", "AWS WAF couldn’t perform the operation because your resource doesn’t exist.")
}

func checkAddresses(addrs []string) error {
	if len(addrs) > maxIPSetAddresses {
		return apiError("WAFLimitsExceededException", "AWS WAF couldn’t perform the operation because you exceeded your resource limit.")
	}
	for _, a := range addrs {
		if _, err := netip.ParsePrefix(a); err != nil {
			return apiError("WAFInvalidParameterException", fmt.Sprintf("Error reason: The parameter contains formatting that isn't valid., field: IP_ADDRESS, parameter: %s", a))
		}
	}
	return nil
}

// ListIPSets implements cloud.WAF.
func (c *WAF) ListIPSets(ctx context.Context, in *wafv2.ListIPSetsInput, _ ...func(*wafv2.Options)) (*wafv2.ListIPSetsOutput, error) {
	return run(ctx, &c.c, "ListIPSets", in, func(s *scope, in *wafv2.ListIPSetsInput) (*wafv2.ListIPSetsOutput, error) {
		if err := s.checkScope(in.Scope); err != nil {
			return nil, err
		}
		out := &wafv2.ListIPSetsOutput{IPSets: []waftypes.IPSetSummary{}}
		for _, set := range s.r.WAFIPSets {
			if set != nil && set.Scope == string(in.Scope) {
				out.IPSets = append(out.IPSets, waftypes.IPSetSummary{Name: aws.String(set.Name), Id: aws.String(set.ID), ARN: aws.String(s.ipSetARN(set)), LockToken: aws.String(set.LockToken), Description: nonEmpty(set.Description)})
			}
		}
		return out, nil
	})
}

// GetIPSet implements cloud.WAF.
func (c *WAF) GetIPSet(ctx context.Context, in *wafv2.GetIPSetInput, _ ...func(*wafv2.Options)) (*wafv2.GetIPSetOutput, error) {
	return run(ctx, &c.c, "GetIPSet", in, func(s *scope, in *wafv2.GetIPSetInput) (*wafv2.GetIPSetOutput, error) {
		set, err := s.ipSet(aws.ToString(in.Name), aws.ToString(in.Id), in.Scope)
		if err != nil {
			return nil, err
		}
		return &wafv2.GetIPSetOutput{LockToken: aws.String(set.LockToken), IPSet: &waftypes.IPSet{
			Name: aws.String(set.Name), Id: aws.String(set.ID), ARN: aws.String(s.ipSetARN(set)), Description: nonEmpty(set.Description),
			Addresses: append([]string{}, set.Addresses...), IPAddressVersion: waftypes.IPAddressVersion(def(set.IPVersion, "IPV4")),
		}}, nil
	})
}

// CreateIPSet implements cloud.WAF.
func (c *WAF) CreateIPSet(ctx context.Context, in *wafv2.CreateIPSetInput, _ ...func(*wafv2.Options)) (*wafv2.CreateIPSetOutput, error) {
	return run(ctx, &c.c, "CreateIPSet", in, func(s *scope, in *wafv2.CreateIPSetInput) (*wafv2.CreateIPSetOutput, error) {
		if err := s.checkScope(in.Scope); err != nil {
			return nil, err
		}
		name := aws.ToString(in.Name)
		if name == "" || in.IPAddressVersion == "" {
			return nil, apiError("WAFInvalidParameterException", "Error reason: A required field is missing., field: NAME")
		}
		if err := checkAddresses(in.Addresses); err != nil {
			return nil, err
		}
		for _, set := range s.r.WAFIPSets {
			if set != nil && set.Name == name && set.Scope == string(in.Scope) {
				return nil, apiError("WAFDuplicateItemException", "AWS WAF couldn’t perform the operation because some resource in your request is a duplicate of an existing one.")
			}
		}
		set := &world.IPSet{Name: name, Scope: string(in.Scope), Addresses: append([]string{}, in.Addresses...), IPVersion: string(in.IPAddressVersion), Description: aws.ToString(in.Description)}
		set.ID = digestUUID(s.a.ID, s.region, set.Scope, name)
		set.LockToken = digestUUID("lock", set.ID, "0")
		if set.IPVersion == "IPV4" {
			set.IPVersion = ""
		}
		s.r.WAFIPSets = append(s.r.WAFIPSets, set)
		return &wafv2.CreateIPSetOutput{Summary: &waftypes.IPSetSummary{Name: aws.String(name), Id: aws.String(set.ID), ARN: aws.String(s.ipSetARN(set)), LockToken: aws.String(set.LockToken)}}, nil
	})
}

// UpdateIPSet implements cloud.WAF: it replaces the addresses, and only with the current
// lock token, so that two writers cannot lose each other's addresses.
func (c *WAF) UpdateIPSet(ctx context.Context, in *wafv2.UpdateIPSetInput, _ ...func(*wafv2.Options)) (*wafv2.UpdateIPSetOutput, error) {
	return run(ctx, &c.c, "UpdateIPSet", in, func(s *scope, in *wafv2.UpdateIPSetInput) (*wafv2.UpdateIPSetOutput, error) {
		set, err := s.ipSet(aws.ToString(in.Name), aws.ToString(in.Id), in.Scope)
		if err != nil {
			return nil, err
		}
		if aws.ToString(in.LockToken) != set.LockToken {
			return nil, apiError("WAFOptimisticLockException", "AWS WAF couldn’t save your changes because someone changed the resource after you started to edit it. Reapply your changes.")
		}
		if err := checkAddresses(in.Addresses); err != nil {
			return nil, err
		}
		set.Addresses = append([]string{}, in.Addresses...)
		if in.Description != nil {
			set.Description = aws.ToString(in.Description)
		}
		set.LockToken = nextToken(set.LockToken)
		return &wafv2.UpdateIPSetOutput{NextLockToken: aws.String(set.LockToken)}, nil
	})
}

// NetworkFirewall is the simulated Network Firewall API of one account and region.
type NetworkFirewall struct{ c client }

var _ cloud.NetworkFirewall = (*NetworkFirewall)(nil)

func (s *scope) ruleGroup(name, arn string, typ nfwtypes.RuleGroupType) (*world.FirewallRuleGroup, error) {
	if name == "" && arn != "" {
		name = arn[strings.LastIndex(arn, "/")+1:]
	}
	for _, g := range s.r.FirewallRuleGroups {
		if g != nil && g.Name == name && (typ == "" || string(typ) == g.Type) {
			return g, nil
		}
	}
	return nil, apiError("ResourceNotFoundException", fmt.Sprintf("Rule group %s does not exist", def(name, arn)))
}

func (s *scope) ruleGroupResponse(g *world.FirewallRuleGroup) *nfwtypes.RuleGroupResponse {
	arn := s.arn("network-firewall", fmt.Sprintf("%s-rulegroup/%s", strings.ToLower(g.Type), g.Name))
	return &nfwtypes.RuleGroupResponse{
		RuleGroupName: aws.String(g.Name), RuleGroupArn: aws.String(arn), RuleGroupId: aws.String(digestUUID(arn)),
		Type: nfwtypes.RuleGroupType(g.Type), Capacity: aws.Int32(g.Capacity), RuleGroupStatus: nfwtypes.ResourceStatusActive,
	}
}

// DescribeRuleGroup implements cloud.NetworkFirewall.
func (c *NetworkFirewall) DescribeRuleGroup(ctx context.Context, in *networkfirewall.DescribeRuleGroupInput, _ ...func(*networkfirewall.Options)) (*networkfirewall.DescribeRuleGroupOutput, error) {
	return run(ctx, &c.c, "DescribeRuleGroup", in, func(s *scope, in *networkfirewall.DescribeRuleGroupInput) (*networkfirewall.DescribeRuleGroupOutput, error) {
		g, err := s.ruleGroup(aws.ToString(in.RuleGroupName), aws.ToString(in.RuleGroupArn), in.Type)
		if err != nil {
			return nil, err
		}
		var rg nfwtypes.RuleGroup
		data, err := json.Marshal(g.RuleGroup)
		if err == nil {
			err = json.Unmarshal(data, &rg)
		}
		if err != nil {
			return nil, serverError("InternalServerError", "the stored rule group cannot be read: "+err.Error())
		}
		return &networkfirewall.DescribeRuleGroupOutput{RuleGroup: &rg, RuleGroupResponse: s.ruleGroupResponse(g), UpdateToken: aws.String(g.UpdateToken)}, nil
	})
}

// UpdateRuleGroup implements cloud.NetworkFirewall; a stale update token is refused.
func (c *NetworkFirewall) UpdateRuleGroup(ctx context.Context, in *networkfirewall.UpdateRuleGroupInput, _ ...func(*networkfirewall.Options)) (*networkfirewall.UpdateRuleGroupOutput, error) {
	return run(ctx, &c.c, "UpdateRuleGroup", in, func(s *scope, in *networkfirewall.UpdateRuleGroupInput) (*networkfirewall.UpdateRuleGroupOutput, error) {
		g, err := s.ruleGroup(aws.ToString(in.RuleGroupName), aws.ToString(in.RuleGroupArn), in.Type)
		if err != nil {
			return nil, err
		}
		if aws.ToString(in.UpdateToken) != g.UpdateToken {
			return nil, apiError("InvalidTokenException", "Update token is invalid or has expired; describe the rule group again for the current token.")
		}
		rg := in.RuleGroup
		if rg == nil && in.Rules != nil {
			rg = &nfwtypes.RuleGroup{RulesSource: &nfwtypes.RulesSource{RulesString: in.Rules}}
		}
		if rg == nil || rg.RulesSource == nil {
			return nil, apiError("InvalidRequestException", "A rule group must have a RulesSource.")
		}
		var m map[string]any
		data, err := json.Marshal(rg)
		if err == nil {
			err = json.Unmarshal(data, &m)
		}
		if err != nil {
			return nil, apiError("InvalidRequestException", err.Error())
		}
		g.RuleGroup = pruneNulls(m)
		g.UpdateToken = nextToken(g.UpdateToken)
		return &networkfirewall.UpdateRuleGroupOutput{UpdateToken: aws.String(g.UpdateToken), RuleGroupResponse: s.ruleGroupResponse(g)}, nil
	})
}

// pruneNulls drops the null and empty fields the SDK's structs marshal, so that the stored
// rule group reads like the one written in the world file.
func pruneNulls(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		switch x := v.(type) {
		case nil:
			continue
		case map[string]any:
			if p := pruneNulls(x); len(p) > 0 {
				out[k] = p
			}
		case []any:
			if len(x) == 0 {
				continue
			}
			for i, e := range x {
				if em, ok := e.(map[string]any); ok {
					x[i] = pruneNulls(em)
				}
			}
			out[k] = x
		case string:
			if x != "" {
				out[k] = x
			}
		default:
			out[k] = v
		}
	}
	return out
}

// S3 is the simulated S3 API of one account. Buckets are found in any of its regions.
type S3 struct{ c client }

var _ cloud.S3 = (*S3)(nil)

func (s *scope) bucket(name string) (*world.Bucket, error) {
	for _, rn := range s.a.RegionNames() {
		if r := s.a.Regions[rn]; r != nil {
			for _, b := range r.Buckets {
				if b != nil && b.Name == name {
					return b, nil
				}
			}
		}
	}
	return nil, apiError("NoSuchBucket", "The specified bucket does not exist")
}

func publicAccess(b *world.Bucket) *world.PublicAccessBlock {
	if b.PublicAccessBlockConfig != nil {
		return b.PublicAccessBlockConfig
	}
	if b.PublicAccessBlock {
		return &world.PublicAccessBlock{BlockPublicACLs: true, IgnorePublicACLs: true, BlockPublicPolicy: true, RestrictPublicBuckets: true}
	}
	return nil
}

// GetPublicAccessBlock implements cloud.S3.
func (c *S3) GetPublicAccessBlock(ctx context.Context, in *s3.GetPublicAccessBlockInput, _ ...func(*s3.Options)) (*s3.GetPublicAccessBlockOutput, error) {
	return run(ctx, &c.c, "GetPublicAccessBlock", in, func(s *scope, in *s3.GetPublicAccessBlockInput) (*s3.GetPublicAccessBlockOutput, error) {
		b, err := s.bucket(aws.ToString(in.Bucket))
		if err != nil {
			return nil, err
		}
		p := publicAccess(b)
		if p == nil {
			return nil, apiError("NoSuchPublicAccessBlockConfiguration", "The public access block configuration was not found")
		}
		return &s3.GetPublicAccessBlockOutput{PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
			BlockPublicAcls: aws.Bool(p.BlockPublicACLs), IgnorePublicAcls: aws.Bool(p.IgnorePublicACLs),
			BlockPublicPolicy: aws.Bool(p.BlockPublicPolicy), RestrictPublicBuckets: aws.Bool(p.RestrictPublicBuckets),
		}}, nil
	})
}

// PutPublicAccessBlock implements cloud.S3. All four settings on is written as
// public_access_block: true; anything less is spelt out.
func (c *S3) PutPublicAccessBlock(ctx context.Context, in *s3.PutPublicAccessBlockInput, _ ...func(*s3.Options)) (*s3.PutPublicAccessBlockOutput, error) {
	return run(ctx, &c.c, "PutPublicAccessBlock", in, func(s *scope, in *s3.PutPublicAccessBlockInput) (*s3.PutPublicAccessBlockOutput, error) {
		b, err := s.bucket(aws.ToString(in.Bucket))
		if err != nil {
			return nil, err
		}
		cfg := in.PublicAccessBlockConfiguration
		if cfg == nil {
			return nil, apiError("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema")
		}
		p := world.PublicAccessBlock{BlockPublicACLs: aws.ToBool(cfg.BlockPublicAcls), IgnorePublicACLs: aws.ToBool(cfg.IgnorePublicAcls), BlockPublicPolicy: aws.ToBool(cfg.BlockPublicPolicy), RestrictPublicBuckets: aws.ToBool(cfg.RestrictPublicBuckets)}
		all := p.BlockPublicACLs && p.IgnorePublicACLs && p.BlockPublicPolicy && p.RestrictPublicBuckets
		b.PublicAccessBlock, b.PublicAccessBlockConfig = all, nil
		if !all {
			b.PublicAccessBlockConfig = &p
		}
		return &s3.PutPublicAccessBlockOutput{}, nil
	})
}

// DeletePublicAccessBlock implements cloud.S3; like S3, deleting none is not an error.
func (c *S3) DeletePublicAccessBlock(ctx context.Context, in *s3.DeletePublicAccessBlockInput, _ ...func(*s3.Options)) (*s3.DeletePublicAccessBlockOutput, error) {
	return run(ctx, &c.c, "DeletePublicAccessBlock", in, func(s *scope, in *s3.DeletePublicAccessBlockInput) (*s3.DeletePublicAccessBlockOutput, error) {
		b, err := s.bucket(aws.ToString(in.Bucket))
		if err != nil {
			return nil, err
		}
		b.PublicAccessBlock, b.PublicAccessBlockConfig = false, nil
		return &s3.DeletePublicAccessBlockOutput{}, nil
	})
}

// GetBucketEncryption implements cloud.S3.
func (c *S3) GetBucketEncryption(ctx context.Context, in *s3.GetBucketEncryptionInput, _ ...func(*s3.Options)) (*s3.GetBucketEncryptionOutput, error) {
	return run(ctx, &c.c, "GetBucketEncryption", in, func(s *scope, in *s3.GetBucketEncryptionInput) (*s3.GetBucketEncryptionOutput, error) {
		b, err := s.bucket(aws.ToString(in.Bucket))
		if err != nil {
			return nil, err
		}
		if b.Encryption == nil {
			return nil, apiError("ServerSideEncryptionConfigurationNotFoundError", "The server side encryption configuration was not found")
		}
		e := b.Encryption
		return &s3.GetBucketEncryptionOutput{ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{Rules: []s3types.ServerSideEncryptionRule{{
			ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{SSEAlgorithm: s3types.ServerSideEncryption(e.Algorithm), KMSMasterKeyID: nonEmpty(e.KMSKey)},
			BucketKeyEnabled:                   aws.Bool(e.BucketKey),
		}}}}, nil
	})
}

// PutBucketEncryption implements cloud.S3.
func (c *S3) PutBucketEncryption(ctx context.Context, in *s3.PutBucketEncryptionInput, _ ...func(*s3.Options)) (*s3.PutBucketEncryptionOutput, error) {
	return run(ctx, &c.c, "PutBucketEncryption", in, func(s *scope, in *s3.PutBucketEncryptionInput) (*s3.PutBucketEncryptionOutput, error) {
		b, err := s.bucket(aws.ToString(in.Bucket))
		if err != nil {
			return nil, err
		}
		cfg := in.ServerSideEncryptionConfiguration
		if cfg == nil || len(cfg.Rules) != 1 || cfg.Rules[0].ApplyServerSideEncryptionByDefault == nil {
			return nil, apiError("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema")
		}
		d := cfg.Rules[0].ApplyServerSideEncryptionByDefault
		switch d.SSEAlgorithm {
		case s3types.ServerSideEncryptionAes256, s3types.ServerSideEncryptionAwsKms, s3types.ServerSideEncryptionAwsKmsDsse:
		default:
			return nil, apiError("MalformedXML", fmt.Sprintf("unknown SSEAlgorithm %q", d.SSEAlgorithm))
		}
		if d.SSEAlgorithm == s3types.ServerSideEncryptionAes256 && d.KMSMasterKeyID != nil {
			return nil, apiError("InvalidArgument", "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse")
		}
		b.Encryption = &world.Encryption{Algorithm: string(d.SSEAlgorithm), KMSKey: aws.ToString(d.KMSMasterKeyID), BucketKey: aws.ToBool(cfg.Rules[0].BucketKeyEnabled)}
		return &s3.PutBucketEncryptionOutput{}, nil
	})
}

// DeleteBucketEncryption implements cloud.S3.
func (c *S3) DeleteBucketEncryption(ctx context.Context, in *s3.DeleteBucketEncryptionInput, _ ...func(*s3.Options)) (*s3.DeleteBucketEncryptionOutput, error) {
	return run(ctx, &c.c, "DeleteBucketEncryption", in, func(s *scope, in *s3.DeleteBucketEncryptionInput) (*s3.DeleteBucketEncryptionOutput, error) {
		b, err := s.bucket(aws.ToString(in.Bucket))
		if err != nil {
			return nil, err
		}
		b.Encryption = nil
		return &s3.DeleteBucketEncryptionOutput{}, nil
	})
}

// GetBucketTagging implements cloud.S3.
func (c *S3) GetBucketTagging(ctx context.Context, in *s3.GetBucketTaggingInput, _ ...func(*s3.Options)) (*s3.GetBucketTaggingOutput, error) {
	return run(ctx, &c.c, "GetBucketTagging", in, func(s *scope, in *s3.GetBucketTaggingInput) (*s3.GetBucketTaggingOutput, error) {
		b, err := s.bucket(aws.ToString(in.Bucket))
		if err != nil {
			return nil, err
		}
		if len(b.Tags) == 0 {
			return nil, apiError("NoSuchTagSet", "The TagSet does not exist")
		}
		out := &s3.GetBucketTaggingOutput{}
		for _, k := range sortedKeys(b.Tags) {
			out.TagSet = append(out.TagSet, s3types.Tag{Key: aws.String(k), Value: aws.String(b.Tags[k])})
		}
		return out, nil
	})
}

// PutBucketTagging implements cloud.S3: the tag set replaces the bucket's tags whole. S3
// allows at most 50 tags, each key once and non-empty.
func (c *S3) PutBucketTagging(ctx context.Context, in *s3.PutBucketTaggingInput, _ ...func(*s3.Options)) (*s3.PutBucketTaggingOutput, error) {
	return run(ctx, &c.c, "PutBucketTagging", in, func(s *scope, in *s3.PutBucketTaggingInput) (*s3.PutBucketTaggingOutput, error) {
		b, err := s.bucket(aws.ToString(in.Bucket))
		if err != nil {
			return nil, err
		}
		if in.Tagging == nil {
			return nil, apiError("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema")
		}
		if len(in.Tagging.TagSet) > 50 {
			return nil, apiError("InvalidTag", "Object tags cannot be greater than 50")
		}
		tags := make(map[string]string, len(in.Tagging.TagSet))
		for _, t := range in.Tagging.TagSet {
			k := aws.ToString(t.Key)
			if k == "" {
				return nil, apiError("InvalidTag", "The TagKey you have provided is invalid")
			}
			if _, dup := tags[k]; dup {
				return nil, apiError("InvalidTag", "Cannot provide multiple Tags with the same key")
			}
			tags[k] = aws.ToString(t.Value)
		}
		b.Tags = tags
		return &s3.PutBucketTaggingOutput{}, nil
	})
}

// DeleteBucketTagging implements cloud.S3.
func (c *S3) DeleteBucketTagging(ctx context.Context, in *s3.DeleteBucketTaggingInput, _ ...func(*s3.Options)) (*s3.DeleteBucketTaggingOutput, error) {
	return run(ctx, &c.c, "DeleteBucketTagging", in, func(s *scope, in *s3.DeleteBucketTaggingInput) (*s3.DeleteBucketTaggingOutput, error) {
		b, err := s.bucket(aws.ToString(in.Bucket))
		if err != nil {
			return nil, err
		}
		b.Tags = nil
		return &s3.DeleteBucketTaggingOutput{}, nil
	})
}

// GetObjectLockConfiguration implements cloud.S3.
func (c *S3) GetObjectLockConfiguration(ctx context.Context, in *s3.GetObjectLockConfigurationInput, _ ...func(*s3.Options)) (*s3.GetObjectLockConfigurationOutput, error) {
	return run(ctx, &c.c, "GetObjectLockConfiguration", in, func(s *scope, in *s3.GetObjectLockConfigurationInput) (*s3.GetObjectLockConfigurationOutput, error) {
		b, err := s.bucket(aws.ToString(in.Bucket))
		if err != nil {
			return nil, err
		}
		if b.ObjectLock == nil {
			return nil, apiError("ObjectLockConfigurationNotFoundError", "Object Lock configuration does not exist for this bucket")
		}
		cfg := &s3types.ObjectLockConfiguration{ObjectLockEnabled: s3types.ObjectLockEnabledEnabled}
		if b.ObjectLock.Mode != "" {
			cfg.Rule = &s3types.ObjectLockRule{DefaultRetention: &s3types.DefaultRetention{Mode: s3types.ObjectLockRetentionMode(b.ObjectLock.Mode), Days: aws.Int32(b.ObjectLock.Days)}}
		}
		return &s3.GetObjectLockConfigurationOutput{ObjectLockConfiguration: cfg}, nil
	})
}

// PutObject implements cloud.S3. Only the size and SHA-256 of the body are kept. In a
// bucket with Object Lock (hence versioning) every put adds a version; the bucket's
// default retention applies when the request sets none.
func (c *S3) PutObject(ctx context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	// The body is read before the account is locked: it may be slow.
	var size int64
	h := sha256.New()
	if in != nil && in.Body != nil {
		n, err := io.Copy(h, in.Body)
		if err != nil {
			return nil, apiError("IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.")
		}
		size = n
	}
	sum := hex.EncodeToString(h.Sum(nil))
	return run(ctx, &c.c, "PutObject", in, func(s *scope, in *s3.PutObjectInput) (*s3.PutObjectOutput, error) {
		b, err := s.bucket(aws.ToString(in.Bucket))
		if err != nil {
			return nil, err
		}
		key := aws.ToString(in.Key)
		if key == "" {
			return nil, apiError("InvalidArgument", "Key must not be empty")
		}
		obj := &world.Object{Key: key, Size: size, SHA256: sum}
		mode, until := string(in.ObjectLockMode), in.ObjectLockRetainUntilDate
		if (mode == "") != (until == nil) {
			return nil, apiError("InvalidArgument", "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied")
		}
		if mode != "" && b.ObjectLock == nil {
			return nil, apiError("InvalidRequest", "Bucket is missing Object Lock Configuration")
		}
		if mode == "" && b.ObjectLock != nil && b.ObjectLock.Mode != "" {
			mode = b.ObjectLock.Mode
			t := s.c.org.opts.Now().Add(time.Duration(b.ObjectLock.Days) * 24 * time.Hour)
			until = &t
		}
		if mode != "" {
			if until.Before(s.c.org.opts.Now()) {
				return nil, apiError("InvalidArgument", "The retain until date must be in the future!")
			}
			obj.Mode, obj.RetainUntil = mode, until.UTC().Format(time.RFC3339)
		}
		out := &s3.PutObjectOutput{ETag: aws.String(`"` + sum[:32] + `"`)}
		if b.ObjectLock != nil {
			b.Objects = append(b.Objects, obj)
			out.VersionId = aws.String(fmt.Sprintf("v%d", len(b.Objects)))
			return out, nil
		}
		for i, o := range b.Objects {
			if o != nil && o.Key == key {
				b.Objects[i] = obj
				return out, nil
			}
		}
		b.Objects = append(b.Objects, obj)
		return out, nil
	})
}

// GetObjectRetention implements cloud.S3 for the latest version of a key.
func (c *S3) GetObjectRetention(ctx context.Context, in *s3.GetObjectRetentionInput, _ ...func(*s3.Options)) (*s3.GetObjectRetentionOutput, error) {
	return run(ctx, &c.c, "GetObjectRetention", in, func(s *scope, in *s3.GetObjectRetentionInput) (*s3.GetObjectRetentionOutput, error) {
		b, err := s.bucket(aws.ToString(in.Bucket))
		if err != nil {
			return nil, err
		}
		if b.ObjectLock == nil {
			return nil, apiError("InvalidRequest", "Bucket is missing Object Lock Configuration")
		}
		var obj *world.Object
		for _, o := range b.Objects {
			if o != nil && o.Key == aws.ToString(in.Key) {
				obj = o
			}
		}
		if obj == nil {
			return nil, apiError("NoSuchKey", "The specified key does not exist.")
		}
		if obj.Mode == "" {
			return nil, apiError("NoSuchObjectLockConfiguration", "The specified object does not have a ObjectLock configuration")
		}
		t, err := time.Parse(time.RFC3339, obj.RetainUntil)
		if err != nil {
			return nil, serverError("InternalError", "stored retain-until date is not RFC 3339")
		}
		return &s3.GetObjectRetentionOutput{Retention: &s3types.ObjectLockRetention{Mode: s3types.ObjectLockRetentionMode(obj.Mode), RetainUntilDate: &t}}, nil
	})
}

// SNS is the simulated SNS API of one account and region.
type SNS struct{ c client }

var _ cloud.SNS = (*SNS)(nil)

// Publish implements cloud.SNS; the message is kept on its topic in the world.
func (c *SNS) Publish(ctx context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	return run(ctx, &c.c, "Publish", in, func(s *scope, in *sns.PublishInput) (*sns.PublishOutput, error) {
		arn := aws.ToString(in.TopicArn)
		if arn == "" {
			return nil, apiError("InvalidParameter", "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter")
		}
		if aws.ToString(in.Message) == "" {
			return nil, apiError("InvalidParameter", "Invalid parameter: Empty message")
		}
		if len(aws.ToString(in.Subject)) > 100 {
			return nil, apiError("InvalidParameter", "Invalid parameter: Subject")
		}
		for _, t := range s.r.SNSTopics {
			if t != nil && s.arn("sns", t.Name) == arn {
				m := &world.Message{ID: s.newUUID(), Subject: aws.ToString(in.Subject), Body: aws.ToString(in.Message)}
				t.Messages = append(t.Messages, m)
				return &sns.PublishOutput{MessageId: aws.String(m.ID)}, nil
			}
		}
		return nil, apiError("NotFound", "Topic does not exist")
	})
}
