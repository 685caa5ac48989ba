package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/riverqueue/river"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/cloud"
	"github.com/firebreak-sec/firebreak/internal/run"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// advance moves an incident on after a change: it marks the steps an earlier failure rules
// out as not-run, exactly as run.Execute would, and then either enqueues the next step,
// waits for an approval, or ends the incident. It must run in the transaction that made
// the change, so that the change and what follows from it commit together.
func (e *Engine) advance(ctx context.Context, tx *store.Tx, inc *store.Incident) error {
	stopped, evidenceFailed := "", ""
	for i := range inc.Steps {
		st := &inc.Steps[i]
		spec, _ := e.cfg.Catalogue.Lookup(st.Action)
		switch st.Status {
		case store.StepRunning:
			return nil // its job is under way and will advance the incident when it ends
		case store.StepPending:
		case string(run.Failed):
			if spec != nil && spec.Evidence && evidenceFailed == "" {
				evidenceFailed = st.Action
			}
			if !st.ContinueOnError && stopped == "" {
				stopped = st.Action
			}
			continue
		default:
			continue
		}
		switch {
		case stopped != "":
			st.Status, st.Reason = string(run.NotRun), "an earlier step ("+stopped+") failed"
		case evidenceFailed != "" && spec != nil && (spec.Destructive || spec.LosesEvidence):
			st.Status, st.Reason = string(run.NotRun), "evidence step "+evidenceFailed+" failed, and this step would destroy what it was to preserve"
		case st.Approval == store.ApprovalRequired:
			if err := e.setState(ctx, tx, inc, store.StateAwaitingApproval); err != nil {
				return err
			}
			return e.audit(ctx, tx, actor, "step.awaiting-approval", inc.ID, map[string]any{
				"step": st.Index, "action": st.Action, "reason": st.ApprovalReason})
		default:
			if err := e.jobs.insert(ctx, tx, StepArgs{Incident: inc.ID, Step: st.Index}); err != nil {
				return fmt.Errorf("incident %s: enqueue step %d (%s): %w", inc.ID, st.Index, st.Action, err)
			}
			return e.setState(ctx, tx, inc, store.StateContaining)
		}
		if err := e.store.UpdateStep(ctx, tx, inc.ID, st); err != nil {
			return err
		}
		if err := e.audit(ctx, tx, actor, "step."+st.Status, inc.ID, map[string]any{"step": st.Index, "action": st.Action, "reason": st.Reason}); err != nil {
			return err
		}
	}
	return e.finish(ctx, tx, inc)
}

// finish ends an incident whose steps have all ended: failed when any step failed (as
// run.Report.Failed counts them), contained when any step changed something or found it
// already done, and closed when nothing was to be done.
func (e *Engine) finish(ctx context.Context, tx *store.Tx, inc *store.Incident) error {
	state := store.StateClosed
	for _, st := range inc.Steps {
		switch run.Status(st.Status) {
		case run.Failed:
			state = store.StateFailed
		case run.Done, run.AlreadyDone:
			if state == store.StateClosed {
				state = store.StateContained
			}
		}
	}
	if err := e.setState(ctx, tx, inc, state); err != nil {
		return err
	}
	return e.audit(ctx, tx, actor, "incident."+state, inc.ID, map[string]any{"steps": stepSummary(inc.Steps)})
}

func stepSummary(steps []store.Step) []map[string]any {
	out := make([]map[string]any, 0, len(steps))
	for _, st := range steps {
		out = append(out, map[string]any{"step": st.Index, "action": st.Action, "status": st.Status})
	}
	return out
}

func (e *Engine) setState(ctx context.Context, tx *store.Tx, inc *store.Incident, state string) error {
	if inc.State == state {
		return nil
	}
	inc.State = state
	return e.store.SetState(ctx, tx, inc.ID, state, e.cfg.Now())
}

// errStale says a job has nothing left to do.
var errStale = errors.New("nothing to do")

