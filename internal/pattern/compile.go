package pattern

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unique"
)

const (
	orKey = "$or"

	// EventBridge rejects a pattern whose $or lists multiply out to more than
	// this many rule combinations (content filtering, "$or matching").
	maxCombinations = 1000

	// Documented limits of numeric matching: -5.0e9 to +5.0e9 inclusive, six
	// digits to the right of the decimal point.
	maxNumericMagnitude = 5.0e9
	maxNumericDecimals  = 6
)

// conj is a conjunction: every leaf condition holds and, for each $or group,
// at least one branch holds.
type conj struct {
	leaves []leafCond // held by value: matching reads them in turn, so keep them together
	ors    [][]*conj
}

// leafCond is one field of the pattern: the values listed for it, any of which
// may match any value found at its path.
type leafCond struct {
	path        []string
	matchers    []matcher
	existsFalse bool // an {"exists": false} is among the values
	// strs holds the values when every one is an exact string, the commonest kind of
	// field: scanning them packed together touches far less memory than the matchers.
	strs []string
}

type kind uint8

const (
	kExactString kind = iota
	kExactNumber
	kTrue
	kFalse
	kNull
	kPrefix
	kPrefixFold
	kSuffix
	kSuffixFold
	kEqualsFold
	kWildcard
	kNumeric
	kExists
	kCIDR
	kButStrings
	kButNumbers
	kButPrefix
	kButSuffix
	kButFold
	kButWildcard
)

// matcher tests one value found at a leaf path.
type matcher struct {
	// kind, str and rng come first, in one cache line: they are what the commonest
	// matchers read.
	kind kind
	str  string // exact text, prefix, suffix or equals-ignore-case operand
	rng  numRange
	strs []string   // anything-but string operands
	nums []float64  // anything-but numeric operands
	wild [][]string // wildcard operands, each split at its unescaped '*'
	cidr netip.Prefix
}

// numRange is a numeric interval; a missing bound is infinite.
type numRange struct {
	lo, hi         float64
	loOpen, hiOpen bool
}

func compileObject(obj map[string]any, fieldPath, errPath []string, into *conj) error {
	if len(obj) == 0 {
		return &Error{Path: clone(errPath), Msg: "empty objects are not allowed"}
	}
	for _, k := range sortedKeys(obj) {
		v := obj[k]
		ep := append(clone(errPath), k)
		if k == orKey {
			// A "$or" holding an object is an ordinary field name in EventBridge;
			// only an array makes it the operator.
			if list, ok := v.([]any); ok {
				if err := compileOr(list, fieldPath, ep, into); err != nil {
					return err
				}
				continue
			}
		}
		// Field names and exact strings recur across a library's patterns; sharing one
		// copy of each keeps the bytes matching compares in cache.
		fp := append(clone(fieldPath), unique.Make(k).Value())
		switch t := v.(type) {
		case map[string]any:
			if err := compileObject(t, fp, ep, into); err != nil {
				return err
			}
		case []any:
			leaf, err := compileLeaf(t, fp, ep)
			if err != nil {
				return err
			}
			into.leaves = append(into.leaves, *leaf)
		default:
			return &Error{Path: ep, Msg: "must be an array of values or an object of fields, got " + describe(v)}
		}
	}
	return nil
}

func compileOr(list []any, fieldPath, errPath []string, into *conj) error {
	if len(list) < 2 {
		return &Error{Path: errPath, Msg: fmt.Sprintf("must list at least 2 objects, got %d", len(list))}
	}
	group := make([]*conj, 0, len(list))
	for i, item := range list {
		ep := append(clone(errPath), strconv.Itoa(i))
		obj, ok := item.(map[string]any)
		if !ok {
			return &Error{Path: ep, Msg: "must be an object of fields, got " + describe(item)}
		}
		branch := &conj{}
		if err := compileObject(obj, fieldPath, ep, branch); err != nil {
			return err
		}
		group = append(group, branch)
	}
	into.ors = append(into.ors, group)
	return nil
}

