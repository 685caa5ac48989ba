package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/input"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// IncidentSummary is an incident as listed: what it is about and where it stands, without
// its steps.
type IncidentSummary struct {
	ID          string        `json:"id"`
	Playbook    string        `json:"playbook"`
	State       string        `json:"state"`
	Sensitivity string        `json:"sensitivity,omitempty"`
	Target      action.Target `json:"target"`
	RequestedBy string        `json:"requested_by"`
	Created     time.Time     `json:"created"`
	Updated     time.Time     `json:"updated"`
}

// IncidentList is the body of GET /v1/incidents.
type IncidentList struct {
	Incidents []IncidentSummary `json:"incidents"`
	// NextCursor, when set, is the cursor query parameter that fetches the next page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// IncidentChange is the body of a successful approve, deny, release or close: the
// incident as it stands after the change.
type IncidentChange struct {
	Incident *store.Incident `json:"incident"`
	// Warning says what the change left undone (a release whose undo failed for some steps).
	Warning string `json:"warning,omitempty"`
}

// Page sizes of GET /v1/incidents.
const (
	defaultPage = 50
	maxPage     = 200
)

var states = []string{store.StateOpen, store.StateAwaitingApproval, store.StateContaining, store.StateContained,
	store.StateFailed, store.StateReleasing, store.StateReleased, store.StateClosed}

// listIncidents serves GET /v1/incidents?state=&account=&playbook=&limit=&cursor=, newest
// first. A caller scoped to some accounts is shown only theirs, and one not cleared for a
// sensitivity label none labelled with it; the page is filled from what they may see
// alone, so that nothing reveals how many incidents there are beyond it.
func (h *Handler) listIncidents(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	var bad []InvalidParam
	for k := range q {
		if !slices.Contains([]string{"state", "account", "playbook", "limit", "cursor"}, k) {
			bad = append(bad, InvalidParam{k, "unknown query parameter; use state, account, playbook, limit or cursor"})
		}
	}
	f := pageFilter{State: q.Get("state"), Account: q.Get("account"), Playbook: q.Get("playbook"), Limit: defaultPage,
		Clearance: c.principal.Clearance, AllLabels: c.principal.ClearedForAll()}
	if f.State != "" && !slices.Contains(states, f.State) {
		bad = append(bad, InvalidParam{"state", "must be one of " + strings.Join(states, ", ")})
	}
	if f.Account != "" && !input.Account(f.Account) {
		bad = append(bad, InvalidParam{"account", "must be a 12-digit AWS account id"})
	}
	if len(f.Playbook) > 128 || !input.Printable(f.Playbook) {
		bad = append(bad, InvalidParam{"playbook", "must be at most 128 printable characters"})
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPage {
			bad = append(bad, InvalidParam{"limit", fmt.Sprintf("must be a whole number from 1 to %d", maxPage)})
		}
		f.Limit = n
	}
	if s := q.Get("cursor"); s != "" {
		var err error
		if f.After, err = decodeCursor(s); err != nil {
			bad = append(bad, InvalidParam{"cursor", "is not a cursor this API gave; start again without it"})
		}
	}
	if len(bad) > 0 {
		h.invalid(w, c, http.StatusBadRequest, bad)
		return
	}
	out := IncidentList{Incidents: []IncidentSummary{}}
	switch {
	case len(c.principal.Accounts) == 0:
	case f.Account == "":
		f.Accounts = c.principal.Accounts
	case !c.principal.InScope(f.Account):
		// Outside the caller's scope: an empty page, exactly as for an account without
		// incidents, rather than a refusal that would confirm the account is watched.
		writeJSON(w, http.StatusOK, out)
		return
	}
	list, more, err := listPage(r.Context(), h.opts.Store, f)
	if err != nil {
		h.log.Error("list incidents", "request_id", c.requestID, "error", err)
		h.problem(w, c, http.StatusServiceUnavailable, "the incidents could not be read; try again shortly", nil)
		return
	}
	out.Incidents = list
	if more && len(list) > 0 {
		last := list[len(list)-1]
		out.NextCursor = encodeCursor(cursor{Created: last.Created, ID: last.ID})
	}
	writeJSON(w, http.StatusOK, out)
}

// cursor is where a page ended: the last incident listed.
type cursor struct {
	Created time.Time `json:"c"`
	ID      string    `json:"i"`
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (*cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	if c.ID == "" || c.Created.IsZero() {
		return nil, errors.New("incomplete cursor")
	}
	return &c, nil
}

// incident loads the incident the path names and checks that the caller may see its
// account; ok is false when an answer has been written.
func (h *Handler) incident(w http.ResponseWriter, r *http.Request, c *call) (*store.Incident, bool) {
	id := r.PathValue("id")
	if id == "" || len(id) > 64 || !plain(id) {
		h.invalid(w, c, http.StatusBadRequest, []InvalidParam{{"id", "is not an incident id"}})
		return nil, false
	}
	inc, err := h.opts.Engine.Get(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.problem(w, c, http.StatusNotFound, "no incident "+id, nil)
		return nil, false
	case err != nil:
		h.log.Error("read incident", "request_id", c.requestID, "incident", id, "error", err)
		h.problem(w, c, http.StatusServiceUnavailable, "the incident could not be read; try again shortly", nil)
		return nil, false
	}
	if !c.principal.Cleared(inc.Sensitivity) {
		// The same answer as for an incident that does not exist: a refusal would confirm
		// that a labelled incident is there.
		h.problem(w, c, http.StatusNotFound, "no incident "+id, nil)
		return nil, false
	}
	if !auth.Allowed(c.principal, c.route.perm, inc.Target.Account) {
		h.refuse(w, r, c, inc.ID, fmt.Sprintf("%s may not see or act on incidents in account %s", c.principal.Name, inc.Target.Account))
		return nil, false
	}
	return inc, true
}

// getIncident serves GET /v1/incidents/{id}: the incident with its steps and events.
func (h *Handler) getIncident(w http.ResponseWriter, r *http.Request, c *call) {
	inc, ok := h.incident(w, r, c)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, inc)
}

// commentBody is the body of approve, deny and close.
type commentBody struct {
	Comment string `json:"comment"`
}

// MaxComment is the longest comment an approval, denial or closing keeps, in bytes.
const MaxComment = 1000

// DecodeComment reads the optional body of approve, deny and close strictly: nothing, or
// {"comment": "..."} with at most MaxComment printable characters and no other member.
// Each fault names the member at fault, or the body itself.
func DecodeComment(body []byte) (string, []InvalidParam) {
	if len(bytes.TrimSpace(body)) == 0 {
		return "", nil
	}
	m, bad := object(body, "body", []string{"comment"})
	var b commentBody
	if m != nil {
		str(m, "comment", "comment", &b.Comment, &bad)
	}
	if len(bad) == 0 && (len(b.Comment) > MaxComment || !input.Printable(b.Comment)) {
		bad = append(bad, InvalidParam{"comment", fmt.Sprintf("must be at most %d printable characters", MaxComment)})
	}
	if len(bad) > 0 {
		return "", bad
	}
	return b.Comment, nil
}

// readComment reads an optional {"comment": "..."} body, strictly (DecodeComment).
func (h *Handler) readComment(w http.ResponseWriter, r *http.Request, c *call) (string, bool) {
	body, ok := h.readBody(w, r, c)
	if !ok {
		return "", false
	}
	comment, bad := DecodeComment(body)
	if len(bad) > 0 {
		h.invalid(w, c, http.StatusBadRequest, bad)
		return "", false
	}
	return comment, true
}

func (h *Handler) approveStep(w http.ResponseWriter, r *http.Request, c *call) {
	h.answer(w, r, c, true)
}

func (h *Handler) denyStep(w http.ResponseWriter, r *http.Request, c *call) {
	h.answer(w, r, c, false)
}

// answer serves POST /v1/incidents/{id}/steps/{n}/approve and /deny. n is the step's index
// from 0, as GET /v1/incidents/{id} lists it.
func (h *Handler) answer(w http.ResponseWriter, r *http.Request, c *call, approve bool) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 0 || n > 10000 {
		h.invalid(w, c, http.StatusBadRequest, []InvalidParam{{"n", "must be a step index, a whole number from 0"}})
		return
	}
	comment, ok := h.readComment(w, r, c)
	if !ok {
		return
	}
	inc, ok := h.incident(w, r, c)
	if !ok {
		return
	}
	if c.principal.Name == inc.RequestedBy {
		// The engine refuses it too; refusing here as well records the attempt.
		h.refuse(w, r, c, inc.ID, fmt.Sprintf("%s requested incident %s, and someone else must approve or deny its steps", c.principal.Name, inc.ID))
		return
	}
	if approve {
		err = h.opts.Engine.Approve(c.ctx(r), inc.ID, n, c.principal.Name, comment)
	} else {
		err = h.opts.Engine.Deny(c.ctx(r), inc.ID, n, c.principal.Name, comment)
	}
	if !h.changeFailed(w, r, c, inc.ID, err) {
		h.changed(w, r, c, inc.ID, "")
	}
}

