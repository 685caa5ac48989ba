// Package awscloud is the cloud.Provider that acts on real AWS (or on any AWS-compatible
// endpoint): the hub's credentials come from the SDK's default chain, and each member
// account is reached by assuming the responder role in it.
package awscloud

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
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
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/wafv2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/firebreak-sec/firebreak/internal/cloud"
)

// Defaults for Options fields left zero.
const (
	DefaultRoleName    = "FirebreakResponder"
	DefaultSessionName = "firebreak"
	// DefaultMaxAttempts bounds the SDK's adaptive retries: enough to ride out a burst of
	// throttling, few enough that a failing step is reported within a minute.
	DefaultMaxAttempts = 5
	// DefaultMaxInFlight is how many calls may be outstanding per account and service.
	DefaultMaxInFlight = 10
	// DefaultExpiryWindow refreshes assumed-role credentials this long before they expire, so
	// that a long step (snapshotting many volumes) never signs with credentials about to lapse.
	DefaultExpiryWindow = 5 * time.Minute
	// DefaultRoleDuration is the assumed-role session length: AWS's maximum for role chaining,
	// which every role allows.
	DefaultRoleDuration = time.Hour
)

// Options configure the Provider. The zero value is valid.
type Options struct {
	// Registry, when set, receives firebreak_aws_calls_total{account,service,operation,code},
	// one count per call (retries included) with its final error code, or "OK".
	Registry *prometheus.Registry
	// RoleName is the role assumed in each member account; it may carry a path
	// ("responders/FirebreakResponder"). Default DefaultRoleName.
	RoleName string
	// ExternalID is passed to sts:AssumeRole when the member roles' trust policies demand one.
	ExternalID string
	// Accounts override the role, the external id or the regions of single accounts, by
	// account id; every other account takes RoleName and ExternalID.
	Accounts map[string]Account
	// SessionName names the assumed-role sessions when the context names none (see
	// WithSessionName). Default DefaultSessionName.
	SessionName string
	// Endpoint, when set, sends every service's calls there (an AWS-compatible endpoint such
	// as moto or LocalStack), overriding AWS_ENDPOINT_URL and the SDK's resolution.
	Endpoint string
	// SameAccount, when true, makes calls in the hub's own account with the hub's own
	// credentials instead of assuming the role there.
	SameAccount bool
	// HubAccount is the hub's own account id. When empty and SameAccount is set, it is
	// learned once with sts:GetCallerIdentity.
	HubAccount string
	// MaxAttempts bounds each call's attempts, retries included. Default DefaultMaxAttempts.
	MaxAttempts int
	// MaxBackoff bounds the wait between attempts. Default the SDK's (20s).
	MaxBackoff time.Duration
	// MaxInFlight bounds the calls outstanding per (account, service), so that one account
	// being throttled holds back only its own work. Default DefaultMaxInFlight.
	MaxInFlight int
	// ExpiryWindow is how long before expiry assumed-role credentials are refreshed.
	// Default DefaultExpiryWindow.
	ExpiryWindow time.Duration
	// RoleDuration is the assumed-role session length. Default DefaultRoleDuration.
	RoleDuration time.Duration
}

// Account is how Firebreak acts in one member account when it differs from the rest.
type Account struct {
	// Role is a role name or path, or the ARN of a role in the account. Empty: RoleName.
	Role string
	// ExternalID replaces Options.ExternalID for this account. Empty: Options.ExternalID.
	ExternalID string
	// Regions, when given, are the only regions calls in the account may go to: a call
	// elsewhere fails before anything is sent, so that an event naming an unexpected
	// region cannot make Firebreak act where the account's owners did not agree to.
	Regions []string
}

func (o *Options) setDefaults() {
	if o.RoleName == "" {
		o.RoleName = DefaultRoleName
	}
	if o.SessionName == "" {
		o.SessionName = DefaultSessionName
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.ExpiryWindow <= 0 {
		o.ExpiryWindow = DefaultExpiryWindow
	}
	if o.RoleDuration <= 0 {
		o.RoleDuration = DefaultRoleDuration
	}
}

var (
	accountID = regexp.MustCompile(`^\d{12}$`)
	// roleName follows IAM's rules for role names and paths.
	roleName   = regexp.MustCompile(`^([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$`)
	regionName = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)
)

