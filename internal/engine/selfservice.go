package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/decide"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// SelfService is the playbook name of incidents a person opened by asking for an action
// (POST /v1/actions) rather than a detector's event.
const SelfService = "self-service"

// SelfServiceType is the event type of the event that records such a request.
const SelfServiceType = "Firebreak Action Request"

// ErrInvalidRequest is wrapped by RequestAction's errors for a request that can never be
// carried out as asked (an unknown action, a target kind it does not act on).
var ErrInvalidRequest = errors.New("invalid request")

// RequestAction opens an incident that carries out one action on one target, as asked for
// by the context's caller (WithCaller), who becomes its requester: nobody approves a step
// of a request they made. It is recorded as an event of its own (source custom, via api)
// and runs exactly as an incident Accept opens does: stored, audited and its step enqueued
// in one transaction. A destructive action waits for someone else's approval. A target
// that an exception for every playbook covers is refused with an error wrapping
// ErrExcepted, and the refusal audited.
//
// When an incident for the same action and target is still being handled (open, awaiting
// approval, containing, or contained within the join window), that incident is returned
// with existing true, and nothing new is opened: asking twice must not act twice.
func (e *Engine) RequestAction(ctx context.Context, actionName string, target action.Target, reason, ticket string, opts ...RequestOption) (*store.Incident, bool, error) {
	var o requestOptions
	for _, opt := range opts {
		opt(&o)
	}
	caller := callerOf(ctx, "")
	if strings.TrimSpace(caller.Name) == "" {
		return nil, false, fmt.Errorf("request %s on %s: say who you are: %w", actionName, target, ErrInvalidRequest)
	}
	spec, ok := e.cfg.Catalogue.Lookup(actionName)
	if !ok {
		return nil, false, fmt.Errorf("request %s: no such action: %w", actionName, ErrInvalidRequest)
	}
	if !spec.Accepts(target.Kind) {
		return nil, false, fmt.Errorf("request %s on %s: the action does not act on a %s: %w", actionName, target, target.Kind, ErrInvalidRequest)
	}
	if strings.TrimSpace(reason) == "" {
		return nil, false, fmt.Errorf("request %s on %s: give a reason: %w", actionName, target, ErrInvalidRequest)
	}
	// An exception that applies to every playbook covers a person's request too: the
	// deviation was approved for the resource, whoever would act on it.
	if err := e.freshExceptions(ctx); err != nil {
		return nil, false, fmt.Errorf("request %s on %s: %w", actionName, target, err)
	}
	overridden := e.exceptedTarget(target)
	if overridden != "" && !o.overrideExceptions {
		return nil, false, e.refuseExcepted(ctx, caller.Name, actionName, target, reason, ticket, overridden)
	}
	// What the request records: an overridden exception is named in it, so that the audit
	// shows who acted against an approved deviation, and why.
	requested := map[string]any{"action": actionName, "target": target, "reason": reason, "ticket": ticket}
	if overridden != "" {
		requested["overrode"] = overridden
	}
	// The join key carries the action, so that two different actions on one target are two
	// requests, and a self-service request never joins a playbook's incident or the reverse.
	key := store.JoinKey(SelfService+"/"+actionName, target)
	var (
		inc      *store.Incident
		existing bool
	)
	err := e.store.Write(ctx, func(tx *store.Tx) error {
		inc, existing = nil, false
		now := e.cfg.Now()
		id, err := e.store.JoinableIncident(ctx, tx, key, now, joinable)
		switch {
		case err == nil:
			if inc, err = e.store.Incident(ctx, tx, id); err != nil {
				return err
			}
			existing = true
			return e.audit(ctx, tx, caller.Name, "action.repeated", id, requested)
		case !errors.Is(err, store.ErrNotFound):
			return err
		}

		ev, err := requestEvent(actionName, target, reason, ticket, caller.Name, now)
		if err != nil {
			return err
		}
		rec, err := store.NewEventRecord(ev, "api", now)
		if err != nil {
			return err
		}
		if _, _, err := e.store.InsertEvent(ctx, tx, rec); err != nil {
			return err
		}
		if err := e.audit(ctx, tx, caller.Name, "action.requested", ev.ID, requested); err != nil {
			return err
		}
		st := decide.Step{Action: actionName, With: spec.ParamsWithDefaults(nil), Outcome: decide.Planned}
		d := decide.Decision{Playbook: SelfService, Outcome: decide.Planned, Reason: reason,
			Target: decide.Target{Kind: target.Kind, ID: target.ID, ARN: target.ARN, Account: target.Account,
				Region: target.Region, Tags: target.Tags}}
		if spec.Destructive {
			st.Outcome, d.Outcome = decide.NeedsApproval, decide.NeedsApproval
			st.Reason = actionName + " is destructive: someone other than the requester approves it"
		}
		d.Steps = []decide.Step{st}
		if err := e.audit(ctx, tx, caller.Name, "decision", IncidentID(ev, d), map[string]any{"event": ev.ID, "decision": d}); err != nil {
			return err
		}
		inc, err = e.openRequested(ctx, tx, ev, d, key, caller.Name)
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("request %s on %s: %w", actionName, target, err)
	}
	return inc, existing, nil
}

// openRequested stores a self-service incident, as open does a playbook's, and starts it.
// It does not count against the blast-radius breaker: that limits what Firebreak does on
// its own, and here a person asked for this one action on this one resource.
func (e *Engine) openRequested(ctx context.Context, tx *store.Tx, ev *event.Event, d decide.Decision, key, who string) (*store.Incident, error) {
	now := e.cfg.Now()
	plan := PlanFor(ev, d)
	decision, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode decision: %w", err)
	}
	inc := &store.Incident{ID: plan.Incident, Playbook: SelfService, Target: plan.Target, State: store.StateOpen,
		RequestedBy: who, EventID: ev.ID, Decision: decision, JoinKey: key,
		JoinUntil: now.Add(e.cfg.JoinWindow), Created: now}
	for i, st := range d.Steps {
		s := store.Step{Index: i, Action: st.Action, With: st.With, Status: store.StepPending}
		if spec, ok := e.cfg.Catalogue.Lookup(st.Action); ok {
			s.Reversible = spec.Reversible
		}
		if st.Outcome == decide.NeedsApproval {
			s.Approval, s.ApprovalReason = store.ApprovalRequired, st.Reason
		}
		inc.Steps = append(inc.Steps, s)
	}
	if err := e.store.CreateIncident(ctx, tx, inc); err != nil {
		return nil, err
	}
	if err := e.audit(ctx, tx, who, "incident.opened", inc.ID, map[string]any{
		"event": ev.ID, "playbook": SelfService, "target": plan.Target, "outcome": d.Outcome, "requested_by": who}); err != nil {
		return nil, err
	}
	if err := e.advance(ctx, tx, inc); err != nil {
		return nil, err
	}
	return inc, nil
}

