// Package pace spaces out the calls Firebreak makes into each member account, so that a
// response across many accounts spends each account's API rate on work rather than on
// throttled calls and their retries.
//
// AWS throttles per account (EC2 per account and region, with a token bucket per group of
// operations): beyond the rate, calls fail with RequestLimitExceeded, Throttling or
// SlowDown. Without pacing, concurrent incidents in one account all call at once, most are
// throttled, and the step-level retry in run repeats whole actions, re-reading what the
// failed attempt had already read, so the retries themselves eat the rate they wait for.
// A Provider from New wraps any cloud.Provider and gives every call a slot in its account's
// schedule before it is sent. Accounts have independent schedules, so a throttled account
// slows only its own calls.
//
// The schedule adapts: a call that is throttled all the same (the rate was set higher than
// the account's, or another client shares the account) lengthens that account's interval,
// and successful calls shorten it again towards the configured rate. A throttled call can
// also be sent again in its account's next slot (Options.Retries), which costs one call
// where a step-level retry costs the whole action.
package pace

import (
	"context"
	"sync"
	"time"

	"github.com/firebreak-sec/firebreak/internal/cloud"
)

// Options configure a Provider.
type Options struct {
	// Rate is the calls per second each account is sent at most. Set it at or a little
	// below the account's limit for the operations Firebreak calls.
	Rate float64
	// Burst is how many calls an idle account may send at once before pacing applies (1
	// when zero). Keeping it below the service's own bucket size leaves the service room
	// to absorb calls that arrive bunched up after leaving here evenly spaced.
	Burst int
	// Retries is how many times a throttled call is sent again, each time in its
	// account's next slot. Zero sends it once: right for the AWS SDK's clients, whose
	// retryer already retries throttled calls; the simulated organisation has no retryer.
	Retries int
}

// Provider is a cloud.Provider whose clients wait for their account's slot before each
// call. It is safe for concurrent use.
type Provider struct {
	next cloud.Provider
	opts Options

	mu       sync.Mutex
	accounts map[string]*limiter
}

var _ cloud.Provider = (*Provider)(nil)

// New wraps next. A Rate of zero or less leaves calls unpaced, though throttled calls are
// still retried when opts.Retries says so.
func New(next cloud.Provider, opts Options) *Provider {
	if opts.Burst <= 0 {
		opts.Burst = 1
	}
	return &Provider{next: next, opts: opts, accounts: map[string]*limiter{}}
}

// limiter returns account's schedule, shared by every service and region of the account,
// since that is the widest scope AWS throttles at.
func (p *Provider) limiter(account string) *limiter {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.accounts[account]
	if l == nil {
		l = newLimiter(p.opts)
		p.accounts[account] = l
	}
	return l
}

// Slowest interval an account's schedule adapts to, as a multiple of the configured one:
// enough to get under a limit several times lower than configured, short of stalling an
// account whose throttling came from a passing burst by another client.
const maxSlowdown = 16

// On a throttled call the interval grows by slowdown; each successful call shrinks it by
// speedup, so that about twenty successes undo one throttle. At the configured rate
// throttles are rare and the interval stays put; set too high, the schedule settles where
// about one call in twenty is throttled, which retries in the next slot absorb.
const (
	slowdown = 1.25
	speedup  = 0.99
)

// limiter is one account's schedule: a token bucket in its virtual-scheduling form (GCRA),
// where each call reserves the next slot, so waiters are served in arrival order and no
// caller can be starved by later ones.
type limiter struct {
	retries int
	base    time.Duration // the configured interval between calls; 0 when unpaced
	burst   int

	mu       sync.Mutex
	interval time.Duration // current interval, base ≤ interval ≤ base·maxSlowdown
	tat      time.Time     // when the bucket would next be empty: the theoretical arrival time
}

func newLimiter(opts Options) *limiter {
	l := &limiter{retries: opts.Retries, burst: opts.Burst}
	if opts.Rate > 0 {
		l.base = time.Duration(float64(time.Second) / opts.Rate)
		l.interval = l.base
	}
	return l
}

