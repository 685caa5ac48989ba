package playbook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/firebreak-sec/firebreak/internal/suggest"
)

// doc collects the problems found in one YAML document, at their positions.
type doc struct {
	file string
	errs *LoadErrors
}

func (d *doc) errorf(n *yaml.Node, format string, args ...any) {
	le := LoadError{File: d.file, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		le.Line, le.Col = n.Line, n.Column
	}
	*d.errs = append(*d.errs, le)
}

func (d *doc) pos(n *yaml.Node) Position {
	return Position{File: d.file, Line: n.Line, Col: n.Column}
}

// resolve follows aliases so that anchors behave like the text they stand for.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return "a string"
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "null"
		}
		return "a scalar"
	}
	return "something else"
}

// fields reads a mapping whose keys must come from allowed, reporting unknown keys (with
// a suggestion), duplicate keys and non-string keys. what names the mapping in messages.
func (d *doc) fields(n *yaml.Node, what string, allowed ...string) map[string]*yaml.Node {
	n = resolve(n)
	out := map[string]*yaml.Node{}
	if n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null") {
		return out
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping, not %s", what, kindName(n))
		return out
	}
	keys := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "%s: keys must be strings", what)
			continue
		}
		if k.Tag == "!!merge" {
			d.errorf(k, "%s: merge keys (<<) are not supported; write the fields out", what)
			continue
		}
		if prev, dup := keys[k.Value]; dup {
			d.errorf(k, "%s: %q is given twice (first at line %d)", what, k.Value, prev.Line)
			continue
		}
		keys[k.Value] = k
		if allowed != nil && !contains(allowed, k.Value) {
			d.errorf(k, "%s: unknown field %q%s", what, k.Value, suggest.DidYouMean(k.Value, allowed))
			continue
		}
		out[k.Value] = resolve(v)
	}
	return out
}

// keyNode returns the key node for field in mapping n, for positioning messages about a
// field's name rather than its value.
func keyNode(n *yaml.Node, field string) *yaml.Node {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return n
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == field {
			return n.Content[i]
		}
	}
	return n
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// str reads a string scalar.
func (d *doc) str(n *yaml.Node, what string) (string, bool) {
	if n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		d.errorf(n, "%s must be a string, not %s", what, kindName(n))
		return "", false
	}
	return n.Value, true
}

// strList reads a list of strings.
func (d *doc) strList(n *yaml.Node, what string) []string {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s must be a list of strings, not %s", what, kindName(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		if s, ok := d.str(resolve(c), what+" entries"); ok {
			out = append(out, s)
		}
	}
	return out
}

// strMap reads a mapping of string keys to string values.
func (d *doc) strMap(n *yaml.Node, what string) map[string]string {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping of strings, not %s", what, kindName(n))
		return nil
	}
	out := map[string]string{}
	for k, v := range d.fields(n, what) {
		if s, ok := d.str(v, what+"."+k); ok {
			out[k] = s
		}
	}
	return out
}

func (d *doc) boolean(n *yaml.Node, what string) (bool, bool) {
	if n == nil {
		return false, false
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		d.errorf(n, "%s must be true or false, not %s", what, kindName(n))
		return false, false
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		d.errorf(n, "%s: %v", what, err)
		return false, false
	}
	return b, true
}

// toJSON converts a YAML node to JSON text. Numbers keep their literal text when it is
// already valid JSON, so that `numeric` patterns see exactly what was written.
func toJSON(n *yaml.Node) ([]byte, error) {
	var b strings.Builder
	if err := writeJSON(&b, n, 0); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

// maxDepth bounds recursion on hostile input (deeply nested flow collections).
const maxDepth = 100

func writeJSON(b *strings.Builder, n *yaml.Node, depth int) error {
	if depth > maxDepth {
		return &nodeError{n, "nested too deeply"}
	}
	n = resolve(n)
	if n == nil {
		b.WriteString("null")
		return nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			b.WriteString("null")
			return nil
		}
		return writeJSON(b, n.Content[0], depth+1)
	case yaml.MappingNode:
		b.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolve(n.Content[i])
			if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
				return &nodeError{k, "keys must be plain strings"}
			}
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, k.Value)
			b.WriteByte(':')
			if err := writeJSON(b, n.Content[i+1], depth+1); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, c, depth+1); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			b.WriteString("null")
		case "!!bool":
			var v bool
			if err := n.Decode(&v); err != nil {
				return &nodeError{n, err.Error()}
			}
			b.WriteString(strconv.FormatBool(v))
		case "!!int", "!!float":
			if json.Valid([]byte(n.Value)) {
				b.WriteString(n.Value)
				return nil
			}
			var f float64
			if err := n.Decode(&f); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				return &nodeError{n, fmt.Sprintf("%q is not a number JSON can carry", n.Value)}
			}
			b.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
		default:
			writeJSONString(b, n.Value)
		}
	default:
		return &nodeError{n, "unsupported YAML node"}
	}
	return nil
}

// nodeError is a conversion problem at a node.
type nodeError struct {
	n   *yaml.Node
	msg string
}

func (e *nodeError) Error() string { return e.msg }

// toValue converts a YAML node to plain Go data (map[string]any, []any, string, int,
// float64, bool, nil) by way of JSON, so that every consumer sees the same shapes.
func toValue(n *yaml.Node) (any, error) {
	js, err := toJSON(n)
	if err != nil {
		return nil, err
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(string(js)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return plain(v), nil
}

func plain(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.Atoi(x.String()); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = plain(e)
		}
	case []any:
		for i, e := range x {
			x[i] = plain(e)
		}
	}
	return v
}

// nodeAt walks a JSON path (object keys, array indices) from n and returns the deepest
// node it reaches, so that a pattern error points into the YAML where it was written.
func nodeAt(n *yaml.Node, path []string) *yaml.Node {
	cur := resolve(n)
	for _, step := range path {
		switch cur.Kind {
		case yaml.MappingNode:
			found := false
			for i := 0; i+1 < len(cur.Content); i += 2 {
				if cur.Content[i].Value == step {
					cur, found = resolve(cur.Content[i+1]), true
					break
				}
			}
			if !found {
				return cur
			}
		case yaml.SequenceNode:
			i, err := strconv.Atoi(step)
			if err != nil || i < 0 || i >= len(cur.Content) {
				return cur
			}
			cur = resolve(cur.Content[i])
		default:
			return cur
		}
	}
	return cur
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// writeJSONString writes s as a JSON string without HTML escaping, so that the pattern
// text shown in runbooks and errors reads as written (">=", not "\u003e=").
func writeJSONString(b *strings.Builder, s string) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // encoding a string cannot fail
	b.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}
