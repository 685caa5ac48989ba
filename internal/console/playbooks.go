package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"

	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/playbook"
	"github.com/firebreak-sec/firebreak/internal/runbook"
)

// playbookName is the form the loader holds every playbook name to; anything else cannot
// name a playbook.
var playbookName = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// playbookView is a playbook as the console's pages show it.
type playbookView struct {
	Name, Description string
	// Trigger describes the event pattern in words; TriggerPartial says the words leave
	// part of it out, so that the pattern itself is the one to read.
	Trigger        string
	TriggerPartial bool
	// Pattern is the event pattern, indented.
	Pattern     string
	When        string
	Target      string
	Mode        playbook.Mode
	Sensitivity string
	Labels      map[string]string
	Steps       []playbookStepView
	// Approvals counts the steps that wait for a person before they run.
	Approvals int
}

// playbookStepView is one step of a playbook.
type playbookStepView struct {
	Number                int
	Name, Action, Summary string
	If                    string
	Approval, Destructive bool
	ContinueOnError       bool
	With                  []paramView
}

// paramView is one parameter of a step, its value as text.
type paramView struct{ Key, Value string }

func playbookViewOf(p *playbook.Playbook) playbookView {
	v := playbookView{Name: p.Name, Description: p.Description, Target: string(p.Target), Mode: p.Mode,
		Sensitivity: engine.SensitivityOf(p), Labels: p.Labels, Pattern: indentPattern(p.OnJSON)}
	words, ok := runbook.Trigger(p.OnJSON)
	v.Trigger, v.TriggerPartial = words, !ok
	if p.When != nil {
		v.When = p.When.Source
	}
	for i, s := range p.Steps {
		st := playbookStepView{Number: i + 1, Name: s.Name, Action: s.Action, ContinueOnError: s.ContinueOnError,
			Approval: s.Approval || p.Mode == playbook.ModeApprove}
		if st.Name == s.Action {
			st.Name = ""
		}
		if s.Spec != nil {
			st.Summary, st.Destructive = s.Spec.Summary, s.Spec.Destructive
		}
		if s.If != nil {
			st.If = s.If.Source
		}
		keys := make([]string, 0, len(s.With))
		for k := range s.With {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			st.With = append(st.With, paramView{k, paramText(s.With[k])})
		}
		if st.Approval {
			v.Approvals++
		}
		v.Steps = append(v.Steps, st)
	}
	return v
}

// paramText shows a parameter's value: a string as it is, anything else as JSON.
func paramText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func indentPattern(b []byte) string {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return string(b)
	}
	return out.String()
}

// playbookSet returns the playbooks loaded now; ok is false when an answer has been
// written. The set is asked for on every page, so that a reload shows at once.
func (c *Console) playbookSet(w http.ResponseWriter, r *http.Request, v *call) (*playbook.Set, bool) {
	var set *playbook.Set
	if c.opts.Playbooks != nil {
		set = c.opts.Playbooks()
	}
	if set == nil {
		c.fail(w, r, v, http.StatusServiceUnavailable, "No playbooks are loaded on this server just now. Reload the page once the server has loaded them.", "")
		return nil, false
	}
	return set, true
}

// playbooks lists the playbooks in force: what each responds to, how, and in what mode.
func (c *Console) playbooks(w http.ResponseWriter, r *http.Request, v *call) {
	set, ok := c.playbookSet(w, r, v)
	if !ok {
		return
	}
	views := make([]playbookView, 0, len(set.Playbooks))
	for _, p := range set.Playbooks {
		views = append(views, playbookViewOf(p))
	}
	c.render(w, r, v, http.StatusOK, "playbooks", "Playbooks", map[string]any{"Playbooks": views})
}

// playbook shows one playbook's steps and the runbook generated from it, the manual a
// responder follows when automation is off.
func (c *Console) playbook(w http.ResponseWriter, r *http.Request, v *call) {
	name := r.PathValue("name")
	back := Prefix + "/playbooks"
	if len(name) > 128 || !playbookName.MatchString(name) {
		c.fail(w, r, v, http.StatusNotFound, "That is not a playbook name: lower-case letters, digits and single hyphens.", back)
		return
	}
	set, ok := c.playbookSet(w, r, v)
	if !ok {
		return
	}
	p, ok := set.Playbook(name)
	if !ok {
		c.fail(w, r, v, http.StatusNotFound, "There is no playbook "+name+" loaded now. The list shows those that are.", back)
		return
	}
	cat := set.Catalogue
	if cat == nil {
		cat = c.opts.Catalogue
	}
	c.render(w, r, v, http.StatusOK, "playbook", "Playbook "+p.Name, map[string]any{
		"Playbook": playbookViewOf(p), "Runbook": runbook.Write(p, cat)})
}
