// Package event reads detector output (GuardDuty, Security Hub, CloudTrail, AWS Health,
// CloudWatch alarms, any EventBridge event, bare findings and SNS/SQS wrappers of all of
// these) and normalises each into an Event: the one shape playbooks reason about.
package event

import (
	"encoding/json"
	"time"
)

// Source is the detector family an event came from.
type Source string

// The sources of CONTRACTS §1.
const (
	SourceGuardDuty   Source = "guardduty"
	SourceSecurityHub Source = "securityhub"
	SourceCloudTrail  Source = "cloudtrail"
	SourceHealth      Source = "health"
	SourceCloudWatch  Source = "cloudwatch"
	SourceCustom      Source = "custom"
)

// Kind is the kind of resource an event concerns and an action acts on.
type Kind string

// The resource kinds of CONTRACTS §1.
const (
	KindInstance       Kind = "instance"
	KindIAMUser        Kind = "iam-user"
	KindIAMRole        Kind = "iam-role"
	KindAccessKey      Kind = "access-key"
	KindS3Bucket       Kind = "s3-bucket"
	KindSecurityGroup  Kind = "security-group"
	KindIP             Kind = "ip"
	KindTrail          Kind = "trail"
	KindEKSCluster     Kind = "eks-cluster"
	KindLambdaFunction Kind = "lambda-function"
	KindRDSInstance    Kind = "rds-instance"
	KindAccount        Kind = "account"
)

// Kinds lists every resource kind, in a stable order.
var Kinds = []Kind{KindInstance, KindIAMUser, KindIAMRole, KindAccessKey, KindS3Bucket,
	KindSecurityGroup, KindIP, KindTrail, KindEKSCluster, KindLambdaFunction, KindRDSInstance, KindAccount}

// Resource is one AWS resource an event names. ID is the identifier the AWS API takes to
// act on it (instance id, user name, role name, access key id, bucket name, security group
// id, trail name, the IP address itself).
type Resource struct {
	Kind    Kind   `json:"kind"`
	ID      string `json:"id"`
	ARN     string `json:"arn,omitempty"`
	Account string `json:"account,omitempty"`
	Region  string `json:"region,omitempty"`
	// Tags is never nil after normalisation, so that conditions can index it freely.
	Tags map[string]string `json:"tags"`
	// Details holds kind-specific facts the detector reported (an instance's network
	// interfaces, IPs and instance profile; a principal's type), keyed in snake_case.
	Details map[string]any `json:"details,omitempty"`
}

// Actor is the principal behind the activity, when the detector knows it.
type Actor struct {
	ARN           string `json:"arn,omitempty"`
	Type          string `json:"type,omitempty"` // IAMUser, AssumedRole, Root, FederatedUser, AWSService, ...
	PrincipalID   string `json:"principal_id,omitempty"`
	Account       string `json:"account,omitempty"`
	AccessKeyID   string `json:"access_key_id,omitempty"`
	UserName      string `json:"user_name,omitempty"`
	SessionIssuer string `json:"session_issuer,omitempty"` // the role ARN behind an assumed-role session
}

// Network is what the detector saw on the wire.
type Network struct {
	RemoteIPs  []string `json:"remote_ips,omitempty"`
	LocalIPs   []string `json:"local_ips,omitempty"`
	Ports      []int    `json:"ports,omitempty"`
	Protocol   string   `json:"protocol,omitempty"`
	Direction  string   `json:"direction,omitempty"` // INBOUND | OUTBOUND
	Domains    []string `json:"domains,omitempty"`
	UserAgents []string `json:"user_agents,omitempty"`
}

// Event is a normalised detector event (CONTRACTS §1).
type Event struct {
	ID          string     `json:"id"`
	Source      Source     `json:"source"`
	Type        string     `json:"type"`
	Account     string     `json:"account"`
	Region      string     `json:"region"`
	Time        time.Time  `json:"time"`
	Severity    float64    `json:"severity"` // 0–10, GuardDuty scale
	Title       string     `json:"title,omitempty"`
	Description string     `json:"description,omitempty"`
	Resources   []Resource `json:"resources"`
	Actor       *Actor     `json:"actor,omitempty"`
	Network     *Network   `json:"network,omitempty"`
	// FindingID and UpdatedAt identify a finding across repeated deliveries, so that a
	// re-sent finding can be told from a new one.
	FindingID string     `json:"finding_id,omitempty"`
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
	// Details holds event-level facts that have no field of their own and that conditions
	// may still want (a Security Hub finding's product, generator, compliance and workflow
	// status; a Health event's service and category; an alarm's state), keyed in snake_case.
	Details map[string]any `json:"details,omitempty"`
	// Raw is the original JSON value as read (for a Security Hub finding, that finding).
	Raw json.RawMessage `json:"raw,omitempty"`
	// Envelope is the event as EventBridge delivers it (synthesised for bare findings; one
	// per Security Hub finding), decoded with json.Decoder.UseNumber. Patterns match it.
	Envelope map[string]any `json:"-"`
}
