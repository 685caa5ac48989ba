package decide

import (
	"slices"
	"strings"

	"github.com/firebreak-sec/firebreak/internal/pattern"
	"github.com/firebreak-sec/firebreak/internal/playbook"
)

var (
	sourcePath     = []string{"source"}
	detailTypePath = []string{"detail-type"}
)

// index narrows the playbooks an event is matched against to those that could match it,
// in two levels. The first keys playbooks on the exact source and detail-type their
// patterns require. Each key's playbooks form a node, which the second level splits on
// the one field that best tells them apart (a GuardDuty finding's detail.type, a
// CloudTrail call's detail.eventName, a Security Hub finding's GeneratorId...).
//
// Every list is sorted by playbook index, so the candidates come out in playbook name
// order, the order decisions are made in. Each candidate carries its pattern less the
// conditions the lookup that found it has already established (pattern.Given): the
// source and detail-type a node is keyed on, and the value an exact list is keyed on.
type index struct {
	// bySourceType holds a node for every source and detail-type pair some playbook
	// names: that pair's playbooks together with those naming only the source, only the
	// detail-type, or neither, so an event of a known pair needs this one node.
	bySourceType map[string]map[string]*node
	// bySource and byType are for events whose pair no playbook names: playbooks naming
	// only the source (or only the detail-type), with those naming neither.
	bySource map[string]*node
	byType   map[string]*node
	// anyKind holds the playbooks that name neither source nor detail-type.
	anyKind *node
}

// cand is a playbook an event may match.
type cand struct {
	i  int              // index into the set's playbooks
	on *pattern.Pattern // the playbook's pattern, less what finding it has established
}

// node is the playbooks that may match one kind of event, split on path: each playbook
// whose pattern requires a string at path (pattern.Requires) is filed under the exact
// values, prefixes and suffixes it requires; the rest are residual, tried for every event.
type node struct {
	path     []string // nil when no field splits the node
	residual []cand
	// exact maps a value to every candidate for an event carrying it: the residual
	// playbooks, those requiring the value exactly, and those whose prefixes or suffixes
	// it has, merged once at build time.
	exact    map[string][]cand
	prefixes affixes
	suffixes affixes
}

// affixes files playbooks under the prefixes (or suffixes) they require. A value is
// looked up by its own prefixes of each length some playbook uses, which are few.
type affixes struct {
	lens []int // distinct affix lengths, ascending
	m    map[string][]cand
}

// lookup appends the lists of the affixes v has.
func (a *affixes) lookup(lists [][]cand, v string, suffix bool) [][]cand {
	for _, n := range a.lens {
		if n > len(v) {
			break
		}
		k := v[:n]
		if suffix {
			k = v[len(v)-n:]
		}
		if l, ok := a.m[k]; ok {
			lists = append(lists, l)
		}
	}
	return lists
}

// discriminators are the fields worth splitting a node on, in preference order for
// equal splits; any other field the node's patterns test is considered after them.
var discriminators = [][]string{
	{"detail", "type"},
	{"detail", "eventName"},
	{"detail", "findings", "GeneratorId"},
	{"detail", "eventTypeCode"},
	{"detail", "eventSource"},
	{"detail", "findings", "Types"},
	{"detail", "state", "value"},
	{"detail-type"},
}

// buildIndex indexes set's playbooks.
func buildIndex(set *playbook.Set) *index {
	reqs := newRequirements(set)
	var (
		pairs            = map[string]map[string][]int{}
		bySource, byType = map[string][]int{}, map[string][]int{}
		anyKind          []int
	)
	for i := range set.Playbooks {
		sources, sok := reqs.exactOnly(i, sourcePath)
		types, tok := reqs.exactOnly(i, detailTypePath)
		switch {
		case sok && tok:
			for _, s := range sources {
				if pairs[s] == nil {
					pairs[s] = map[string][]int{}
				}
				for _, t := range types {
					pairs[s][t] = append(pairs[s][t], i)
				}
			}
		case sok:
			for _, s := range sources {
				bySource[s] = append(bySource[s], i)
			}
		case tok:
			for _, t := range types {
				byType[t] = append(byType[t], i)
			}
		default:
			anyKind = append(anyKind, i)
		}
	}

	ix := &index{bySourceType: map[string]map[string]*node{}, bySource: map[string]*node{}, byType: map[string]*node{},
		anyKind: reqs.node(anyKind, nil)}
	for s, types := range pairs {
		ix.bySourceType[s] = map[string]*node{}
		for t, list := range types {
			ix.bySourceType[s][t] = reqs.node(union(list, bySource[s], byType[t], anyKind),
				[]fact{{sourcePath, s}, {detailTypePath, t}})
		}
	}
	for s, list := range bySource {
		ix.bySource[s] = reqs.node(union(list, anyKind), []fact{{sourcePath, s}})
	}
	for t, list := range byType {
		ix.byType[t] = reqs.node(union(list, anyKind), []fact{{detailTypePath, t}})
	}
	return ix
}