func (o *Options) validate() error {
	if !roleName.MatchString(o.RoleName) {
		return fmt.Errorf("role name %q: want an IAM role name, optionally with a path", o.RoleName)
	}
	if o.HubAccount != "" && !accountID.MatchString(o.HubAccount) {
		return fmt.Errorf("hub account %q: want a 12-digit account id", o.HubAccount)
	}
	if o.ExternalID != "" && (len(o.ExternalID) < 2 || len(o.ExternalID) > 1224) {
		return fmt.Errorf("external id: want 2 to 1224 characters, got %d", len(o.ExternalID))
	}
	for id, a := range o.Accounts {
		if !accountID.MatchString(id) {
			return fmt.Errorf("account %q: want a 12-digit account id", id)
		}
		if m := roleARN.FindStringSubmatch(a.Role); strings.HasPrefix(a.Role, "arn:") && (m == nil || m[1] != id) {
			return fmt.Errorf("account %s: role %q is not the ARN of a role in that account", id, a.Role)
		} else if a.Role != "" && !strings.HasPrefix(a.Role, "arn:") && !roleName.MatchString(a.Role) {
			return fmt.Errorf("account %s: role %q: want an IAM role name, optionally with a path, or a role ARN", id, a.Role)
		}
		if a.ExternalID != "" && (len(a.ExternalID) < 2 || len(a.ExternalID) > 1224) {
			return fmt.Errorf("account %s: external id: want 2 to 1224 characters, got %d", id, len(a.ExternalID))
		}
		for _, r := range a.Regions {
			if !regionName.MatchString(r) {
				return fmt.Errorf("account %s: region %q: want an AWS region such as us-east-1", id, r)
			}
		}
	}
	return nil
}

// roleARN matches a role ARN in any partition; its first group is the account.
var roleARN = regexp.MustCompile(`^arn:aws(?:-cn|-us-gov)?:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}$`)

// roleFor returns the ARN of the role to assume in account, and the external id to pass.
func (p *Provider) roleFor(account string) (arn, externalID string) {
	a := p.opts.Accounts[account]
	role, externalID := a.Role, a.ExternalID
	if role == "" {
		role = p.opts.RoleName
	}
	if externalID == "" {
		externalID = p.opts.ExternalID
	}
	if strings.HasPrefix(role, "arn:") {
		return role, externalID
	}
	return fmt.Sprintf("arn:%s:iam::%s:role/%s", partition(p.hub.Region), account, role), externalID
}

// RegionError says a call was refused because its account is configured to be acted on
// only in other regions. It is permanent: the configuration, not the moment, forbids it.
type RegionError struct {
	Account, Region string
	Allowed         []string
}

func (e *RegionError) Error() string {
	return fmt.Sprintf("account %s is acted on only in %s (accounts.overrides); not in %s: add the region to the account's regions to allow it",
		e.Account, strings.Join(e.Allowed, ", "), e.Region)
}

// Provider is the cloud.Provider backed by the AWS SDK. It is safe for concurrent use;
// credentials are cached per (account, session name) and clients per (account, region,
// service), so repeated calls cost neither an sts:AssumeRole nor a client build.
type Provider struct {
	opts Options
	hub  aws.Config
	sts  *sts.Client

	mu       sync.Mutex
	clients  map[clientKey]any
	sessions map[sessionKey]*session
	limits   map[limitKey]chan struct{}

	hubOnce    sync.Mutex
	hubAccount string

	calls *prometheus.CounterVec // nil without a registry
}

type clientKey struct{ account, region, service string }
type sessionKey struct{ account, name string }
type limitKey struct{ account, service string }

type session struct {
	creds    *aws.CredentialsCache
	lastUsed time.Time
}

var _ cloud.Provider = (*Provider)(nil)

