// Package world is the simulated organisation of CONTRACTS §4: the accounts, regions and
// resources that `replay --world`, `run --world` and `serve --dev` act on. A World is read
// from YAML, mutated by the simulated AWS API in cloud/sim, and written back as JSON in the
// same shape, so that a final state can be compared with an expected one as text.
package world

import (
	"encoding/json"
	"io"
	"sort"
)

// World is a whole organisation.
type World struct {
	Accounts []*Account `yaml:"accounts" json:"accounts"`
}

// Account is one member account. IAM is global to it; everything else is per region.
type Account struct {
	ID      string             `yaml:"id" json:"id"`
	Name    string             `yaml:"name" json:"name"`
	Tags    map[string]string  `yaml:"tags" json:"tags"`
	Regions map[string]*Region `yaml:"regions" json:"regions"`
	IAM     *IAM               `yaml:"iam" json:"iam"`
}

// Region holds an account's resources in one region. The first eight lists are those of
// CONTRACTS §4; the rest extend it and are omitted from a dump when empty.
type Region struct {
	VPCs           []*VPC           `yaml:"vpcs" json:"vpcs"`
	Subnets        []*Subnet        `yaml:"subnets" json:"subnets"`
	SecurityGroups []*SecurityGroup `yaml:"security_groups" json:"security_groups"`
	Instances      []*Instance      `yaml:"instances" json:"instances"`
	Snapshots      []*Snapshot      `yaml:"snapshots" json:"snapshots"`
	Trails         []*Trail         `yaml:"trails" json:"trails"`
	WAFIPSets      []*IPSet         `yaml:"waf_ip_sets" json:"waf_ip_sets"`
	Buckets        []*Bucket        `yaml:"buckets" json:"buckets"`

	NetworkACLs        []*NetworkACL         `yaml:"network_acls,omitempty" json:"network_acls,omitempty"`
	AutoScalingGroups  []*AutoScalingGroup   `yaml:"auto_scaling_groups,omitempty" json:"auto_scaling_groups,omitempty"`
	TargetGroups       []*TargetGroup        `yaml:"target_groups,omitempty" json:"target_groups,omitempty"`
	SNSTopics          []*Topic              `yaml:"sns_topics,omitempty" json:"sns_topics,omitempty"`
	GuardDuty          *GuardDuty            `yaml:"guardduty,omitempty" json:"guardduty,omitempty"`
	SecurityHub        []*SecurityHubFinding `yaml:"securityhub_findings,omitempty" json:"securityhub_findings,omitempty"`
	SSMCommands        []*SSMCommand         `yaml:"ssm_commands,omitempty" json:"ssm_commands,omitempty"`
	SSMAutomations     []*SSMAutomation      `yaml:"ssm_automation_executions,omitempty" json:"ssm_automation_executions,omitempty"`
	SSMDocuments       []string              `yaml:"ssm_documents,omitempty" json:"ssm_documents,omitempty"`
	FirewallRuleGroups []*FirewallRuleGroup  `yaml:"network_firewall_rule_groups,omitempty" json:"network_firewall_rule_groups,omitempty"`
}

// VPC is a virtual network.
type VPC struct {
	ID string `yaml:"id" json:"id"`
}

// Subnet is a subnet of a VPC.
type Subnet struct {
	ID  string `yaml:"id" json:"id"`
	VPC string `yaml:"vpc" json:"vpc"`
}

// SecurityGroup is a VPC security group. A group written without egress rules has none:
// the default allow-all egress rule AWS adds is added by CreateSecurityGroup, not by Load.
type SecurityGroup struct {
	ID          string            `yaml:"id" json:"id"`
	Name        string            `yaml:"name,omitempty" json:"name,omitempty"`
	Description string            `yaml:"description,omitempty" json:"description,omitempty"`
	VPC         string            `yaml:"vpc" json:"vpc"`
	Ingress     []*Rule           `yaml:"ingress" json:"ingress"`
	Egress      []*Rule           `yaml:"egress,omitempty" json:"egress,omitempty"`
	Tags        map[string]string `yaml:"tags,omitempty" json:"tags,omitempty"`
}