func compileLeaf(list []any, fieldPath, errPath []string) (*leafCond, error) {
	if len(list) == 0 {
		return nil, &Error{Path: errPath, Msg: "empty arrays are not allowed: list at least one value"}
	}
	leaf := &leafCond{path: internPath(fieldPath)}
	for i, item := range list {
		ep := append(clone(errPath), strconv.Itoa(i))
		switch t := item.(type) {
		case string:
			leaf.matchers = append(leaf.matchers, matcher{kind: kExactString, str: unique.Make(t).Value()})
		case json.Number:
			if _, err := strconv.ParseFloat(string(t), 64); err != nil && !isRangeErr(err) {
				return nil, &Error{Path: ep, Msg: "invalid number " + string(t)}
			}
			leaf.matchers = append(leaf.matchers, matcher{kind: kExactNumber, str: string(t)})
		case bool:
			k := kFalse
			if t {
				k = kTrue
			}
			leaf.matchers = append(leaf.matchers, matcher{kind: k})
		case nil:
			leaf.matchers = append(leaf.matchers, matcher{kind: kNull})
		case map[string]any:
			m, err := compileOperator(t, ep)
			if err != nil {
				return nil, err
			}
			if m.kind == kExists && m.str == "false" {
				leaf.existsFalse = true
				continue
			}
			leaf.matchers = append(leaf.matchers, m)
		case []any:
			return nil, &Error{Path: ep, Msg: "nested arrays are not allowed in a list of values"}
		default:
			return nil, &Error{Path: ep, Msg: "unsupported value " + describe(item)}
		}
	}
	leaf.strs = exactStrings(leaf.matchers)
	return leaf, nil
}

// paths holds one copy of every field path compiled, shared by the patterns that test it,
// so that the paths a library's patterns walk stay in cache. Paths are never modified.
// Past maxPaths distinct paths (a process compiling arbitrary patterns, such as a fuzzer)
// new paths are no longer kept, so the table cannot grow without bound.
var (
	paths     sync.Map // joined path → []string
	pathCount atomic.Int64
)

const maxPaths = 1 << 14

func internPath(path []string) []string {
	key := strings.Join(path, "\x00")
	if p, ok := paths.Load(key); ok {
		return p.([]string)
	}
	if pathCount.Load() >= maxPaths {
		return slices.Clip(path)
	}
	p, loaded := paths.LoadOrStore(key, slices.Clip(path))
	if !loaded {
		pathCount.Add(1)
	}
	return p.([]string)
}

// exactStrings returns the matchers' operands if every matcher is an exact string.
func exactStrings(ms []matcher) []string {
	if len(ms) == 0 {
		return nil
	}
	strs := make([]string, len(ms))
	for i := range ms {
		if ms[i].kind != kExactString {
			return nil
		}
		strs[i] = ms[i].str
	}
	return strs
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func compileOperator(obj map[string]any, errPath []string) (matcher, error) {
	if len(obj) != 1 {
		if len(obj) == 0 {
			return matcher{}, &Error{Path: errPath, Msg: "empty operator object: expected one of " + operatorNames}
		}
		return matcher{}, &Error{Path: errPath, Msg: fmt.Sprintf("an operator object takes exactly one key, got %d: %s", len(obj), strings.Join(sortedKeys(obj), ", "))}
	}
	var op string
	var arg any
	for op, arg = range obj {
	}
	ep := append(clone(errPath), op)
	fail := func(format string, a ...any) (matcher, error) {
		return matcher{}, &Error{Path: ep, Msg: fmt.Sprintf(format, a...)}
	}
	switch op {
	case "prefix", "suffix":
		plain, fold := kPrefix, kPrefixFold
		if op == "suffix" {
			plain, fold = kSuffix, kSuffixFold
		}
		switch t := arg.(type) {
		case string:
			return matcher{kind: plain, str: t}, nil
		case map[string]any:
			s, err := foldOperand(t, ep)
			if err != nil {
				return matcher{}, err
			}
			return matcher{kind: fold, str: s}, nil
		}
		return fail("expected a string or {\"equals-ignore-case\": string}, got %s", describe(arg))
	case "equals-ignore-case":
		s, ok := arg.(string)
		if !ok {
			return fail("expected a string, got %s", describe(arg))
		}
		return matcher{kind: kEqualsFold, str: s}, nil
	case "wildcard":
		s, ok := arg.(string)
		if !ok {
			return fail("expected a string, got %s", describe(arg))
		}
		pieces, err := parseWildcard(s)
		if err != nil {
			return fail("%s", err.Error())
		}
		return matcher{kind: kWildcard, wild: [][]string{pieces}}, nil
	case "exists":
		b, ok := arg.(bool)
		if !ok {
			return fail("expected true or false, got %s", describe(arg))
		}
		return matcher{kind: kExists, str: strconv.FormatBool(b)}, nil
	case "cidr":
		s, ok := arg.(string)
		if !ok {
			return fail("expected a CIDR block as a string, got %s", describe(arg))
		}
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return fail("invalid CIDR block %q: expected an IPv4 or IPv6 address, '/', and a prefix length", s)
		}
		return matcher{kind: kCIDR, cidr: pfx.Masked()}, nil
	case "numeric":
		list, ok := arg.([]any)
		if !ok {
			return fail("expected an array such as [\">=\", 7], got %s", describe(arg))
		}
		r, err := parseRange(list, ep)
		if err != nil {
			return matcher{}, err
		}
		return matcher{kind: kNumeric, rng: r}, nil
	case "anything-but":
		return compileAnythingBut(arg, ep)
	}
	return fail("unknown operator: expected one of %s", operatorNames)
}

