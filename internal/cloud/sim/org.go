// Package sim is an in-process, stateful AWS organisation: it implements cloud.Provider
// with the SDK's own input and output types, AWS's error codes and the semantics
// Firebreak's actions rely on, over a world.World that it mutates. It is what
// `run --world`, `serve --dev` and the action tests act on, so that the same code path runs
// against it and against AWS. Faults (throttling, server errors, denied access, latency)
// and a per-account rate limit are injected from a seed, and every call is logged.
package sim

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/firebreak-sec/firebreak/internal/cloud"
	"github.com/firebreak-sec/firebreak/internal/world"
)

// Options configure an Org. The zero value is a fault-free organisation on the wall clock.
type Options struct {
	// Seed drives every random fault, so a failing run can be replayed exactly.
	Seed uint64
	// Faults are checked in order; every matching fault applies.
	Faults []Fault
	// DenyAssumeRole lists the accounts the hub cannot assume a role into.
	DenyAssumeRole []string
	// RateLimit is calls per second per account; beyond it calls are throttled. Zero means
	// no limit. Burst is the bucket size (RateLimit when zero).
	RateLimit float64
	Burst     int
	// Hub is the account the STS client calls from ("000000000000" when empty).
	Hub string
	// PendingPolls is how many times GetCommandInvocation and GetAutomationExecution report
	// InProgress before the command or execution succeeds.
	PendingPolls int
	// Now is the clock for object retention and the call log (time.Now when nil).
	Now func() time.Time
}

// Org is a simulated organisation. It is safe for concurrent use: each account has its
// own lock, so calls into different accounts proceed in parallel.
type Org struct {
	w        *world.World
	opts     Options
	accounts map[string]*account
	order    []string // account ids, sorted, for lock ordering

	mu       sync.Mutex // guards the fields below
	denied   map[string]bool
	faults   []Fault
	callSeq  map[string]uint64 // per fault key, for seeded draws
	calls    []Call
	limiters map[string]*bucket
}

// account is one account's state and lock. Counters make generated ids deterministic as
// long as the account's own calls happen in a deterministic order.
type account struct {
	mu    sync.Mutex
	a     *world.Account
	next  uint64
	polls map[string]int // command or execution id → InProgress reports left
}

