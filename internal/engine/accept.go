package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/firebreak-sec/firebreak/internal/decide"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/run"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// joinable are the states in which an incident takes in later events for its target: it is
// still being handled, or has been and the new event is more of the same.
var joinable = []string{store.StateOpen, store.StateAwaitingApproval, store.StateContaining, store.StateContained}

// Accept stores, decides and acts on events, all in one transaction: when it returns nil
// every event is stored, every decision recorded, every incident opened or joined and its
// first step enqueued; when it returns an error none of it happened and the sender should
// deliver the events again. An event already stored (the same id, or the same finding at
// the same update time) is counted as a duplicate, recorded in the audit, and not decided
// again. via names the intake (http, sqs, ...); it is the requester of the incidents the
// events open.
func (e *Engine) Accept(ctx context.Context, evs []*event.Event, via string) (accepted, duplicates int, err error) {
	err = e.store.Write(ctx, func(tx *store.Tx) error {
		accepted, duplicates = 0, 0
		breaker := &breakerCount{}
		if err := e.loadBreaker(ctx, tx, breaker); err != nil {
			return err
		}
		for _, ev := range evs {
			dup, err := e.acceptOne(ctx, tx, ev, via, breaker)
			if err != nil {
				return err
			}
			if dup {
				duplicates++
			} else {
				accepted++
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("accept %d events: %w", len(evs), err)
	}
	return accepted, duplicates, nil
}

func (e *Engine) acceptOne(ctx context.Context, tx *store.Tx, ev *event.Event, via string, breaker *breakerCount) (duplicate bool, err error) {
	now := e.cfg.Now()
	rec, err := store.NewEventRecord(ev, via, now)
	if err != nil {
		return false, err
	}
	inserted, dupOf, err := e.store.InsertEvent(ctx, tx, rec)
	if err != nil {
		return false, err
	}
	if !inserted {
		return true, e.audit(ctx, tx, via, "event.duplicate", ev.ID, map[string]any{
			"duplicate_of": dupOf, "finding_id": ev.FindingID, "updated_at": ev.UpdatedAt, "via": via})
	}
	if err := e.audit(ctx, tx, via, "event.accepted", ev.ID, map[string]any{
		"source": ev.Source, "type": ev.Type, "account": ev.Account, "region": ev.Region, "via": via}); err != nil {
		return false, err
	}
	decide.Enrich(ev, e.cfg.Inventory)
	for _, d := range e.decider.Load().Decide(ctx, ev, e.cfg.Inventory) {
		if err := e.handleDecision(ctx, tx, ev, d, via, now, breaker); err != nil {
			return false, fmt.Errorf("event %s, playbook %s: %w", ev.ID, d.Playbook, err)
		}
	}
	return false, nil
}

// handleDecision records a decision and, when it calls for action, opens or joins its
// incident.
func (e *Engine) handleDecision(ctx context.Context, tx *store.Tx, ev *event.Event, d decide.Decision, via string, now time.Time, breaker *breakerCount) error {
	acts := d.Outcome == decide.Planned || d.Outcome == decide.NeedsApproval
	target := targetOf(d)
	key := store.JoinKey(d.Playbook, target)
	subject := ev.ID
	joined := ""
	if acts {
		id, err := e.store.JoinableIncident(ctx, tx, key, now, joinable)
		switch {
		case err == nil:
			joined = id
			subject = id
		case errors.Is(err, store.ErrNotFound):
			subject = IncidentID(ev, d)
		default:
			return err
		}
	}
	if err := e.audit(ctx, tx, via, "decision", subject, map[string]any{"event": ev.ID, "decision": d}); err != nil {
		return err
	}
	if !acts {
		return nil
	}
	if joined != "" {
		if err := e.store.LinkEvent(ctx, tx, joined, ev.ID, now, now.Add(e.cfg.JoinWindow)); err != nil {
			return err
		}
		return e.audit(ctx, tx, via, "incident.joined", joined, map[string]any{"event": ev.ID})
	}
	return e.open(ctx, tx, ev, d, via, now, breaker)
}

// open creates the incident for a decision and starts it.
func (e *Engine) open(ctx context.Context, tx *store.Tx, ev *event.Event, d decide.Decision, via string, now time.Time, breaker *breakerCount) error {
	plan := PlanFor(ev, d)
	decision, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode decision: %w", err)
	}
	inc := &store.Incident{ID: plan.Incident, Playbook: d.Playbook, Target: plan.Target, State: store.StateOpen,
		RequestedBy: via, EventID: ev.ID, Decision: decision, JoinKey: store.JoinKey(d.Playbook, plan.Target),
		JoinUntil: now.Add(e.cfg.JoinWindow), Created: now}
	for i, st := range plan.Steps {
		s := store.Step{Index: i, Action: st.Action, With: st.With, ContinueOnError: st.ContinueOnError, Status: store.StepPending}
		if spec, ok := e.cfg.Catalogue.Lookup(st.Action); ok {
			s.Reversible = spec.Reversible
		}
		switch st.Outcome {
		case run.OutcomePlanned:
		case run.OutcomeNeedsApproval:
			s.Approval, s.ApprovalReason = store.ApprovalRequired, d.Reason
		default:
			// The same words run.Execute uses for a step it does not run.
			s.Status, s.Reason = string(run.Skipped), "step is "+st.Outcome+suffix(st.Reason)
		}
		inc.Steps = append(inc.Steps, s)
	}
	if trip := breaker.admit(e.cfg.Breaker, d.Playbook, plan.Target.Account); trip != "" {
		for i := range inc.Steps {
			s := &inc.Steps[i]
			if s.Status == store.StepPending {
				if s.Approval == store.ApprovalNone {
					s.Approval, s.ApprovalReason = store.ApprovalRequired, "blast-radius breaker: "+trip
				}
				break
			}
		}
		if err := e.audit(ctx, tx, actor, "breaker.tripped", inc.ID, map[string]any{"limit": trip, "playbook": d.Playbook, "account": plan.Target.Account}); err != nil {
			return err
		}
	}
	if err := e.store.CreateIncident(ctx, tx, inc); err != nil {
		return err
	}
	if err := e.audit(ctx, tx, via, "incident.opened", inc.ID, map[string]any{
		"event": ev.ID, "playbook": d.Playbook, "target": plan.Target, "outcome": d.Outcome}); err != nil {
		return err
	}
	return e.advance(ctx, tx, inc)
}

func suffix(reason string) string {
	if reason == "" {
		return ""
	}
	return ": " + reason
}

// breakerCount is what the breaker has seen in its window, kept up to date through one
// Accept transaction so that a batch of events counts itself.
type breakerCount struct {
	total      int
	byPlaybook map[string]int
	accounts   map[string]bool
}

func (e *Engine) loadBreaker(ctx context.Context, tx *store.Tx, b *breakerCount) error {
	b.byPlaybook, b.accounts = map[string]int{}, map[string]bool{}
	recent, err := e.store.RecentIncidents(ctx, tx, e.cfg.Now().Add(-e.cfg.Breaker.Window))
	if err != nil {
		return err
	}
	for _, r := range recent {
		b.total++
		b.byPlaybook[r.Playbook]++
		b.accounts[r.Account] = true
	}
	return nil
}

// admit counts a new incident and says which limit, if any, it goes past.
func (b *breakerCount) admit(lim Breaker, playbook, account string) string {
	b.total++
	b.byPlaybook[playbook]++
	b.accounts[account] = true
	switch {
	case lim.PerPlaybook > 0 && b.byPlaybook[playbook] > lim.PerPlaybook:
		return fmt.Sprintf("playbook %s opened %d incidents within %s (limit %d)", playbook, b.byPlaybook[playbook], lim.Window, lim.PerPlaybook)
	case lim.Total > 0 && b.total > lim.Total:
		return fmt.Sprintf("%d incidents within %s (limit %d)", b.total, lim.Window, lim.Total)
	case lim.Accounts > 0 && len(b.accounts) > lim.Accounts:
		return fmt.Sprintf("incidents in %d accounts within %s (limit %d)", len(b.accounts), lim.Window, lim.Accounts)
	}
	return ""
}
