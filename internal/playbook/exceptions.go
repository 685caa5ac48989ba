package playbook

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/suggest"
)

// ExceptionEntry is one approved deviation from an exceptions file, for resources that
// cannot carry a tag (or accounts as a whole), or one created at run time through the API.
type ExceptionEntry struct {
	// ID names an exception created at run time (exc-...), and decisions name it by its id;
	// it is empty for an exceptions file's entry, which decisions name by file and line.
	ID         string
	Resource   string   // resource id or ARN; empty when Account is set
	Account    string   // account id; empty when Resource is set
	Playbooks  []string // playbook names, or "*" for all
	Reason     string
	ApprovedBy string
	Expires    time.Time // zero: never
	Pos        Position
}

var (
	excEntryFields = []string{"resource", "account", "playbooks", "reason", "approved_by", "expires"}
)

// LoadExceptions reads an exceptions file given outside the playbooks directory.
func LoadExceptions(file string) ([]*ExceptionEntry, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, LoadErrors{{File: file, Msg: err.Error()}}
	}
	l := newLoader(nil)
	l.file(file, data)
	if len(l.set.Playbooks) > 0 || len(l.set.Tests) > 0 {
		l.errs = append(l.errs, LoadError{File: file, Line: 1, Col: 1, Msg: "an exceptions file holds only kind: Exceptions documents"})
	}
	set, err := l.finish(false)
	if err != nil {
		return nil, err
	}
	return set.Exceptions, nil
}

func (l *loader) exceptionsDoc(d *doc, top map[string]*yaml.Node) []*ExceptionEntry {
	if md, ok := top["metadata"]; ok {
		d.fields(md, "metadata", metadataFields...)
	}
	specNode, ok := top["spec"]
	if !ok {
		return nil
	}
	spec := d.fields(specNode, "spec", "exceptions")
	list := spec["exceptions"]
	if isNull(list) {
		return nil
	}
	if list.Kind != yaml.SequenceNode {
		d.errorf(list, "spec.exceptions must be a list, not %s", kindName(list))
		return nil
	}
	var out []*ExceptionEntry
	for i, c := range list.Content {
		c = resolve(c)
		what := fmt.Sprintf("spec.exceptions[%d]", i)
		before := len(l.errs)
		f := d.fields(c, what, excEntryFields...)
		e := &ExceptionEntry{Pos: d.pos(c)}
		if v, ok := f["resource"]; ok {
			e.Resource, _ = d.str(v, what+".resource")
		}
		if v, ok := f["account"]; ok {
			e.Account, _ = d.str(v, what+".account")
		}
		if (e.Resource == "") == (e.Account == "") && len(l.errs) == before {
			d.errorf(c, "%s: give exactly one of resource (an id or ARN) or account", what)
		}
		e.Playbooks = d.strList(f["playbooks"], what+".playbooks")
		if len(e.Playbooks) == 0 && len(l.errs) == before {
			d.errorf(c, "%s.playbooks is missing: list the playbook names it applies to, or \"*\"", what)
		}
		for j, p := range e.Playbooks {
			if p != "*" && !nameRE.MatchString(p) {
				d.errorf(f["playbooks"].Content[j], "%s.playbooks: %q is not a playbook name", what, p)
			}
		}
		if v, ok := f["reason"]; ok {
			e.Reason, _ = d.str(v, what+".reason")
		}
		if e.Reason == "" && len(l.errs) == before {
			d.errorf(c, "%s.reason is missing: say why the deviation is approved", what)
		}
		if v, ok := f["approved_by"]; ok {
			e.ApprovedBy, _ = d.str(v, what+".approved_by")
		}
		if v, ok := f["expires"]; ok {
			// yaml.v3 tags an unquoted timestamp !!timestamp; its text is what we want.
			if v.Kind != yaml.ScalarNode {
				d.errorf(v, "%s.expires must be an RFC 3339 time such as 2026-12-01T00:00:00Z", what)
			} else if t, err := tagTime(v.Value); err != nil {
				d.errorf(v, "%s.expires %q is not an RFC 3339 time such as 2026-12-01T00:00:00Z", what, v.Value)
			} else {
				e.Expires = t
			}
		}
		if len(l.errs) == before {
			out = append(out, e)
		}
	}
	return out
}

// checkNames reports exceptions-file entries naming playbooks that do not exist: a
// misspelt name would otherwise silently except nothing.
func (l *loader) checkExceptionNames() {
	for _, e := range l.set.Exceptions {
		for _, p := range e.Playbooks {
			if p == "*" {
				continue
			}
			if _, ok := l.names[p]; !ok {
				names := sortedKeys(l.names)
				l.errs = append(l.errs, LoadError{File: e.Pos.File, Line: e.Pos.Line, Col: e.Pos.Col,
					Msg: fmt.Sprintf("exception names playbook %q, which does not exist%s", p, suggest.DidYouMean(p, names))})
			}
		}
	}
}

func (e *ExceptionEntry) applies(playbook string) bool {
	for _, p := range e.Playbooks {
		if p == "*" || p == playbook {
			return true
		}
	}
	return false
}

func (e *ExceptionEntry) describe() string {
	var b strings.Builder
	if e.ID != "" {
		b.WriteString("exception " + e.ID)
	} else {
		fmt.Fprintf(&b, "%s:%d", filepath.Base(e.Pos.File), e.Pos.Line)
	}
	var extra []string
	if e.ApprovedBy != "" {
		extra = append(extra, "approved by "+e.ApprovedBy)
	}
	if !e.Expires.IsZero() {
		extra = append(extra, "until "+formatTime(e.Expires))
	}
	if len(extra) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(extra, ", "))
	}
	if e.Reason != "" {
		b.WriteString(": " + e.Reason)
	}
	return b.String()
}

