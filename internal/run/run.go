// Package run carries out a decision: the steps a playbook planned for one target, in
// order, through each action's Executor, and reports what each did; Release undoes them.
package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/cloud"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// Decision and step outcomes, as the decision engine names them (CONTRACTS §3).
const (
	OutcomePlanned       = "planned"
	OutcomeDryRun        = "dry-run"
	OutcomeNeedsApproval = "needs-approval"
	OutcomeExcepted      = "excepted"
	OutcomeSkipped       = "skipped"
)

// Plan is one decision to carry out: a playbook's steps for one target.
type Plan struct {
	Playbook string
	// Incident names the incident; actions tag and recognise their work by it.
	Incident string
	// Outcome is the decision's outcome; only a planned decision runs any step.
	Outcome string
	Reason  string
	Target  action.Target
	// Event opened the incident; finding actions act on its finding.
	Event *event.Event
	Steps []Step
}

// Step is one planned step.
type Step struct {
	Action string
	// With are the step's resolved parameters; defaults for the rest are filled in here.
	With map[string]any
	// ContinueOnError lets the decision's later steps run when this one fails. It never
	// lets a destructive step run after a failed evidence step.
	ContinueOnError bool
	// Outcome is planned, or why the step is not to run (dry-run, needs-approval, skipped).
	Outcome string
	Reason  string
	// Resumed says an earlier attempt at the step began and its outcome is unknown (see
	// action.Request.Resumed).
	Resumed bool
}

// Status is how a step ended.
type Status string

// Step statuses in a Report.
const (
	Done        Status = "done"
	AlreadyDone Status = "already-done"
	Failed      Status = "failed"
	Skipped     Status = "skipped" // not to run: the decision or step outcome said so, or the action did not apply
	NotRun      Status = "not-run" // to run, but an earlier failure stopped it
	Released    Status = "released"
)

// StepReport is what one step did.
type StepReport struct {
	Action string         `json:"action"`
	With   map[string]any `json:"with,omitempty"`
	Status Status         `json:"status"`
	// Reason says why a step failed, was skipped or did not run.
	Reason string `json:"reason,omitempty"`
	// Class is the failure's class (denied, throttled, not-found, ...), for a failed step.
	Class string `json:"class,omitempty"`
	// Retryable says a failed step may succeed if the decision is run again.
	Retryable  bool              `json:"retryable,omitempty"`
	Message    string            `json:"message,omitempty"`
	Attempts   int               `json:"attempts,omitempty"`
	Started    time.Time         `json:"started,omitzero"`
	Duration   time.Duration     `json:"duration"`
	Evidence   []action.Evidence `json:"evidence,omitempty"`
	Prior      json.RawMessage   `json:"prior,omitempty"`
	RequestIDs []string          `json:"request_ids,omitempty"`
	// Reversible is copied from the action's declaration so Release needs no guesswork.
	Reversible bool `json:"reversible,omitempty"`
}

// Report is what a decision's execution did, step by step, in plan order.
type Report struct {
	Playbook string        `json:"playbook"`
	Incident string        `json:"incident"`
	Target   action.Target `json:"target"`
	Event    *event.Event  `json:"-"`
	Steps    []StepReport  `json:"steps"`
}

// Failed reports whether any step failed.
func (r *Report) Failed() bool {
	for _, s := range r.Steps {
		if s.Status == Failed {
			return true
		}
	}
	return false
}

// Execute runs the plan's planned steps in order. A failed step stops the steps after it
// unless it is marked ContinueOnError; after a failed evidence step no destructive or
// evidence-losing step runs whatever the marks say, since it would destroy what the
// evidence step failed to keep. Failures AWS calls transient are retried with backoff
// (env.Retry); actions are idempotent, so a retry redoes only what is left. Other decisions
// are unaffected: each Plan is executed on its own.
func Execute(ctx context.Context, env *action.Env, cat *action.Catalogue, p Plan) Report {
	rep := Report{Playbook: p.Playbook, Incident: p.Incident, Target: p.Target, Event: p.Event}
	stopped := ""        // the failed step that stops the rest
	evidenceFailed := "" // the failed evidence step that stops destruction
	for _, st := range p.Steps {
		sr := StepReport{Action: st.Action, With: st.With}
		spec, ok := cat.Lookup(st.Action)
		switch {
		case p.Outcome != "" && p.Outcome != OutcomePlanned:
			sr.Status, sr.Reason = Skipped, "decision is "+p.Outcome+reasonSuffix(p.Reason)
		case st.Outcome != "" && st.Outcome != OutcomePlanned:
			sr.Status, sr.Reason = Skipped, "step is "+st.Outcome+reasonSuffix(st.Reason)
		case !ok:
			sr.Status, sr.Reason = Failed, fmt.Sprintf("unknown action %q", st.Action)
		case spec.Exec == nil:
			sr.Status, sr.Reason = Failed, fmt.Sprintf("action %s cannot be executed", st.Action)
		case stopped != "":
			sr.Status, sr.Reason = NotRun, "an earlier step ("+stopped+") failed"
		case evidenceFailed != "" && (spec.Destructive || spec.LosesEvidence):
			sr.Status, sr.Reason = NotRun, "evidence step "+evidenceFailed+" failed, and this step would destroy what it was to preserve"
		case !spec.Accepts(p.Target.Kind):
			sr.Status, sr.Reason = Failed, fmt.Sprintf("action %s does not act on a %s", st.Action, p.Target.Kind)
		default:
			sr.Reversible = spec.Reversible
			req := &action.Request{Target: p.Target, Params: spec.ParamsWithDefaults(st.With), Incident: p.Incident, Event: p.Event,
				Resumed: st.Resumed}
			run(ctx, env, spec, req, &sr)
		}
		if sr.Status == Failed {
			if spec != nil && spec.Evidence && evidenceFailed == "" {
				evidenceFailed = st.Action
			}
			if !st.ContinueOnError && stopped == "" {
				stopped = st.Action
			}
		}
		rep.Steps = append(rep.Steps, sr)
	}
	return rep
}