// candidates appends to buf the playbooks that may match env, sorted by index and
// distinct, and returns them. The result may instead be one of the index's own lists,
// which the caller must not modify.
func (ix *index) candidates(env map[string]any, buf []cand) []cand {
	var sb, tb [2]string
	srcs := pattern.AppendStrings(sb[:0], env, sourcePath)
	types := pattern.AppendStrings(tb[:0], env, detailTypePath)

	// An event of one source and one detail-type, which is every event in practice, needs
	// a single node.
	if len(srcs) == 1 && len(types) == 1 {
		if n := ix.bySourceType[srcs[0]][types[0]]; n != nil {
			return n.candidates(env, buf)
		}
	}
	// Every node found is keyed on values the event has, so the patterns each holds,
	// reduced by those values, agree with the full patterns on this event.
	nodes := make([]*node, 0, 4)
	add := func(n *node) {
		if n != nil && !slices.Contains(nodes, n) {
			nodes = append(nodes, n)
		}
	}
	for _, s := range srcs {
		for _, t := range types {
			add(ix.bySourceType[s][t])
		}
		add(ix.bySource[s])
	}
	for _, t := range types {
		add(ix.byType[t])
	}
	if len(nodes) == 0 {
		add(ix.anyKind)
	}
	if len(nodes) == 1 {
		return nodes[0].candidates(env, buf)
	}
	lists := make([][]cand, 0, 8)
	for _, n := range nodes {
		lists = n.lists(env, lists)
	}
	return merge(lists, buf)
}

// candidates returns the node's playbooks that may match env, as one of its lists when a
// single list covers the event and otherwise merged into buf.
func (n *node) candidates(env map[string]any, buf []cand) []cand {
	if n.path == nil {
		return n.residual
	}
	return merge(n.lists(env, make([][]cand, 0, 8)), buf)
}

// lists appends the lists whose union is the node's candidates for env.
func (n *node) lists(env map[string]any, lists [][]cand) [][]cand {
	if n.path == nil {
		return append(lists, n.residual)
	}
	var vb [4]string
	values := pattern.AppendStrings(vb[:0], env, n.path)
	residual := false
	for _, v := range values {
		if l, ok := n.exact[v]; ok {
			lists = append(lists, l)
			continue
		}
		if !residual {
			lists, residual = append(lists, n.residual), true
		}
		lists = n.prefixes.lookup(lists, v, false)
		lists = n.suffixes.lookup(lists, v, true)
	}
	if len(values) == 0 {
		// Every playbook filed under a value requires a string at path; without one,
		// only the residual playbooks can match.
		lists = append(lists, n.residual)
	}
	return lists
}

// merge returns the union of lists sorted by playbook index, one candidate per playbook,
// in buf unless a single list holds all of it. A playbook found through several lists may
// carry a differently reduced pattern in each; all agree on the event, and the first
// list's is kept so that the choice is deterministic.
func merge(lists [][]cand, buf []cand) []cand {
	nonEmpty := 0
	var only []cand
	for _, l := range lists {
		if len(l) > 0 {
			nonEmpty++
			only = l
		}
	}
	if nonEmpty <= 1 {
		return only
	}
	out := buf[:0]
	for _, l := range lists {
		out = append(out, l...)
	}
	slices.SortStableFunc(out, func(a, b cand) int { return a.i - b.i })
	return slices.CompactFunc(out, func(a, b cand) bool { return a.i == b.i })
}

