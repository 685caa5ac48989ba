package api

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"

	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/playbook"
	"github.com/firebreak-sec/firebreak/internal/runbook"
)

// PlaybookView is a loaded playbook as the API shows it: what it responds to and what it
// does, without where on the server it was read from.
type PlaybookView struct {
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Target      event.Kind        `json:"target"`
	Mode        playbook.Mode     `json:"mode"`
	Labels      map[string]string `json:"labels"`
	// On is the EventBridge pattern the playbook matches, as written.
	On json.RawMessage `json:"on,omitempty"`
	// When is the playbook's condition as written; empty when it has none.
	When  string         `json:"when,omitempty"`
	Steps []PlaybookStep `json:"steps"`
}

// PlaybookStep is one step of a playbook.
type PlaybookStep struct {
	Name   string `json:"name,omitempty"`
	Action string `json:"action"`
	// With is every parameter the action takes that has a value, defaults included.
	With            map[string]any `json:"with,omitempty"`
	If              string         `json:"if,omitempty"`
	Approval        bool           `json:"approval,omitempty"`
	ContinueOnError bool           `json:"continue_on_error,omitempty"`
}

// PlaybookList is the body of GET /v1/playbooks.
type PlaybookList struct {
	Playbooks []PlaybookView `json:"playbooks"`
}

// playbookName is the form the loader holds every playbook name to; anything else cannot
// name a playbook, and is answered 400 rather than looked up.
var playbookName = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

func viewOf(p *playbook.Playbook) PlaybookView {
	v := PlaybookView{Name: p.Name, Description: p.Description, Target: p.Target, Mode: p.Mode,
		Labels: p.Labels, Steps: make([]PlaybookStep, 0, len(p.Steps))}
	if v.Labels == nil {
		v.Labels = map[string]string{}
	}
	if json.Valid(p.OnJSON) {
		v.On = p.OnJSON
	}
	if p.When != nil {
		v.When = p.When.Source
	}
	for _, s := range p.Steps {
		st := PlaybookStep{Name: s.Name, Action: s.Action, With: s.With, Approval: s.Approval, ContinueOnError: s.ContinueOnError}
		if s.If != nil {
			st.If = s.If.Source
		}
		v.Steps = append(v.Steps, st)
	}
	return v
}

// playbooks returns the playbooks loaded now; ok is false when an answer has been written.
// The set is asked for on every call, so that a reload shows at once.
func (h *Handler) playbooks(w http.ResponseWriter, c *call) (*playbook.Set, bool) {
	var set *playbook.Set
	if h.opts.Playbooks != nil {
		set = h.opts.Playbooks()
	}
	if set == nil {
		h.problem(w, c, http.StatusServiceUnavailable, "no playbooks are loaded on this server; try again once they are", nil)
		return nil, false
	}
	return set, true
}

// playbook loads the playbook the path names; ok is false when an answer has been written.
func (h *Handler) playbook(w http.ResponseWriter, r *http.Request, c *call) (*playbook.Set, *playbook.Playbook, bool) {
	name := r.PathValue("name")
	if len(name) > 128 || !playbookName.MatchString(name) {
		h.invalid(w, c, http.StatusBadRequest, []InvalidParam{{"name", "is not a playbook name: lower-case letters, digits and single hyphens"}})
		return nil, nil, false
	}
	set, ok := h.playbooks(w, c)
	if !ok {
		return nil, nil, false
	}
	p, ok := set.Playbook(name)
	if !ok {
		h.problem(w, c, http.StatusNotFound, "no playbook "+name+"; GET /v1/playbooks lists those loaded", nil)
		return nil, nil, false
	}
	return set, p, true
}

// listPlaybooks serves GET /v1/playbooks: every loaded playbook, by name.
func (h *Handler) listPlaybooks(w http.ResponseWriter, r *http.Request, c *call) {
	if bad := noQuery(r); len(bad) > 0 {
		h.invalid(w, c, http.StatusBadRequest, bad)
		return
	}
	set, ok := h.playbooks(w, c)
	if !ok {
		return
	}
	out := PlaybookList{Playbooks: make([]PlaybookView, 0, len(set.Playbooks))}
	for _, p := range set.Playbooks {
		out.Playbooks = append(out.Playbooks, viewOf(p))
	}
	writeJSON(w, http.StatusOK, out)
}

// getPlaybook serves GET /v1/playbooks/{name}.
func (h *Handler) getPlaybook(w http.ResponseWriter, r *http.Request, c *call) {
	if bad := noQuery(r); len(bad) > 0 {
		h.invalid(w, c, http.StatusBadRequest, bad)
		return
	}
	if _, p, ok := h.playbook(w, r, c); ok {
		writeJSON(w, http.StatusOK, viewOf(p))
	}
}

// MarkdownContentType is the media type of a runbook.
const MarkdownContentType = "text/markdown; charset=utf-8"

// getRunbook serves GET /v1/playbooks/{name}/runbook: the playbook as the Markdown
// runbook a responder follows by hand, the same text `firebreak runbook` writes.
func (h *Handler) getRunbook(w http.ResponseWriter, r *http.Request, c *call) {
	if bad := noQuery(r); len(bad) > 0 {
		h.invalid(w, c, http.StatusBadRequest, bad)
		return
	}
	set, p, ok := h.playbook(w, r, c)
	if !ok {
		return
	}
	cat := set.Catalogue
	if cat == nil {
		cat = h.opts.Catalogue
	}
	body := runbook.Write(p, cat)
	w.Header().Set("Content-Type", MarkdownContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(body))
}

// noQuery names every query parameter of a route that takes none: a misspelt filter must
// not be mistaken for one that matched everything.
func noQuery(r *http.Request) []InvalidParam {
	var bad []InvalidParam
	for k := range r.URL.Query() {
		bad = append(bad, InvalidParam{k, "unknown query parameter; this route takes none"})
	}
	return bad
}
