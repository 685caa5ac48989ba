package pattern

import (
	"encoding/json"
	"math/rand"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// refMatch is a deliberately plain evaluator of a decoded, valid pattern: it
// collects every leaf value at a field's path into a slice and checks the
// listed values against each one. It shares no code with the compiled matcher.
func refMatch(pat map[string]any, ev map[string]any) bool {
	return refObject(pat, nil, ev)
}

func refObject(pat map[string]any, path []string, ev map[string]any) bool {
	for k, v := range pat {
		if list, ok := v.([]any); ok && k == "$or" {
			matched := false
			for _, b := range list {
				if refObject(b.(map[string]any), path, ev) {
					matched = true
				}
			}
			if !matched {
				return false
			}
			continue
		}
		p := append(append([]string{}, path...), k)
		switch t := v.(type) {
		case map[string]any:
			if !refObject(t, p, ev) {
				return false
			}
		case []any:
			if !refLeaf(t, refValuesAt(ev, p)) {
				return false
			}
		}
	}
	return true
}

func refValuesAt(v any, path []string) []any {
	if arr, ok := v.([]any); ok {
		var out []any
		for _, e := range arr {
			out = append(out, refValuesAt(e, path)...)
		}
		return out
	}
	if len(path) == 0 {
		if _, isObj := v.(map[string]any); isObj {
			return nil
		}
		return []any{v}
	}
	if m, ok := v.(map[string]any); ok {
		if child, ok := m[path[0]]; ok {
			return refValuesAt(child, path[1:])
		}
	}
	return nil
}

func refLeaf(list []any, vals []any) bool {
	for _, item := range list {
		if m, ok := item.(map[string]any); ok && m["exists"] == false && len(vals) == 0 {
			return true
		}
		for _, v := range vals {
			if refValue(item, v) {
				return true
			}
		}
	}
	return false
}

func refValue(item, v any) bool {
	switch t := item.(type) {
	case string:
		s, ok := v.(string)
		return ok && s == t
	case json.Number:
		n, ok := v.(json.Number)
		return ok && n == t
	case bool:
		b, ok := v.(bool)
		return ok && b == t
	case nil:
		return v == nil
	}
	op := item.(map[string]any)
	s, isStr := v.(string)
	for name, arg := range op {
		switch name {
		case "exists":
			return arg == true
		case "prefix", "suffix":
			if !isStr {
				return false
			}
			if a, ok := arg.(string); ok {
				if name == "prefix" {
					return strings.HasPrefix(s, a)
				}
				return strings.HasSuffix(s, a)
			}
			a := arg.(map[string]any)["equals-ignore-case"].(string)
			return refFoldAffix(s, a, name == "suffix")
		case "equals-ignore-case":
			return isStr && strings.EqualFold(s, arg.(string))
		case "wildcard":
			return isStr && refWildcard(arg.(string)).MatchString(s)
		case "cidr":
			_, network, _ := net.ParseCIDR(arg.(string))
			ip := net.ParseIP(s)
			return isStr && ip != nil && network.Contains(ip)
		case "numeric":
			n, ok := v.(json.Number)
			if !ok {
				return false
			}
			f, _ := strconv.ParseFloat(string(n), 64)
			terms := arg.([]any)
			for i := 0; i < len(terms); i += 2 {
				x, _ := strconv.ParseFloat(string(terms[i+1].(json.Number)), 64)
				var ok bool
				switch terms[i] {
				case "=":
					ok = f == x
				case "<":
					ok = f < x
				case "<=":
					ok = f <= x
				case ">":
					ok = f > x
				case ">=":
					ok = f >= x
				}
				if !ok {
					return false
				}
			}
			return true
		case "anything-but":
			return !refExcluded(arg, v)
		}
	}
	return false
}

// refExcluded reports whether anything-but's operand names v.
func refExcluded(arg, v any) bool {
	switch t := arg.(type) {
	case string, json.Number:
		return refSame(t, v)
	case []any:
		for _, x := range t {
			if refSame(x, v) {
				return true
			}
		}
		return false
	}
	s, isStr := v.(string)
	if !isStr {
		return false
	}
	for name, operand := range arg.(map[string]any) {
		var list []string
		if one, ok := operand.(string); ok {
			list = []string{one}
		} else {
			for _, x := range operand.([]any) {
				list = append(list, x.(string))
			}
		}
		for _, x := range list {
			switch name {
			case "prefix":
				if strings.HasPrefix(s, x) {
					return true
				}
			case "suffix":
				if strings.HasSuffix(s, x) {
					return true
				}
			case "equals-ignore-case":
				if strings.EqualFold(s, x) {
					return true
				}
			case "wildcard":
				if refWildcard(x).MatchString(s) {
					return true
				}
			}
		}
	}
	return false
}

func refSame(x, v any) bool {
	switch t := x.(type) {
	case string:
		s, ok := v.(string)
		return ok && s == t
	case json.Number:
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		a, _ := strconv.ParseFloat(string(t), 64)
		b, _ := strconv.ParseFloat(string(n), 64)
		return a == b
	}
	return false
}

func refFoldAffix(s, affix string, suffix bool) bool {
	sr, ar := []rune(s), []rune(affix)
	if len(ar) > len(sr) {
		return false
	}
	if suffix {
		sr = sr[len(sr)-len(ar):]
	}
	for i := range ar {
		if !strings.EqualFold(string(ar[i]), string(sr[i])) {
			return false
		}
	}
	return true
}

func refWildcard(w string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^(?s)`)
	for i := 0; i < len(w); i++ {
		switch {
		case w[i] == '\\':
			i++
			b.WriteString(regexp.QuoteMeta(w[i : i+1]))
		case w[i] == '*':
			b.WriteString(`.*`)
		default:
			b.WriteString(regexp.QuoteMeta(w[i : i+1]))
		}
	}
	b.WriteString(`$`)
	return regexp.MustCompile(b.String())
}

// gen draws random patterns and events from small pools, so that matches and
// near misses are both common.
type gen struct{ r *rand.Rand }

var (
	genFields  = []string{"a", "b", "c"}
	genStrings = []string{"", "x", "X", "xy", "ab", "a*b", "a\\b", "init-1", "Init-2", "10.0.0.1", "10.1.0.1", "::ffff:10.0.0.7", "2001:db8::1", "straße", "STRASSE", "école"}
	genNumbers = []string{"0", "1", "1.0", "5", "5.5", "-3", "1e2", "100", "100.000", "7"}
	genWild    = []string{"*", "x*", "*b", "a\\*b", "a*b", "*y*", "a\\\\*", "*1*", "i*-*"}
	genCIDR    = []string{"10.0.0.0/8", "10.0.0.0/16", "2001:db8::/32", "0.0.0.0/0"}
	genOps     = []string{"=", "<", "<=", ">", ">="}
)

func (g gen) pick(list []string) string { return list[g.r.Intn(len(list))] }

func (g gen) num() json.Number { return json.Number(g.pick(genNumbers)) }

func (g gen) pattern(depth int) map[string]any {
	obj := map[string]any{}
	n := 1 + g.r.Intn(2)
	for i := 0; i < n; i++ {
		f := g.pick(genFields)
		switch {
		case depth < 2 && g.r.Intn(4) == 0:
			obj[f] = g.pattern(depth + 1)
		case depth < 2 && g.r.Intn(6) == 0:
			branches := []any{g.pattern(depth + 1), g.pattern(depth + 1)}
			if g.r.Intn(2) == 0 {
				branches = append(branches, g.pattern(depth+1))
			}
			obj["$or"] = branches
		default:
			list := []any{}
			for j := 0; j < 1+g.r.Intn(2); j++ {
				list = append(list, g.value())
			}
			obj[f] = list
		}
	}
	return obj
}

func (g gen) strOrList() any {
	if g.r.Intn(2) == 0 {
		return g.pick(genStrings)
	}
	return []any{g.pick(genStrings), g.pick(genStrings)}
}

func (g gen) value() any {
	switch g.r.Intn(16) {
	case 0:
		return g.pick(genStrings)
	case 1:
		return g.num()
	case 2:
		return []any{true, false, nil}[g.r.Intn(3)]
	case 3:
		return map[string]any{"prefix": g.pick(genStrings)}
	case 4:
		return map[string]any{"suffix": map[string]any{"equals-ignore-case": g.pick(genStrings)}}
	case 5:
		return map[string]any{"prefix": map[string]any{"equals-ignore-case": g.pick(genStrings)}}
	case 6:
		return map[string]any{"equals-ignore-case": g.pick(genStrings)}
	case 7:
		return map[string]any{"wildcard": g.pick(genWild)}
	case 8:
		return map[string]any{"exists": g.r.Intn(2) == 0}
	case 9:
		return map[string]any{"cidr": g.pick(genCIDR)}
	case 10:
		op := g.pick(genOps)
		if op == ">" || op == ">=" && g.r.Intn(2) == 0 {
			return map[string]any{"numeric": []any{op, json.Number("1"), []string{"<", "<="}[g.r.Intn(2)], json.Number("7")}}
		}
		return map[string]any{"numeric": []any{op, g.num()}}
	case 11:
		return map[string]any{"anything-but": g.strOrList()}
	case 12:
		return map[string]any{"anything-but": []any{g.num(), g.num()}}
	case 13:
		return map[string]any{"anything-but": map[string]any{[]string{"prefix", "suffix", "equals-ignore-case"}[g.r.Intn(3)]: g.strOrList()}}
	case 14:
		return map[string]any{"anything-but": map[string]any{"wildcard": g.pick(genWild)}}
	default:
		return map[string]any{"suffix": g.pick(genStrings)}
	}
}

func (g gen) event(depth int) map[string]any {
	obj := map[string]any{}
	for _, f := range genFields {
		if g.r.Intn(4) == 0 {
			continue
		}
		obj[f] = g.eventValue(depth)
	}
	return obj
}

func (g gen) eventValue(depth int) any {
	switch k := g.r.Intn(10); {
	case k < 3:
		return g.pick(genStrings)
	case k < 5:
		return g.num()
	case k == 5:
		return []any{true, false, nil}[g.r.Intn(3)]
	case k == 6 || depth >= 2:
		arr := []any{}
		for i := 0; i < g.r.Intn(3); i++ {
			if depth < 2 && g.r.Intn(3) == 0 {
				arr = append(arr, g.event(depth+1))
			} else {
				arr = append(arr, g.pick(genStrings))
			}
		}
		return arr
	default:
		return g.event(depth + 1)
	}
}

func TestPatternAgreesWithReference(t *testing.T) {
	matches, total := 0, 0
	for seed := int64(1); seed <= 5; seed++ {
		g := gen{rand.New(rand.NewSource(seed))}
		for i := 0; i < 1000; i++ {
			pat := g.pattern(0)
			src, err := json.Marshal(pat)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Compile(src)
			if err != nil {
				t.Fatalf("seed %d case %d: Compile(%s): %v", seed, i, src, err)
			}
			decodedPat := decodeEvent(t, string(src))
			for j := 0; j < 4; j++ {
				evSrc, err := json.Marshal(g.event(0))
				if err != nil {
					t.Fatal(err)
				}
				ev := decodeEvent(t, string(evSrc))
				got, want := p.Match(ev), refMatch(decodedPat, ev)
				if got != want {
					t.Fatalf("seed %d case %d: Match = %v, reference = %v\npattern: %s\nevent: %s", seed, i, got, want, src, evSrc)
				}
				total++
				if got {
					matches++
				}
			}
		}
	}
	t.Logf("%d cases, %d matches", total, matches)
	if matches < total/20 || matches > total-total/20 {
		t.Errorf("generator is lopsided: %d of %d cases match", matches, total)
	}
}
