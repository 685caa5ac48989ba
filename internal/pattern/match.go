package pattern

import (
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"
)

func (c *conj) match(event map[string]any) bool {
	for i := range c.leaves {
		if !c.leaves[i].match(event) {
			return false
		}
	}
	for _, group := range c.ors {
		ok := false
		for _, b := range group {
			if b.match(event) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func (l *leafCond) match(event map[string]any) bool {
	present, hit := l.walk(event, l.path)
	if hit {
		return true
	}
	return l.existsFalse && !present
}

// walk follows path from v, descending into every element of any array on
// the way, and reports whether a leaf value exists there and whether one
// matched.
func (l *leafCond) walk(v any, path []string) (present, hit bool) {
	if len(path) == 0 {
		return l.leaf(v)
	}
	switch t := v.(type) {
	case map[string]any:
		child, ok := t[path[0]]
		if !ok {
			return false, false
		}
		return l.walk(child, path[1:])
	case []any:
		for _, e := range t {
			p, h := l.walk(e, path)
			if h {
				return true, true
			}
			present = present || p
		}
		return present, false
	}
	return false, false
}

// leaf tests the value at the end of the path; objects are not leaves, so
// they neither exist nor match for the purpose of comparison operators.
func (l *leafCond) leaf(v any) (present, hit bool) {
	switch t := v.(type) {
	case map[string]any:
		return false, false
	case []any:
		for _, e := range t {
			p, h := l.leaf(e)
			if h {
				return true, true
			}
			present = present || p
		}
		return present, false
	}
	if l.strs != nil {
		if s, ok := v.(string); ok {
			for _, x := range l.strs {
				if s == x {
					return true, true
				}
			}
		}
		return true, false
	}
	for i := range l.matchers {
		if l.matchers[i].match(v) {
			return true, true
		}
	}
	return true, false
}

func (m *matcher) match(v any) bool {
	switch m.kind {
	case kExists:
		return true
	case kExactString:
		s, ok := v.(string)
		return ok && s == m.str
	case kExactNumber:
		s, ok := numberText(v)
		return ok && s == m.str
	case kTrue:
		b, ok := v.(bool)
		return ok && b
	case kFalse:
		b, ok := v.(bool)
		return ok && !b
	case kNull:
		return v == nil
	case kPrefix:
		s, ok := v.(string)
		return ok && strings.HasPrefix(s, m.str)
	case kPrefixFold:
		s, ok := v.(string)
		return ok && hasPrefixFold(s, m.str)
	case kSuffix:
		s, ok := v.(string)
		return ok && strings.HasSuffix(s, m.str)
	case kSuffixFold:
		s, ok := v.(string)
		return ok && hasSuffixFold(s, m.str)
	case kEqualsFold:
		s, ok := v.(string)
		return ok && strings.EqualFold(s, m.str)
	case kWildcard:
		s, ok := v.(string)
		return ok && wildcardMatch(s, m.wild[0])
	case kNumeric:
		f, ok := numberValue(v)
		return ok && m.rng.contains(f)
	case kCIDR:
		s, ok := v.(string)
		if !ok {
			return false
		}
		addr, err := netip.ParseAddr(s)
		if err != nil {
			return false
		}
		return m.cidr.Contains(addr.Unmap())
	case kButStrings:
		if s, ok := v.(string); ok {
			for _, x := range m.strs {
				if s == x {
					return false
				}
			}
		}
		return true
	case kButNumbers:
		if f, ok := numberValue(v); ok {
			for _, x := range m.nums {
				if f == x {
					return false
				}
			}
		}
		return true
	case kButPrefix, kButSuffix, kButFold:
		s, ok := v.(string)
		if !ok {
			return true
		}
		for _, x := range m.strs {
			var excluded bool
			switch m.kind {
			case kButPrefix:
				excluded = strings.HasPrefix(s, x)
			case kButSuffix:
				excluded = strings.HasSuffix(s, x)
			default:
				excluded = strings.EqualFold(s, x)
			}
			if excluded {
				return false
			}
		}
		return true
	case kButWildcard:
		s, ok := v.(string)
		if !ok {
			return true
		}
		for _, w := range m.wild {
			if wildcardMatch(s, w) {
				return false
			}
		}
		return true
	}
	return false
}

func (r *numRange) contains(f float64) bool {
	if f < r.lo || (r.loOpen && f == r.lo) {
		return false
	}
	if f > r.hi || (r.hiOpen && f == r.hi) {
		return false
	}
	return true
}

// numberText returns the literal text of a JSON number. Events decoded
// without UseNumber are tolerated, at the cost of an allocation.
func numberText(v any) (string, bool) {
	switch t := v.(type) {
	case json.Number:
		return string(t), true
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 64), true
	case int:
		return strconv.Itoa(t), true
	case int64:
		return strconv.FormatInt(t, 10), true
	}
	return "", false
}

func numberValue(v any) (float64, bool) {
	switch t := v.(type) {
	case json.Number:
		// Out-of-range literals parse to ±Inf or ±0, which still order correctly.
		f, err := strconv.ParseFloat(string(t), 64)
		return f, err == nil || isRangeErr(err)
	case float64:
		return t, true
	case int:
		return float64(t), true
	case int64:
		return float64(t), true
	}
	return 0, false
}

// wildcardMatch reports whether s matches the wildcard split into literal
// pieces at each '*'. Greedy left-to-right search of the middle pieces is
// exact for patterns whose only metacharacter is '*', and runs in linear time
// per piece, so no operand can make matching slow.
func wildcardMatch(s string, pieces []string) bool {
	if len(pieces) == 1 {
		return s == pieces[0]
	}
	first, last := pieces[0], pieces[len(pieces)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	rest := s[len(first) : len(s)-len(last)]
	for _, p := range pieces[1 : len(pieces)-1] {
		i := strings.Index(rest, p)
		if i < 0 {
			return false
		}
		rest = rest[i+len(p):]
	}
	return true
}

func hasPrefixFold(s, prefix string) bool {
	for prefix != "" {
		if s == "" {
			return false
		}
		pr, pn := utf8.DecodeRuneInString(prefix)
		sr, sn := utf8.DecodeRuneInString(s)
		if !equalFoldRune(pr, sr) {
			return false
		}
		prefix, s = prefix[pn:], s[sn:]
	}
	return true
}

func hasSuffixFold(s, suffix string) bool {
	for suffix != "" {
		if s == "" {
			return false
		}
		pr, pn := utf8.DecodeLastRuneInString(suffix)
		sr, sn := utf8.DecodeLastRuneInString(s)
		if !equalFoldRune(pr, sr) {
			return false
		}
		suffix, s = suffix[:len(suffix)-pn], s[:len(s)-sn]
	}
	return true
}

// equalFoldRune uses the same simple case folding as strings.EqualFold, so
// the prefix, suffix and whole-value forms of equals-ignore-case agree.
func equalFoldRune(a, b rune) bool {
	if a == b {
		return true
	}
	if a < utf8.RuneSelf && b < utf8.RuneSelf {
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		return a == b
	}
	return strings.EqualFold(string(a), string(b))
}
