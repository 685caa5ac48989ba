package auth

import (
	"sync"
	"time"
)

// Throttle slows the guessing of credentials: it counts failed authentications per source
// address and, once an address has spent its allowance, refuses its attempts until the
// allowance refills, without checking them. Successful authentications cost nothing, so a
// person who mistypes a token once is never held up. It is safe for concurrent use.
type Throttle struct {
	burst int
	every time.Duration
	now   func() time.Time

	mu sync.Mutex
	m  map[string]*allowance
}

type allowance struct {
	left float64
	at   time.Time
}

// maxThrottled bounds the addresses a Throttle remembers; past it, those whose allowance
// has refilled are forgotten, so that a spray of addresses cannot grow it without end.
const maxThrottled = 10000

// NewThrottle allows burst failures at once per address, and one more every interval.
func NewThrottle(burst int, every time.Duration, now func() time.Time) *Throttle {
	if burst < 1 {
		burst = 1
	}
	if now == nil {
		now = time.Now
	}
	return &Throttle{burst: burst, every: every, now: now, m: map[string]*allowance{}}
}

// refill brings source's allowance up to now; t.mu is held.
func (t *Throttle) refill(a *allowance, now time.Time) {
	a.left = min(float64(t.burst), a.left+float64(now.Sub(a.at))/float64(t.every))
	a.at = now
}

// Wait says how long source must wait before it may try again; zero when it may now.
func (t *Throttle) Wait(source string) time.Duration {
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	a, ok := t.m[source]
	if !ok {
		return 0
	}
	t.refill(a, t.now())
	if a.left >= 1 {
		return 0
	}
	return time.Duration((1 - a.left) * float64(t.every))
}

// Fail records a failed authentication from source.
func (t *Throttle) Fail(source string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	a, ok := t.m[source]
	if !ok {
		if len(t.m) >= maxThrottled {
			t.prune(now)
		}
		a = &allowance{left: float64(t.burst), at: now}
		t.m[source] = a
	}
	t.refill(a, now)
	a.left = max(0, a.left-1)
}

// prune forgets the addresses whose allowance has refilled; t.mu is held.
func (t *Throttle) prune(now time.Time) {
	for k, a := range t.m {
		t.refill(a, now)
		if a.left >= float64(t.burst) {
			delete(t.m, k)
		}
	}
}
