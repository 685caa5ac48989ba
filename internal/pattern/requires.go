package pattern

import (
	"slices"
	"sort"
)

// Requirement is what a pattern demands of the string values found at one field path:
// at least one of them equals one of Exact, starts with one of Prefixes or ends with one
// of Suffixes. Each list is sorted and holds distinct strings.
//
// It is what an index needs to file a pattern under the values that can select it: an
// event none of whose strings at the path meets the requirement cannot match.
type Requirement struct {
	Exact    []string
	Prefixes []string
	Suffixes []string
}

// Requires reports what every way p can match requires of the values at path (e.g.
// "detail", "type"). ok is true only when each match, through every $or branch, needs
// some string value at path (found as AppendStrings finds it, through arrays) to meet the
// returned Requirement. Exact strings, prefix, suffix and wildcard values give
// requirements; a field that may also match by a number, a boolean, null, exists,
// equals-ignore-case, anything-but, numeric or cidr value, or by being absent, gives none.
//
// When several conditions of a pattern constrain path, the narrowest is returned: the one
// with the fewest prefixes and suffixes, then the fewest values.
func (p *Pattern) Requires(path ...string) (req Requirement, ok bool) {
	if p == nil || !p.compiled || len(path) == 0 {
		return Requirement{}, false
	}
	r, ok := p.root.requires(path)
	if !ok {
		return Requirement{}, false
	}
	return Requirement{Exact: sortedSet(r.exact), Prefixes: sortedSet(r.prefix), Suffixes: sortedSet(r.suffix)}, true
}

// Fields returns the field paths p's conditions test, in $or branches too, each once,
// sorted. The slices are the caller's.
func (p *Pattern) Fields() [][]string {
	if p == nil || !p.compiled {
		return nil
	}
	var out [][]string
	var walk func(c *conj)
	walk = func(c *conj) {
		for i := range c.leaves {
			l := &c.leaves[i]
			if !slices.ContainsFunc(out, func(q []string) bool { return slices.Equal(q, l.path) }) {
				out = append(out, clone(l.path))
			}
		}
		for _, group := range c.ors {
			for _, b := range group {
				walk(b)
			}
		}
	}
	walk(&p.root)
	slices.SortFunc(out, slices.Compare)
	return out
}

// AppendStrings appends to dst every string value at path in event, reached as matching
// reaches values: through every element of any array on the way and at the end (nested
// arrays included), objects at the end of the path contributing nothing. Values are
// appended in document order, repeats kept.
func AppendStrings(dst []string, event map[string]any, path []string) []string {
	return appendStrings(dst, event, path)
}

func appendStrings(dst []string, v any, path []string) []string {
	switch t := v.(type) {
	case string:
		if len(path) == 0 {
			dst = append(dst, t)
		}
	case map[string]any:
		if len(path) > 0 {
			if child, ok := t[path[0]]; ok {
				dst = appendStrings(dst, child, path[1:])
			}
		}
	case []any:
		for _, e := range t {
			dst = appendStrings(dst, e, path)
		}
	}
	return dst
}

// strReq is a Requirement under construction: sets of exact strings, prefixes and
// suffixes, any one of which a value may meet.
type strReq struct {
	exact, prefix, suffix map[string]struct{}
}

// narrower reports whether r makes a better index key than s: fewer open-ended strings
// (each prefix or suffix selects a whole family of values), then fewer strings.
func (r *strReq) narrower(s *strReq) bool {
	ra, sa := len(r.prefix)+len(r.suffix), len(s.prefix)+len(s.suffix)
	if ra != sa {
		return ra < sa
	}
	return len(r.exact)+ra < len(s.exact)+sa
}

func (r *strReq) add(o *strReq) {
	for v := range o.exact {
		r.exact[v] = struct{}{}
	}
	for v := range o.prefix {
		r.prefix[v] = struct{}{}
	}
	for v := range o.suffix {
		r.suffix[v] = struct{}{}
	}
}

func newStrReq() *strReq {
	return &strReq{exact: map[string]struct{}{}, prefix: map[string]struct{}{}, suffix: map[string]struct{}{}}
}

