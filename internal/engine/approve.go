package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/firebreak-sec/firebreak/internal/run"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// ErrConflict is wrapped by errors for a request the incident's state does not allow (an
// approval for a step that is not waiting, a release while a step runs); the message says
// what state it is in.
var ErrConflict = errors.New("conflict")

// ErrForbidden is wrapped by the error for someone approving their own request.
var ErrForbidden = errors.New("forbidden")

// Approve lets a step that waits for approval run, and resumes the incident. step is the
// step's index in the playbook (from 0). Nobody approves a step of an incident they
// requested.
func (e *Engine) Approve(ctx context.Context, incidentID string, step int, who, comment string) error {
	return e.answer(ctx, incidentID, step, who, comment, true)
}

// Deny refuses a step that waits for approval: it is skipped, the steps after it do not
// run, and the incident ends.
func (e *Engine) Deny(ctx context.Context, incidentID string, step int, who, comment string) error {
	return e.answer(ctx, incidentID, step, who, comment, false)
}

func (e *Engine) answer(ctx context.Context, incidentID string, step int, who, comment string, approve bool) error {
	verb := "approve"
	if !approve {
		verb = "deny"
	}
	if strings.TrimSpace(who) == "" {
		return fmt.Errorf("%s step %d of incident %s: say who you are", verb, step, incidentID)
	}
	return e.store.Write(ctx, func(tx *store.Tx) error {
		inc, err := e.store.Incident(ctx, tx, incidentID)
		if err != nil {
			return err
		}
		if step < 0 || step >= len(inc.Steps) {
			return fmt.Errorf("%s step %d of incident %s: it has steps 0 to %d: %w", verb, step, inc.ID, len(inc.Steps)-1, ErrConflict)
		}
		st := &inc.Steps[step]
		if inc.State != store.StateAwaitingApproval || st.Status != store.StepPending || st.Approval != store.ApprovalRequired {
			return fmt.Errorf("%s step %d (%s) of incident %s: it is not waiting for approval (incident %s, step %s): %w",
				verb, step, st.Action, inc.ID, inc.State, st.Status, ErrConflict)
		}
		if who == inc.RequestedBy {
			return fmt.Errorf("%s step %d (%s) of incident %s: %s requested it, and someone else must decide: %w",
				verb, step, st.Action, inc.ID, who, ErrForbidden)
		}
		st.Approver, st.ApprovalComment, st.Approved = who, comment, e.cfg.Now()
		kind := "step.approved"
		if approve {
			st.Approval = store.ApprovalApproved
		} else {
			kind = "step.denied"
			st.Approval = store.ApprovalDenied
			st.Status, st.Reason = string(run.Skipped), "approval denied by "+who+suffix(comment)
		}
		if err := e.store.UpdateStep(ctx, tx, inc.ID, st); err != nil {
			return err
		}
		if err := e.audit(ctx, tx, who, kind, inc.ID, map[string]any{"step": step, "action": st.Action, "comment": comment}); err != nil {
			return err
		}
		if !approve {
			// A denial stops the response here: the steps after it assumed this one.
			for i := step + 1; i < len(inc.Steps); i++ {
				later := &inc.Steps[i]
				if later.Status != store.StepPending {
					continue
				}
				later.Status, later.Reason = string(run.NotRun), fmt.Sprintf("approval of step %d (%s) was denied", step, st.Action)
				if err := e.store.UpdateStep(ctx, tx, inc.ID, later); err != nil {
					return err
				}
			}
		}
		return e.advance(ctx, tx, inc)
	})
}

// Release undoes an incident's completed reversible steps, last first, as run.Release does,
// and ends it released. Steps not yet run never will be. It refuses while a step is running;
// try again when it has ended. The error lists the steps whose undo failed, which are left
// to be put back by hand; the incident is released all the same.
func (e *Engine) Release(ctx context.Context, incidentID, who string) (*store.Incident, error) {
	if strings.TrimSpace(who) == "" {
		return nil, fmt.Errorf("release incident %s: say who you are", incidentID)
	}
	var (
		inc *store.Incident
		rep run.Report
	)
	err := e.store.Write(ctx, func(tx *store.Tx) error {
		var err error
		inc, err = e.store.Incident(ctx, tx, incidentID)
		if err != nil {
			return err
		}
		switch inc.State {
		case store.StateReleased, store.StateClosed:
			return fmt.Errorf("release incident %s: it is already %s: %w", inc.ID, inc.State, ErrConflict)
		}
		for i := range inc.Steps {
			st := &inc.Steps[i]
			switch st.Status {
			case store.StepRunning:
				return fmt.Errorf("release incident %s: step %d (%s) is running; release it when the step has ended: %w", inc.ID, i, st.Action, ErrConflict)
			case store.StepPending:
				// The state change below makes its queued job, if any, a no-op.
				st.Status, st.Reason = string(run.NotRun), "the incident was released first"
				if err := e.store.UpdateStep(ctx, tx, inc.ID, st); err != nil {
					return err
				}
			}
		}
		if err := e.setState(ctx, tx, inc, store.StateReleasing); err != nil {
			return err
		}
		ev, err := e.store.Event(ctx, tx, inc.EventID)
		if err != nil {
			return err
		}
		rep = run.Report{Playbook: inc.Playbook, Incident: inc.ID, Target: inc.Target, Event: ev}
		for _, st := range inc.Steps {
			rep.Steps = append(rep.Steps, run.StepReport{Action: st.Action, With: st.With, Status: run.Status(st.Status),
				Prior: st.Prior, Reversible: st.Reversible})
		}
		return e.audit(ctx, tx, who, "incident.releasing", inc.ID, map[string]any{})
	})
	if err != nil {
		return nil, err
	}

	// Undo runs with the action retry policy in-process: a release is asked for by a
	// person who waits for its answer.
	out := run.Release(ctx, e.cfg.Env, e.cfg.Catalogue, rep)
	var failed []string
	// What was undone is recorded even if the caller has gone away meanwhile.
	ctx = context.WithoutCancel(ctx)
	err = e.store.Write(ctx, func(tx *store.Tx) error {
		for k, sr := range out.Steps {
			st := &inc.Steps[len(inc.Steps)-1-k] // run.Release reports last step first
			st.ReleaseStatus, st.ReleaseReason, st.Released = string(sr.Status), sr.Reason, e.cfg.Now()
			if sr.Status == run.Failed {
				failed = append(failed, fmt.Sprintf("step %d (%s): %s", st.Index, st.Action, sr.Reason))
			}
			if err := e.store.UpdateStep(ctx, tx, inc.ID, st); err != nil {
				return err
			}
			if sr.Status == run.Skipped {
				continue
			}
			if err := e.audit(ctx, tx, who, "step.release-"+string(sr.Status), inc.ID, map[string]any{
				"step": st.Index, "action": st.Action, "reason": sr.Reason, "request_ids": sr.RequestIDs}); err != nil {
				return err
			}
		}
		if err := e.setState(ctx, tx, inc, store.StateReleased); err != nil {
			return err
		}
		return e.audit(ctx, tx, who, "incident.released", inc.ID, map[string]any{"failed": failed})
	})
	if err != nil {
		return nil, fmt.Errorf("release incident %s: the undo ran but recording it failed (release again to record it): %w", inc.ID, err)
	}
	if len(failed) > 0 {
		return inc, fmt.Errorf("release incident %s: undo these by hand: %s", inc.ID, strings.Join(failed, "; "))
	}
	return inc, nil
}