const operatorNames = "prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric, exists, cidr"

// foldOperand reads the {"equals-ignore-case": "x"} form of prefix and suffix.
func foldOperand(obj map[string]any, errPath []string) (string, error) {
	if len(obj) != 1 {
		return "", &Error{Path: errPath, Msg: fmt.Sprintf("expected exactly one key, equals-ignore-case, got %d", len(obj))}
	}
	v, ok := obj["equals-ignore-case"]
	if !ok {
		return "", &Error{Path: errPath, Msg: fmt.Sprintf("unsupported operator %q: only equals-ignore-case may be combined here", sortedKeys(obj)[0])}
	}
	s, ok := v.(string)
	if !ok {
		return "", &Error{Path: append(clone(errPath), "equals-ignore-case"), Msg: "expected a string, got " + describe(v)}
	}
	return s, nil
}

func compileAnythingBut(arg any, errPath []string) (matcher, error) {
	fail := func(path []string, format string, a ...any) (matcher, error) {
		return matcher{}, &Error{Path: path, Msg: fmt.Sprintf(format, a...)}
	}
	switch t := arg.(type) {
	case string:
		return matcher{kind: kButStrings, strs: []string{t}}, nil
	case json.Number:
		f, err := patternNumber(t)
		if err != nil {
			return fail(errPath, "%s", err.Error())
		}
		return matcher{kind: kButNumbers, nums: []float64{f}}, nil
	case []any:
		if len(t) == 0 {
			return fail(errPath, "empty arrays are not allowed: list at least one value")
		}
		var strs []string
		var nums []float64
		for i, item := range t {
			ep := append(clone(errPath), strconv.Itoa(i))
			switch v := item.(type) {
			case string:
				strs = append(strs, v)
			case json.Number:
				f, err := patternNumber(v)
				if err != nil {
					return fail(ep, "%s", err.Error())
				}
				nums = append(nums, f)
			default:
				return fail(ep, "expected a string or a number, got %s", describe(item))
			}
			if strs != nil && nums != nil {
				return fail(ep, "mixes strings and numbers: list only strings or only numbers")
			}
		}
		if strs != nil {
			return matcher{kind: kButStrings, strs: strs}, nil
		}
		return matcher{kind: kButNumbers, nums: nums}, nil
	case map[string]any:
		if len(t) != 1 {
			return fail(errPath, "expected exactly one of prefix, suffix, equals-ignore-case, wildcard, got %d keys", len(t))
		}
		var op string
		var v any
		for op, v = range t {
		}
		ep := append(clone(errPath), op)
		var k kind
		switch op {
		case "prefix":
			k = kButPrefix
		case "suffix":
			k = kButSuffix
		case "equals-ignore-case":
			k = kButFold
		case "wildcard":
			k = kButWildcard
		default:
			return fail(ep, "unsupported operator: anything-but takes a value, a list, or one of prefix, suffix, equals-ignore-case, wildcard")
		}
		var strs []string
		switch s := v.(type) {
		case string:
			strs = []string{s}
		case []any:
			if len(s) == 0 {
				return fail(ep, "empty arrays are not allowed: list at least one string")
			}
			for i, item := range s {
				str, ok := item.(string)
				if !ok {
					return fail(append(clone(ep), strconv.Itoa(i)), "expected a string, got %s", describe(item))
				}
				strs = append(strs, str)
			}
		default:
			return fail(ep, "expected a string or a list of strings, got %s", describe(v))
		}
		m := matcher{kind: k, strs: strs}
		if k == kButWildcard {
			for i, s := range strs {
				pieces, err := parseWildcard(s)
				if err != nil {
					p := ep
					if _, isList := v.([]any); isList {
						p = append(clone(ep), strconv.Itoa(i))
					}
					return fail(p, "%s", err.Error())
				}
				m.wild = append(m.wild, pieces)
			}
			m.strs = nil
		}
		return m, nil
	}
	return fail(errPath, "expected a string, a number, a list of strings or numbers, or an object, got %s", describe(arg))
}

