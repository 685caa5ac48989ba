package decide

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/action/catalog"
	"github.com/firebreak-sec/firebreak/internal/bench"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/pattern"
	"github.com/firebreak-sec/firebreak/internal/playbook"
)

// indexPaths are the fields generated patterns constrain: those the index keys and splits
// on, and others that only filter.
var indexPaths = [][]string{
	{"source"}, {"detail-type"}, {"account"}, {"region"},
	{"detail", "type"}, {"detail", "eventName"}, {"detail", "eventSource"}, {"detail", "eventTypeCode"},
	{"detail", "findings", "GeneratorId"}, {"detail", "findings", "Types"}, {"detail", "state", "value"},
	{"detail", "alarmName"}, {"detail", "service", "resourceRole"}, {"detail", "userIdentity", "type"},
}

// TestIndexAgreesWithBruteForce checks that the index never changes a decision: for the
// starter library plus generated playbooks that constrain the indexed fields in every way
// the pattern language allows (and some it cannot index), and for the example events, a
// generated corpus and variants of both with array-valued and missing fields, the indexed
// engine decides exactly as one that matches every event against every playbook.
func TestIndexAgreesWithBruteForce(t *testing.T) {
	set, err := playbook.LoadDir("../../playbooks", catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	events := indexTestEvents(t)

	// Field values as events carry them, so that generated patterns often match.
	seen := map[string][]string{}
	for _, ev := range events {
		for _, p := range indexPaths {
			k := strings.Join(p, ".")
			for _, v := range pattern.AppendStrings(nil, ev.Envelope, p) {
				if !slices.Contains(seen[k], v) {
					seen[k] = append(seen[k], v)
				}
			}
		}
	}
	for _, vs := range seen {
		slices.Sort(vs)
	}
	rng := rand.New(rand.NewPCG(11, 17))
	for i := range 1000 {
		model := events[rng.IntN(len(events))].Envelope
		src, err := json.Marshal(genIndexPattern(rng, model, seen))
		if err != nil {
			t.Fatal(err)
		}
		on, err := pattern.Compile(src)
		if err != nil {
			t.Fatalf("generated pattern %s: %v", src, err)
		}
		set.Playbooks = append(set.Playbooks, &playbook.Playbook{
			Name: fmt.Sprintf("gen-%04d", i), On: on, OnJSON: src,
			Target:     []event.Kind{event.KindAccount, event.KindInstance, event.KindIP, event.KindIAMUser}[rng.IntN(4)],
			Exceptions: playbook.Exceptions{HonourExceptionTag: true}, Mode: playbook.ModeEnforce,
		})
	}
	slices.SortFunc(set.Playbooks, func(a, b *playbook.Playbook) int { return strings.Compare(a.Name, b.Name) })

	now := func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) }
	indexed, brute := New(set, Options{Now: now}), New(set, Options{Now: now, unindexed: true})
	ctx := context.Background()
	decisions, candidates := 0, 0
	for _, ev := range events {
		want := brute.Decide(ctx, ev, nil)
		got := indexed.Decide(ctx, ev, nil)
		if !reflect.DeepEqual(got, want) {
			env, _ := json.Marshal(ev.Envelope)
			t.Fatalf("event %s: indexed engine decided\n%s\nevery playbook gives\n%s\nenvelope: %s", ev.ID, names(got), names(want), env)
		}
		decisions += len(want)
		candidates += indexed.Candidates(ev)
	}
	t.Logf("%d playbooks, %d events: %d decisions, %.1f candidates per event", len(set.Playbooks), len(events), decisions, float64(candidates)/float64(len(events)))
	if decisions < len(events) {
		t.Errorf("only %d decisions for %d events: the generated playbooks rarely match, so agreement proves little", decisions, len(events))
	}
	// Many generated playbooks constrain nothing the index can key on, so it narrows
	// this library far less than a real one (internal/bench measures that); it must
	// still narrow it.
	if candidates >= len(events)*len(set.Playbooks) {
		t.Errorf("%d candidates for %d events of %d playbooks: the index does not narrow", candidates, len(events), len(set.Playbooks))
	}
}

func names(ds []Decision) string {
	var b strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&b, "  %s %s %s/%s\n", d.Playbook, d.Outcome, d.Target.Kind, d.Target.ID)
	}
	return b.String()
}