// union returns the sorted, distinct union of sorted lists of playbook indices.
func union(lists ...[]int) []int {
	var out []int
	for _, l := range lists {
		out = append(out, l...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// fact is a string an event found in a node is known to have at a path.
type fact struct {
	path  []string
	value string
}

// requirements caches what each playbook's pattern requires of each field, for choosing
// and filling the nodes' splits.
type requirements struct {
	set   *playbook.Set
	cache []map[string]*pattern.Requirement // per playbook, by joined path; nil: none
}

func newRequirements(set *playbook.Set) *requirements {
	return &requirements{set: set, cache: make([]map[string]*pattern.Requirement, len(set.Playbooks))}
}

// of returns what playbook i requires of path, or nil if it requires nothing there.
func (r *requirements) of(i int, path []string) *pattern.Requirement {
	if r.cache[i] == nil {
		r.cache[i] = map[string]*pattern.Requirement{}
	}
	key := strings.Join(path, "\x00")
	if req, ok := r.cache[i][key]; ok {
		return req
	}
	var req *pattern.Requirement
	if on := r.set.Playbooks[i].On; on != nil {
		if q, ok := on.Requires(path...); ok {
			req = &q
		}
	}
	r.cache[i][key] = req
	return req
}

// exactOnly returns the exact values playbook i requires at path, if it requires only
// exact values there.
func (r *requirements) exactOnly(i int, path []string) ([]string, bool) {
	req := r.of(i, path)
	if req == nil || len(req.Prefixes) > 0 || len(req.Suffixes) > 0 || len(req.Exact) == 0 {
		return nil, false
	}
	return req.Exact, true
}

// node builds a node over the sorted playbooks list, for events known to have facts,
// split on the field that leaves the fewest candidates for a typical event.
func (r *requirements) node(list []int, facts []fact) *node {
	n := &node{}
	path, best := []string(nil), float64(len(list))
	if len(list) >= 2 {
		for _, p := range r.fields(list) {
			if c := r.cost(list, p); c < best {
				path, best = p, c
			}
		}
	}
	if path == nil {
		n.residual = r.cands(list, facts)
		return n
	}
	n.path = path
	var residual []int
	exact, prefixes, suffixes := map[string][]int{}, map[string][]int{}, map[string][]int{}
	for _, i := range list {
		req := r.of(i, path)
		if req == nil {
			residual = append(residual, i)
			continue
		}
		for _, v := range req.Exact {
			exact[v] = append(exact[v], i)
		}
		for _, v := range req.Prefixes {
			prefixes[v] = append(prefixes[v], i)
		}
		for _, v := range req.Suffixes {
			suffixes[v] = append(suffixes[v], i)
		}
	}
	n.residual = r.cands(residual, facts)
	n.prefixes = affixes{lens: lengths(prefixes), m: make(map[string][]cand, len(prefixes))}
	for v, l := range prefixes {
		n.prefixes.m[v] = r.cands(l, facts)
	}
	n.suffixes = affixes{lens: lengths(suffixes), m: make(map[string][]cand, len(suffixes))}
	for v, l := range suffixes {
		n.suffixes.m[v] = r.cands(l, facts)
	}
	// Precompute each exact value's whole candidate list, so that an event carrying one
	// needs neither affix lookups nor a merge, and its patterns need not test the value.
	n.exact = make(map[string][]cand, len(exact))
	for v, own := range exact {
		lists := [][]int{residual, own}
		for affix, l := range prefixes {
			if strings.HasPrefix(v, affix) {
				lists = append(lists, l)
			}
		}
		for affix, l := range suffixes {
			if strings.HasSuffix(v, affix) {
				lists = append(lists, l)
			}
		}
		n.exact[v] = r.cands(union(lists...), append(slices.Clip(facts), fact{path, v}))
	}
	return n
}

// cands pairs each playbook of list with its pattern reduced by facts.
func (r *requirements) cands(list []int, facts []fact) []cand {
	out := make([]cand, len(list))
	for k, i := range list {
		on := r.set.Playbooks[i].On
		for _, f := range facts {
			on = on.Given(f.path, f.value)
		}
		out[k] = cand{i: i, on: on}
	}
	return out
}

// fields returns the fields the playbooks' patterns test, the usual discriminators first.
func (r *requirements) fields(list []int) [][]string {
	out := slices.Clone(discriminators)
	for _, i := range list {
		on := r.set.Playbooks[i].On
		if on == nil {
			continue
		}
		for _, f := range on.Fields() {
			if !slices.ContainsFunc(out, func(q []string) bool { return slices.Equal(q, f) }) {
				out = append(out, f)
			}
		}
	}
	return out
}

// cost estimates how many of list an event is matched against when the node splits on
// path: the playbooks that do not constrain it, plus the size of the list an event's value
// selects, taking values in proportion to how many playbooks ask for them.
func (r *requirements) cost(list []int, path []string) float64 {
	residual := 0
	keys := map[string]int{}
	for _, i := range list {
		req := r.of(i, path)
		if req == nil {
			residual++
			continue
		}
		for _, v := range req.Exact {
			keys["="+v]++
		}
		for _, v := range req.Prefixes {
			keys["^"+v]++
		}
		for _, v := range req.Suffixes {
			keys["$"+v]++
		}
	}
	if len(keys) == 0 {
		return float64(len(list))
	}
	sum, squares := 0, 0
	for _, k := range keys {
		sum, squares = sum+k, squares+k*k
	}
	return float64(residual) + float64(squares)/float64(sum)
}

func lengths[V any](m map[string]V) []int {
	var out []int
	for k := range m {
		out = append(out, len(k))
	}
	slices.Sort(out)
	return slices.Compact(out)
}
