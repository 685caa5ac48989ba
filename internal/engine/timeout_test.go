package engine

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/run"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// fakeClock is a Config.Now that tests move forward by hand.
type fakeClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

// TestApprovalTimeout checks that a step waiting for approval is decided as configured once
// it has waited longer than the timeout, counted from when it began to wait rather than
// from when the incident opened, and that the audit says who decided and why.
func TestApprovalTimeout(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d store.Dialect) {
		tests := []struct {
			onTimeout string
			kind      string
			terminate string // the terminate step's status
			instance  string
		}{
			{"", "step.denied", string(run.Skipped), "running"},
			{OnApprovalTimeoutApprove, "step.approved", string(run.Done), "terminated"},
		}
		for _, tc := range tests {
			name := tc.onTimeout
			if name == "" {
				name = "default"
			}
			t.Run(name, func(t *testing.T) {
				clock := &fakeClock{}
				f := newFixture(t, d, options{configure: func(c *Config) {
					c.Now, c.ApprovalTimeout, c.OnApprovalTimeout = clock.now, time.Hour, tc.onTimeout
				}})
				ctx := context.Background()
				if _, _, err := f.eng.Accept(ctx, readEvents(t, cryptoDev), "http"); err != nil {
					t.Fatal(err)
				}
				inc := f.waitFor(t, f.only(t).ID, store.StateAwaitingApproval)
				last := len(inc.Steps) - 1

				expire := func(want int) {
					t.Helper()
					n, err := f.eng.expireApprovals(ctx)
					if err != nil || n != want {
						t.Fatalf("expireApprovals: %d decided, %v; want %d", n, err, want)
					}
				}
				expire(0)
				clock.advance(59 * time.Minute)
				expire(0)
				// The incident has now existed past the timeout; its step has not waited so
				// long if the clock starts when the step before it ended.
				inc, err := f.eng.Get(ctx, inc.ID)
				if err != nil {
					t.Fatal(err)
				}
				inc.Steps[last-1].Finished = inc.Created.Add(30 * time.Minute)
				if err := f.store.Write(ctx, func(tx *store.Tx) error {
					return f.store.UpdateStep(ctx, tx, inc.ID, &inc.Steps[last-1])
				}); err != nil {
					t.Fatal(err)
				}
				clock.advance(2 * time.Minute)
				expire(0)
				clock.advance(30 * time.Minute)
				expire(1)
				expire(0)

				inc = f.waitFor(t, inc.ID, store.StateContained)
				want := "approval timed out after 1h; default " + map[bool]string{true: "approve", false: "deny"}[tc.onTimeout == OnApprovalTimeoutApprove]
				got := inc.Steps[last]
				if got.Status != tc.terminate || got.Approver != actor || got.ApprovalComment != want {
					t.Errorf("terminate step is %s, decided by %q (%q); want %s by %s (%q)", got.Status, got.Approver, got.ApprovalComment, tc.terminate, actor, want)
				}
				if tc.terminate == string(run.Skipped) && got.Reason != want {
					t.Errorf("terminate step's reason is %q, want %q", got.Reason, want)
				}
				if s := instanceState(t, f.org, "i-0b1c2d3e4f5a60002"); s != tc.instance {
					t.Errorf("instance is %s, want %s", s, tc.instance)
				}
				recs := auditRecords(t, f.store, tc.kind)
				if len(recs) != 1 {
					t.Fatalf("%d %s audit records, want 1", len(recs), tc.kind)
				}
				var data map[string]any
				if err := json.Unmarshal(recs[0].Data, &data); err != nil {
					t.Fatal(err)
				}
				if recs[0].Actor != actor || recs[0].Subject != inc.ID || data["reason"] != want {
					t.Errorf("audit record %s by %s on %s, reason %v; want by %s on %s, reason %q",
						recs[0].Kind, recs[0].Actor, recs[0].Subject, data["reason"], actor, inc.ID, want)
				}
				f.verifyAudit(t)
			})
		}
	})
}