// parseRange reads ["=", n], [">"|">=", n], ["<"|"<=", n] or
// [">"|">=", n, "<"|"<=", m], the forms EventBridge accepts.
func parseRange(list []any, errPath []string) (numRange, error) {
	r := numRange{lo: math.Inf(-1), hi: math.Inf(1)}
	fail := func(format string, a ...any) (numRange, error) {
		return numRange{}, &Error{Path: errPath, Msg: fmt.Sprintf(format, a...)}
	}
	if len(list) == 0 {
		return fail("expected an operator and a number, e.g. [\">=\", 7]")
	}
	hasLo := false
	for i := 0; i < len(list); i += 2 {
		op, ok := list[i].(string)
		if !ok {
			return fail("expected an operator (=, <, <=, >, >=) at position %d, got %s", i, describe(list[i]))
		}
		switch op {
		case "=", "<", "<=", ">", ">=":
		default:
			return fail("unknown operator %q: expected =, <, <=, > or >=", op)
		}
		if i+1 >= len(list) {
			return fail("expected a number after %q", op)
		}
		num, ok := list[i+1].(json.Number)
		if !ok {
			return fail("expected a number after %q, got %s", op, describe(list[i+1]))
		}
		f, err := patternNumber(num)
		if err != nil {
			return fail("%s", err.Error())
		}
		if i > 0 {
			if !hasLo || (op != "<" && op != "<=") {
				return fail("%q cannot follow another comparison: write the lower bound (> or >=) first, then the upper bound (< or <=)", op)
			}
		}
		switch op {
		case "=":
			if len(list) > 2 {
				return fail("\"=\" takes exactly one number")
			}
			r.lo, r.hi = f, f
		case ">", ">=":
			r.lo, r.loOpen, hasLo = f, op == ">", true
		case "<", "<=":
			r.hi, r.hiOpen = f, op == "<"
		}
	}
	if len(list) > 4 {
		return fail("too many terms: at most a lower and an upper bound")
	}
	if hasLo && len(list) == 4 && !(r.lo < r.hi) {
		return fail("the lower bound must be less than the upper bound")
	}
	return r, nil
}

// patternNumber checks a number written in a numeric or anything-but operator
// against EventBridge's documented limits.
func patternNumber(n json.Number) (float64, error) {
	s := string(n)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.Abs(f) > maxNumericMagnitude {
		return 0, fmt.Errorf("%s is out of range: numbers must lie between -5.0e9 and 5.0e9", s)
	}
	if decimals(s) > maxNumericDecimals {
		return 0, fmt.Errorf("%s has more than %d digits after the decimal point", s, maxNumericDecimals)
	}
	return f, nil
}

