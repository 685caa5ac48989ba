package sim

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"time"

	"github.com/aws/smithy-go"
)

// Fault is an injected misbehaviour for the calls it matches. Empty Account, Region,
// Service and Operation match anything; Service is the SDK service id as in Call
// (ec2, iam, s3, wafv2, ...).
type Fault struct {
	Account, Region, Service, Operation string
	// ThrottleRate is the fraction of matching calls answered with the service's
	// throttling error (RequestLimitExceeded for EC2, Throttling or ThrottlingException
	// elsewhere).
	ThrottleRate float64
	// ServerErrorRate is the fraction answered with the service's 5xx error.
	ServerErrorRate float64
	// AccessDenied answers every matching call with the service's access-denied error.
	AccessDenied bool
	// Latency is added to every matching call, outside the account's lock, so that
	// concurrent calls overlap in time as they would against AWS.
	Latency time.Duration
}

func (f *Fault) matches(account, region, service, op string) bool {
	return (f.Account == "" || f.Account == account) &&
		(f.Region == "" || f.Region == region) &&
		(f.Service == "" || f.Service == service) &&
		(f.Operation == "" || f.Operation == op)
}

// AddFault adds a fault to those already in force.
func (o *Org) AddFault(f Fault) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.faults = append(o.faults, f)
}

// ClearFaults removes every fault, including those from Options.
func (o *Org) ClearFaults() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.faults = nil
}

// Error codes per service, as AWS returns them. Callers classify errors by these codes, so
// they must be the real ones. See each service's "Common Errors" page of its API reference.
var (
	throttleCodes = map[string]string{
		"ec2": "RequestLimitExceeded", "iam": "Throttling", "sts": "Throttling",
		"autoscaling": "Throttling", "elasticloadbalancing": "Throttling", "sns": "Throttling",
		"s3": "SlowDown", "securityhub": "TooManyRequestsException", "guardduty": "TooManyRequestsException",
	}
	deniedCodes = map[string]string{
		"ec2": "UnauthorizedOperation", "iam": "AccessDenied", "sts": "AccessDenied",
		"autoscaling": "AccessDenied", "elasticloadbalancing": "AccessDenied", "sns": "AuthorizationError",
		"s3": "AccessDenied",
	}
	serverCodes = map[string]string{
		"ec2": "InternalError", "s3": "InternalError", "iam": "ServiceFailure", "sts": "InternalFailure",
		"autoscaling": "InternalFailure", "elasticloadbalancing": "InternalFailure", "sns": "InternalError",
	}
)

func codeFor(table map[string]string, service, fallback string) string {
	if c, ok := table[service]; ok {
		return c
	}
	return fallback
}

// inject decides, from the seed and the count of earlier matching calls, what happens to
// this call. Draws are keyed by (account, region, service, operation, n), not taken from
// one shared stream, so the same seed gives the same faults whatever the interleaving of
// concurrent callers.
func (o *Org) inject(account, region, service, op string) (time.Duration, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var delay time.Duration
	var err error
	key := account + "/" + region + "/" + service + "/" + op
	n := o.callSeq[key]
	o.callSeq[key] = n + 1
	for i := range o.faults {
		f := &o.faults[i]
		if !f.matches(account, region, service, op) {
			continue
		}
		delay += f.Latency
		if err != nil {
			continue
		}
		if f.AccessDenied {
			err = apiError(codeFor(deniedCodes, service, "AccessDeniedException"),
				fmt.Sprintf("You are not authorized to perform: %s:%s", service, op))
			continue
		}
		h := fnv.New64a()
		fmt.Fprintf(h, "%s#%d#%d", key, n, i)
		rng := rand.New(rand.NewPCG(o.opts.Seed, h.Sum64()))
		if x := rng.Float64(); x < f.ThrottleRate {
			err = apiError(codeFor(throttleCodes, service, "ThrottlingException"), "Rate exceeded")
		} else if x < f.ThrottleRate+f.ServerErrorRate {
			err = serverError(codeFor(serverCodes, service, "InternalServerException"), "We encountered an internal error. Please try again.")
		}
	}
	return delay, err
}

// bucket is a token bucket.
type bucket struct {
	tokens float64
	last   time.Time
}

// admit applies the per-account rate limit.
func (o *Org) admit(account, service string) error {
	if o.opts.RateLimit <= 0 {
		return nil
	}
	burst := float64(o.opts.Burst)
	if burst <= 0 {
		burst = o.opts.RateLimit
	}
	now := o.opts.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	b := o.limiters[account]
	if b == nil {
		b = &bucket{tokens: burst, last: now}
		o.limiters[account] = b
	}
	b.tokens += now.Sub(b.last).Seconds() * o.opts.RateLimit
	if b.tokens > burst {
		b.tokens = burst
	}
	b.last = now
	if b.tokens < 1 {
		return apiError(codeFor(throttleCodes, service, "ThrottlingException"), "Rate exceeded")
	}
	b.tokens--
	return nil
}

// apiError is a client-fault AWS error with the given code.
func apiError(code, msg string) error {
	return &smithy.GenericAPIError{Code: code, Message: msg, Fault: smithy.FaultClient}
}

func serverError(code, msg string) error {
	return &smithy.GenericAPIError{Code: code, Message: msg, Fault: smithy.FaultServer}
}

// code is an error's AWS error code, "" for none.
func code(err error) string {
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "Canceled"
	}
	return err.Error()
}