// indexTestEvents returns the example events, a generated corpus, and variants of some of
// them whose source or detail-type is an array, missing, or not a string.
func indexTestEvents(t *testing.T) []*event.Event {
	t.Helper()
	var events []*event.Event
	files, err := filepath.Glob("../../examples/events/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("example events: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := event.FromJSON(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		events = append(events, evs...)
	}
	g, err := bench.NewGenerator("../../examples/events", 3)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := g.Corpus(800)
	err = event.Scan(context.Background(), "corpus", bytes.NewReader(data), func(ev *event.Event) error {
		events = append(events, ev)
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}

	rng := rand.New(rand.NewPCG(5, 8))
	n := len(events)
	// Values no playbook lists exactly, which only prefixes, suffixes and the residual
	// playbooks can be found by.
	for k := 0; k < n; k += 3 {
		ev := *events[k]
		ev.Envelope = perturb(t, rng, ev.Envelope, indexPaths[rng.IntN(len(indexPaths))])
		ev.ID = fmt.Sprintf("%s-perturbed-%d", ev.ID, k)
		events = append(events, &ev)
	}
	for k := 0; k < n; k += 7 {
		ev := *events[k]
		env := make(map[string]any, len(ev.Envelope))
		for key, v := range ev.Envelope {
			env[key] = v
		}
		field := []string{"source", "detail-type"}[rng.IntN(2)]
		switch rng.IntN(5) {
		case 0:
			env[field] = []any{"com.example.other", env[field]}
		case 1:
			env[field] = []any{env[field], []any{"aws.health"}}
		case 2:
			delete(env, field)
		case 3:
			env[field] = json.Number("7")
		default:
			env["source"], env["detail-type"] = []any{env["source"], "aws.guardduty"}, []any{"GuardDuty Finding", env["detail-type"]}
		}
		ev.ID = fmt.Sprintf("%s-variant-%d", ev.ID, k)
		ev.Envelope = env
		events = append(events, &ev)
	}
	return events
}

// perturb returns a deep copy of env whose strings at path are changed a little: longer,
// shorter or altered at one end.
func perturb(t *testing.T, rng *rand.Rand, env map[string]any, path []string) map[string]any {
	t.Helper()
	data, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	change := func(s string) string {
		switch rng.IntN(4) {
		case 0:
			return s + "x"
		case 1:
			return "x" + s
		case 2:
			return s[:len(s)/2]
		default:
			return s[len(s)/2:]
		}
	}
	var walk func(v any, path []string) any
	walk = func(v any, path []string) any {
		switch x := v.(type) {
		case string:
			if len(path) == 0 {
				return change(x)
			}
		case []any:
			for i := range x {
				x[i] = walk(x[i], path)
			}
		case map[string]any:
			if len(path) > 0 {
				if child, ok := x[path[0]]; ok {
					x[path[0]] = walk(child, path[1:])
				}
			}
		}
		return v
	}
	walk(out, path)
	return out
}

// genIndexPattern draws a pattern over indexPaths, in the forms the index files under
// values (exact strings, prefixes, suffixes, wildcards) and those it cannot
// (equals-ignore-case, anything-but, exists, numbers), sometimes inside $or. Values come
// mostly from the model event, as a playbook is written for one kind of event, and
// otherwise from any event.
func genIndexPattern(rng *rand.Rand, model map[string]any, seen map[string][]string) map[string]any {
	pat := map[string]any{}
	condition := func(into map[string]any, path []string) {
		values := pattern.AppendStrings(nil, model, path)
		if len(values) == 0 || rng.IntN(5) == 0 {
			values = seen[strings.Join(path, ".")]
		}
		v := "none"
		if len(values) > 0 {
			v = values[rng.IntN(len(values))]
		}
		cut := func() int { return rng.IntN(len(v) + 1) }
		var list []any
		for range 1 + rng.IntN(2) {
			switch r := rng.IntN(20); {
			case r < 6:
				list = append(list, v)
			case r < 9:
				list = append(list, map[string]any{"prefix": v[:cut()]})
			case r < 12:
				list = append(list, map[string]any{"suffix": v[cut():]})
			case r < 14:
				a, b := cut(), cut()
				if rng.IntN(3) == 0 {
					a = 0
				}
				if a > b {
					a, b = b, a
				}
				list = append(list, map[string]any{"wildcard": escapeWildcard(v[:a]) + "*" + escapeWildcard(v[b:])})
			case r < 15:
				list = append(list, map[string]any{"equals-ignore-case": strings.ToUpper(v)})
			case r < 16:
				list = append(list, map[string]any{"anything-but": v})
			case r < 17:
				list = append(list, map[string]any{"exists": rng.IntN(2) == 0})
			case r < 18:
				list = append(list, json.Number("7"))
			case r < 19:
				list = append(list, map[string]any{"prefix": map[string]any{"equals-ignore-case": v[:cut()]}})
			default:
				list = append(list, "no such value")
			}
		}
		m := into
		for _, k := range path[:len(path)-1] {
			next, ok := m[k].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[k] = next
			}
			m = next
		}
		m[path[len(path)-1]] = list
	}
	// Mostly the source and detail-type the index keys on first, as real playbooks have.
	if rng.IntN(10) < 8 {
		condition(pat, indexPaths[0])
	}
	if rng.IntN(10) < 8 {
		condition(pat, indexPaths[1])
	}
	for range rng.IntN(3) {
		condition(pat, indexPaths[2+rng.IntN(len(indexPaths)-2)])
	}
	if rng.IntN(4) == 0 {
		var branches []any
		for range 2 + rng.IntN(2) {
			b := map[string]any{}
			condition(b, indexPaths[rng.IntN(len(indexPaths))])
			branches = append(branches, b)
		}
		pat["$or"] = branches
	}
	if len(pat) == 0 {
		condition(pat, indexPaths[2])
	}
	return pat
}

func escapeWildcard(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`).Replace(s)
}

// TestCandidatesArrayValues checks that an event whose source, detail-type or split field
// holds several values is matched against the playbooks for each of them.
func TestCandidatesArrayValues(t *testing.T) {
	compile := func(src string) *pattern.Pattern {
		p, err := pattern.Compile([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	set := &playbook.Set{}
	for i, src := range []string{
		`{"source": ["a"], "detail-type": ["T"], "detail": {"type": ["x"]}}`,
		`{"source": ["a"], "detail-type": ["T"], "detail": {"type": ["y"]}}`,
		`{"source": ["a"], "detail-type": ["T"], "detail": {"type": [{"prefix": "z"}]}}`,
		`{"source": ["a"], "detail-type": ["T"], "detail": {"type": [{"suffix": "w"}]}}`,
		`{"source": ["b"], "detail-type": ["T"]}`,
		`{"source": ["b"]}`,
		`{"detail-type": ["T"]}`,
		`{"account": ["1"]}`,
	} {
		set.Playbooks = append(set.Playbooks, &playbook.Playbook{Name: fmt.Sprintf("p%d", i), On: compile(src), Target: event.KindAccount})
	}
	e := New(set, Options{})
	tests := []struct {
		name string
		env  string
		want []int
	}{
		{"one value", `{"source": "a", "detail-type": "T", "detail": {"type": "x"}}`, []int{0, 6, 7}},
		{"type array", `{"source": "a", "detail-type": "T", "detail": {"type": ["x", "y", "zed"]}}`, []int{0, 1, 2, 6, 7}},
		{"type in array of objects", `{"source": "a", "detail-type": "T", "detail": [{"type": "y"}, {"type": "new"}]}`, []int{1, 3, 6, 7}},
		{"unknown type", `{"source": "a", "detail-type": "T", "detail": {"type": "q"}}`, []int{6, 7}},
		{"no type", `{"source": "a", "detail-type": "T"}`, []int{6, 7}},
		{"source array", `{"source": ["a", "b"], "detail-type": "T", "detail": {"type": "y"}}`, []int{1, 4, 5, 6, 7}},
		{"nested source array", `{"source": [["b"]], "detail-type": "U"}`, []int{5, 7}},
		{"detail-type array", `{"source": "b", "detail-type": ["U", "T"]}`, []int{4, 5, 6, 7}},
		{"source not a string", `{"source": 1, "detail-type": "T"}`, []int{6, 7}},
		{"unknown pair", `{"source": "b", "detail-type": "V"}`, []int{5, 7}},
		{"nothing known", `{"source": "c"}`, []int{7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var env map[string]any
			if err := json.Unmarshal([]byte(tt.env), &env); err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, c := range e.candidates(env, nil) {
				got = append(got, c.i)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("candidates = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestExceptionTagRuleOrder checks that when several of a playbook's exception tag rules
// match, the decision names the first in key order, whatever order the rules are stored in.
func TestExceptionTagRuleOrder(t *testing.T) {
	on, err := pattern.Compile([]byte(`{"source": ["aws.guardduty"]}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		rules map[string]string
		tags  map[string]string
		want  string
	}{
		{"first key wins", map[string]string{"c": "*", "a": "x*", "b": "*"}, map[string]string{"a": "xy", "b": "1", "c": "2"},
			"excepted by tag a=xy on i-1"},
		{"non-matching first key skipped", map[string]string{"c": "*", "a": "x*", "b": "*"}, map[string]string{"a": "zz", "c": "2", "b": "1"},
			"excepted by tag b=1 on i-1"},
		{"absent keys skipped", map[string]string{"a": "*", "d": "*"}, map[string]string{"d": ""},
			"excepted by tag d= on i-1"},
		{"none match", map[string]string{"a": "x*"}, map[string]string{"a": "y"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := &playbook.Set{Playbooks: []*playbook.Playbook{{Name: "p", On: on, Target: event.KindInstance,
				Exceptions: playbook.Exceptions{Tags: tt.rules}, Mode: playbook.ModeEnforce}}}
			ev := &event.Event{Account: "1", Resources: []event.Resource{{Kind: event.KindInstance, ID: "i-1", Tags: tt.tags}},
				Envelope: map[string]any{"source": "aws.guardduty"}}
			ds := New(set, Options{}).Decide(context.Background(), ev, nil)
			if len(ds) != 1 {
				t.Fatalf("%d decisions, want 1", len(ds))
			}
			got := ""
			if ds[0].Outcome == Excepted {
				got = ds[0].Reason
			}
			if got != tt.want {
				t.Errorf("excepted by %q, want %q", got, tt.want)
			}
		})
	}
}
