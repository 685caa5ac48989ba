package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/run"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// TestClose puts an incident in each state and closes it: an incident at rest is closed
// and the closing audited with who and why; one still moving is refused with a reason that
// names its state and what to do, and is left as it was.
func TestClose(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d store.Dialect) {
		// No worker runs: the states set below stay as they are set.
		f := newFixture(t, d, options{stopped: true})
		tests := []struct {
			name  string
			state string
			// step is the single step's status and approval, as the state implies.
			status, approval string
			// refused is what the error says; empty when the incident closes.
			refused string
		}{
			{name: "contained", state: store.StateContained, status: string(run.Done), approval: store.ApprovalApproved},
			{name: "released", state: store.StateReleased, status: string(run.Done), approval: store.ApprovalApproved},
			{name: "failed", state: store.StateFailed, status: string(run.Failed), approval: store.ApprovalApproved},
			{name: "open, nothing to run", state: store.StateOpen, status: string(run.Skipped)},
			{name: "open, a step to run", state: store.StateOpen, status: store.StepPending,
				refused: "it is open with step 0 (ec2.terminate) still to run; wait for it to finish or release it first"},
			{name: "awaiting approval", state: store.StateAwaitingApproval, status: store.StepPending, approval: store.ApprovalRequired,
				refused: "it is awaiting approval of step 0 (ec2.terminate); approve or deny it, or release the incident, first"},
			{name: "containing", state: store.StateContaining, status: store.StepRunning, approval: store.ApprovalApproved,
				refused: "it is containing; wait for it to finish or release it first"},
			{name: "releasing", state: store.StateReleasing, status: string(run.Done), approval: store.ApprovalApproved,
				refused: "it is releasing; wait for the release to finish, then close it"},
			{name: "closed", state: store.StateClosed, status: string(run.Skipped), refused: "it is already closed"},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := context.Background()
				inc := f.incidentIn(t, fmt.Sprintf("i-close%02d", i), tt.state, tt.status, tt.approval)
				before := f.auditKinds(t)["incident.closed"]
				as := WithCaller(ctx, Caller{Name: "token:tok-closer", Source: "192.0.2.7", RequestID: "close-1"})
				got, err := f.eng.Close(as, inc.ID, "token:tok-closer", "handled with the owner")
				after, gerr := f.eng.Get(ctx, inc.ID)
				if gerr != nil {
					t.Fatal(gerr)
				}
				if tt.refused != "" {
					if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "close incident "+inc.ID+": "+tt.refused) {
						t.Errorf("error %v, want a conflict saying %q", err, tt.refused)
					}
					if after.State != tt.state || f.auditKinds(t)["incident.closed"] != before {
						t.Errorf("refused, yet the incident is %s and closings were audited", after.State)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if got.State != store.StateClosed || after.State != store.StateClosed {
					t.Errorf("answered %s, stored %s; want closed", got.State, after.State)
				}
				rec := f.lastAudit(t, "incident.closed")
				var data map[string]any
				if err := json.Unmarshal(rec.Data, &data); err != nil {
					t.Fatal(err)
				}
				if rec.Subject != inc.ID || rec.Actor != "token:tok-closer" || rec.Source != "192.0.2.7" || rec.RequestID != "close-1" ||
					data["from"] != tt.state || data["comment"] != "handled with the owner" {
					t.Errorf("audit record %+v %v: want incident.closed of %s by the caller, from %s, with the comment", rec, data, inc.ID, tt.state)
				}
				// Closed is final.
				if _, err := f.eng.Close(ctx, inc.ID, "alice", ""); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "already closed") {
					t.Errorf("closing again: %v, want a conflict saying it is already closed", err)
				}
				if _, err := f.eng.Release(ctx, inc.ID, "alice"); !errors.Is(err, ErrConflict) {
					t.Errorf("releasing a closed incident: %v, want a conflict", err)
				}
			})
		}
		if _, err := f.eng.Close(context.Background(), "inc-nothere", "alice", ""); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("closing an unknown incident: %v, want ErrNotFound", err)
		}
		if _, err := f.eng.Close(context.Background(), "inc-nothere", " ", ""); err == nil || !strings.Contains(err.Error(), "say who you are") {
			t.Errorf("closing as nobody: %v", err)
		}
		f.verifyAudit(t)
	})
}

