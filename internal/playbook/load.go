package playbook

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/pattern"
	"github.com/firebreak-sec/firebreak/internal/suggest"
)

var nameRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

var (
	topFields      = []string{"apiVersion", "kind", "metadata", "spec"}
	metadataFields = []string{"name", "description", "labels"}
	specFields     = []string{"on", "when", "target", "exceptions", "mode", "steps"}
	stepFields     = []string{"name", "action", "with", "if", "approval", "continue_on_error"}
	excFields      = []string{"tags", "accounts", "resources", "honour_exception_tag"}
	kinds          = []string{KindPlaybook, KindPlaybookTest, KindExceptions}
)

// LoadDir reads every .yaml and .yml file under dir (recursively, in sorted order), each
// holding one or more documents, and validates them against the catalogue. On any
// problem it returns LoadErrors listing all of them; the Set is then nil.
func LoadDir(dir string, cat *action.Catalogue) (*Set, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, LoadErrors{{File: dir, Msg: err.Error()}}
	}
	sort.Strings(files)
	l := newLoader(cat)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			l.errs = append(l.errs, LoadError{File: f, Msg: err.Error()})
			continue
		}
		l.file(f, data)
	}
	return l.finish(true)
}

// Load validates the documents of one file's contents, as if it were the only file in a
// playbooks directory; name is used in positions.
func Load(name string, data []byte, cat *action.Catalogue) (*Set, error) {
	l := newLoader(cat)
	l.file(name, data)
	return l.finish(true)
}

type loader struct {
	cat   *action.Catalogue
	set   *Set
	names map[string]Position
	errs  LoadErrors
}

func newLoader(cat *action.Catalogue) *loader {
	return &loader{cat: cat, set: &Set{Catalogue: cat}, names: map[string]Position{}}
}

// finish runs the checks that need every document, then reports. checkNames is false
// for an exceptions file read on its own, whose playbook names cannot be checked yet.
func (l *loader) finish(checkNames bool) (*Set, error) {
	if checkNames {
		l.checkExceptionNames()
	}
	sortExceptions(l.set.Exceptions)
	for _, s := range l.set.Tests {
		l.checkTestSuite(s)
	}
	if len(l.errs) > 0 {
		sort.SliceStable(l.errs, func(i, j int) bool {
			a, b := l.errs[i], l.errs[j]
			if a.File != b.File {
				return a.File < b.File
			}
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Col < b.Col
		})
		return nil, l.errs
	}
	sort.Slice(l.set.Playbooks, func(i, j int) bool { return l.set.Playbooks[i].Name < l.set.Playbooks[j].Name })
	return l.set, nil
}

func (l *loader) file(name string, data []byte) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	d := &doc{file: name, errs: &l.errs}
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			l.errs = append(l.errs, yamlError(name, err))
			return // the decoder cannot resynchronise after a syntax error
		}
		if len(n.Content) == 0 {
			continue
		}
		l.document(d, n.Content[0])
	}
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns a yaml.v3 syntax error into file:line:col form.
func yamlError(file string, err error) LoadError {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		var line int
		fmt.Sscan(m[1], &line)
		return LoadError{File: file, Line: line, Col: 1, Msg: m[2]}
	}
	return LoadError{File: file, Line: 1, Col: 1, Msg: strings.TrimPrefix(msg, "yaml: ")}
}

func (l *loader) document(d *doc, root *yaml.Node) {
	root = resolve(root)
	if root.Kind != yaml.MappingNode {
		d.errorf(root, "a document must be a mapping with apiVersion, kind, metadata and spec, not %s", kindName(root))
		return
	}
	top := d.fields(root, "document", topFields...)
	if v, ok := top["apiVersion"]; !ok {
		d.errorf(root, "apiVersion is missing; write apiVersion: %s", APIVersion)
	} else if s, ok := d.str(v, "apiVersion"); ok && s != APIVersion {
		d.errorf(v, "apiVersion %q is not supported; write apiVersion: %s", s, APIVersion)
	}
	kn, ok := top["kind"]
	if !ok {
		d.errorf(root, "kind is missing; write kind: %s", KindPlaybook)
		return
	}
	kind, ok := d.str(kn, "kind")
	if !ok {
		return
	}
	switch kind {
	case KindPlaybook:
		if p := l.playbook(d, root, top); p != nil {
			l.set.Playbooks = append(l.set.Playbooks, p)
		}
	case KindPlaybookTest:
		if s := l.testSuite(d, root, top); s != nil {
			l.set.Tests = append(l.set.Tests, s)
		}
	case KindExceptions:
		l.set.Exceptions = append(l.set.Exceptions, l.exceptionsDoc(d, top)...)
	default:
		d.errorf(kn, "unknown kind %q%s; expected one of %s", kind, suggest.DidYouMean(kind, kinds), strings.Join(kinds, ", "))
	}
}