func formatTime(t time.Time) string {
	if t.Equal(t.Truncate(24*time.Hour)) && t.Location() == time.UTC {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339)
}

// Exception says whether the playbook must leave resource alone. excepted is the reason
// naming the rule that matched (empty when none did); note mentions an exception that
// would have matched but has expired, so that the decision explains why it went ahead.
// account is the resource's account (the event's when the resource has none). runtime
// are the exceptions created at run time, which the set does not hold.
//
// Rules are tried most specific first: the playbook's own resource and account lists, the
// exceptions file, the runtime exceptions, then tags. An expiry tag
// (firebreak:exception-until) ends every tag-based exception on that resource.
func (s *Set) Exception(p *Playbook, r *event.Resource, account string, now time.Time, runtime ...*ExceptionEntry) (excepted, note string) {
	e := &p.Exceptions
	for _, id := range e.Resources {
		if id == r.ID || (r.ARN != "" && id == r.ARN) {
			return fmt.Sprintf("excepted by playbook %s: resource %s", p.Name, id), ""
		}
	}
	for _, a := range e.Accounts {
		if a == account {
			return fmt.Sprintf("excepted by playbook %s: account %s", p.Name, a), ""
		}
	}
	if excepted, note = s.EntryException(p.Name, r, account, now, runtime...); excepted != "" {
		return excepted, ""
	}

	rule := tagRule(e, r.Tags)
	if rule == "" {
		return "", note
	}
	if until, ok := r.Tags[ExceptionUntilTag]; ok {
		t, err := tagTime(until)
		if err != nil {
			// An unreadable end date cannot end the exception: leave the resource alone.
			return fmt.Sprintf("excepted by %s on %s (tag %s=%q is not an RFC 3339 time)", rule, r.ID, ExceptionUntilTag, until), ""
		}
		if !now.Before(t) {
			if note == "" {
				note = fmt.Sprintf("exception by %s on %s expired on %s", rule, r.ID, formatTime(t))
			}
			return "", note
		}
		return fmt.Sprintf("excepted by %s on %s (until %s)", rule, r.ID, formatTime(t)), ""
	}
	return fmt.Sprintf("excepted by %s on %s", rule, r.ID), ""
}

// EntryException is Exception without the rules a playbook carries itself: only the
// exceptions file's entries, then the runtime ones, for what the playbook called name may
// do to resource. It takes a name, so that a request that runs no playbook (a person's
// self-service request) is judged by the entries that apply to every playbook.
func (s *Set) EntryException(name string, r *event.Resource, account string, now time.Time, runtime ...*ExceptionEntry) (excepted, note string) {
	var file []*ExceptionEntry
	if s != nil {
		file = s.Exceptions
	}
	for _, list := range [2][]*ExceptionEntry{file, runtime} {
		for _, x := range list {
			if !x.applies(name) {
				continue
			}
			hit := (x.Resource != "" && (x.Resource == r.ID || (r.ARN != "" && x.Resource == r.ARN))) ||
				(x.Account != "" && x.Account == account)
			if !hit {
				continue
			}
			if !x.Expires.IsZero() && !now.Before(x.Expires) {
				if note == "" {
					note = x.expired()
				}
				continue
			}
			return "excepted by " + x.describe(), ""
		}
	}
	return "", note
}

// expired is the note for an entry that would have matched but has expired. A runtime
// entry's description already says it is an exception.
func (e *ExceptionEntry) expired() string {
	if e.ID != "" {
		return fmt.Sprintf("%s expired on %s", e.describe(), formatTime(e.Expires))
	}
	return fmt.Sprintf("exception %s expired on %s", e.describe(), formatTime(e.Expires))
}

// tagRule returns the first tag rule (in key order) that matches tags, described.
//
// It runs for every decision, so rather than sorting the rule keys each time it keeps the
// least matching key seen: the same rule, without allocating.
func tagRule(e *Exceptions, tags map[string]string) string {
	if len(tags) == 0 {
		// Every rule needs a tag; accounts and addresses, the commonest targets, have none.
		return ""
	}
	best, found := "", false
	for k, glob := range e.Tags {
		if found && k >= best {
			continue
		}
		v, ok := tags[k]
		if !ok {
			continue
		}
		if m, _ := matchGlob(glob, v); m {
			best, found = k, true
		}
	}
	if found {
		return fmt.Sprintf("tag %s=%s", best, tags[best])
	}
	if e.HonourExceptionTag {
		if v, ok := tags[ExceptionTag]; ok {
			return fmt.Sprintf("tag %s=%s", ExceptionTag, v)
		}
	}
	return ""
}

// matchGlob matches a tag value against a path.Match-style glob. Tag values may contain
// "/", which path.Match's "*" would not cross; "*" alone means any value, including "".
func matchGlob(glob, value string) (bool, error) {
	if glob == "*" {
		return true, nil
	}
	return path.Match(strings.ReplaceAll(glob, "/", "\x00"), strings.ReplaceAll(value, "/", "\x00"))
}

func parseDuration(s string) (time.Duration, error) { return time.ParseDuration(s) }

// sortExceptions keeps exceptions-file entries in file order, so that the first matching
// entry is the one a reader finds first.
func sortExceptions(es []*ExceptionEntry) {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Pos.File != es[j].Pos.File {
			return es[i].Pos.File < es[j].Pos.File
		}
		return es[i].Pos.Line < es[j].Pos.Line
	})
}
