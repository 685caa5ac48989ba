package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/decide"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// MaxReplayBytes is the largest body POST /v1/replay reads: a batch of findings exported
// from a detector, larger than a request for an action but bounded, since every event is
// decided while the caller waits.
const MaxReplayBytes = 1 << 20

// ReplayRecord is what the playbooks decide about one event: the same record, field for
// field, as a line of `firebreak replay --output json` (CONTRACTS §3).
type ReplayRecord struct {
	Event     *event.Event      `json:"event"`
	Decisions []decide.Decision `json:"decisions"`
}

// Rejection is a value of a replayed body that was not read as an event, as the event
// intake reports it.
type Rejection struct {
	// Index is the value's place in the body, from 0.
	Index int `json:"index"`
	// Error says what is wrong, where in the body (body:LINE:COL), and what to send instead.
	Error string `json:"error"`
}

// ReplayResult is the body of POST /v1/replay. Neither list is ever null.
type ReplayResult struct {
	Records  []ReplayRecord `json:"records"`
	Rejected []Rejection    `json:"rejected"`
}

// replay serves POST /v1/replay: every event of the body (any form the intake takes) is
// decided against the playbooks loaded now, and nothing is stored, acted on or audited.
func (h *Handler) replay(w http.ResponseWriter, r *http.Request, c *call) {
	if bad := noQuery(r); len(bad) > 0 {
		h.invalid(w, c, http.StatusBadRequest, bad)
		return
	}
	var eng *decide.Engine
	if h.opts.Decider != nil {
		eng = h.opts.Decider()
	}
	if eng == nil {
		h.problem(w, c, http.StatusServiceUnavailable, "no playbooks are loaded on this server to decide with; try again once they are", nil)
		return
	}
	tooLarge := func() {
		h.invalid(w, c, http.StatusRequestEntityTooLarge, []InvalidParam{{"body", fmt.Sprintf("must be at most %d bytes; replay the events in smaller batches", MaxReplayBytes)}})
	}
	if r.ContentLength > MaxReplayBytes {
		tooLarge()
		return
	}
	inv := scopedInventory{inv: h.opts.Inventory, p: c.principal}
	out := ReplayResult{Records: []ReplayRecord{}, Rejected: []Rejection{}}
	err := event.Scan(r.Context(), "body", http.MaxBytesReader(w, r.Body, MaxReplayBytes), func(ev *event.Event) error {
		decide.Enrich(ev, inv)
		out.Records = append(out.Records, ReplayRecord{Event: ev, Decisions: eng.Decide(r.Context(), ev, inv)})
		return nil
	}, func(e *event.InputError) {
		out.Rejected = append(out.Rejected, Rejection{Index: e.Index, Error: e.Error()})
	})
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		tooLarge()
		return
	case err != nil:
		h.problem(w, c, http.StatusBadRequest, "the body could not be read to its end; send it again", nil)
		return
	case len(out.Records) == 0 && len(out.Rejected) == 0:
		h.invalid(w, c, http.StatusBadRequest, []InvalidParam{{"body", "holds no event; send an event, a JSON array of events or newline-delimited JSON"}})
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// scopedInventory answers for the caller's accounts only. A replayed event can name any
// account; without this, a caller scoped to some accounts could read the current tags and
// names of resources in the others by replaying made-up events about them. Outside the
// scope, the event's own tags are all the playbooks see, as when no inventory is set.
type scopedInventory struct {
	inv decide.Inventory
	p   auth.Principal
}

func (s scopedInventory) ResourceTags(account, region string, kind event.Kind, id string) (map[string]string, bool) {
	if s.inv == nil || !s.p.InScope(account) {
		return nil, false
	}
	return s.inv.ResourceTags(account, region, kind, id)
}

func (s scopedInventory) Account(id string) (decide.AccountInfo, bool) {
	if s.inv == nil || !s.p.InScope(id) {
		return decide.AccountInfo{}, false
	}
	return s.inv.Account(id)
}