// release serves POST /v1/incidents/{id}/release. It takes no body (an empty object is
// accepted too).
func (h *Handler) release(w http.ResponseWriter, r *http.Request, c *call) {
	body, ok := h.readBody(w, r, c)
	if !ok {
		return
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if _, bad := object(body, "body", nil); len(bad) > 0 {
			h.invalid(w, c, http.StatusBadRequest, bad)
			return
		}
	}
	inc, ok := h.incident(w, r, c)
	if !ok {
		return
	}
	rel, err := h.opts.Engine.Release(c.ctx(r), inc.ID, c.principal.Name)
	if rel != nil && err != nil {
		// Released, but some undo failed: the answer says which steps to put back by hand.
		h.changed(w, r, c, inc.ID, err.Error())
		return
	}
	if !h.changeFailed(w, r, c, inc.ID, err) {
		h.changed(w, r, c, inc.ID, "")
	}
}

// closeIncident serves POST /v1/incidents/{id}/close: the incident ends for good, its
// containment left as it is, and a later event about its target opens a new one. It takes
// an optional {"comment": "..."}, kept in the audit. An incident still moving (containing,
// awaiting approval, releasing) is answered 409 saying what to do first.
func (h *Handler) closeIncident(w http.ResponseWriter, r *http.Request, c *call) {
	comment, ok := h.readComment(w, r, c)
	if !ok {
		return
	}
	inc, ok := h.incident(w, r, c)
	if !ok {
		return
	}
	_, err := h.opts.Engine.Close(c.ctx(r), inc.ID, c.principal.Name, comment)
	if !h.changeFailed(w, r, c, inc.ID, err) {
		h.changed(w, r, c, inc.ID, "")
	}
}

