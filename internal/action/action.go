// Package action declares what Firebreak can do to a resource: each action's name, the
// target kinds it accepts, its parameters, the IAM permissions it needs, whether it can be
// undone and whether it destroys anything. Playbook loading, replay, runbooks and the IAM
// policy generator all read these declarations; nothing else lists actions.
package action

import (
	"fmt"
	"sort"

	"github.com/firebreak-sec/firebreak/internal/event"
)

// ParamType is the type of an action parameter's value.
type ParamType string

// Parameter types.
const (
	String     ParamType = "string"
	Int        ParamType = "int"
	Bool       ParamType = "bool"
	StringList ParamType = "list(string)"
	StringMap  ParamType = "map(string)"
	Duration   ParamType = "duration"
	Any        ParamType = "any" // free-form (SSM automation parameters)
)

// Param declares one parameter under a step's `with:`.
type Param struct {
	Name     string
	Type     ParamType
	Doc      string
	Default  any      // nil when there is none
	Allowed  []string // for String: the permitted values, when the set is closed
	Required bool
}

// Spec declares an action.
type Spec struct {
	Name    string // service.verb, e.g. "ec2.isolate"; "tag" and "notify" stand alone
	Summary string // one line, imperative: "Move the instance into a quarantine security group."
	Targets []event.Kind
	Params  []Param
	// Evidence actions preserve state for investigation; a failed evidence step stops the
	// destructive steps after it.
	Evidence    bool
	Reversible  bool
	Destructive bool
	// Permissions are the IAM actions the member-account role needs, e.g. "ec2:CreateSnapshot".
	Permissions []string
	// Manual is the equivalent AWS CLI commands for a runbook, with {{.ID}}, {{.Account}},
	// {{.Region}} and {{.Param "name"}} placeholders; Undo is how to reverse it by hand.
	Manual     string
	ManualUndo string
	// LosesEvidence marks an action that is not destructive yet loses what an evidence step
	// preserves (ec2.stop loses memory): like a destructive one, it never runs after a
	// failed evidence step.
	LosesEvidence bool
	// Exec carries the action out; every built-in action has one.
	Exec Executor
}

// Param returns the declared parameter called name.
func (s *Spec) Param(name string) (*Param, bool) {
	for i := range s.Params {
		if s.Params[i].Name == name {
			return &s.Params[i], true
		}
	}
	return nil, false
}

// Accepts reports whether the action can act on a resource of kind k.
func (s *Spec) Accepts(k event.Kind) bool {
	for _, t := range s.Targets {
		if t == k {
			return true
		}
	}
	return false
}

// Catalogue is the set of actions Firebreak offers, keyed by name. It is built explicitly
// and passed to whoever needs it; there is no package-level registry.
type Catalogue struct {
	specs map[string]*Spec
}

// NewCatalogue builds a catalogue, rejecting duplicate or malformed declarations.
func NewCatalogue(specs ...*Spec) (*Catalogue, error) {
	c := &Catalogue{specs: make(map[string]*Spec, len(specs))}
	for _, s := range specs {
		if s.Name == "" || len(s.Targets) == 0 {
			return nil, fmt.Errorf("action %q: a name and at least one target kind are required", s.Name)
		}
		if _, dup := c.specs[s.Name]; dup {
			return nil, fmt.Errorf("action %q declared twice", s.Name)
		}
		c.specs[s.Name] = s
	}
	return c, nil
}

// Lookup returns the action called name.
func (c *Catalogue) Lookup(name string) (*Spec, bool) {
	s, ok := c.specs[name]
	return s, ok
}

// Names returns every action name, sorted.
func (c *Catalogue) Names() []string {
	names := make([]string, 0, len(c.specs))
	for n := range c.specs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
