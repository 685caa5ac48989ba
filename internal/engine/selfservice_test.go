package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/store"
)

var webProd = action.Target{Kind: event.KindInstance, ID: "i-0a1b2c3d4e5f60001", Account: "111122223333", Region: "us-east-1"}

// TestRequestAction checks the self-service entry: the request opens a one-step incident
// requested by the caller, which runs to contained on the simulated organisation; asking
// again while it is handled returns the same incident and opens nothing; and the audit
// names the caller, address and request id throughout.
func TestRequestAction(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, options{})
		caller := Caller{Name: "token:tok-alice", Source: "192.0.2.1", RequestID: "req-1"}
		ctx := WithCaller(context.Background(), caller)
		inc, existing, err := f.eng.RequestAction(ctx, "ec2.isolate", webProd, "suspected compromise", "INC-42")
		if err != nil {
			t.Fatal(err)
		}
		if existing {
			t.Error("first request: existing is true")
		}
		if inc.RequestedBy != caller.Name || inc.Playbook != SelfService || len(inc.Steps) != 1 || inc.Steps[0].Action != "ec2.isolate" {
			t.Errorf("incident %+v: want one ec2.isolate step requested by %s", inc, caller.Name)
		}
		done := f.waitFor(t, inc.ID, store.StateContained)
		if groups := instanceGroups(t, f, webProd.ID); slices.Contains(groups, "sg-0a1b2c3d4e5f60010") {
			t.Errorf("instance still in its web-prod group after isolation: %v", groups)
		}
		if done.Steps[0].Status != "done" {
			t.Errorf("step %+v, want done", done.Steps[0])
		}

		again, existing, err := f.eng.RequestAction(WithCaller(context.Background(), Caller{Name: "token:tok-bob"}),
			"ec2.isolate", webProd, "me too", "")
		if err != nil {
			t.Fatal(err)
		}
		if !existing || again.ID != inc.ID {
			t.Errorf("second request: incident %s existing %v, want %s existing", again.ID, existing, inc.ID)
		}
		if list, _ := f.eng.List(context.Background(), store.Filter{}); len(list) != 1 {
			t.Errorf("%d incidents after asking twice, want 1", len(list))
		}

		for _, kind := range []string{"action.requested", "incident.opened"} {
			recs := auditRecords(t, f.store, kind)
			if len(recs) != 1 || recs[0].Actor != caller.Name || recs[0].Source != caller.Source || recs[0].RequestID != caller.RequestID {
				t.Errorf("%s records %+v, want one by %+v", kind, recs, caller)
			}
		}
		if recs := auditRecords(t, f.store, "action.repeated"); len(recs) != 1 || recs[0].Actor != "token:tok-bob" {
			t.Errorf("action.repeated records %+v, want one by token:tok-bob", recs)
		}
		f.verifyAudit(t)
	})
}

// TestRequestActionApproval checks that a destructive action waits for a person other than
// its requester.
func TestRequestActionApproval(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, options{})
		ctx := WithCaller(context.Background(), Caller{Name: "token:tok-alice"})
		inc, _, err := f.eng.RequestAction(ctx, "ec2.terminate", webProd, "ransomware", "")
		if err != nil {
			t.Fatal(err)
		}
		f.waitFor(t, inc.ID, store.StateAwaitingApproval)
		if err := f.eng.Approve(ctx, inc.ID, 0, "token:tok-alice", ""); !errors.Is(err, ErrForbidden) {
			t.Errorf("self-approval: %v, want ErrForbidden", err)
		}
		if err := f.eng.Deny(context.Background(), inc.ID, 0, "token:tok-carol", "not yet"); err != nil {
			t.Fatal(err)
		}
		f.waitFor(t, inc.ID, store.StateClosed)
	})
}

// TestRequestActionInvalid checks that requests that can never be carried out are refused
// before anything is stored.
func TestRequestActionInvalid(t *testing.T) {
	f := newFixture(t, store.SQLite, options{stopped: true})
	named := WithCaller(context.Background(), Caller{Name: "token:tok-alice"})
	tests := []struct {
		name   string
		ctx    context.Context
		action string
		target action.Target
		reason string
	}{
		{"no caller", context.Background(), "ec2.isolate", webProd, "why"},
		{"unknown action", named, "ec2.vaporise", webProd, "why"},
		{"wrong kind", named, "iam.deactivate-user", webProd, "why"},
		{"no reason", named, "ec2.isolate", webProd, " "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := f.eng.RequestAction(tt.ctx, tt.action, tt.target, tt.reason, "")
			if !errors.Is(err, ErrInvalidRequest) {
				t.Errorf("error %v, want ErrInvalidRequest", err)
			}
		})
	}
	if list, _ := f.eng.List(context.Background(), store.Filter{}); len(list) != 0 {
		t.Errorf("%d incidents, want none", len(list))
	}
	if sum := f.verifyAudit(t); sum.Records != 0 {
		t.Errorf("%d audit records, want none", sum.Records)
	}
}

// instanceGroups returns an instance's security groups in the simulated organisation.
func instanceGroups(t *testing.T, f *fixture, id string) []string {
	t.Helper()
	for _, a := range f.org.World().Accounts {
		for _, r := range a.Regions {
			for _, in := range r.Instances {
				if in.ID == id {
					return in.SecurityGroups
				}
			}
		}
	}
	t.Fatalf("instance %s not in the world", id)
	return nil
}

// TestRequestActionConcurrent checks that requests for the same action and target racing
// each other open one incident: the look-up and the creation share the writing transaction.
func TestRequestActionConcurrent(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, options{stopped: true})
		const n = 8
		ids := make(chan string, n)
		fresh := make(chan bool, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				ctx := WithCaller(context.Background(), Caller{Name: fmt.Sprintf("token:tok-%d", i)})
				inc, existing, err := f.eng.RequestAction(ctx, "ec2.isolate", webProd, "race", "")
				if err != nil {
					t.Error(err)
					return
				}
				ids <- inc.ID
				fresh <- !existing
			})
		}
		wg.Wait()
		close(ids)
		close(fresh)
		seen := map[string]bool{}
		for id := range ids {
			seen[id] = true
		}
		opened := 0
		for isNew := range fresh {
			if isNew {
				opened++
			}
		}
		if len(seen) != 1 || opened != 1 {
			t.Errorf("%d incidents named, %d opened; want one of each", len(seen), opened)
		}
	})
}