// New builds a Provider from the SDK's default configuration chain (environment, shared
// profiles, web identity, IMDS, AWS_ENDPOINT_URL). loadOpts adjust that chain, e.g.
// config.WithSharedConfigProfile.
func New(ctx context.Context, opts Options, loadOpts ...func(*config.LoadOptions) error) (*Provider, error) {
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	return NewFromConfig(cfg, opts)
}

// NewFromConfig builds a Provider whose hub identity and defaults come from cfg.
func NewFromConfig(cfg aws.Config, opts Options) (*Provider, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	hub := cfg.Copy()
	if opts.Endpoint != "" {
		hub.BaseEndpoint = aws.String(opts.Endpoint)
	}
	maxAttempts, maxBackoff := opts.MaxAttempts, opts.MaxBackoff
	// Each client calls this once, so each (account, region, service) gets its own adaptive
	// rate limiter: throttling in one account slows only that account's calls.
	hub.Retryer = func() aws.Retryer {
		return retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
			o.StandardOptions = append(o.StandardOptions, func(so *retry.StandardOptions) {
				so.MaxAttempts = maxAttempts
				if maxBackoff > 0 {
					so.MaxBackoff = maxBackoff
				}
			})
		})
	}
	stsCfg := hub.Copy()
	if stsCfg.Region == "" {
		stsCfg.Region = "us-east-1"
	}
	var calls *prometheus.CounterVec
	if opts.Registry != nil {
		calls = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_aws_calls_total",
			Help: "AWS API calls made in member accounts, by final result: OK or the AWS error code.",
		}, []string{"account", "service", "operation", "code"})
		if err := opts.Registry.Register(calls); err != nil {
			return nil, fmt.Errorf("register AWS call metrics: %w", err)
		}
	}
	return &Provider{
		calls:      calls,
		opts:       opts,
		hub:        hub,
		sts:        sts.NewFromConfig(stsCfg),
		clients:    map[clientKey]any{},
		sessions:   map[sessionKey]*session{},
		limits:     map[limitKey]chan struct{}{},
		hubAccount: opts.HubAccount,
	}, nil
}

type sessionNameKey struct{}

// WithSessionName names the assumed-role sessions of calls made with ctx, so that CloudTrail
// in the member account shows which incident acted. AWS allows [\w+=,.@-]{2,64}; other
// characters become '-' and longer names are cut.
func WithSessionName(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, sessionNameKey{}, name)
}

var sessionUnsafe = regexp.MustCompile(`[^\w+=,.@-]`)

// SessionName returns the session name calls made with ctx use, falling back to fallback
// when ctx names none or names one that cannot be made valid.
func SessionName(ctx context.Context, fallback string) string {
	name, _ := ctx.Value(sessionNameKey{}).(string)
	name = sessionUnsafe.ReplaceAllString(name, "-")
	if len(name) > 64 {
		name = name[:64]
	}
	if len(name) < 2 {
		return fallback
	}
	return name
}

// credentialsFor returns the credentials provider for calls in account. For a member
// account it resolves, on each signing, the session named by the call's context.
func (p *Provider) credentialsFor(ctx context.Context, account string) (aws.CredentialsProvider, error) {
	if p.opts.SameAccount {
		hub, err := p.hubAccountID(ctx)
		if err != nil {
			return nil, err
		}
		if hub == account {
			return p.hub.Credentials, nil
		}
	}
	return sessionCredentials{p: p, account: account}, nil
}

// sessionCredentials picks, per call, the cached credentials for (account, session name).
// The SDK hands the call's context to Retrieve, which is what lets one client serve every
// incident while CloudTrail still tells them apart.
type sessionCredentials struct {
	p       *Provider
	account string
}

// Retrieve returns credentials for the role in the account, assuming it when the cached
// credentials are missing or about to expire.
func (s sessionCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	return s.p.session(s.account, SessionName(ctx, s.p.opts.SessionName)).Retrieve(ctx)
}

