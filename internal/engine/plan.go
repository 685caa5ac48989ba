package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/decide"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/run"
)

// IncidentID names the incident a decision opens. It is derived from the playbook, the
// target and the event, so that `firebreak run` and the server name the same incident for
// the same event, and the actions recognise their own earlier work when it is run again.
func IncidentID(ev *event.Event, d decide.Decision) string {
	h := sha256.Sum256([]byte(strings.Join([]string{d.Playbook, d.Target.Account, d.Target.Region, string(d.Target.Kind), d.Target.ID, ev.ID}, "\x00")))
	return "inc-" + hex.EncodeToString(h[:6])
}

// PlanFor turns a decision into the plan the executor carries out.
func PlanFor(ev *event.Event, d decide.Decision) run.Plan {
	p := run.Plan{
		Playbook: d.Playbook,
		Incident: IncidentID(ev, d),
		Outcome:  string(d.Outcome),
		Reason:   d.Reason,
		Target:   targetOf(d),
		Event:    ev,
	}
	for _, st := range d.Steps {
		step := run.Step{Action: st.Action, With: st.With, Outcome: string(st.Outcome), Reason: st.Reason}
		if st.Step != nil {
			step.ContinueOnError = st.Step.ContinueOnError
		}
		p.Steps = append(p.Steps, step)
	}
	return p
}

func targetOf(d decide.Decision) action.Target {
	return action.Target{Kind: d.Target.Kind, ID: d.Target.ID, ARN: d.Target.ARN,
		Account: d.Target.Account, Region: d.Target.Region, Tags: d.Target.Tags}
}