// changeFailed answers an engine error, if any, and says whether it did.
func (h *Handler) changeFailed(w http.ResponseWriter, r *http.Request, c *call, id string, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, engine.ErrForbidden):
		h.refuse(w, r, c, id, err.Error())
	case errors.Is(err, engine.ErrConflict):
		h.problem(w, c, http.StatusConflict, err.Error(), nil)
	case errors.Is(err, store.ErrNotFound):
		h.problem(w, c, http.StatusNotFound, "no incident "+id, nil)
	default:
		h.log.Error("change incident", "request_id", c.requestID, "incident", id, "error", err)
		h.problem(w, c, http.StatusServiceUnavailable, "the change could not be recorded; read the incident and try again", nil)
	}
	return true
}

// changed answers the incident as it now stands.
func (h *Handler) changed(w http.ResponseWriter, r *http.Request, c *call, id, warning string) {
	inc, err := h.opts.Engine.Get(r.Context(), id)
	if err != nil {
		// The change is made; only reading it back failed.
		h.log.Error("read incident", "request_id", c.requestID, "incident", id, "error", err)
		writeJSON(w, http.StatusOK, IncidentChange{Warning: warning})
		return
	}
	writeJSON(w, http.StatusOK, IncidentChange{Incident: inc, Warning: warning})
}
