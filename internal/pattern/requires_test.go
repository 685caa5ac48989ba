package pattern

import (
	"encoding/json"
	"math/rand"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestRequires(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		path    []string
		want    Requirement
		ok      bool
	}{
		{"exact strings", `{"detail": {"type": ["b", "a", "b"]}}`, []string{"detail", "type"},
			Requirement{Exact: []string{"a", "b"}}, true},
		{"prefix and suffix", `{"detail": {"type": [{"prefix": "Backdoor:"}, "x", {"suffix": "/1.1"}]}}`, []string{"detail", "type"},
			Requirement{Exact: []string{"x"}, Prefixes: []string{"Backdoor:"}, Suffixes: []string{"/1.1"}}, true},
		{"wildcard without star is exact", `{"a": [{"wildcard": "x\\*y"}]}`, []string{"a"},
			Requirement{Exact: []string{"x*y"}}, true},
		{"wildcard gives its head", `{"a": [{"wildcard": "ab*c*d"}]}`, []string{"a"},
			Requirement{Prefixes: []string{"ab"}}, true},
		{"wildcard starting with star gives its tail", `{"a": [{"wildcard": "*c*de"}]}`, []string{"a"},
			Requirement{Suffixes: []string{"de"}}, true},
		{"lone star is any string", `{"a": [{"wildcard": "*"}]}`, []string{"a"},
			Requirement{Suffixes: []string{""}}, true},
		{"other path", `{"detail": {"type": ["a"]}}`, []string{"detail"}, Requirement{}, false},
		{"deeper path", `{"detail": {"type": ["a"]}}`, []string{"detail", "type", "x"}, Requirement{}, false},
		{"empty path", `{"detail": {"type": ["a"]}}`, nil, Requirement{}, false},
		{"number may match", `{"a": ["x", 1]}`, []string{"a"}, Requirement{}, false},
		{"null may match", `{"a": ["x", null]}`, []string{"a"}, Requirement{}, false},
		{"absence may match", `{"a": ["x", {"exists": false}]}`, []string{"a"}, Requirement{}, false},
		{"exists", `{"a": [{"exists": true}]}`, []string{"a"}, Requirement{}, false},
		{"equals-ignore-case", `{"a": [{"equals-ignore-case": "x"}]}`, []string{"a"}, Requirement{}, false},
		{"prefix ignoring case", `{"a": [{"prefix": {"equals-ignore-case": "x"}}]}`, []string{"a"}, Requirement{}, false},
		{"anything-but", `{"a": [{"anything-but": "x"}]}`, []string{"a"}, Requirement{}, false},
		{"numeric", `{"a": [{"numeric": [">", 1]}]}`, []string{"a"}, Requirement{}, false},
		{"cidr", `{"a": [{"cidr": "10.0.0.0/8"}]}`, []string{"a"}, Requirement{}, false},
		{"every $or branch", `{"$or": [{"a": ["x"]}, {"a": [{"prefix": "y"}]}]}`, []string{"a"},
			Requirement{Exact: []string{"x"}, Prefixes: []string{"y"}}, true},
		{"one $or branch is not enough", `{"$or": [{"a": ["x"]}, {"b": ["y"]}]}`, []string{"a"}, Requirement{}, false},
		{"nested $or", `{"$or": [{"a": ["x"]}, {"$or": [{"a": ["y"]}, {"a": ["z"], "b": ["w"]}]}]}`, []string{"a"},
			Requirement{Exact: []string{"x", "y", "z"}}, true},
		{"leaf narrower than $or", `{"a": ["x", "y"], "$or": [{"a": [{"prefix": "x"}]}, {"b": ["z"]}]}`, []string{"a"},
			Requirement{Exact: []string{"x", "y"}}, true},
		{"$or narrower than leaf", `{"a": [{"prefix": "x"}], "$or": [{"a": ["xa"]}, {"a": ["xb"]}]}`, []string{"a"},
			Requirement{Exact: []string{"xa", "xb"}}, true},
		{"$or inside an object", `{"detail": {"$or": [{"type": ["x"]}, {"type": ["y"]}]}}`, []string{"detail", "type"},
			Requirement{Exact: []string{"x", "y"}}, true},
		{"$or as a field name", `{"$or": {"a": ["x"]}}`, []string{"$or", "a"},
			Requirement{Exact: []string{"x"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile([]byte(tt.pattern))
			if err != nil {
				t.Fatal(err)
			}
			got, ok := p.Requires(tt.path...)
			if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Requires(%q) = %+v, %v; want %+v, %v", tt.path, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestFields(t *testing.T) {
	p, err := Compile([]byte(`{"source": ["a"], "detail": {"type": ["x"], "$or": [{"b": [1]}, {"type": ["y"], "c": {"d": [2]}}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"detail", "b"}, {"detail", "c", "d"}, {"detail", "type"}, {"source"}}
	if got := p.Fields(); !reflect.DeepEqual(got, want) {
		t.Errorf("Fields() = %q, want %q", got, want)
	}
}

func TestAppendStrings(t *testing.T) {
	tests := []struct {
		name  string
		event string
		path  []string
		want  []string
	}{
		{"top level", `{"source": "aws.ec2"}`, []string{"source"}, []string{"aws.ec2"}},
		{"nested", `{"detail": {"type": "x"}}`, []string{"detail", "type"}, []string{"x"}},
		{"array at the end", `{"a": ["x", 1, "y", ["z"], {"b": "w"}]}`, []string{"a"}, []string{"x", "y", "z"}},
		{"arrays on the way", `{"d": [{"f": [{"g": "1"}, {"g": ["2", "3"]}]}, [{"f": {"g": "4"}}], "s"]}`, []string{"d", "f", "g"}, []string{"1", "2", "3", "4"}},
		{"not a string", `{"a": 1, "b": null, "c": true}`, []string{"a"}, nil},
		{"object at the end", `{"a": {"b": "x"}}`, []string{"a"}, nil},
		{"missing", `{"a": "x"}`, []string{"b"}, nil},
		{"string on the way", `{"a": "x"}`, []string{"a", "b"}, nil},
		{"repeats kept", `{"a": ["x", "x"]}`, []string{"a"}, []string{"x", "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendStrings(nil, decodeEvent(t, tt.event), tt.path)
			if !slices.Equal(got, tt.want) {
				t.Errorf("AppendStrings(%q) = %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}

func TestGiven(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		path    []string
		value   string
		same    bool   // Given returns p itself
		event   string // an event with value at path that the reduced pattern must judge as p does
	}{
		{"settles an exact leaf", `{"source": ["a", "b"], "detail": {"x": [1]}}`, []string{"source"}, "b", false, `{"source": "b", "detail": {"x": 2}}`},
		{"settles a prefix leaf", `{"t": [{"prefix": "Back"}], "n": [1]}`, []string{"t"}, "Backdoor", false, `{"t": ["Backdoor", "z"], "n": 1}`},
		{"leaves a leaf the value does not meet", `{"t": ["a"], "n": [1]}`, []string{"t"}, "b", true, `{"t": ["a", "b"], "n": 1}`},
		{"leaves other paths", `{"t": ["a"]}`, []string{"u"}, "a", true, `{"t": "a", "u": "a"}`},
		{"settles an $or group", `{"$or": [{"t": ["a"]}, {"n": [1]}], "m": [2]}`, []string{"t"}, "a", false, `{"t": "a", "m": 2}`},
		{"reduces an $or branch", `{"$or": [{"t": ["a"], "n": [1]}, {"n": [2]}]}`, []string{"t"}, "a", false, `{"t": "a", "n": 2}`},
		{"settles everything", `{"t": ["a"]}`, []string{"t"}, "a", false, `{"t": "a"}`},
		{"exists false with a value", `{"t": ["a", {"exists": false}], "n": [1]}`, []string{"t"}, "a", false, `{"t": "a", "n": 3}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile([]byte(tt.pattern))
			if err != nil {
				t.Fatal(err)
			}
			g := p.Given(tt.path, tt.value)
			if (g == p) != tt.same {
				t.Errorf("Given returned the pattern itself: %v, want %v", g == p, tt.same)
			}
			ev := decodeEvent(t, tt.event)
			if got, want := g.Match(ev), p.Match(ev); got != want {
				t.Errorf("reduced pattern matches %s: %v, the pattern: %v", tt.event, got, want)
			}
		})
	}
}

// TestRequiresProperty checks Requires and Given against matching on random patterns and
// events: whenever a pattern matches, the strings at every path it gives a requirement
// for (collected by the reference evaluator, not by AppendStrings) meet the requirement,
// and for every string at a path, the pattern given that string matches exactly when the
// pattern does. AppendStrings must find the reference's strings, in order.
func TestRequiresProperty(t *testing.T) {
	paths := [][]string{{"a"}, {"b"}, {"c"}, {"a", "b"}, {"b", "c"}, {"a", "a"}, {"c", "a", "b"}}
	var matched, constrained, givens int
	for seed := int64(1); seed <= 4; seed++ {
		g := gen{rand.New(rand.NewSource(seed))}
		for i := 0; i < 3000; i++ {
			pat := g.pattern(0)
			if i%2 == 1 {
				pat = g.stringPattern(0)
			}
			src, err := json.Marshal(pat)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Compile(src)
			if err != nil {
				t.Fatalf("Compile(%s): %v", src, err)
			}
			candidates := append(p.Fields(), paths...)
			for j := 0; j < 8; j++ {
				evSrc, err := json.Marshal(g.event(0))
				if err != nil {
					t.Fatal(err)
				}
				ev := decodeEvent(t, string(evSrc))
				match := p.Match(ev)
				if match {
					matched++
				}
				for _, path := range candidates {
					var strs []string
					for _, v := range refValuesAt(ev, path) {
						if s, ok := v.(string); ok {
							strs = append(strs, s)
						}
					}
					if got := AppendStrings(nil, ev, path); !slices.Equal(got, strs) {
						t.Fatalf("AppendStrings(%q) = %q, reference %q\nevent: %s", path, got, strs, evSrc)
					}
					if req, ok := p.Requires(path...); ok && match {
						constrained++
						if !slices.ContainsFunc(strs, req.meets) {
							t.Fatalf("pattern %s matches event %s, but no string at %q (%q) meets Requires = %+v", src, evSrc, path, strs, req)
						}
					}
					for _, s := range strs {
						givens++
						if got := p.Given(path, s).Match(ev); got != match {
							t.Fatalf("pattern %s given %q at %q matches event %s: %v, the pattern: %v", src, s, path, evSrc, got, match)
						}
					}
				}
			}
		}
	}
	t.Logf("%d matches, %d with a requirement checked, %d reduced patterns checked", matched, constrained, givens)
	if constrained < 1500 || givens < 50000 {
		t.Errorf("too few cases exercised: %d requirements, %d reduced patterns", constrained, givens)
	}
}

// meets reports whether s meets the requirement, written independently of the index.
func (r Requirement) meets(s string) bool {
	return slices.Contains(r.Exact, s) ||
		slices.ContainsFunc(r.Prefixes, func(p string) bool { return strings.HasPrefix(s, p) }) ||
		slices.ContainsFunc(r.Suffixes, func(p string) bool { return strings.HasSuffix(s, p) })
}

// stringPattern is like gen.pattern, but mostly with the values Requires gives
// requirements for, so that requirements are common.
func (g gen) stringPattern(depth int) map[string]any {
	obj := map[string]any{}
	for range 1 + g.r.Intn(2) {
		f := g.pick(genFields)
		switch {
		case depth < 2 && g.r.Intn(4) == 0:
			obj[f] = g.stringPattern(depth + 1)
		case depth < 2 && g.r.Intn(5) == 0:
			obj["$or"] = []any{g.stringPattern(depth + 1), g.stringPattern(depth + 1)}
		default:
			var list []any
			for range 1 + g.r.Intn(2) {
				switch g.r.Intn(6) {
				case 0:
					list = append(list, g.pick(genStrings))
				case 1:
					list = append(list, map[string]any{"prefix": g.pick(genStrings)})
				case 2:
					list = append(list, map[string]any{"suffix": g.pick(genStrings)})
				case 3:
					w := g.pick(genWild)
					switch esc := strings.NewReplacer(`\`, `\\`, `*`, `\*`).Replace(g.pick(genStrings)); g.r.Intn(3) {
					case 0:
						w = "*" + esc
					case 1:
						w = esc + "*"
					}
					list = append(list, map[string]any{"wildcard": w})
				default:
					list = append(list, g.value())
				}
			}
			obj[f] = list
		}
	}
	return obj
}
