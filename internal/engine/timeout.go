package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-sec/firebreak/internal/run"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// What a step whose approval times out is decided as (Config.OnApprovalTimeout).
const (
	OnApprovalTimeoutDeny    = "deny"
	OnApprovalTimeoutApprove = "approve"
)

// A step must not wait for a person for ever: an approval nobody gives would leave a
// compromised resource half-contained. Past Config.ApprovalTimeout the engine decides the
// step itself, as Config.OnApprovalTimeout says (playbook steps state no default of their
// own). Every replica checks periodically; the decision is taken under the store's write
// lock, with the incident's state checked again inside it, so that however many replicas
// find the same step overdue it is decided once and audited once.
//
// How long a step has waited is not stored as such; it is worked out from the incident's
// record (waitingSince), so that an event joining the incident, which touches its
// updated_at, does not restart the clock.

// checkApprovalDefaults validates the approval-timeout settings and fills in the default.
func (cfg *Config) checkApprovalDefaults() error {
	switch cfg.OnApprovalTimeout {
	case "":
		cfg.OnApprovalTimeout = OnApprovalTimeoutDeny
	case OnApprovalTimeoutDeny, OnApprovalTimeoutApprove:
	default:
		return fmt.Errorf("engine: OnApprovalTimeout is %q; want %q or %q",
			cfg.OnApprovalTimeout, OnApprovalTimeoutDeny, OnApprovalTimeoutApprove)
	}
	if cfg.ApprovalTimeout < 0 {
		return fmt.Errorf("engine: ApprovalTimeout is %s; want a positive duration, or zero for none", cfg.ApprovalTimeout)
	}
	return nil
}

// approvalCheckInterval is how often overdue approvals are looked for: a tenth of the
// timeout, so that a step is decided at most 10% late, but no more often than 10ms nor
// less often than once a minute.
func (e *Engine) approvalCheckInterval() time.Duration {
	return min(max(e.cfg.ApprovalTimeout/10, 10*time.Millisecond), time.Minute)
}

// approvalLoop is the running periodic check.
type approvalLoop struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startApprovalTimeouts starts the periodic check, unless no timeout is configured.
func (e *Engine) startApprovalTimeouts(ctx context.Context) {
	if e.cfg.ApprovalTimeout <= 0 || e.approvals != nil {
		return
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l := &approvalLoop{cancel: cancel}
	l.wg.Go(func() {
		t := time.NewTicker(e.approvalCheckInterval())
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
			}
			if _, err := e.expireApprovals(lctx); err != nil && lctx.Err() == nil {
				e.cfg.Logger.Warn("deciding overdue approvals failed", "err", err)
			}
		}
	})
	e.approvals = l
}

// stopApprovalTimeouts stops the periodic check and waits for a check under way to end.
func (e *Engine) stopApprovalTimeouts() {
	if e.approvals == nil {
		return
	}
	e.approvals.cancel()
	e.approvals.wg.Wait()
	e.approvals = nil
}

// expireApprovals decides every step that has waited for approval longer than the timeout,
// and returns how many it decided. Each incident is decided in a transaction of its own, so
// that one that cannot be does not hold up the rest, nor the write lock for long.
func (e *Engine) expireApprovals(ctx context.Context) (int, error) {
	if e.cfg.ApprovalTimeout <= 0 {
		return 0, nil
	}
	// An incident waits no longer than it has existed: those created within the timeout
	// cannot be overdue, and the index on state keeps the look cheap.
	cutoff := e.cfg.Now().Add(-e.cfg.ApprovalTimeout).UTC().Truncate(time.Microsecond)
	var ids []string
	err := e.store.Read(ctx, func(tx *store.Tx) error {
		ids = ids[:0]
		return tx.Query(ctx, `SELECT id FROM incidents WHERE state = ? AND created_at <= ? ORDER BY created_at, id`,
			func(r store.Row) error {
				var id string
				if err := r.Scan(&id); err != nil {
					return err
				}
				ids = append(ids, id)
				return nil
			}, store.StateAwaitingApproval, cutoff)
	})
	if err != nil {
		return 0, fmt.Errorf("find incidents awaiting approval: %w", err)
	}
	// Whoever started the check, the engine is the one deciding.
	ctx = WithCaller(ctx, Caller{Name: actor})
	decided := 0
	var errs []error
	for _, id := range ids {
		ok, err := e.expireApproval(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return decided, ctx.Err()
			}
			errs = append(errs, err)
			continue
		}
		if ok {
			decided++
		}
	}
	if len(errs) > 0 {
		return decided, fmt.Errorf("decide overdue approvals: %w", errors.Join(errs...))
	}
	return decided, nil
}