// requestEvent records a request as an event, so that the incident it opens has an event
// like any other, and the request is kept whole with its reason and ticket. Its id is
// random: two requests are two events even when everything in them is alike.
func requestEvent(actionName string, target action.Target, reason, ticket, who string, now time.Time) (*event.Event, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("name the request: %w", err)
	}
	return &event.Event{
		ID: "req-" + hex.EncodeToString(b), Source: event.SourceCustom, Type: SelfServiceType,
		Account: target.Account, Region: target.Region, Time: now.UTC(),
		Title:       actionName + " on " + target.String(),
		Description: reason,
		Resources: []event.Resource{{Kind: target.Kind, ID: target.ID, ARN: target.ARN, Account: target.Account,
			Region: target.Region, Tags: map[string]string{}}},
		Details: map[string]any{"action": actionName, "reason": reason, "ticket": ticket, "requested_by": who},
	}, nil
}

// RequestOption adjusts a self-service request (RequestAction).
type RequestOption func(*requestOptions)

type requestOptions struct {
	overrideExceptions bool
}

// OverridingExceptions lets a request act on a target that an exception covers. The
// caller must already have been checked as one who may override exceptions (the API and
// the console allow administrators only); the request's audit record names the exception
// overridden.
func OverridingExceptions() RequestOption {
	return func(o *requestOptions) { o.overrideExceptions = true }
}