// metadataName reads and checks metadata.name, registering it in names (shared by every
// document of the same kind) so that duplicates are reported with both positions.
func (d *doc) metadataName(md map[string]*yaml.Node, mdNode *yaml.Node, names map[string]Position, what string) string {
	nn, ok := md["name"]
	if !ok {
		d.errorf(mdNode, "metadata.name is missing")
		return ""
	}
	name, ok := d.str(nn, "metadata.name")
	if !ok {
		return ""
	}
	if !nameRE.MatchString(name) {
		d.errorf(nn, "metadata.name %q must be lower-case letters, digits and single hyphens ([a-z0-9-]), e.g. %q", name, suggestName(name))
		return name
	}
	if prev, dup := names[name]; dup {
		d.errorf(nn, "%s name %q is already used at %s", what, name, prev)
		return name
	}
	names[name] = d.pos(nn)
	return name
}

func suggestName(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
	}
	if b.Len() == 0 {
		return "my-playbook"
	}
	return b.String()
}

func (l *loader) playbook(d *doc, root *yaml.Node, top map[string]*yaml.Node) *Playbook {
	p := &Playbook{Pos: d.pos(root), Mode: ModeEnforce, Exceptions: Exceptions{HonourExceptionTag: true}}
	errsBefore := len(l.errs)

	mdNode, ok := top["metadata"]
	if !ok {
		d.errorf(root, "metadata is missing; a playbook needs at least metadata.name")
	} else {
		md := d.fields(mdNode, "metadata", metadataFields...)
		p.Name = d.metadataName(md, mdNode, l.names, "playbook")
		if v, ok := md["description"]; ok {
			p.Description, _ = d.str(v, "metadata.description")
		}
		p.Labels = d.strMap(md["labels"], "metadata.labels")
	}

	specNode, ok := top["spec"]
	if !ok {
		d.errorf(root, "spec is missing; a playbook needs spec.on, spec.target and spec.steps")
		return nil
	}
	spec := d.fields(specNode, "spec", specFields...)

	if on, ok := spec["on"]; !ok {
		d.errorf(specNode, "spec.on is missing: give the EventBridge event pattern this playbook answers")
	} else {
		p.On, p.OnJSON = d.pattern(on)
	}

	if w, ok := spec["when"]; ok {
		p.When = d.condition(w, "spec.when")
	}

	if t, ok := spec["target"]; !ok {
		d.errorf(specNode, "spec.target is missing: name the resource kind the steps act on (%s)", kindList())
	} else if s, ok := d.str(t, "spec.target"); ok {
		if !validKind(s) {
			d.errorf(t, "spec.target %q is not a resource kind%s; expected one of %s", s, suggest.DidYouMean(s, kindStrings()), kindList())
		} else {
			p.Target = event.Kind(s)
		}
	}

	if e, ok := spec["exceptions"]; ok {
		p.Exceptions = d.exceptions(e)
	}

	if m, ok := spec["mode"]; ok {
		if s, ok := d.str(m, "spec.mode"); ok {
			mode := Mode(s)
			if !contains(modeStrings(), s) {
				d.errorf(m, "spec.mode %q is not a mode%s; expected one of %s", s, suggest.DidYouMean(s, modeStrings()), strings.Join(modeStrings(), ", "))
			} else {
				p.Mode = mode
			}
		}
	}

	if sn, ok := spec["steps"]; !ok || isNull(sn) {
		d.errorf(keyNode(specNode, "steps"), "spec.steps is missing: a playbook needs at least one step")
	} else if sn.Kind != yaml.SequenceNode {
		d.errorf(sn, "spec.steps must be a list of steps, not %s", kindName(sn))
	} else if len(sn.Content) == 0 {
		d.errorf(sn, "spec.steps is empty: a playbook needs at least one step")
	} else {
		for i, c := range sn.Content {
			if s := l.step(d, resolve(c), i, p.Target); s != nil {
				p.Steps = append(p.Steps, s)
			}
		}
	}

	if len(l.errs) > errsBefore {
		return nil
	}
	return p
}

