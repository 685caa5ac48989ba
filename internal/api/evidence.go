package api

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// EvidenceManifest is the body of GET /v1/incidents/{id}/evidence: everything an incident
// gathered and every AWS call it made, in one document to file with a case, so that what
// was collected can be found again in the accounts (snapshots, command output) and what
// was done can be matched in CloudTrail (request ids).
type EvidenceManifest struct {
	Incident    string        `json:"incident"`
	Playbook    string        `json:"playbook"`
	Target      action.Target `json:"target"`
	State       string        `json:"state"`
	Sensitivity string        `json:"sensitivity,omitempty"`
	RequestedBy string        `json:"requested_by"`
	Created     time.Time     `json:"created"`
	// Generated is when the manifest was written, and RequestID the request that asked for
	// it, as the audit records it.
	Generated time.Time      `json:"generated"`
	RequestID string         `json:"request_id"`
	Steps     []StepEvidence `json:"steps"`
	// RequestIDs are the AWS request ids of every step's calls, in step order, each once.
	RequestIDs []string `json:"request_ids"`
	// Events are the incident's events as normalised, first the one that opened it.
	Events []*event.Event `json:"events"`
}

// StepEvidence is what one step gathered.
type StepEvidence struct {
	Index    int               `json:"index"`
	Action   string            `json:"action"`
	Status   string            `json:"status"`
	Evidence []action.Evidence `json:"evidence"`
	// OutputLocation is where the step's action wrote its output (s3://bucket), when its
	// parameters name one.
	OutputLocation string    `json:"output_location,omitempty"`
	RequestIDs     []string  `json:"request_ids"`
	Started        time.Time `json:"started,omitzero"`
	Finished       time.Time `json:"finished,omitzero"`
}

// getEvidence serves GET /v1/incidents/{id}/evidence, as an attachment named after the
// incident, so that a browser saves it rather than shows it.
func (h *Handler) getEvidence(w http.ResponseWriter, r *http.Request, c *call) {
	if bad := noQuery(r); len(bad) > 0 {
		h.invalid(w, c, http.StatusBadRequest, bad)
		return
	}
	inc, ok := h.incident(w, r, c)
	if !ok {
		return
	}
	m := EvidenceManifest{Incident: inc.ID, Playbook: inc.Playbook, Target: inc.Target, State: inc.State,
		Sensitivity: inc.Sensitivity, RequestedBy: inc.RequestedBy, Created: inc.Created.UTC(),
		Generated: h.opts.Now().UTC(), RequestID: c.requestID,
		Steps: make([]StepEvidence, 0, len(inc.Steps)), RequestIDs: []string{}, Events: []*event.Event{}}
	for _, st := range inc.Steps {
		se := StepEvidence{Index: st.Index, Action: st.Action, Status: st.Status, Evidence: st.Evidence,
			RequestIDs: st.RequestIDs, Started: st.Started, Finished: st.Finished}
		if se.Evidence == nil {
			se.Evidence = []action.Evidence{}
		}
		if se.RequestIDs == nil {
			se.RequestIDs = []string{}
		}
		if b, ok := st.With["bucket"].(string); ok && b != "" {
			se.OutputLocation = "s3://" + b
		}
		for _, id := range st.RequestIDs {
			if !slices.Contains(m.RequestIDs, id) {
				m.RequestIDs = append(m.RequestIDs, id)
			}
		}
		m.Steps = append(m.Steps, se)
	}
	var ids []string
	if inc.EventID != "" {
		ids = append(ids, inc.EventID)
	}
	for _, id := range inc.Events {
		if id != inc.EventID {
			ids = append(ids, id)
		}
	}
	err := h.opts.Store.Read(r.Context(), func(tx *store.Tx) error {
		for _, id := range ids {
			ev, err := h.opts.Store.Event(r.Context(), tx, id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			m.Events = append(m.Events, ev)
		}
		return nil
	})
	if err != nil {
		h.log.Error("read incident events", "request_id", c.requestID, "incident", inc.ID, "error", err)
		h.problem(w, c, http.StatusServiceUnavailable, "the incident's events could not be read; try again shortly", nil)
		return
	}
	w.Header().Set("Content-Disposition", `attachment; filename="`+inc.ID+`-evidence.json"`)
	writeJSON(w, http.StatusOK, m)
}