// decimals counts the significant digits after the decimal point of a JSON
// number, taking its exponent into account (3.018e2 has one).
func decimals(s string) int {
	s = strings.TrimPrefix(s, "-")
	exp := 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil {
			return math.MaxInt32
		}
		exp = e
		s = s[:i]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	digits := strings.TrimRight(intPart+frac, "0")
	// Position of the decimal point within digits once the exponent is applied.
	point := len(intPart) + exp
	if n := len(digits) - point; n > 0 {
		return n
	}
	return 0
}

// parseWildcard splits a wildcard operand at its unescaped '*', resolving the
// two escapes EventBridge allows, \* and \\.
func parseWildcard(s string) ([]string, error) {
	var pieces []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*':
			if i+1 < len(s) && s[i+1] == '*' {
				return nil, fmt.Errorf("consecutive wildcard characters (**) at position %d are not allowed", i)
			}
			pieces = append(pieces, cur.String())
			cur.Reset()
		case '\\':
			if i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '\\') {
				cur.WriteByte(s[i+1])
				i++
				continue
			}
			return nil, fmt.Errorf("invalid escape at position %d: only \\* and \\\\ may be escaped", i)
		default:
			cur.WriteByte(c)
		}
	}
	return append(pieces, cur.String()), nil
}

func (c *conj) combinations() int {
	n := 1
	for _, group := range c.ors {
		sum := 0
		for _, b := range group {
			sum += b.combinations()
			if sum > maxCombinations {
				sum = maxCombinations + 1
			}
		}
		n *= sum
		if n > maxCombinations {
			return maxCombinations + 1
		}
	}
	return n
}

// orderLeaves puts each conjunction's cheap, selective leaves first, so that a pattern
// that does not match usually fails on a string comparison before any number is parsed,
// address decoded or wildcard searched. A conjunction's result does not depend on the
// order its leaves are tried in; ties keep key order, so the order is deterministic.
func (c *conj) orderLeaves() {
	slices.SortStableFunc(c.leaves, func(a, b leafCond) int { return a.cost() - b.cost() })
	for _, group := range c.ors {
		for _, b := range group {
			b.orderLeaves()
		}
	}
}

// cost ranks a leaf by its most expensive or least selective value: 0 for plain
// comparisons of strings, numbers' text, booleans and null, prefixes and suffixes; 1 for
// case folding, presence tests and anything-but lists of strings; 2 for numeric ranges,
// CIDR blocks, wildcards and the other forms of anything-but.
func (l *leafCond) cost() int {
	worst := 0
	if l.existsFalse {
		worst = 1
	}
	for i := range l.matchers {
		c := 2
		switch l.matchers[i].kind {
		case kExactString, kExactNumber, kTrue, kFalse, kNull, kPrefix, kSuffix:
			c = 0
		case kPrefixFold, kSuffixFold, kEqualsFold, kExists, kButStrings:
			c = 1
		}
		worst = max(worst, c)
	}
	return worst
}

// exactValues returns the exact strings field must equal for c to hold.
func (c *conj) exactValues(field string) (map[string]struct{}, bool) {
	for i := range c.leaves {
		leaf := &c.leaves[i]
		if len(leaf.path) != 1 || leaf.path[0] != field {
			continue
		}
		if leaf.existsFalse {
			continue
		}
		set := make(map[string]struct{}, len(leaf.matchers))
		ok := true
		for _, m := range leaf.matchers {
			if m.kind != kExactString {
				ok = false
				break
			}
			set[m.str] = struct{}{}
		}
		if ok {
			return set, true
		}
	}
	for _, group := range c.ors {
		union := map[string]struct{}{}
		ok := true
		for _, b := range group {
			set, bok := b.exactValues(field)
			if !bok {
				ok = false
				break
			}
			for v := range set {
				union[v] = struct{}{}
			}
		}
		if ok {
			return union, true
		}
	}
	return nil, false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func clone(s []string) []string {
	return append([]string(nil), s...)
}