// expireApproval decides the step incident id waits on if it is overdue. Everything is
// checked again under the write lock: another replica, or a person, may have decided the
// step since the incident was found.
func (e *Engine) expireApproval(ctx context.Context, id string) (bool, error) {
	decided := false
	var (
		step   store.Step
		action string
	)
	err := e.store.Write(ctx, func(tx *store.Tx) error {
		decided = false
		inc, err := e.store.Incident(ctx, tx, id)
		if err != nil {
			return err
		}
		if inc.State != store.StateAwaitingApproval {
			return nil
		}
		st := awaitedStep(inc)
		if st == nil {
			return nil
		}
		now := e.cfg.Now()
		if now.Sub(waitingSince(inc)) < e.cfg.ApprovalTimeout {
			return nil
		}
		action = e.cfg.OnApprovalTimeout
		reason := fmt.Sprintf("approval timed out after %s; default %s", shortDuration(e.cfg.ApprovalTimeout), action)
		st.Approver, st.ApprovalComment, st.Approved = actor, reason, now
		kind := "step.approved"
		if action == OnApprovalTimeoutApprove {
			st.Approval = store.ApprovalApproved
		} else {
			kind = "step.denied"
			st.Approval = store.ApprovalDenied
			st.Status, st.Reason = string(run.Skipped), reason
		}
		if err := e.store.UpdateStep(ctx, tx, inc.ID, st); err != nil {
			return err
		}
		if err := e.audit(ctx, tx, actor, kind, inc.ID, map[string]any{"step": st.Index, "action": st.Action,
			"comment": reason, "reason": reason, "timeout": e.cfg.ApprovalTimeout.String(), "default": action}); err != nil {
			return err
		}
		if action != OnApprovalTimeoutApprove {
			// As for a person's denial: the steps after it assumed this one.
			for i := st.Index + 1; i < len(inc.Steps); i++ {
				later := &inc.Steps[i]
				if later.Status != store.StepPending {
					continue
				}
				later.Status, later.Reason = string(run.NotRun), fmt.Sprintf("approval of step %d (%s) timed out and was denied", st.Index, st.Action)
				if err := e.store.UpdateStep(ctx, tx, inc.ID, later); err != nil {
					return err
				}
			}
		}
		step, decided = *st, true
		return e.advance(ctx, tx, inc)
	})
	if err != nil {
		return false, fmt.Errorf("incident %s: %w", id, err)
	}
	if decided {
		e.metrics.approvalTimedOut(action)
		e.cfg.Logger.Info("approval timed out", "incident", id, "step", step.Index, "action", step.Action,
			"timeout", e.cfg.ApprovalTimeout, "default", action)
	}
	return decided, nil
}

// awaitedStep is the step an incident awaiting approval waits on: its first pending step,
// the one advance stopped at, provided it does require approval.
func awaitedStep(inc *store.Incident) *store.Step {
	for i := range inc.Steps {
		st := &inc.Steps[i]
		if st.Status != store.StepPending {
			continue
		}
		if st.Approval != store.ApprovalRequired {
			return nil
		}
		return st
	}
	return nil
}

// waitingSince is when an incident began waiting for its current approval: the latest of
// its opening and of its steps' ends and approvals, since an incident comes to wait only as
// it opens, as a step ends, or as a step is decided.
func waitingSince(inc *store.Incident) time.Time {
	since := inc.Created
	for _, st := range inc.Steps {
		for _, t := range []time.Time{st.Finished, st.Approved} {
			if t.After(since) {
				since = t
			}
		}
	}
	return since
}

// shortDuration writes d as time.Duration does, without the zero minutes and seconds that
// make "1h0m0s" of an hour.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