// incidentIn opens a self-service incident with one step on instance id and puts it and
// its step in the given state, as the engine would have left them.
func (f *fixture) incidentIn(t *testing.T, id, state, status, approval string) *store.Incident {
	t.Helper()
	ctx := WithCaller(context.Background(), Caller{Name: "token:tok-requester"})
	inc, _, err := f.eng.RequestAction(ctx, "ec2.terminate", action.Target{Kind: event.KindInstance, ID: id,
		Account: "111122223333", Region: "us-east-1"}, "test", "")
	if err != nil {
		t.Fatal(err)
	}
	err = f.store.Write(ctx, func(tx *store.Tx) error {
		st := inc.Steps[0]
		st.Status, st.Approval = status, approval
		if err := f.store.UpdateStep(ctx, tx, inc.ID, &st); err != nil {
			return err
		}
		return f.store.SetState(ctx, tx, inc.ID, state, f.eng.cfg.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

// lastAudit returns the newest audit record of kind.
func (f *fixture) lastAudit(t *testing.T, kind string) store.AuditRecord {
	t.Helper()
	recs := auditRecords(t, f.store, kind)
	if len(recs) == 0 {
		t.Fatalf("no %s audit record", kind)
	}
	return recs[len(recs)-1]
}

// TestClosedIsNotJoined closes a contained incident: a later event about the same target,
// which would have joined it, opens a new incident instead, and so does asking again for
// the same self-service action.
func TestClosedIsNotJoined(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, options{})
		ctx := context.Background()
		if _, _, err := f.eng.Accept(ctx, readEvents(t, c2Prod), "http"); err != nil {
			t.Fatal(err)
		}
		first := f.waitFor(t, f.only(t).ID, store.StateContained)
		if _, err := f.eng.Close(ctx, first.ID, "alice", "owner rebuilt the instance"); err != nil {
			t.Fatal(err)
		}
		again := readEvents(t, c2Prod)
		again[0].ID, again[0].FindingID = "a-later-delivery", "a-later-finding"
		if acc, dup, err := f.eng.Accept(ctx, again, "http"); err != nil || acc != 1 || dup != 0 {
			t.Fatalf("accept: %d accepted, %d duplicates, %v; want 1, 0", acc, dup, err)
		}
		list, err := f.eng.List(ctx, store.Filter{Playbook: first.Playbook})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 {
			t.Fatalf("%d incidents for %s, want the closed one and a new one", len(list), first.Playbook)
		}
		var second *store.Incident
		for _, inc := range list {
			if inc.ID != first.ID {
				second = inc
			}
		}
		if second == nil || second.Target.ID != first.Target.ID {
			t.Fatalf("incidents %+v: want a new one on %s", list, first.Target.ID)
		}
		second = f.waitFor(t, second.ID, store.StateContained)
		if len(second.Events) != 1 || second.Events[0] != "a-later-delivery" {
			t.Errorf("the new incident has events %v, want the later one", second.Events)
		}
		if closed, _ := f.eng.Get(ctx, first.ID); closed.State != store.StateClosed || len(closed.Events) != 1 {
			t.Errorf("the closed incident is %s with events %v; want closed with its own event alone", closed.State, closed.Events)
		}
		if n := f.auditKinds(t)["incident.joined"]; n != 0 {
			t.Errorf("%d incident.joined records, want none", n)
		}

		// A self-service request repeated after its incident closed is a new request.
		as := WithCaller(ctx, Caller{Name: "token:tok-responder"})
		target := action.Target{Kind: event.KindInstance, ID: "i-0b1c2d3e4f5a60002", Account: "444455556666", Region: "us-east-1"}
		req, _, err := f.eng.RequestAction(as, "ec2.isolate", target, "c2", "")
		if err != nil {
			t.Fatal(err)
		}
		f.waitFor(t, req.ID, store.StateContained)
		if _, err := f.eng.Close(ctx, req.ID, "alice", ""); err != nil {
			t.Fatal(err)
		}
		next, existing, err := f.eng.RequestAction(as, "ec2.isolate", target, "c2 again", "")
		if err != nil || existing || next.ID == req.ID {
			t.Errorf("asking again after closing: incident %v, existing %v, %v; want a new incident", next, existing, err)
		}
		f.verifyAudit(t)
	})
}