// requires returns the narrowest requirement c places on path: from the leaf at path, or
// from an $or group every branch of which constrains path (their union). Every
// requirement found is necessary, since c holds only if all its leaves and groups do.
func (c *conj) requires(path []string) (*strReq, bool) {
	var best *strReq
	for i := range c.leaves {
		leaf := &c.leaves[i]
		if !slices.Equal(leaf.path, path) {
			continue
		}
		if r, ok := leaf.requires(); ok && (best == nil || r.narrower(best)) {
			best = r
		}
	}
	for _, group := range c.ors {
		union := newStrReq()
		ok := true
		for _, b := range group {
			r, bok := b.requires(path)
			if !bok {
				ok = false
				break
			}
			union.add(r)
		}
		if ok && (best == nil || union.narrower(best)) {
			best = union
		}
	}
	return best, best != nil
}

// requires returns what the leaf needs of the strings at its path, if every value it
// lists can be met only by a string of a known exact text, prefix or suffix.
func (l *leafCond) requires() (*strReq, bool) {
	if l.existsFalse {
		// Met by the field's absence, which no value lookup finds.
		return nil, false
	}
	r := newStrReq()
	for i := range l.matchers {
		m := &l.matchers[i]
		switch m.kind {
		case kExactString:
			r.exact[m.str] = struct{}{}
		case kPrefix:
			r.prefix[m.str] = struct{}{}
		case kSuffix:
			r.suffix[m.str] = struct{}{}
		case kWildcard:
			// A wildcard without '*' is an exact string; otherwise a match starts with
			// the text before the first '*' and ends with the text after the last.
			pieces := m.wild[0]
			first, last := pieces[0], pieces[len(pieces)-1]
			switch {
			case len(pieces) == 1:
				r.exact[first] = struct{}{}
			case first != "":
				r.prefix[first] = struct{}{}
			default:
				// The empty suffix, when last is empty too, is met by any string.
				r.suffix[last] = struct{}{}
			}
		default:
			return nil, false
		}
	}
	return r, true
}

func sortedSet(m map[string]struct{}) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for v := range m {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// Given returns a pattern that agrees with p on every event having the string value at
// path (among the values AppendStrings finds there), with the conditions that value
// settles left out: a field at path that one of its listed values accepts value for, and
// an $or group one of whose branches is thereby satisfied. An index that has looked up an
// event by that value can then match the rest of the pattern without testing it again.
// It returns p itself when nothing is settled.
func (p *Pattern) Given(path []string, value string) *Pattern {
	if p == nil || !p.compiled {
		return p
	}
	root, changed := p.root.given(path, value)
	if !changed {
		return p
	}
	return &Pattern{root: *root, compiled: true}
}

// given returns c without the conditions an event with the string v at path meets,
// sharing what it keeps with c (the leaves' paths and values, and untouched $or groups),
// and whether anything was left out.
func (c *conj) given(path []string, v string) (*conj, bool) {
	changed := false
	leaves := make([]leafCond, 0, len(c.leaves))
	for i := range c.leaves {
		if slices.Equal(c.leaves[i].path, path) && c.leaves[i].accepts(v) {
			changed = true
			continue
		}
		leaves = append(leaves, c.leaves[i])
	}
	ors := make([][]*conj, 0, len(c.ors))
	for _, group := range c.ors {
		kept, groupChanged, settled := make([]*conj, 0, len(group)), false, false
		for _, b := range group {
			nb, ch := b.given(path, v)
			if len(nb.leaves) == 0 && len(nb.ors) == 0 {
				settled = true
				break
			}
			groupChanged = groupChanged || ch
			kept = append(kept, nb)
		}
		switch {
		case settled:
			changed = true
		case groupChanged:
			changed = true
			ors = append(ors, kept)
		default:
			ors = append(ors, group)
		}
	}
	if !changed {
		return c, false
	}
	return &conj{leaves: leaves, ors: ors}, true
}

// accepts reports whether one of the leaf's values accepts the string v, in which case the
// leaf holds for any event with v at its path.
func (l *leafCond) accepts(v string) bool {
	for i := range l.matchers {
		if l.matchers[i].match(v) {
			return true
		}
	}
	return false
}
