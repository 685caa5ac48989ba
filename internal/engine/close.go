package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/firebreak-sec/firebreak/internal/store"
)

// Close ends an incident for good: a responder has dealt with it and nothing more is to be
// done under it. Whatever its steps changed stays as it is (release first to undo it), no
// later event joins it, so that a repeated finding opens a new incident, and it can be
// neither released nor approved afterwards. who is the person closing it; comment, kept in
// the audit, says why.
//
// Only an incident that has come to rest may be closed: contained, released or failed, or
// open with no step left to run. The error, wrapping ErrConflict, says what to do with one
// that is still moving.
func (e *Engine) Close(ctx context.Context, incidentID, who, comment string) (*store.Incident, error) {
	if strings.TrimSpace(who) == "" {
		return nil, fmt.Errorf("close incident %s: say who you are", incidentID)
	}
	var inc *store.Incident
	err := e.store.Write(ctx, func(tx *store.Tx) error {
		var err error
		inc, err = e.store.Incident(ctx, tx, incidentID)
		if err != nil {
			return err
		}
		if err := CheckClose(inc); err != nil {
			return err
		}
		from := inc.State
		if err := e.setState(ctx, tx, inc, store.StateClosed); err != nil {
			return err
		}
		return e.audit(ctx, tx, who, "incident.closed", inc.ID, map[string]any{"from": from, "comment": comment})
	})
	if err != nil {
		return nil, err
	}
	return inc, nil
}

// CheckClose says whether Close would close inc as it stands: nil when it would, else
// the error Close would return, wrapping ErrConflict, which names the incident's state and
// what to do first. Pages use it to offer closing only when it can succeed.
func CheckClose(inc *store.Incident) error {
	if why := notClosable(inc); why != "" {
		return fmt.Errorf("close incident %s: %s: %w", inc.ID, why, ErrConflict)
	}
	return nil
}

// notClosable says why inc cannot be closed as it stands, and what to do instead; "" when
// it can be.
func notClosable(inc *store.Incident) string {
	switch inc.State {
	case store.StateContained, store.StateReleased, store.StateFailed:
		return ""
	case store.StateOpen:
		// An incident rests open only when nothing was planned to run (every step skipped,
		// or none); one with a step still to come is about to move on.
		for _, st := range inc.Steps {
			if st.Status == store.StepPending || st.Status == store.StepRunning {
				return fmt.Sprintf("it is open with step %d (%s) still to run; wait for it to finish or release it first", st.Index, st.Action)
			}
		}
		return ""
	case store.StateClosed:
		return "it is already closed"
	case store.StateAwaitingApproval:
		for _, st := range inc.Steps {
			if st.Status == store.StepPending && st.Approval == store.ApprovalRequired {
				return fmt.Sprintf("it is awaiting approval of step %d (%s); approve or deny it, or release the incident, first", st.Index, st.Action)
			}
		}
		return "it is awaiting approval; approve or deny the waiting step, or release the incident, first"
	case store.StateContaining:
		return "it is containing; wait for it to finish or release it first"
	case store.StateReleasing:
		return "it is releasing; wait for the release to finish, then close it"
	}
	return fmt.Sprintf("it is %s, which cannot be closed; release it first", inc.State)
}
