package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/firebreak-sec/firebreak/internal/action"
)

// BreakerAlertChannel is the channel a blast-radius breaker's alert goes to, for notifiers
// that route by channel.
const BreakerAlertChannel = "breaker"

// alertBreaker tells the people who watch Firebreak that the blast-radius breaker held
// incidents for approval: a storm of findings, or a playbook gone wrong, must reach a
// person at once rather than wait to be noticed in the approval queue. One alert goes out
// per batch of events, naming every incident it held and the limit each passed; the audit
// chain has a breaker.tripped record for each. A failed alert is logged, not retried:
// the held incidents wait for approval whatever becomes of it.
func (e *Engine) alertBreaker(ctx context.Context, held []heldIncident) {
	if len(held) == 0 || e.cfg.Env == nil || e.cfg.Env.Notify == nil {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "The blast-radius breaker held %d containment(s) for approval:", len(held))
	for _, h := range held {
		fmt.Fprintf(&b, "\n- %s: playbook %s on %s; %s", h.id, h.playbook, h.target, h.limit)
	}
	b.WriteString("\nApprove the ones that are real, deny the rest, and look for the cause before the window passes.")
	n := action.Notification{Incident: held[0].id, Channel: BreakerAlertChannel, Target: held[0].target,
		Subject: fmt.Sprintf("Firebreak breaker tripped: %d containment(s) waiting for approval", len(held)), Message: b.String()}
	if _, err := e.cfg.Env.Notify.Notify(context.WithoutCancel(ctx), n); err != nil {
		e.cfg.Logger.Error("breaker alert not delivered; the held incidents wait in the approval queue", "incidents", len(held), "err", err)
	}
}