func (p *Provider) session(account, name string) *aws.CredentialsCache {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	key := sessionKey{account, name}
	if s, ok := p.sessions[key]; ok {
		s.lastUsed = now
		return s.creds
	}
	// One session per incident would otherwise accumulate for the life of the server; a
	// session unused for longer than its credentials last holds nothing worth keeping.
	for k, s := range p.sessions {
		if now.Sub(s.lastUsed) > p.opts.RoleDuration {
			delete(p.sessions, k)
		}
	}
	arn, externalID := p.roleFor(account)
	assume := stscreds.NewAssumeRoleProvider(p.sts, arn, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = name
		o.Duration = p.opts.RoleDuration
		if externalID != "" {
			o.ExternalID = aws.String(externalID)
		}
	})
	window := p.opts.ExpiryWindow
	creds := aws.NewCredentialsCache(assume, func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = window
	})
	p.sessions[key] = &session{creds: creds, lastUsed: now}
	return creds
}

// partition returns the ARN partition of the hub's region.
func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// iamRegion returns the region IAM calls are signed for in the hub region's partition.
func iamRegion(region string) string {
	switch partition(region) {
	case "aws-cn":
		return "cn-north-1"
	case "aws-us-gov":
		return "us-gov-west-1"
	}
	return "us-east-1"
}

func (p *Provider) hubAccountID(ctx context.Context) (string, error) {
	p.hubOnce.Lock()
	defer p.hubOnce.Unlock()
	if p.hubAccount != "" {
		return p.hubAccount, nil
	}
	out, err := p.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("learn the hub's own account with sts:GetCallerIdentity (or set the hub account explicitly): %w", err)
	}
	p.hubAccount = aws.ToString(out.Account)
	return p.hubAccount, nil
}

// limiter returns the semaphore shared by every client of (account, service), whatever
// the region: AWS's request quotas are mostly per account and service.
func (p *Provider) limiter(account, service string) chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := limitKey{account, service}
	sem, ok := p.limits[key]
	if !ok {
		sem = make(chan struct{}, p.opts.MaxInFlight)
		p.limits[key] = sem
	}
	return sem
}

// errNoRegion is returned when neither the call nor the configuration names a region.
var errNoRegion = errors.New("no region: the event names none and the AWS configuration sets none (set AWS_REGION)")

// client returns the cached client for (account, region, service), building it with build
// on first use.
func client[T any](ctx context.Context, p *Provider, account, region, service string, build func(aws.Config) T) (T, error) {
	var zero T
	if !accountID.MatchString(account) {
		return zero, fmt.Errorf("account %q: want a 12-digit account id", account)
	}
	if region == "" {
		region = p.hub.Region
	}
	if region == "" {
		return zero, errNoRegion
	}
	if !regionName.MatchString(region) {
		return zero, fmt.Errorf("region %q: want an AWS region such as us-east-1", region)
	}
	// IAM is global: its calls are signed for one region whatever the target's.
	if allowed := p.opts.Accounts[account].Regions; len(allowed) > 0 && service != "iam" && !slices.Contains(allowed, region) {
		return zero, &RegionError{Account: account, Region: region, Allowed: allowed}
	}
	key := clientKey{account, region, service}
	p.mu.Lock()
	c, ok := p.clients[key]
	p.mu.Unlock()
	if ok {
		return c.(T), nil
	}
	creds, err := p.credentialsFor(ctx, account)
	if err != nil {
		return zero, err
	}
	cfg := p.hub.Copy()
	cfg.Region = region
	cfg.Credentials = creds
	cfg.APIOptions = append(cfg.APIOptions, limitInFlight(p.limiter(account, service)))
	if p.calls != nil {
		cfg.APIOptions = append(cfg.APIOptions, countCalls(p.calls, account))
	}
	built := build(cfg)
	p.mu.Lock()
	defer p.mu.Unlock()
	// Two callers may race to build the same client; keeping the first keeps one adaptive
	// rate limiter per key.
	if c, ok := p.clients[key]; ok {
		return c.(T), nil
	}
	p.clients[key] = built
	return built, nil
}

// pathStyle makes S3 address buckets in the path when an endpoint is overridden: local
// AWS-compatible endpoints do not resolve bucket.host names.
func (p *Provider) pathStyle() bool { return p.hub.BaseEndpoint != nil }