func reasonSuffix(reason string) string {
	if reason == "" {
		return ""
	}
	return ": " + reason
}

// run executes one step with retries, filling sr.
func run(ctx context.Context, env *action.Env, spec *action.Spec, req *action.Request, sr *StepReport) {
	sr.Started = env.Clock()
	start := time.Now()
	defer func() { sr.Duration = time.Since(start) }()
	attempts := env.Retry.MaxAttempts()
	for n := 1; ; n++ {
		sr.Attempts = n
		res, err := spec.Exec.Do(ctx, env, req)
		if res != nil {
			// The first attempt that read the resource saw it as it was; later attempts
			// see the attempt before's partial work, so the earliest record wins.
			if sr.Prior == nil {
				sr.Prior = res.Prior
			}
			sr.Evidence = mergeEvidence(sr.Evidence, res.Evidence)
			sr.RequestIDs = append(sr.RequestIDs, res.RequestIDs...)
			sr.Message = res.Message
		}
		if err == nil {
			sr.Status = Status(res.Status)
			if sr.Status == AlreadyDone && sr.Prior != nil && n > 1 {
				// A retry found the work done by an attempt that failed late: it was done now.
				sr.Status = Done
			}
			return
		}
		class := action.Class(err)
		sr.Status, sr.Reason, sr.Class, sr.Retryable = Failed, err.Error(), class.String(), class.Retryable()
		if !class.Retryable() || n >= attempts || ctx.Err() != nil {
			return
		}
		// A throttled call was refused; any other retryable failure (a 5xx, a timeout)
		// may have been carried out all the same.
		if class != cloud.Throttled {
			req.Resumed = true
		}
		t := time.NewTimer(env.Retry.Backoff(n))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func mergeEvidence(have, more []action.Evidence) []action.Evidence {
	for _, e := range more {
		dup := false
		for _, h := range have {
			if h == e {
				dup = true
				break
			}
		}
		if !dup {
			have = append(have, e)
		}
	}
	return have
}

// Release undoes every completed reversible step of a report, last first, and returns the
// release's own report: each undone step released or failed, the rest skipped with the
// reason. A step that fails to undo does not stop the others: releasing is best effort,
// and each failure says what is left to do by hand.
func Release(ctx context.Context, env *action.Env, cat *action.Catalogue, r Report) Report {
	out := Report{Playbook: r.Playbook, Incident: r.Incident, Target: r.Target, Event: r.Event}
	for i := len(r.Steps) - 1; i >= 0; i-- {
		st := r.Steps[i]
		sr := StepReport{Action: st.Action, With: st.With}
		spec, ok := cat.Lookup(st.Action)
		switch {
		case st.Status != Done && !(st.Status == Failed && st.Prior != nil):
			sr.Status, sr.Reason = Skipped, "the step changed nothing ("+string(st.Status)+")"
		case !ok || spec.Exec == nil:
			sr.Status, sr.Reason = Failed, fmt.Sprintf("unknown action %q", st.Action)
		case !spec.Reversible:
			sr.Status, sr.Reason = Skipped, "not reversible"
			if spec.Evidence {
				sr.Reason = "evidence is kept"
			}
		case st.Prior == nil:
			sr.Status, sr.Reason = Skipped, "no prior state was recorded"
		default:
			req := &action.Request{Target: r.Target, Params: spec.ParamsWithDefaults(st.With), Incident: r.Incident, Event: r.Event}
			undo(ctx, env, spec, req, st.Prior, &sr)
		}
		out.Steps = append(out.Steps, sr)
	}
	return out
}

func undo(ctx context.Context, env *action.Env, spec *action.Spec, req *action.Request, prior json.RawMessage, sr *StepReport) {
	sr.Started = env.Clock()
	start := time.Now()
	defer func() { sr.Duration = time.Since(start) }()
	attempts := env.Retry.MaxAttempts()
	for n := 1; ; n++ {
		sr.Attempts = n
		res, err := spec.Exec.Undo(ctx, env, req, prior)
		if res != nil {
			sr.RequestIDs = append(sr.RequestIDs, res.RequestIDs...)
			sr.Message = res.Message
		}
		if err == nil {
			sr.Status = Released
			return
		}
		class := action.Class(err)
		sr.Status, sr.Reason, sr.Class, sr.Retryable = Failed, err.Error(), class.String(), class.Retryable()
		if errors.Is(err, action.ErrIrreversible) || !class.Retryable() || n >= attempts || ctx.Err() != nil {
			return
		}
		t := time.NewTimer(env.Retry.Backoff(n))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
