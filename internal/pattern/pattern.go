// Package pattern compiles and matches Amazon EventBridge event patterns.
//
// The full pattern language is supported: exact strings, numbers, booleans and
// null; prefix, suffix and equals-ignore-case (and their combinations);
// wildcard; anything-but in all its documented forms; numeric comparisons;
// exists; cidr; and $or, nested to any depth.
//
// Arrays in events are flattened, as EventBridge does: a pattern field is
// satisfied when any value reachable at its path, through any number of
// arrays, satisfies it. Each field of a pattern is judged on its own, so two
// fields may be satisfied by different elements of the same array.
//
// Exact numbers are compared by their literal text, as the EventBridge user
// guide states ("300, 300.0, and 3.0e2 are not considered equal"); use
// {"numeric": ["=", 300]} for numeric equality.
package pattern

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Pattern is a compiled EventBridge event pattern, safe for concurrent use.
type Pattern struct {
	// root is held by value, sparing matching one memory load per pattern.
	root     conj
	compiled bool // false for the zero Pattern, which matches nothing
}

// Error is a pattern that EventBridge would reject, with the path to the offending part.
type Error struct {
	Path []string // JSON path from the pattern's root, e.g. ["detail", "severity", "0", "numeric"]
	Msg  string
}

// Error renders the path the way a person would write it, with list indexes in
// brackets and operators after a colon, e.g.
// `detail.severity[0]: numeric: expected a number after ">=", got "7"`.
func (e *Error) Error() string {
	if len(e.Path) == 0 {
		return e.Msg
	}
	var b strings.Builder
	inOperator := false
	for i, seg := range e.Path {
		switch {
		case i == 0:
			b.WriteString(seg)
		case isIndex(seg):
			b.WriteByte('[')
			b.WriteString(seg)
			b.WriteByte(']')
		case inOperator || (isIndex(e.Path[i-1]) && !(i >= 2 && e.Path[i-2] == orKey)):
			// An object inside a value list is an operator; inside a $or list it
			// is a branch of field names.
			inOperator = true
			b.WriteString(": ")
			b.WriteString(seg)
		default:
			b.WriteByte('.')
			b.WriteString(seg)
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

func isIndex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Compile parses and validates a JSON pattern. Invalid patterns yield an *Error.
func Compile(src []byte) (*Pattern, error) {
	v, err := decodeJSON(src)
	if err != nil {
		return nil, &Error{Msg: "pattern is not valid JSON: " + err.Error()}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, &Error{Msg: "pattern must be a JSON object, got " + describe(v)}
	}
	root := &conj{}
	if err := compileObject(obj, nil, nil, root); err != nil {
		return nil, err
	}
	if n := root.combinations(); n > maxCombinations {
		return nil, &Error{Msg: fmt.Sprintf("$or produces more than %d rule combinations", maxCombinations)}
	}
	root.orderLeaves()
	return &Pattern{root: *root, compiled: true}, nil
}

// Match reports whether the event (decoded with json.Decoder.UseNumber) matches.
func (p *Pattern) Match(event map[string]any) bool {
	if p == nil || !p.compiled {
		return false
	}
	return p.root.match(event)
}

// MatchJSON compiles pattern and reports whether the JSON object event matches
// it, like `aws events test-event-pattern`.
func MatchJSON(pattern, event []byte) (bool, error) {
	p, err := Compile(pattern)
	if err != nil {
		return false, err
	}
	v, err := decodeJSON(event)
	if err != nil {
		return false, fmt.Errorf("event is not valid JSON: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return false, fmt.Errorf("event must be a JSON object, got %s", describe(v))
	}
	return p.Match(obj), nil
}

// ExactValues returns the values a top-level field must take exactly (e.g. "source"), if
// the pattern constrains that field only by exact strings; ok is false otherwise.
// When the event's field is an array, one of its elements takes one of the values.
// The values are sorted and distinct.
func (p *Pattern) ExactValues(field string) (values []string, ok bool) {
	if p == nil || !p.compiled {
		return nil, false
	}
	set, ok := p.root.exactValues(field)
	if !ok {
		return nil, false
	}
	values = make([]string, 0, len(set))
	for v := range set {
		values = append(values, v)
	}
	sort.Strings(values)
	return values, true
}

// decodeJSON decodes exactly one JSON value, keeping numbers as their literal text.
func decodeJSON(src []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

// describe names a decoded JSON value for an error message.
func describe(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("%q", t)
	case json.Number:
		return t.String()
	case bool:
		if t {
			return "true"
		}
		return "false"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	default:
		return fmt.Sprintf("%v", t)
	}
}