// wait blocks until the caller's slot, or until ctx ends.
func (l *limiter) wait(ctx context.Context) error {
	if l.base == 0 {
		return ctx.Err()
	}
	now := time.Now()
	d := l.reserve(now).Sub(now)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		// The slot is not given back: later callers already hold later slots, and a gap
		// in the schedule costs less than letting two calls share a slot.
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// reserve takes the next slot for a call asked for at now and returns when it may be sent.
func (l *limiter) reserve(now time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tat.Before(now) {
		l.tat = now
	}
	at := l.tat.Add(-time.Duration(l.burst-1) * l.interval)
	l.tat = l.tat.Add(l.interval)
	if at.Before(now) {
		return now
	}
	return at
}

// throttled slows the schedule down and empties the bucket: the account has just said it
// has no calls to spare, so none should be sent before the next interval.
func (l *limiter) throttled(now time.Time) {
	if l.base == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.interval = min(time.Duration(float64(l.interval)*slowdown), l.base*maxSlowdown)
	if next := now.Add(l.interval); l.tat.Before(next) {
		l.tat = next
	}
}

// admitted lets the schedule recover towards the configured rate after a call that was
// not throttled.
func (l *limiter) admitted() {
	if l.base == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.interval > l.base {
		l.interval = max(time.Duration(float64(l.interval)*speedup), l.base)
	}
}

// call makes one paced call: it waits for the account's slot, calls fn, and on a throttled
// answer adapts the schedule and sends the call again in a later slot, up to l.retries
// times. A throttled call was refused before AWS acted on it, so sending it again is safe
// whatever the operation.
func call[I, O, F any](ctx context.Context, l *limiter, in *I, opts []F, fn func(context.Context, *I, ...F) (*O, error)) (*O, error) {
	for n := 0; ; n++ {
		if err := l.wait(ctx); err != nil {
			return nil, err
		}
		out, err := fn(ctx, in, opts...)
		if err == nil || cloud.Classify(err) != cloud.Throttled {
			l.admitted()
			return out, err
		}
		l.throttled(time.Now())
		if n >= l.retries {
			return out, err
		}
	}
}

// EC2 implements cloud.Provider.
func (p *Provider) EC2(ctx context.Context, account, region string) (cloud.EC2, error) {
	c, err := p.next.EC2(ctx, account, region)
	if err != nil {
		return nil, err
	}
	return ec2Client{c, p.limiter(account)}, nil
}

// IAM implements cloud.Provider.
func (p *Provider) IAM(ctx context.Context, account string) (cloud.IAM, error) {
	c, err := p.next.IAM(ctx, account)
	if err != nil {
		return nil, err
	}
	return iamClient{c, p.limiter(account)}, nil
}

// CloudTrail implements cloud.Provider.
func (p *Provider) CloudTrail(ctx context.Context, account, region string) (cloud.CloudTrail, error) {
	c, err := p.next.CloudTrail(ctx, account, region)
	if err != nil {
		return nil, err
	}
	return cloudTrailClient{c, p.limiter(account)}, nil
}

// WAF implements cloud.Provider.
func (p *Provider) WAF(ctx context.Context, account, region string) (cloud.WAF, error) {
	c, err := p.next.WAF(ctx, account, region)
	if err != nil {
		return nil, err
	}
	return wafClient{c, p.limiter(account)}, nil
}

// S3 implements cloud.Provider.
func (p *Provider) S3(ctx context.Context, account, region string) (cloud.S3, error) {
	c, err := p.next.S3(ctx, account, region)
	if err != nil {
		return nil, err
	}
	return s3Client{c, p.limiter(account)}, nil
}

// SSM implements cloud.Provider.
func (p *Provider) SSM(ctx context.Context, account, region string) (cloud.SSM, error) {
	c, err := p.next.SSM(ctx, account, region)
	if err != nil {
		return nil, err
	}
	return ssmClient{c, p.limiter(account)}, nil
}

// SecurityHub implements cloud.Provider.
func (p *Provider) SecurityHub(ctx context.Context, account, region string) (cloud.SecurityHub, error) {
	c, err := p.next.SecurityHub(ctx, account, region)
	if err != nil {
		return nil, err
	}
	return securityHubClient{c, p.limiter(account)}, nil
}

// GuardDuty implements cloud.Provider.
func (p *Provider) GuardDuty(ctx context.Context, account, region string) (cloud.GuardDuty, error) {
	c, err := p.next.GuardDuty(ctx, account, region)
	if err != nil {
		return nil, err
	}
	return guardDutyClient{c, p.limiter(account)}, nil
}

// NetworkFirewall implements cloud.Provider.
func (p *Provider) NetworkFirewall(ctx context.Context, account, region string) (cloud.NetworkFirewall, error) {
	c, err := p.next.NetworkFirewall(ctx, account, region)
	if err != nil {
		return nil, err
	}
	return networkFirewallClient{c, p.limiter(account)}, nil
}

// AutoScaling implements cloud.Provider.
func (p *Provider) AutoScaling(ctx context.Context, account, region string) (cloud.AutoScaling, error) {
	c, err := p.next.AutoScaling(ctx, account, region)
	if err != nil {
		return nil, err
	}
	return autoScalingClient{c, p.limiter(account)}, nil
}

// ELBv2 implements cloud.Provider.
func (p *Provider) ELBv2(ctx context.Context, account, region string) (cloud.ELBv2, error) {
	c, err := p.next.ELBv2(ctx, account, region)
	if err != nil {
		return nil, err
	}
	return elbv2Client{c, p.limiter(account)}, nil
}

// SNS implements cloud.Provider.
func (p *Provider) SNS(ctx context.Context, account, region string) (cloud.SNS, error) {
	c, err := p.next.SNS(ctx, account, region)
	if err != nil {
		return nil, err
	}
	return snsClient{c, p.limiter(account)}, nil
}
