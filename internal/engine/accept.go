package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/firebreak-sec/firebreak/internal/action"
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
//
// Concurrent calls share a transaction (store.WriteGrouped): each runs in a savepoint of
// its own, so that one call's failure undoes only its own events, and each returns once
// the transaction holding its events has committed. Sharing one write lock and one commit
// among the requests waiting is what lets the intake keep up with a serialised audit chain.
func (e *Engine) Accept(ctx context.Context, evs []*event.Event, via string) (accepted, duplicates int, err error) {
	if err := e.freshExceptions(ctx); err != nil {
		return 0, 0, fmt.Errorf("accept %d events: %w", len(evs), err)
	}
	// Encoding and deciding need no database: done here, by each caller, they run side by
	// side instead of in the one writer every request waits for.
	preps := make([]prepared, len(evs))
	for i, ev := range evs {
		preps[i] = e.prepare(ctx, ev, via)
	}
	var breaker *breakerCount
	err = e.store.WriteGrouped(ctx, func(ctx context.Context, tx *store.Tx) error {
		accepted, duplicates = 0, 0
		// Loaded when the first incident is about to open, and only if a limit is set: most
		// events open none.
		breaker = &breakerCount{}
		for i := range preps {
			dup, err := e.acceptOne(ctx, tx, &preps[i], via, breaker)
			if err != nil {
				return err
			}
			preps[i].duplicate = dup
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
	e.metrics.accepted(preps, breaker)
	// After the commit, so that an alert never names an incident that was rolled back.
	e.alertBreaker(ctx, breaker.held)
	return accepted, duplicates, nil
}

// prepared is an event encoded for storage, enriched and decided, ready to be accepted.
type prepared struct {
	ev        *event.Event
	rec       store.EventRecord
	decisions []decide.Decision
	// err is why the event cannot be stored; Accept fails at this event, as it would had
	// it tried to store it.
	err error
	// duplicate says the event was already stored, and so not decided again.
	duplicate bool
}

// prepare encodes ev as it arrived, then enriches and decides it.
func (e *Engine) prepare(ctx context.Context, ev *event.Event, via string) prepared {
	rec, err := store.NewEventRecord(ev, via, time.Time{})
	if err != nil {
		return prepared{ev: ev, err: err}
	}
	decide.Enrich(ev, e.cfg.Inventory)
	return prepared{ev: ev, rec: rec, decisions: e.decider.Load().Decide(ctx, ev, e.cfg.Inventory)}
}

func (e *Engine) acceptOne(ctx context.Context, tx *store.Tx, p *prepared, via string, breaker *breakerCount) (duplicate bool, err error) {
	if p.err != nil {
		return false, p.err
	}
	ev, rec, now := p.ev, p.rec, e.cfg.Now()
	rec.ReceivedAt = now
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
	for _, d := range p.decisions {
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
		JoinUntil: now.Add(e.cfg.JoinWindow), Created: now,
		Sensitivity: SensitivityOf(e.decider.Load().Playbook(d.Playbook))}
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
	trip, err := e.admit(ctx, tx, breaker, d.Playbook, plan.Target.Account)
	if err != nil {
		return err
	}
	if trip != "" {
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
		breaker.held = append(breaker.held, heldIncident{id: inc.ID, playbook: d.Playbook, limit: trip, target: plan.Target})
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
// Accept call so that a batch of events counts itself. It is loaded from the store when the
// call first opens an incident; the store's count includes the incidents that calls sharing
// the transaction opened before it, and none that a rolled-back call opened.
type breakerCount struct {
	loaded     bool
	since      time.Time
	total      int
	byPlaybook map[string]int
	accounts   int
	// seen holds the accounts known to have an incident in the window; others are looked
	// up when an incident first acts in them.
	seen map[string]bool
	// trips names the limit each incident held by the breaker passed, for the metrics.
	trips []string
	// held are the incidents the breaker held, for the alert sent once they are stored.
	held []heldIncident
}

// heldIncident is an incident the breaker made wait for a person, and the limit it passed,
// described.
type heldIncident struct {
	id, playbook, limit string
	target              action.Target
}

// limited says whether any limit is set: without one the breaker counts nothing.
func (lim Breaker) limited() bool {
	return lim.PerPlaybook > 0 || lim.Total > 0 || lim.Accounts > 0
}

func (e *Engine) loadBreaker(ctx context.Context, tx *store.Tx, b *breakerCount) error {
	b.since = e.cfg.Now().Add(-e.cfg.Breaker.Window)
	c, err := e.store.CountRecentIncidents(ctx, tx, b.since, e.cfg.Breaker.Accounts > 0)
	if err != nil {
		return err
	}
	b.loaded, b.total, b.byPlaybook, b.accounts, b.seen = true, c.Total, c.ByPlaybook, c.Accounts, map[string]bool{}
	return nil
}

// admit counts a new incident and says which limit, if any, it goes past.
func (e *Engine) admit(ctx context.Context, tx *store.Tx, b *breakerCount, playbook, account string) (string, error) {
	lim := e.cfg.Breaker
	if !lim.limited() {
		return "", nil
	}
	if !b.loaded {
		if err := e.loadBreaker(ctx, tx, b); err != nil {
			return "", err
		}
	}
	b.total++
	b.byPlaybook[playbook]++
	if lim.Accounts > 0 && !b.seen[account] {
		known, err := e.store.RecentInAccount(ctx, tx, b.since, account)
		if err != nil {
			return "", err
		}
		if !known {
			b.accounts++
		}
		b.seen[account] = true
	}
	switch {
	case lim.PerPlaybook > 0 && b.byPlaybook[playbook] > lim.PerPlaybook:
		b.trips = append(b.trips, limitPerPlaybook)
		return fmt.Sprintf("playbook %s opened %d incidents within %s (limit %d)", playbook, b.byPlaybook[playbook], lim.Window, lim.PerPlaybook), nil
	case lim.Total > 0 && b.total > lim.Total:
		b.trips = append(b.trips, limitOverall)
		return fmt.Sprintf("%d incidents within %s (limit %d)", b.total, lim.Window, lim.Total), nil
	case lim.Accounts > 0 && b.accounts > lim.Accounts:
		b.trips = append(b.trips, limitAccounts)
		return fmt.Sprintf("incidents in %d accounts within %s (limit %d)", b.accounts, lim.Window, lim.Accounts), nil
	}
	return "", nil
}
