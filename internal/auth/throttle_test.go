package auth

import (
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	th := NewThrottle(3, 10*time.Second, func() time.Time { return now })
	const a, b = "192.0.2.1", "192.0.2.2"
	for i := range 3 {
		if w := th.Wait(a); w != 0 {
			t.Fatalf("attempt %d: wait %v, want none within the burst", i+1, w)
		}
		th.Fail(a)
	}
	if w := th.Wait(a); w != 10*time.Second {
		t.Errorf("after 3 failures: wait %v, want 10s", w)
	}
	if w := th.Wait(b); w != 0 {
		t.Errorf("another address: wait %v, want none", w)
	}
	now = now.Add(4 * time.Second)
	if w := th.Wait(a); w != 6*time.Second {
		t.Errorf("4s later: wait %v, want 6s", w)
	}
	now = now.Add(6 * time.Second)
	if w := th.Wait(a); w != 0 {
		t.Errorf("10s later: wait %v, want none", w)
	}
	th.Fail(a)
	if w := th.Wait(a); w == 0 {
		t.Error("a failure with one attempt left should throttle again")
	}
	// A nil Throttle throttles nothing.
	var none *Throttle
	none.Fail(a)
	if none.Wait(a) != 0 {
		t.Error("nil Throttle waits")
	}
}

func TestThrottleForgets(t *testing.T) {
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	th := NewThrottle(1, time.Second, func() time.Time { return now })
	for i := range maxThrottled {
		th.Fail(string(rune(i)))
	}
	now = now.Add(time.Minute)
	th.Fail("new")
	if n := len(th.m); n != 1 {
		t.Errorf("%d addresses remembered after all refilled, want 1", n)
	}
}