// TestApprovalTimeoutReplicas checks that replicas finding the same overdue step at once
// decide it once between them.
func TestApprovalTimeoutReplicas(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d store.Dialect) {
		clock := &fakeClock{}
		var cfg Config
		f := newFixture(t, d, options{configure: func(c *Config) {
			c.Now, c.ApprovalTimeout = clock.now, time.Hour
			cfg = *c
		}})
		ctx := context.Background()
		if _, _, err := f.eng.Accept(ctx, readEvents(t, cryptoDev), "http"); err != nil {
			t.Fatal(err)
		}
		inc := f.waitFor(t, f.only(t).ID, store.StateAwaitingApproval)
		engines := []*Engine{f.eng}
		for range 3 {
			// Replicas that are never started: only their checks are wanted.
			e, err := New(f.store, cfg)
			if err != nil {
				t.Fatal(err)
			}
			engines = append(engines, e)
		}
		clock.advance(2 * time.Hour)
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			decided int
		)
		for _, e := range engines {
			wg.Go(func() {
				n, err := e.expireApprovals(ctx)
				if err != nil {
					t.Errorf("expireApprovals: %v", err)
				}
				mu.Lock()
				decided += n
				mu.Unlock()
			})
		}
		wg.Wait()
		if decided != 1 {
			t.Errorf("%d decisions between %d replicas, want 1", decided, len(engines))
		}
		f.waitFor(t, inc.ID, store.StateContained)
		if n := len(auditRecords(t, f.store, "step.denied")); n != 1 {
			t.Errorf("%d step.denied records, want 1", n)
		}
		f.verifyAudit(t)
	})
}

// TestApprovalTimeoutRunning checks that a started engine decides overdue approvals on its
// own, and that a person's answer in time is left alone.
func TestApprovalTimeoutRunning(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, options{configure: func(c *Config) {
			c.ApprovalTimeout = 300 * time.Millisecond
		}})
		ctx := context.Background()
		if _, _, err := f.eng.Accept(ctx, readEvents(t, cryptoDev), "http"); err != nil {
			t.Fatal(err)
		}
		inc := f.waitFor(t, f.only(t).ID, store.StateContained)
		got := inc.Steps[len(inc.Steps)-1]
		if got.Status != string(run.Skipped) || got.Approval != store.ApprovalDenied ||
			!strings.HasPrefix(got.Reason, "approval timed out after 300ms; default deny") {
			t.Errorf("terminate step is %s (%s, %q), want skipped on the timeout", got.Status, got.Approval, got.Reason)
		}
		f.verifyAudit(t)
	})
}

func TestApprovalTimeoutConfig(t *testing.T) {
	cfg := Config{OnApprovalTimeout: "ignore"}
	if err := cfg.checkApprovalDefaults(); err == nil || !strings.Contains(err.Error(), `"ignore"`) {
		t.Errorf("OnApprovalTimeout ignore: %v, want an error naming it", err)
	}
	cfg = Config{ApprovalTimeout: -time.Second}
	if err := cfg.checkApprovalDefaults(); err == nil {
		t.Errorf("negative ApprovalTimeout accepted")
	}
	cfg = Config{}
	if err := cfg.checkApprovalDefaults(); err != nil || cfg.OnApprovalTimeout != OnApprovalTimeoutDeny {
		t.Errorf("empty OnApprovalTimeout: %q, %v; want deny", cfg.OnApprovalTimeout, err)
	}
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{time.Hour, "1h"}, {90 * time.Minute, "1h30m"}, {45 * time.Minute, "45m"}, {90 * time.Second, "1m30s"},
		{300 * time.Millisecond, "300ms"}, {time.Hour + time.Second, "1h0m1s"}} {
		if got := shortDuration(tc.d); got != tc.want {
			t.Errorf("shortDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