func (d *doc) pattern(on *yaml.Node) (*pattern.Pattern, []byte) {
	if on.Kind != yaml.MappingNode {
		d.errorf(on, "spec.on must be an event pattern (a mapping such as {source: [aws.guardduty]}), not %s", kindName(on))
		return nil, nil
	}
	js, err := toJSON(on)
	if err != nil {
		var ne *nodeError
		if errors.As(err, &ne) {
			d.errorf(ne.n, "spec.on: %s", ne.msg)
		} else {
			d.errorf(on, "spec.on: %v", err)
		}
		return nil, nil
	}
	pat, err := pattern.Compile(js)
	if err != nil {
		var pe *pattern.Error
		if errors.As(err, &pe) {
			where := on
			if len(pe.Path) > 0 {
				where = nodeAt(on, pe.Path)
			}
			path := ""
			if len(pe.Path) > 0 {
				path = "." + strings.Join(pe.Path, ".")
			}
			d.errorf(where, "spec.on%s: %s", path, pe.Msg)
		} else {
			d.errorf(on, "spec.on: %v", err)
		}
		return nil, js
	}
	return pat, js
}

func (d *doc) condition(n *yaml.Node, what string) *Condition {
	src, ok := d.str(n, what)
	if !ok {
		return nil
	}
	c, err := compileCondition(src)
	var ee exprErrors
	if errors.As(err, &ee) {
		for _, e := range ee {
			line, col := exprPos(n, e.line, e.col)
			*d.errs = append(*d.errs, LoadError{File: d.file, Line: line, Col: col, Msg: fmt.Sprintf("%s: %s", what, e.msg)})
		}
		return nil
	}
	if err != nil {
		d.errorf(n, "%s: %v", what, err)
		return nil
	}
	return c
}

func (d *doc) exceptions(n *yaml.Node) Exceptions {
	e := Exceptions{HonourExceptionTag: true}
	f := d.fields(n, "spec.exceptions", excFields...)
	e.Tags = d.strMap(f["tags"], "spec.exceptions.tags")
	for _, k := range sortedKeys(e.Tags) {
		if _, err := matchGlob(e.Tags[k], ""); err != nil {
			d.errorf(f["tags"], "spec.exceptions.tags.%s: %q is not a valid glob: %v", k, e.Tags[k], err)
		}
	}
	e.Accounts = d.strList(f["accounts"], "spec.exceptions.accounts")
	e.Resources = d.strList(f["resources"], "spec.exceptions.resources")
	if v, ok := f["honour_exception_tag"]; ok {
		if b, ok := d.boolean(v, "spec.exceptions.honour_exception_tag"); ok {
			e.HonourExceptionTag = b
		}
	}
	return e
}

func (l *loader) step(d *doc, n *yaml.Node, i int, target event.Kind) *Step {
	what := fmt.Sprintf("spec.steps[%d]", i)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping such as {action: ec2.isolate}, not %s", what, kindName(n))
		return nil
	}
	f := d.fields(n, what, stepFields...)
	s := &Step{Pos: d.pos(n)}
	an, ok := f["action"]
	if !ok {
		d.errorf(n, "%s.action is missing", what)
		return nil
	}
	name, ok := d.str(an, what+".action")
	if !ok {
		return nil
	}
	s.Action = name
	if l.cat == nil {
		d.errorf(an, "%s.action %q: no action catalogue to check it against", what, name)
		return nil
	}
	spec, ok := l.cat.Lookup(name)
	if !ok {
		d.errorf(an, "unknown action %q%s", name, suggest.DidYouMean(name, l.cat.Names()))
		return nil
	}
	s.Spec = spec
	if target != "" && !spec.Accepts(target) {
		d.errorf(an, "action %s cannot act on target kind %s (it takes %s)", name, target, joinKinds(spec.Targets))
	}
	s.Name = name
	if v, ok := f["name"]; ok {
		if nm, ok := d.str(v, what+".name"); ok {
			s.Name = nm
		}
	}
	s.With = d.params(f["with"], spec, what+".with", keyNode(n, "action"))
	if v, ok := f["if"]; ok {
		s.If = d.condition(v, what+".if")
	}
	if v, ok := f["approval"]; ok {
		if a, ok := d.str(v, what+".approval"); ok {
			switch a {
			case "required":
				s.Approval = true
			case "none":
			default:
				d.errorf(v, "%s.approval %q is not valid; write approval: required (or leave it out)", what, a)
			}
		}
	}
	if v, ok := f["continue_on_error"]; ok {
		s.ContinueOnError, _ = d.boolean(v, what+".continue_on_error")
	}
	return s
}