// EC2 returns an EC2 client acting in account and region.
func (p *Provider) EC2(ctx context.Context, account, region string) (cloud.EC2, error) {
	return client(ctx, p, account, region, "ec2", func(c aws.Config) cloud.EC2 { return ec2.NewFromConfig(c) })
}

// IAM returns an IAM client acting in account. IAM is global: its calls are signed for the
// partition's home region whatever the event's region.
func (p *Provider) IAM(ctx context.Context, account string) (cloud.IAM, error) {
	return client(ctx, p, account, iamRegion(p.hub.Region), "iam", func(c aws.Config) cloud.IAM { return iam.NewFromConfig(c) })
}

// CloudTrail returns a CloudTrail client acting in account and region.
func (p *Provider) CloudTrail(ctx context.Context, account, region string) (cloud.CloudTrail, error) {
	return client(ctx, p, account, region, "cloudtrail", func(c aws.Config) cloud.CloudTrail { return cloudtrail.NewFromConfig(c) })
}

// WAF returns a WAFv2 client acting in account and region; CLOUDFRONT-scoped IP sets need
// region us-east-1.
func (p *Provider) WAF(ctx context.Context, account, region string) (cloud.WAF, error) {
	return client(ctx, p, account, region, "wafv2", func(c aws.Config) cloud.WAF { return wafv2.NewFromConfig(c) })
}

// S3 returns an S3 client acting in account and region.
func (p *Provider) S3(ctx context.Context, account, region string) (cloud.S3, error) {
	pathStyle := p.pathStyle()
	return client(ctx, p, account, region, "s3", func(c aws.Config) cloud.S3 {
		return s3.NewFromConfig(c, func(o *s3.Options) { o.UsePathStyle = pathStyle })
	})
}

// SSM returns a Systems Manager client acting in account and region.
func (p *Provider) SSM(ctx context.Context, account, region string) (cloud.SSM, error) {
	return client(ctx, p, account, region, "ssm", func(c aws.Config) cloud.SSM { return ssm.NewFromConfig(c) })
}

// SecurityHub returns a Security Hub client acting in account and region.
func (p *Provider) SecurityHub(ctx context.Context, account, region string) (cloud.SecurityHub, error) {
	return client(ctx, p, account, region, "securityhub", func(c aws.Config) cloud.SecurityHub { return securityhub.NewFromConfig(c) })
}

// GuardDuty returns a GuardDuty client acting in account and region.
func (p *Provider) GuardDuty(ctx context.Context, account, region string) (cloud.GuardDuty, error) {
	return client(ctx, p, account, region, "guardduty", func(c aws.Config) cloud.GuardDuty { return guardduty.NewFromConfig(c) })
}

// NetworkFirewall returns a Network Firewall client acting in account and region.
func (p *Provider) NetworkFirewall(ctx context.Context, account, region string) (cloud.NetworkFirewall, error) {
	return client(ctx, p, account, region, "network-firewall", func(c aws.Config) cloud.NetworkFirewall { return networkfirewall.NewFromConfig(c) })
}

// AutoScaling returns an Auto Scaling client acting in account and region.
func (p *Provider) AutoScaling(ctx context.Context, account, region string) (cloud.AutoScaling, error) {
	return client(ctx, p, account, region, "autoscaling", func(c aws.Config) cloud.AutoScaling { return autoscaling.NewFromConfig(c) })
}

// ELBv2 returns an Elastic Load Balancing v2 client acting in account and region.
func (p *Provider) ELBv2(ctx context.Context, account, region string) (cloud.ELBv2, error) {
	return client(ctx, p, account, region, "elasticloadbalancing", func(c aws.Config) cloud.ELBv2 { return elasticloadbalancingv2.NewFromConfig(c) })
}

// SNS returns an SNS client acting in account and region.
func (p *Provider) SNS(ctx context.Context, account, region string) (cloud.SNS, error) {
	return client(ctx, p, account, region, "sns", func(c aws.Config) cloud.SNS { return sns.NewFromConfig(c) })
}