// Rule is one security group rule with one source or destination. Protocol is tcp, udp,
// icmp, a protocol number, or -1 (also written all) for every protocol. Port is shorthand
// for a single port; FromPort and ToPort give a range instead.
type Rule struct {
	ID          string `yaml:"id,omitempty" json:"id,omitempty"`
	Protocol    string `yaml:"protocol" json:"protocol"`
	Port        int32  `yaml:"port,omitempty" json:"port,omitempty"`
	FromPort    int32  `yaml:"from_port,omitempty" json:"from_port,omitempty"`
	ToPort      int32  `yaml:"to_port,omitempty" json:"to_port,omitempty"`
	CIDR        string `yaml:"cidr,omitempty" json:"cidr,omitempty"`
	CIDRv6      string `yaml:"cidr_ipv6,omitempty" json:"cidr_ipv6,omitempty"`
	SourceGroup string `yaml:"source_group,omitempty" json:"source_group,omitempty"`
	PrefixList  string `yaml:"prefix_list,omitempty" json:"prefix_list,omitempty"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
}

// Instance is an EC2 instance. SecurityGroups are those of its primary network interface;
// NetworkInterfaces lists only the interfaces beyond it.
type Instance struct {
	ID              string            `yaml:"id" json:"id"`
	Subnet          string            `yaml:"subnet" json:"subnet"`
	SecurityGroups  []string          `yaml:"security_groups" json:"security_groups"`
	Volumes         []string          `yaml:"volumes" json:"volumes"`
	InstanceProfile string            `yaml:"instance_profile" json:"instance_profile"`
	State           string            `yaml:"state" json:"state"`
	Tags            map[string]string `yaml:"tags" json:"tags"`

	Type       string `yaml:"type,omitempty" json:"type,omitempty"`
	PrivateIP  string `yaml:"private_ip,omitempty" json:"private_ip,omitempty"`
	PublicIP   string `yaml:"public_ip,omitempty" json:"public_ip,omitempty"`
	PrimaryENI string `yaml:"primary_network_interface,omitempty" json:"primary_network_interface,omitempty"`
	// NetworkInterfaces are the secondary interfaces (device index 1 and up, in order).
	NetworkInterfaces     []*NetworkInterface `yaml:"network_interfaces,omitempty" json:"network_interfaces,omitempty"`
	DisableAPITermination bool                `yaml:"disable_api_termination,omitempty" json:"disable_api_termination,omitempty"`
	Metadata              *MetadataOptions    `yaml:"metadata_options,omitempty" json:"metadata_options,omitempty"`
	// SSMManaged says the SSM agent is online, so Run Command reaches the instance.
	SSMManaged bool `yaml:"ssm_managed,omitempty" json:"ssm_managed,omitempty"`
}

// NetworkInterface is a secondary elastic network interface attached to an instance.
type NetworkInterface struct {
	ID             string   `yaml:"id" json:"id"`
	Subnet         string   `yaml:"subnet,omitempty" json:"subnet,omitempty"`
	SecurityGroups []string `yaml:"security_groups" json:"security_groups"`
	PrivateIP      string   `yaml:"private_ip,omitempty" json:"private_ip,omitempty"`
}

// MetadataOptions are an instance's metadata service (IMDS) settings. Absent means AWS's
// defaults: tokens optional, endpoint enabled, hop limit 1.
type MetadataOptions struct {
	HTTPTokens   string `yaml:"http_tokens,omitempty" json:"http_tokens,omitempty"`     // optional | required
	HTTPEndpoint string `yaml:"http_endpoint,omitempty" json:"http_endpoint,omitempty"` // enabled | disabled
	HopLimit     int32  `yaml:"http_put_response_hop_limit,omitempty" json:"http_put_response_hop_limit,omitempty"`
}

// Snapshot is an EBS snapshot.
type Snapshot struct {
	ID          string            `yaml:"id" json:"id"`
	Volume      string            `yaml:"volume" json:"volume"`
	Tags        map[string]string `yaml:"tags" json:"tags"`
	Instance    string            `yaml:"instance,omitempty" json:"instance,omitempty"`
	Description string            `yaml:"description,omitempty" json:"description,omitempty"`
	State       string            `yaml:"state,omitempty" json:"state,omitempty"` // completed when empty
}

// Trail is a CloudTrail trail.
type Trail struct {
	Name        string `yaml:"name" json:"name"`
	Logging     bool   `yaml:"logging" json:"logging"`
	MultiRegion bool   `yaml:"multi_region,omitempty" json:"multi_region,omitempty"`
	Bucket      string `yaml:"s3_bucket,omitempty" json:"s3_bucket,omitempty"`
}

// IPSet is a WAFv2 IP set. LockToken changes on every update; empty means "not yet
// issued" and the simulator issues one on first read.
type IPSet struct {
	Name        string   `yaml:"name" json:"name"`
	Scope       string   `yaml:"scope" json:"scope"` // REGIONAL | CLOUDFRONT
	Addresses   []string `yaml:"addresses" json:"addresses"`
	ID          string   `yaml:"id,omitempty" json:"id,omitempty"`
	IPVersion   string   `yaml:"ip_version,omitempty" json:"ip_version,omitempty"` // IPV4 when empty
	Description string   `yaml:"description,omitempty" json:"description,omitempty"`
	LockToken   string   `yaml:"lock_token,omitempty" json:"lock_token,omitempty"`
}

// Bucket is an S3 bucket. PublicAccessBlock true means all four settings are on; a
// partial configuration is spelt out in PublicAccessBlockConfig instead.
type Bucket struct {
	Name                    string             `yaml:"name" json:"name"`
	PublicAccessBlock       bool               `yaml:"public_access_block" json:"public_access_block"`
	PublicAccessBlockConfig *PublicAccessBlock `yaml:"public_access_block_config,omitempty" json:"public_access_block_config,omitempty"`
	Encryption              *Encryption        `yaml:"encryption,omitempty" json:"encryption,omitempty"`
	ObjectLock              *ObjectLock        `yaml:"object_lock,omitempty" json:"object_lock,omitempty"`
	Objects                 []*Object          `yaml:"objects,omitempty" json:"objects,omitempty"`
	Tags                    map[string]string  `yaml:"tags,omitempty" json:"tags,omitempty"`
}

// PublicAccessBlock is a bucket's four public access block settings.
type PublicAccessBlock struct {
	BlockPublicACLs       bool `yaml:"block_public_acls" json:"block_public_acls"`
	IgnorePublicACLs      bool `yaml:"ignore_public_acls" json:"ignore_public_acls"`
	BlockPublicPolicy     bool `yaml:"block_public_policy" json:"block_public_policy"`
	RestrictPublicBuckets bool `yaml:"restrict_public_buckets" json:"restrict_public_buckets"`
}

// Encryption is a bucket's default server-side encryption.
type Encryption struct {
	Algorithm string `yaml:"algorithm" json:"algorithm"` // AES256 | aws:kms | aws:kms:dsse
	KMSKey    string `yaml:"kms_key,omitempty" json:"kms_key,omitempty"`
	BucketKey bool   `yaml:"bucket_key,omitempty" json:"bucket_key,omitempty"`
}

// ObjectLock is a bucket's Object Lock configuration; its presence means Object Lock is
// enabled. Mode and Days are the default retention, when one is set.
type ObjectLock struct {
	Mode string `yaml:"mode,omitempty" json:"mode,omitempty"` // GOVERNANCE | COMPLIANCE
	Days int32  `yaml:"days,omitempty" json:"days,omitempty"`
}

// Object is an object stored in a bucket (evidence). Contents are not kept, only a digest.
type Object struct {
	Key         string `yaml:"key" json:"key"`
	Size        int64  `yaml:"size" json:"size"`
	SHA256      string `yaml:"sha256,omitempty" json:"sha256,omitempty"`
	Mode        string `yaml:"retention_mode,omitempty" json:"retention_mode,omitempty"`
	RetainUntil string `yaml:"retain_until,omitempty" json:"retain_until,omitempty"` // RFC 3339
}

// NetworkACL is a VPC network ACL and the subnets associated with it.
type NetworkACL struct {
	ID      string      `yaml:"id" json:"id"`
	VPC     string      `yaml:"vpc" json:"vpc"`
	Default bool        `yaml:"default,omitempty" json:"default,omitempty"`
	Subnets []string    `yaml:"subnets" json:"subnets"`
	Entries []*ACLEntry `yaml:"entries" json:"entries"`
}

// ACLEntry is one numbered network ACL rule.
type ACLEntry struct {
	RuleNumber int32  `yaml:"rule_number" json:"rule_number"`
	Egress     bool   `yaml:"egress,omitempty" json:"egress,omitempty"`
	Action     string `yaml:"action" json:"action"` // allow | deny
	Protocol   string `yaml:"protocol" json:"protocol"`
	CIDR       string `yaml:"cidr" json:"cidr"`
	FromPort   int32  `yaml:"from_port,omitempty" json:"from_port,omitempty"`
	ToPort     int32  `yaml:"to_port,omitempty" json:"to_port,omitempty"`
}

// AutoScalingGroup is an EC2 Auto Scaling group.
type AutoScalingGroup struct {
	Name            string   `yaml:"name" json:"name"`
	MinSize         int32    `yaml:"min_size" json:"min_size"`
	MaxSize         int32    `yaml:"max_size" json:"max_size"`
	DesiredCapacity int32    `yaml:"desired_capacity" json:"desired_capacity"`
	Instances       []string `yaml:"instances" json:"instances"`                 // InService
	Standby         []string `yaml:"standby,omitempty" json:"standby,omitempty"` // Standby
}

// TargetGroup is an ELBv2 target group and its registered targets.
type TargetGroup struct {
	Name     string    `yaml:"name" json:"name"`
	ARN      string    `yaml:"arn,omitempty" json:"arn,omitempty"`
	VPC      string    `yaml:"vpc,omitempty" json:"vpc,omitempty"`
	Protocol string    `yaml:"protocol,omitempty" json:"protocol,omitempty"`
	Port     int32     `yaml:"port,omitempty" json:"port,omitempty"`
	Targets  []*Target `yaml:"targets" json:"targets"`
}

// Target is a registered instance target. Port zero means the group's port.
type Target struct {
	ID   string `yaml:"id" json:"id"`
	Port int32  `yaml:"port,omitempty" json:"port,omitempty"`
}

// Topic is an SNS topic and the messages published to it.
type Topic struct {
	Name     string     `yaml:"name" json:"name"`
	Messages []*Message `yaml:"messages,omitempty" json:"messages,omitempty"`
}

// Message is one published SNS message.
type Message struct {
	ID      string `yaml:"id" json:"id"`
	Subject string `yaml:"subject,omitempty" json:"subject,omitempty"`
	Body    string `yaml:"body" json:"body"`
}

// GuardDuty is a region's GuardDuty detector and its findings.
type GuardDuty struct {
	DetectorID string              `yaml:"detector_id" json:"detector_id"`
	Findings   []*GuardDutyFinding `yaml:"findings" json:"findings"`
}

// GuardDutyFinding is one GuardDuty finding.
type GuardDutyFinding struct {
	ID       string  `yaml:"id" json:"id"`
	Type     string  `yaml:"type" json:"type"`
	Severity float64 `yaml:"severity" json:"severity"`
	Archived bool    `yaml:"archived,omitempty" json:"archived,omitempty"`
}

// SecurityHubFinding is one Security Hub finding in the fields BatchUpdateFindings changes.
type SecurityHubFinding struct {
	ID             string            `yaml:"id" json:"id"`
	ProductARN     string            `yaml:"product_arn" json:"product_arn"`
	Title          string            `yaml:"title,omitempty" json:"title,omitempty"`
	Severity       string            `yaml:"severity,omitempty" json:"severity,omitempty"`               // label
	WorkflowStatus string            `yaml:"workflow_status,omitempty" json:"workflow_status,omitempty"` // NEW when empty
	Note           string            `yaml:"note,omitempty" json:"note,omitempty"`
	UserDefined    map[string]string `yaml:"user_defined_fields,omitempty" json:"user_defined_fields,omitempty"`
}

// SSMCommand is a Run Command invocation and its per-instance status.
type SSMCommand struct {
	ID         string              `yaml:"id" json:"id"`
	Document   string              `yaml:"document" json:"document"`
	Instances  []string            `yaml:"instances" json:"instances"`
	Parameters map[string][]string `yaml:"parameters,omitempty" json:"parameters,omitempty"`
	Status     string              `yaml:"status" json:"status"`
}

// SSMAutomation is an Automation execution.
type SSMAutomation struct {
	ID         string              `yaml:"id" json:"id"`
	Document   string              `yaml:"document" json:"document"`
	Parameters map[string][]string `yaml:"parameters,omitempty" json:"parameters,omitempty"`
	Status     string              `yaml:"status" json:"status"`
}

// FirewallRuleGroup is a Network Firewall rule group. RuleGroup is the rule group in the
// API's own JSON shape (as `aws network-firewall describe-rule-group` prints it).
type FirewallRuleGroup struct {
	Name        string         `yaml:"name" json:"name"`
	Type        string         `yaml:"type" json:"type"` // STATELESS | STATEFUL
	Capacity    int32          `yaml:"capacity,omitempty" json:"capacity,omitempty"`
	UpdateToken string         `yaml:"update_token,omitempty" json:"update_token,omitempty"`
	RuleGroup   map[string]any `yaml:"rule_group" json:"rule_group"`
}

// IAM is an account's users and roles.
type IAM struct {
	Users []*User `yaml:"users" json:"users"`
	Roles []*Role `yaml:"roles" json:"roles"`
}

// User is an IAM user.
type User struct {
	Name                  string            `yaml:"name" json:"name"`
	AccessKeys            []*AccessKey      `yaml:"access_keys" json:"access_keys"`
	LoginProfile          bool              `yaml:"login_profile" json:"login_profile"`
	Tags                  map[string]string `yaml:"tags" json:"tags"`
	PasswordResetRequired bool              `yaml:"password_reset_required,omitempty" json:"password_reset_required,omitempty"`
	// Policies are inline policies, by name, each a JSON policy document.
	Policies map[string]string `yaml:"policies,omitempty" json:"policies,omitempty"`
}

// AccessKey is an IAM access key.
type AccessKey struct {
	ID     string `yaml:"id" json:"id"`
	Status string `yaml:"status" json:"status"` // Active | Inactive
}

// Role is an IAM role.
type Role struct {
	Name     string            `yaml:"name" json:"name"`
	Tags     map[string]string `yaml:"tags,omitempty" json:"tags,omitempty"`
	Policies map[string]string `yaml:"policies,omitempty" json:"policies,omitempty"`
}

// Dump writes the world as indented JSON in the world-file shape. Lists keep their order
// and maps are written sorted, so two dumps of equal worlds are equal as text.
func (w *World) Dump(out io.Writer) error {
	w.normalise()
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(w)
}

// normalise replaces the nil lists and maps of documented fields with empty ones, so that
// a dump always has every documented key and readers need not tell null from [].
func (w *World) normalise() {
	if w.Accounts == nil {
		w.Accounts = []*Account{}
	}
	for _, a := range w.Accounts {
		a.Tags = emptyMap(a.Tags)
		if a.Regions == nil {
			a.Regions = map[string]*Region{}
		}
		if a.IAM == nil {
			a.IAM = &IAM{}
		}
		a.IAM.Users = emptyList(a.IAM.Users)
		a.IAM.Roles = emptyList(a.IAM.Roles)
		for _, u := range a.IAM.Users {
			u.AccessKeys = emptyList(u.AccessKeys)
			u.Tags = emptyMap(u.Tags)
		}
		for name, r := range a.Regions {
			if r == nil {
				r = &Region{}
				a.Regions[name] = r
			}
			r.VPCs = emptyList(r.VPCs)
			r.Subnets = emptyList(r.Subnets)
			r.SecurityGroups = emptyList(r.SecurityGroups)
			r.Instances = emptyList(r.Instances)
			r.Snapshots = emptyList(r.Snapshots)
			r.Trails = emptyList(r.Trails)
			r.WAFIPSets = emptyList(r.WAFIPSets)
			r.Buckets = emptyList(r.Buckets)
			for _, g := range r.SecurityGroups {
				g.Ingress = emptyList(g.Ingress)
			}
			for _, i := range r.Instances {
				i.SecurityGroups = emptyList(i.SecurityGroups)
				i.Volumes = emptyList(i.Volumes)
				i.Tags = emptyMap(i.Tags)
			}
			for _, s := range r.Snapshots {
				s.Tags = emptyMap(s.Tags)
			}
			for _, s := range r.WAFIPSets {
				s.Addresses = emptyList(s.Addresses)
			}
		}
	}
}

func emptyList[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func emptyMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// RegionNames returns an account's region names, sorted.
func (a *Account) RegionNames() []string {
	names := make([]string, 0, len(a.Regions))
	for n := range a.Regions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