// params checks a step's `with:` against the action's declared parameters and fills in
// defaults.
func (d *doc) params(n *yaml.Node, spec *action.Spec, what string, at *yaml.Node) map[string]any {
	names := make([]string, len(spec.Params))
	for i, p := range spec.Params {
		names[i] = p.Name
	}
	out := map[string]any{}
	given := map[string]*yaml.Node{}
	if !isNull(n) {
		if n.Kind != yaml.MappingNode {
			d.errorf(n, "%s must be a mapping of parameters, not %s", what, kindName(n))
			return out
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolve(n.Content[i])
			if _, ok := spec.Param(k.Value); !ok {
				if len(names) == 0 {
					d.errorf(k, "action %s takes no parameters, but %q is given", spec.Name, k.Value)
				} else {
					d.errorf(k, "action %s has no parameter %q%s; it takes %s", spec.Name, k.Value, suggest.DidYouMean(k.Value, names), strings.Join(names, ", "))
				}
				continue
			}
			if _, dup := given[k.Value]; dup {
				d.errorf(k, "%s: %q is given twice", what, k.Value)
				continue
			}
			given[k.Value] = resolve(n.Content[i+1])
		}
	}
	for _, p := range spec.Params {
		v, ok := given[p.Name]
		if !ok {
			if p.Default != nil {
				out[p.Name] = p.Default
			} else if p.Required {
				d.errorf(at, "action %s needs parameter %q (%s): add it under with:", spec.Name, p.Name, p.Doc)
			}
			continue
		}
		if val, ok := d.param(v, &p, what+"."+p.Name); ok {
			out[p.Name] = val
		}
	}
	return out
}

func (d *doc) param(n *yaml.Node, p *action.Param, what string) (any, bool) {
	switch p.Type {
	case action.String:
		s, ok := d.str(n, what)
		if !ok {
			return nil, false
		}
		if len(p.Allowed) > 0 && !contains(p.Allowed, s) {
			d.errorf(n, "%s: %q is not allowed%s; expected one of %s", what, s, suggest.DidYouMean(s, p.Allowed), strings.Join(p.Allowed, ", "))
			return nil, false
		}
		return s, true
	case action.Int:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			d.errorf(n, "%s must be an integer, not %s", what, kindName(n))
			return nil, false
		}
		var i int
		if err := n.Decode(&i); err != nil {
			d.errorf(n, "%s: %v", what, err)
			return nil, false
		}
		return i, true
	case action.Bool:
		return d.boolean(n, what)
	case action.StringList:
		// A single value is accepted for a list, since `to: owners` reads naturally.
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
			return []string{n.Value}, true
		}
		before := len(*d.errs)
		l := d.strList(n, what)
		return l, len(*d.errs) == before
	case action.StringMap:
		before := len(*d.errs)
		m := d.strMap(n, what)
		return m, len(*d.errs) == before
	case action.Duration:
		s, ok := d.str(n, what)
		if !ok {
			return nil, false
		}
		if _, err := parseDuration(s); err != nil {
			d.errorf(n, "%s: %q is not a duration such as 15m or 2h", what, s)
			return nil, false
		}
		return s, true
	default:
		v, err := toValue(n)
		if err != nil {
			d.errorf(n, "%s: %v", what, err)
			return nil, false
		}
		return v, true
	}
}

func validKind(s string) bool {
	for _, k := range event.Kinds {
		if string(k) == s {
			return true
		}
	}
	return false
}

func kindStrings() []string {
	out := make([]string, len(event.Kinds))
	for i, k := range event.Kinds {
		out[i] = string(k)
	}
	return out
}

func kindList() string { return strings.Join(kindStrings(), ", ") }

func joinKinds(ks []event.Kind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func modeStrings() []string {
	out := make([]string, len(Modes))
	for i, m := range Modes {
		out[i] = string(m)
	}
	return out
}

// exprPos maps a position inside an expression to the file: exact for an expression on
// one line (plain or quoted), the expression's first line otherwise, since folding and
// escapes make the mapping from block scalars unreliable.
func exprPos(n *yaml.Node, line, col int) (int, int) {
	switch n.Style {
	case 0:
		if line == 1 {
			return n.Line, n.Column + col
		}
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		if line == 1 && !strings.Contains(n.Value, "\n") {
			return n.Line, n.Column + 1 + col
		}
	case yaml.LiteralStyle:
		return n.Line + line, n.Column
	}
	return n.Line, n.Column
}