// New returns an organisation acting on w. It takes ownership of w: the simulated API
// mutates it, and World returns it.
func New(w *world.World, opts Options) *Org {
	if w == nil {
		w = &world.World{}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Hub == "" {
		opts.Hub = "000000000000"
	}
	o := &Org{
		w:        w,
		opts:     opts,
		accounts: map[string]*account{},
		denied:   map[string]bool{},
		faults:   append([]Fault(nil), opts.Faults...),
		callSeq:  map[string]uint64{},
		limiters: map[string]*bucket{},
	}
	for _, id := range opts.DenyAssumeRole {
		o.denied[id] = true
	}
	for _, a := range w.Accounts {
		if a == nil {
			continue
		}
		if a.Regions == nil {
			a.Regions = map[string]*world.Region{}
		}
		if a.IAM == nil {
			a.IAM = &world.IAM{}
		}
		o.accounts[a.ID] = &account{a: a, polls: map[string]int{}}
		o.order = append(o.order, a.ID)
		for _, rn := range a.RegionNames() {
			if r := a.Regions[rn]; r != nil {
				assignIDs(a.ID, rn, r)
			}
		}
	}
	sort.Strings(o.order)
	return o
}

// World returns the organisation's state. Read it only while no calls are in flight, or
// use Dump, which locks every account.
func (o *Org) World() *world.World { return o.w }

// Dump writes the current state in the world-file shape (JSON).
func (o *Org) Dump(w io.Writer) error {
	for _, id := range o.order {
		o.accounts[id].mu.Lock()
	}
	defer func() {
		for _, id := range o.order {
			o.accounts[id].mu.Unlock()
		}
	}()
	return o.w.Dump(w)
}

// SetAssumeRoleDenied makes assuming a role into account fail (or succeed again).
func (o *Org) SetAssumeRoleDenied(account string, denied bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.denied[account] = denied
}

// member checks that the hub can act in an account, as assuming its role would.
func (o *Org) member(id string) (*account, error) {
	o.mu.Lock()
	denied := o.denied[id]
	o.mu.Unlock()
	acct := o.accounts[id]
	if acct == nil || denied {
		return nil, apiError("AccessDenied", fmt.Sprintf("User: arn:aws:sts::%s:assumed-role/firebreak is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::%s:role/FirebreakResponder", o.opts.Hub, id))
	}
	return acct, nil
}

// Region-scoped clients share this; IAM uses the pseudo-region below.
type client struct {
	org     *Org
	acct    *account
	account string
	region  string
	service string
}

const globalRegion = "global"

func (o *Org) client(account, region, service string) (client, error) {
	acct, err := o.member(account)
	if err != nil {
		return client{}, err
	}
	if region == "" {
		return client{}, apiError("InvalidParameterValue", "a region is required")
	}
	return client{org: o, acct: acct, account: account, region: region, service: service}, nil
}

// EC2 implements cloud.Provider.
func (o *Org) EC2(_ context.Context, account, region string) (cloud.EC2, error) {
	c, err := o.client(account, region, "ec2")
	return &EC2{c}, err
}

// IAM implements cloud.Provider.
func (o *Org) IAM(_ context.Context, account string) (cloud.IAM, error) {
	c, err := o.client(account, globalRegion, "iam")
	return &IAM{c}, err
}

// CloudTrail implements cloud.Provider.
func (o *Org) CloudTrail(_ context.Context, account, region string) (cloud.CloudTrail, error) {
	c, err := o.client(account, region, "cloudtrail")
	return &CloudTrail{c}, err
}

// WAF implements cloud.Provider.
func (o *Org) WAF(_ context.Context, account, region string) (cloud.WAF, error) {
	c, err := o.client(account, region, "wafv2")
	return &WAF{c}, err
}

// S3 implements cloud.Provider.
func (o *Org) S3(_ context.Context, account, region string) (cloud.S3, error) {
	c, err := o.client(account, region, "s3")
	return &S3{c}, err
}

// SSM implements cloud.Provider.
func (o *Org) SSM(_ context.Context, account, region string) (cloud.SSM, error) {
	c, err := o.client(account, region, "ssm")
	return &SSM{c}, err
}

// SecurityHub implements cloud.Provider.
func (o *Org) SecurityHub(_ context.Context, account, region string) (cloud.SecurityHub, error) {
	c, err := o.client(account, region, "securityhub")
	return &SecurityHub{c}, err
}

// GuardDuty implements cloud.Provider.
func (o *Org) GuardDuty(_ context.Context, account, region string) (cloud.GuardDuty, error) {
	c, err := o.client(account, region, "guardduty")
	return &GuardDuty{c}, err
}

// NetworkFirewall implements cloud.Provider.
func (o *Org) NetworkFirewall(_ context.Context, account, region string) (cloud.NetworkFirewall, error) {
	c, err := o.client(account, region, "network-firewall")
	return &NetworkFirewall{c}, err
}

// AutoScaling implements cloud.Provider.
func (o *Org) AutoScaling(_ context.Context, account, region string) (cloud.AutoScaling, error) {
	c, err := o.client(account, region, "autoscaling")
	return &AutoScaling{c}, err
}

// ELBv2 implements cloud.Provider.
func (o *Org) ELBv2(_ context.Context, account, region string) (cloud.ELBv2, error) {
	c, err := o.client(account, region, "elasticloadbalancing")
	return &ELBv2{c}, err
}

// SNS implements cloud.Provider.
func (o *Org) SNS(_ context.Context, account, region string) (cloud.SNS, error) {
	c, err := o.client(account, region, "sns")
	return &SNS{c}, err
}

var _ cloud.Provider = (*Org)(nil)

// scope is what an operation sees: its account and region, locked.
type scope struct {
	c      *client
	acct   *account
	a      *world.Account
	r      *world.Region // nil for IAM
	region string
}

// run is the one path every operation takes: rate limit, faults and latency, then the
// operation under the account's lock, then the call log. A nil input is treated as empty,
// so a careless caller gets AWS's validation error rather than a panic.
func run[I, O any](ctx context.Context, c *client, op string, in *I, fn func(s *scope, in *I) (*O, error)) (*O, error) {
	if in == nil {
		in = new(I)
	}
	start := c.org.opts.Now()
	out, err := c.exec(ctx, op, func(s *scope) (any, error) { return fn(s, in) })
	c.org.record(Call{Account: c.account, Region: c.region, Service: c.service, Operation: op, Start: start, End: c.org.opts.Now(), Code: code(err)})
	if err != nil {
		return nil, err
	}
	return out.(*O), nil
}

func (c *client) exec(ctx context.Context, op string, fn func(s *scope) (any, error)) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := c.org.admit(c.account, c.service); err != nil {
		return nil, err
	}
	delay, err := c.org.inject(c.account, c.region, c.service, op)
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	if err != nil {
		return nil, err
	}
	c.acct.mu.Lock()
	defer c.acct.mu.Unlock()
	s := &scope{c: c, acct: c.acct, a: c.acct.a, region: c.region}
	if c.region != globalRegion {
		r := c.acct.a.Regions[c.region]
		if r == nil {
			// Every region exists in AWS; an empty one appears in the state once touched.
			r = &world.Region{}
			c.acct.a.Regions[c.region] = r
		}
		s.r = r
	}
	return fn(s)
}

// newID returns the next id with the given prefix, 17 hex digits like EC2's.
func (s *scope) newID(prefix string) string {
	s.acct.next++
	return fmt.Sprintf("%s%017x", prefix, s.acct.next)
}

// newUUID returns the next UUID-shaped id (SSM command and execution ids, SNS messages).
func (s *scope) newUUID() string {
	s.acct.next++
	return fmt.Sprintf("00000000-0000-4000-8000-%012x", s.acct.next)
}

func (s *scope) arn(service, resource string) string {
	region := s.region
	if region == globalRegion {
		region = ""
	}
	return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, region, s.a.ID, resource)
}