// runStep is one attempt at one step. Retrying is River's: a retryable failure with attempts
// left returns an error, and River runs the job again after NextRetry's backoff. Actions are
// idempotent, so a job that runs again after a crash redoes only what is left, and one that
// finds its step ended does nothing.
func (e *Engine) runStep(ctx context.Context, args StepArgs, attempt, maxAttempts int) error {
	var (
		inc  *store.Incident
		st   store.Step
		plan run.Plan
	)
	err := e.store.Write(ctx, func(tx *store.Tx) error {
		var err error
		inc, err = e.store.Incident(ctx, tx, args.Incident)
		if err != nil {
			return err
		}
		if inc.State != store.StateContaining || args.Step < 0 || args.Step >= len(inc.Steps) {
			return errStale
		}
		st = inc.Steps[args.Step]
		if st.Status != store.StepPending && st.Status != store.StepRunning || st.Approval == store.ApprovalRequired {
			return errStale
		}
		ev, err := e.store.Event(ctx, tx, inc.EventID)
		if err != nil {
			return err
		}
		// A step found running was begun by an attempt whose outcome is unknown (its
		// process died, or its call failed in a way that may yet have taken effect); one
		// whose last attempt was throttled was refused, and nothing of it can land later.
		resumed := st.Status == store.StepRunning && st.Class != cloud.Throttled.String()
		plan = run.Plan{Playbook: inc.Playbook, Incident: inc.ID, Outcome: run.OutcomePlanned, Target: inc.Target, Event: ev,
			Steps: []run.Step{{Action: st.Action, With: st.With, ContinueOnError: st.ContinueOnError, Outcome: run.OutcomePlanned,
				Resumed: resumed}}}
		st.Status = store.StepRunning
		// Until this attempt reports, its outcome is unknown: a process that dies during
		// it leaves no class, and the next attempt counts as resumed.
		st.Class = ""
		if st.Started.IsZero() {
			st.Started = e.cfg.Now()
		}
		return e.store.UpdateStep(ctx, tx, inc.ID, &st)
	})
	if errors.Is(err, errStale) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("incident %s step %d: %w", args.Incident, args.Step, err)
	}

	observe := e.metrics.stepTimer()
	sr := run.Execute(ctx, e.stepEnv, e.cfg.Catalogue, plan).Steps[0]
	if errors.Is(ctx.Err(), context.Canceled) {
		// Stopped mid-step: the outcome says nothing about the action, so nothing is
		// recorded and River runs the job again after the restart.
		return fmt.Errorf("incident %s step %d (%s) interrupted: %w", inc.ID, st.Index, st.Action, ctx.Err())
	}
	merge(&st, sr, attempt)
	// A step that ran out of time may finish on another attempt, whatever its error says.
	retry := sr.Status == run.Failed && (sr.Retryable || ctx.Err() != nil) && attempt < maxAttempts
	// The outcome is recorded even when the attempt's time is up.
	ctx = context.WithoutCancel(ctx)

	err = e.store.Write(ctx, func(tx *store.Tx) error {
		if retry {
			// Keep what the attempt learnt (its prior state above all) for the next one.
			st.Status = store.StepRunning
			if err := e.store.UpdateStep(ctx, tx, inc.ID, &st); err != nil {
				return err
			}
			return e.audit(ctx, tx, actor, "step.retry", inc.ID, map[string]any{
				"step": st.Index, "action": st.Action, "attempt": attempt, "class": st.Class, "reason": st.Reason})
		}
		st.Finished = e.cfg.Now()
		if err := e.store.UpdateStep(ctx, tx, inc.ID, &st); err != nil {
			return err
		}
		inc.Steps[st.Index] = st
		if err := e.audit(ctx, tx, actor, "step."+st.Status, inc.ID, stepRecord(st)); err != nil {
			return err
		}
		return e.advance(ctx, tx, inc)
	})
	if err != nil {
		// The step's effect stands (actions are idempotent); River runs the job again to
		// record it.
		return fmt.Errorf("incident %s step %d (%s): record the outcome: %w", inc.ID, st.Index, st.Action, err)
	}
	if retry {
		observe(st.Action, "retry")
	} else {
		observe(st.Action, st.Status)
	}
	if e.cfg.AfterStep != nil {
		e.cfg.AfterStep(inc.ID, st)
	}
	if sr.Status == run.Failed {
		stepErr := fmt.Errorf("incident %s step %d (%s): %s", inc.ID, st.Index, st.Action, st.Reason)
		if retry {
			return stepErr
		}
		return river.JobCancel(stepErr)
	}
	return nil
}

// merge folds one attempt's report into the step as run's own retry loop does: the first
// prior state recorded is the one to restore, evidence and request ids accumulate, and a
// step that a failed attempt had partly done and a later one finished counts as done.
func merge(st *store.Step, sr run.StepReport, attempt int) {
	st.Status, st.Reason, st.Class, st.Message = string(sr.Status), sr.Reason, sr.Class, sr.Message
	st.Attempts = attempt
	if st.Prior == nil {
		st.Prior = sr.Prior
	}
	for _, ev := range sr.Evidence {
		if !hasEvidence(st.Evidence, ev) {
			st.Evidence = append(st.Evidence, ev)
		}
	}
	st.RequestIDs = append(st.RequestIDs, sr.RequestIDs...)
	if sr.Reversible {
		st.Reversible = true
	}
	if sr.Status == run.AlreadyDone && st.Prior != nil && attempt > 1 {
		st.Status = string(run.Done)
	}
}

func hasEvidence(have []action.Evidence, e action.Evidence) bool {
	for _, h := range have {
		if h == e {
			return true
		}
	}
	return false
}

func stepRecord(st store.Step) map[string]any {
	return map[string]any{"step": st.Index, "action": st.Action, "status": st.Status, "reason": st.Reason,
		"class": st.Class, "attempts": st.Attempts, "evidence": st.Evidence, "request_ids": st.RequestIDs,
		"prior": st.Prior}
}
