package playbook

import (
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/firebreak-sec/firebreak/internal/suggest"
)

// TestSuite is a `kind: PlaybookTest` document: events and the decisions they must produce.
type TestSuite struct {
	Name string
	Pos  Position
	// World is the inventory file, resolved against the suite's directory; "" for none.
	World string
	Cases []*TestCase
}

// TestCase is one event and the full set of decisions expected for it.
type TestCase struct {
	Name string
	Pos  Position
	// EventFile is resolved against the suite's directory; when it is empty, Event holds
	// the inline event as JSON.
	EventFile string
	Event     []byte
	Expect    []*Expectation
}

// Expectation is one expected decision. Empty fields are not compared.
type Expectation struct {
	Playbook string
	Outcome  string
	Target   map[string]string // kind, id, account, region, arn
	Reason   string            // substring of the actual reason
	// Steps, when HasSteps, are the steps that are not skipped, in order; an empty
	// Outcome is not compared.
	Steps    []ExpectedStep
	HasSteps bool
	Pos      Position
}

// ExpectedStep is one expected step.
type ExpectedStep struct {
	Action  string
	Outcome string
}

var (
	suiteSpecFields = []string{"world", "cases"}
	caseFields      = []string{"name", "event_file", "event", "expect"}
	expectFields    = []string{"playbook", "outcome", "target", "reason", "steps"}
	targetFields    = []string{"kind", "id", "account", "region", "arn"}
	stepExpFields   = []string{"action", "outcome"}
	// Outcomes are the decision outcomes a test may expect.
	Outcomes = []string{"planned", "dry-run", "needs-approval", "excepted", "skipped"}
)

func (l *loader) testSuite(d *doc, root *yaml.Node, top map[string]*yaml.Node) *TestSuite {
	s := &TestSuite{Pos: d.pos(root)}
	before := len(l.errs)
	dir := filepath.Dir(d.file)
	if md, ok := top["metadata"]; ok {
		f := d.fields(md, "metadata", metadataFields...)
		if n, ok := f["name"]; ok {
			s.Name, _ = d.str(n, "metadata.name")
		}
	}
	specNode, ok := top["spec"]
	if !ok {
		d.errorf(root, "spec is missing; a playbook test needs spec.cases")
		return nil
	}
	spec := d.fields(specNode, "spec", suiteSpecFields...)
	if w, ok := spec["world"]; ok {
		if p, ok := d.str(w, "spec.world"); ok {
			s.World = d.existing(w, dir, p, "spec.world")
		}
	}
	cases := spec["cases"]
	if isNull(cases) || cases.Kind != yaml.SequenceNode || len(cases.Content) == 0 {
		d.errorf(keyNode(specNode, "cases"), "spec.cases must be a non-empty list of cases")
		return nil
	}
	for i, c := range cases.Content {
		c = resolve(c)
		what := fmt.Sprintf("spec.cases[%d]", i)
		f := d.fields(c, what, caseFields...)
		tc := &TestCase{Pos: d.pos(c)}
		if n, ok := f["name"]; ok {
			tc.Name, _ = d.str(n, what+".name")
		} else {
			tc.Name = fmt.Sprintf("case %d", i+1)
		}
		ef, hasFile := f["event_file"]
		ev, hasEvent := f["event"]
		switch {
		case hasFile && hasEvent:
			d.errorf(ev, "%s: give event_file or event, not both", what)
		case hasFile:
			if p, ok := d.str(ef, what+".event_file"); ok {
				tc.EventFile = d.existing(ef, dir, p, what+".event_file")
			}
		case hasEvent:
			if ev.Kind == yaml.ScalarNode && ev.ShortTag() == "!!str" {
				tc.Event = []byte(ev.Value) // JSON text in a block scalar
			} else if js, err := toJSON(ev); err != nil {
				d.errorf(ev, "%s.event: %v", what, err)
			} else {
				tc.Event = js
			}
		default:
			d.errorf(c, "%s: give event_file (a path relative to this file) or event (inline)", what)
		}
		exp, ok := f["expect"]
		switch {
		case !ok:
			d.errorf(c, "%s.expect is missing: list the decisions expected (expect: [] for none)", what)
		case isNull(exp):
		case exp.Kind != yaml.SequenceNode:
			d.errorf(exp, "%s.expect must be a list of decisions, not %s", what, kindName(exp))
		default:
			for j, e := range exp.Content {
				if x := d.expectation(resolve(e), fmt.Sprintf("%s.expect[%d]", what, j)); x != nil {
					tc.Expect = append(tc.Expect, x)
				}
			}
		}
		s.Cases = append(s.Cases, tc)
	}
	if len(l.errs) > before {
		return nil
	}
	return s
}

func (d *doc) existing(n *yaml.Node, dir, p, what string) string {
	full := p
	if !filepath.IsAbs(p) {
		full = filepath.Join(dir, p)
	}
	if _, err := os.Stat(full); err != nil {
		d.errorf(n, "%s: %s does not exist (paths are relative to this file)", what, full)
	}
	return full
}

func (d *doc) expectation(n *yaml.Node, what string) *Expectation {
	f := d.fields(n, what, expectFields...)
	x := &Expectation{Pos: d.pos(n)}
	if v, ok := f["playbook"]; ok {
		x.Playbook, _ = d.str(v, what+".playbook")
	} else {
		d.errorf(n, "%s.playbook is missing", what)
	}
	if v, ok := f["outcome"]; ok {
		if o, ok := d.str(v, what+".outcome"); ok {
			if !contains(Outcomes, o) {
				d.errorf(v, "%s.outcome %q is not an outcome%s", what, o, suggest.DidYouMean(o, Outcomes))
			}
			x.Outcome = o
		}
	}
	if v, ok := f["target"]; ok {
		tf := d.fields(v, what+".target", targetFields...)
		x.Target = map[string]string{}
		for _, k := range sortedKeys(tf) {
			x.Target[k], _ = d.str(tf[k], what+".target."+k)
		}
	}
	if v, ok := f["reason"]; ok {
		x.Reason, _ = d.str(v, what+".reason")
	}
	if v, ok := f["steps"]; ok {
		x.HasSteps = true
		if v.Kind != yaml.SequenceNode {
			d.errorf(v, "%s.steps must be a list, not %s", what, kindName(v))
		} else {
			for _, c := range v.Content {
				c = resolve(c)
				if c.Kind == yaml.ScalarNode {
					a, _ := d.str(c, what+".steps entries")
					x.Steps = append(x.Steps, ExpectedStep{Action: a})
					continue
				}
				sf := d.fields(c, what+".steps entries", stepExpFields...)
				var st ExpectedStep
				if a, ok := sf["action"]; ok {
					st.Action, _ = d.str(a, what+".steps.action")
				}
				if o, ok := sf["outcome"]; ok {
					st.Outcome, _ = d.str(o, what+".steps.outcome")
				}
				x.Steps = append(x.Steps, st)
			}
		}
	}
	return x
}

// checkTestSuite reports expectations that name playbooks that do not exist.
func (l *loader) checkTestSuite(s *TestSuite) {
	names := sortedKeys(l.names)
	for _, c := range s.Cases {
		for _, x := range c.Expect {
			if _, ok := l.names[x.Playbook]; !ok && x.Playbook != "" {
				l.errs = append(l.errs, LoadError{File: x.Pos.File, Line: x.Pos.Line, Col: x.Pos.Col,
					Msg: fmt.Sprintf("expected decision names playbook %q, which does not exist%s", x.Playbook, suggest.DidYouMean(x.Playbook, names))})
			}
		}
	}
}
