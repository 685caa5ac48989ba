// Package playbook loads and validates playbooks: YAML documents that say which events
// Firebreak responds to, which resource it acts on, under which conditions and exceptions,
// and with which steps. Loading is strict, so that nothing invalid reaches the engine: every
// problem in a directory is reported at once, each as file:line:col.
package playbook

import (
	"fmt"
	"strings"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/pattern"
)

// APIVersion is the only apiVersion this package reads.
const APIVersion = "firebreak/v1"

// Document kinds.
const (
	KindPlaybook     = "Playbook"
	KindPlaybookTest = "PlaybookTest"
	KindExceptions   = "Exceptions"
)

// Mode says whether a playbook's steps run, are only reported, or wait for a person.
type Mode string

// Modes.
const (
	ModeEnforce Mode = "enforce"
	ModeDryRun  Mode = "dry-run"
	ModeApprove Mode = "approve" // every step waits for approval
)

// Modes lists the valid modes.
var Modes = []Mode{ModeEnforce, ModeDryRun, ModeApprove}

// ExceptionTag on a resource (any value, conventionally a change ticket) excepts it from
// every playbook that honours it; ExceptionUntilTag (RFC 3339) ends that exception.
const (
	ExceptionTag      = "firebreak:exception"
	ExceptionUntilTag = "firebreak:exception-until"
)

// Position is where something was written.
type Position struct {
	File string
	Line int
	Col  int
}

func (p Position) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Playbook is a validated playbook.
type Playbook struct {
	Name        string
	Description string
	Labels      map[string]string
	Pos         Position

	// On is the compiled EventBridge pattern; OnJSON is its JSON text.
	On     *pattern.Pattern
	OnJSON []byte
	// When is nil when the playbook has no condition.
	When       *Condition
	Target     event.Kind
	Exceptions Exceptions
	Mode       Mode
	Steps      []*Step
}

// Step is one action of a playbook.
type Step struct {
	Name   string // optional label; defaults to the action name
	Action string
	Spec   *action.Spec
	// With holds every parameter the action takes that has a value: what was written,
	// converted to its declared type (string, int, bool, []string, map[string]string, a
	// duration's text, or plain YAML data for `any`), and the defaults for the rest.
	// It is shared between decisions and must not be modified.
	With            map[string]any
	If              *Condition
	Approval        bool // approval: required
	ContinueOnError bool
	Pos             Position
}

// Exceptions are a playbook's approved deviations: resources it must leave alone.
type Exceptions struct {
	// Tags maps a tag key to a glob on its value (path.Match syntax; "*" matches any value,
	// empty included). A resource carrying any one of them is excepted.
	Tags      map[string]string
	Accounts  []string
	Resources []string // resource ids or ARNs
	// HonourExceptionTag is true unless the playbook sets `honour_exception_tag: false`:
	// a resource tagged firebreak:exception is then excepted.
	HonourExceptionTag bool
}

// Set is everything loaded from a playbooks directory.
type Set struct {
	Playbooks  []*Playbook // sorted by name
	Tests      []*TestSuite
	Exceptions []*ExceptionEntry
	Catalogue  *action.Catalogue
}

// Playbook returns the playbook called name.
func (s *Set) Playbook(name string) (*Playbook, bool) {
	for _, p := range s.Playbooks {
		if p.Name == name {
			return p, true
		}
	}
	return nil, false
}

// LoadError is one problem found while loading, at its position.
type LoadError struct {
	File string
	Line int
	Col  int
	Msg  string
}

func (e LoadError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// LoadErrors is every problem found in one load, in file and position order.
type LoadErrors []LoadError

func (es LoadErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}
